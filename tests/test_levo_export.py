"""`songprep export levo`: LeVo's JSONL with 10 s 48 kHz prompt clips, rejects with reasons, a stable split,
filters; and the whole road on two synthetic songs: prep --describe -> export levo -> generate (tiny) -> eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from songprep.audio import Audio
from songprep.cli import cli
from songprep.config import PrepConfig
from songprep.generation.prompts import read_prompts
from songprep.inputs import song_id
from songprep.levo_export import (
    PROMPT_RATE,
    LevoExportOptions,
    clip_start_s,
    cut_clip,
    export_levo,
    prompt_section,
    split_of,
)
from songprep.lyrics import lint
from songprep.records import Section, Song
from songprep.testing.corpus import load_corpus
from songprep.writer import DatasetWriter


def test_the_prompt_section_is_the_first_chorus_else_the_most_repeated() -> None:
    form = [Section("intro", 0, 8), Section("verse", 8, 30), Section("chorus", 30, 50), Section("chorus", 60, 80)]
    assert prompt_section(form) == form[2]
    no_chorus = [Section("intro", 0, 8), Section("verse", 8, 30), Section("bridge", 30, 40), Section("verse", 40, 60)]
    assert prompt_section(no_chorus) == no_chorus[1]
    assert prompt_section([Section("inst", 0, 5), Section("inst", 5, 25)]).end_s == 25
    assert prompt_section([]) is None
    assert clip_start_s(Section("chorus", 55.0, 58.0), 60.0) == 50.0  # the clip ends inside the song


def test_a_clip_is_exactly_ten_seconds_at_48k_stereo_from_any_rate() -> None:
    mono = Audio(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 44100 * 12)).astype(np.float32), 44100)
    clip = cut_clip(mono, 1.7)
    assert clip.sample_rate == PROMPT_RATE and clip.samples.shape == (2, 10 * PROMPT_RATE)


def test_split_is_a_stable_hash_of_the_id() -> None:
    ids = [f"song-{i}" for i in range(2000)]
    first = [split_of(i, 0.1) for i in ids]
    assert first == [split_of(i, 0.1) for i in ids]
    assert 0.07 < first.count("validation") / len(ids) < 0.13
    assert {split_of(i, 0.0) for i in ids} == {"train"}


def _dataset(truth_corpus: Path, out: Path) -> dict[str, Song]:
    """Rows of the truth songs: two good ones, and one for each reason a row is left out."""
    rows: dict[str, Song] = {}
    for truth in load_corpus(truth_corpus):
        rel = Path(truth.paths.mix).relative_to("songs").as_posix()
        sid = song_id(rel)
        (out / "stems" / sid).mkdir(parents=True, exist_ok=True)
        for stem, src in (("vocals", truth.paths.vocals), ("accompaniment", truth.paths.accompaniment)):
            shutil.copyfile(truth_corpus / src, out / "stems" / sid / f"{stem}.flac")
        rows[truth.language] = Song(id=sid, source_path=rel, duration_s=truth.duration_s, sample_rate=44100,
                                    channels=2, language=truth.language, lyrics=truth.lyrics,
                                    levo_lyric=truth.levo_lyric, sections=truth.sections, lyrics_confidence=0.9,
                                    vocals_path=f"stems/{sid}/vocals.flac",
                                    accompaniment_path=f"stems/{sid}/accompaniment.flac",
                                    descriptions=f"{truth.language} test, the bpm is {truth.tempo_bpm:.0f}.")
    en = rows["en"]
    variants = {
        "broken": {"levo_lyric": "[Verse 1] hello there ; [chorus]"},
        "nolyric": {"levo_lyric": None},
        "nostems": {"vocals_path": None, "accompaniment_path": None},
        "unsure": {"lyrics_confidence": 0.2},
        "unjudged": {"lyrics_confidence": None},
    }
    for name, change in variants.items():
        rows[name] = Song(**{**en.to_dict(), "id": f"{en.id}-{name}", "sections": en.sections, **change})
    writer = DatasetWriter(out, PrepConfig(stages=("decode", "lyrics")))
    for song in rows.values():
        writer.add(song)
    writer.close()
    return rows


def test_export_writes_levo_rows_and_leaves_out_what_cannot_train_with_reasons(truth_corpus, tmp_path) -> None:
    rows = _dataset(truth_corpus, tmp_path / "ds")
    result = export_levo(tmp_path / "ds", tmp_path / "levo",
                         LevoExportOptions(min_lyrics_confidence=0.5, languages=("en", "es")))
    reasons = result.rejects
    assert reasons[rows["zh"].id].startswith("language zh not in")
    assert "lint errors" in reasons[rows["broken"].id]
    assert "no LeVo lyric" in reasons[rows["nolyric"].id]
    assert "no stems" in reasons[rows["nostems"].id]
    assert "below --min-lyrics-confidence" in reasons[rows["unsure"].id]
    assert "no lyrics confidence" in reasons[rows["unjudged"].id]
    prompts = read_prompts(tmp_path / "levo" / "train.jsonl")  # the generator's own reader: files exist
    assert sorted(p.idx for p in prompts) == sorted([rows["en"].id, rows["es"].id]) and result.rows == {"train": 2}
    for prompt in prompts:
        assert not lint(prompt.lyric, "levo").errors
        assert prompt.descriptions == rows[prompt.language].descriptions
        info = sf.info(prompt.prompt_audio_path)
        assert (info.samplerate, info.channels, info.frames) == (48000, 2, 480000)
    left_out = [json.loads(line) for line in (tmp_path / "levo" / "rejects.jsonl").read_text().splitlines()]
    assert {r["idx"] for r in left_out} == set(reasons)

    en = rows["en"]
    chorus = next(s for s in en.sections if s.label == "chorus")
    clip, _ = sf.read(tmp_path / "levo" / "prompts" / f"{en.id}.flac", always_2d=True)
    vocals, rate = sf.read(tmp_path / "ds" / en.vocals_path, always_2d=True)
    accompaniment, _ = sf.read(tmp_path / "ds" / en.accompaniment_path, always_2d=True)
    start = round(clip_start_s(chorus, en.duration_s) * rate)
    expected = (vocals + accompaniment)[start:start + rate]  # the first second of the chorus, at its own rate
    import librosa

    got = librosa.resample(clip[:48000].T, orig_sr=48000, target_sr=rate).T[:rate]
    assert np.corrcoef(got[:, 0], expected[: len(got), 0])[0, 1] > 0.98  # cut from the first chorus


def test_cli_split_and_nothing_exportable(truth_corpus, tmp_path) -> None:
    _dataset(truth_corpus, tmp_path / "ds")
    ok = CliRunner().invoke(cli, ["export", "levo", str(tmp_path / "ds"), "-o", str(tmp_path / "a"),
                                  "--validation", "0.5"])
    assert ok.exit_code == 0, ok.output
    counts = json.loads((tmp_path / "a" / "export.json").read_text())["rows"]
    assert counts["train"] + counts["validation"] == 5 and "left out" in ok.output  # no filters: 3 of 8 out
    none = CliRunner().invoke(cli, ["export", "levo", str(tmp_path / "ds"), "-o", str(tmp_path / "b"),
                                    "--language", "fr"])
    assert none.exit_code == 2 and none.output.count("\n") == 1 and "no row" in none.output


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_prep_describe_export_generate_eval_round_trip(truth_corpus, tmp_path) -> None:
    def invoke(*args: object) -> str:
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result.output

    corpus = tmp_path / "in"
    corpus.mkdir()
    for truth in [s for s in load_corpus(truth_corpus) if s.language in ("en", "es")]:
        for rel in (truth.paths.mix, truth.paths.lyrics):
            shutil.copyfile(truth_corpus / rel, corpus / Path(rel).name)
    invoke("prep", corpus, "-o", tmp_path / "ds", "--describe", "-j", "1", "--device", "cpu", "-q")
    invoke("export", "levo", tmp_path / "ds", "-o", tmp_path / "levo")
    jsonl = tmp_path / "levo" / "train.jsonl"
    prompts = read_prompts(jsonl)
    assert len(prompts) == 2 and all(p.descriptions.endswith(".") and "the bpm is" in p.descriptions
                                     for p in prompts)
    invoke("train", "--data", tmp_path / "ds", "--config", "tiny", "--steps", "2", "-o", tmp_path / "ckpt",
           "--device", "cpu", "--log-every", "1")
    invoke("generate", jsonl, "-o", tmp_path / "gen", "--checkpoint", tmp_path / "ckpt", "--max-frames", "10",
           "--device", "cpu")
    for prompt in prompts:
        assert (tmp_path / "gen" / "audios" / f"{prompt.idx}.flac").is_file()
    invoke("eval", "run", "--prompts", jsonl, "--system", f"tiny={tmp_path / 'gen'}", "-o", tmp_path / "report",
           "--no-per", "--aesthetics", "", "--resamples", "20")
    assert "tiny" in (tmp_path / "report" / "results.json").read_text()
