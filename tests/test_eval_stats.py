"""Aggregation (bootstrap, paired tests), DPO pairs, signal checks and input discovery of the evaluator."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from songprep.audio import Audio, write_audio
from songprep.errors import UsageError
from songprep.evaluation.aggregate import paired_difference, summarise, summarise_corpus_rate
from songprep.evaluation.dpo import PairRule, build_pairs, write_pairs
from songprep.evaluation.inputs import System, detect_language, find_audio, load_prompts, parse_system
from songprep.evaluation.signal import signal_checks, true_peak_dbtp

DATA = Path(__file__).parent / "data"


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    x = np.random.default_rng(1).normal(3.0, 1.0, 40)
    a, b = summarise(x, seed=7), summarise(x, seed=7)
    assert a == b
    assert a.ci_low < a.mean < a.ci_high
    assert a.ci_low < 3.0 < a.ci_high
    assert summarise(x, seed=8) != a
    assert summarise([math.nan, 1.0, 2.0]).n == 2
    assert math.isnan(summarise([]).mean)


def test_corpus_rate_weighs_songs_by_length() -> None:
    s = summarise_corpus_rate([1, 1], [100, 2])
    assert s.mean == pytest.approx(2 / 102)
    assert s.median == pytest.approx((0.01 + 0.5) / 2)


def test_paired_difference_finds_a_consistent_shift() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.5, 30)
    d = paired_difference("a", base, "b", base + 0.1 + rng.normal(0, 0.02, 30), "per")
    assert d.n == 30 and d.mean_difference == pytest.approx(-0.1, abs=0.02)
    assert d.ci_high < 0
    assert d.p_wilcoxon < 0.001 and d.p_bootstrap < 0.01
    same = paired_difference("a", base, "b", base, "per")
    assert same.mean_difference == 0 and math.isnan(same.p_wilcoxon) and same.ci_low == same.ci_high == 0
    noisy = paired_difference("a", base, "b", base + rng.normal(0, 0.1, 30), "per")
    assert noisy.ci_low < 0 < noisy.ci_high and noisy.p_bootstrap > 0.05


def test_dpo_pairs_best_worst_and_all() -> None:
    scores = pd.DataFrame({
        "idx": ["p1", "p1", "p1", "p2", "p2", "p3"], "system": ["a", "b", "c", "a", "b", "a"],
        "status": ["ok"] * 5 + ["missing"], "per": [0.1, 0.5, 0.3, 0.2, 0.22, math.nan],
        "audiobox_CE": [7.0, 6.0, 6.5, 5.0, 5.5, math.nan],
    })
    pairs = build_pairs(scores, PairRule("per", higher_is_better=False, min_margin=0.05))
    assert pairs[["prompt", "chosen", "rejected"]].values.tolist() == [["p1", "a", "b"]]  # p2 under the margin
    assert pairs.margin_per.iloc[0] == pytest.approx(-0.4)
    assert pairs.margin_audiobox_CE.iloc[0] == pytest.approx(1.0)
    assert "per (lower is better)" in pairs.rule.iloc[0]
    every = build_pairs(scores, PairRule("audiobox_CE", higher_is_better=True, mode="all"))
    assert len(every) == 4 and set(every.prompt) == {"p1", "p2"}
    assert (every.margin_audiobox_CE > 0).all()
    with pytest.raises(UsageError):
        build_pairs(scores, PairRule("songeval_coherence", True))


def test_dpo_pairs_parquet(tmp_path: Path) -> None:
    scores = pd.DataFrame({"idx": ["p"] * 2, "system": ["x", "y"], "per": [0.3, 0.1]})
    path = write_pairs(build_pairs(scores, PairRule("per", False)), tmp_path / "pairs.parquet")
    back = pd.read_parquet(path)
    assert list(back.columns[:3]) == ["prompt", "chosen", "rejected"] and back.chosen.tolist() == ["y"]


def test_signal_checks_on_known_signals() -> None:
    sr = 44100
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * (sr / 4) * t + np.pi / 4).astype(np.float32)  # samples at +-0.707, true peak 1.0
    checks = signal_checks(Audio(np.stack([tone, tone]), sr))
    assert checks.sample_peak_dbfs == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(Audio(tone[None], sr)) == pytest.approx(0.0, abs=0.3)
    assert checks.clipped_fraction == 0 and checks.duration_s == 1.0
    half = np.concatenate([np.zeros(sr // 2, np.float32), 0.5 * tone[: sr // 2]])
    assert signal_checks(Audio(half[None], sr)).silence_ratio == pytest.approx(0.5, abs=0.03)
    clipped = np.clip(2 * tone, -1, 1)
    assert signal_checks(Audio(clipped[None], sr)).clipped_fraction == pytest.approx(1.0)


def test_prompts_from_levo_jsonl() -> None:
    prompts = load_prompts(DATA / "songgeneration_examples.jsonl")
    assert prompts and all(p.lyrics and "[" not in p.lyrics and " ; " not in p.lyrics for p in prompts)
    assert {p.language for p in prompts} <= {"en", "zh", "es", "ja"}
    first = prompts[0]
    assert first.idx == "0_en" and first.language == "en"
    assert first.lyrics.splitlines()[0] == "These faded memories of us"


def test_prompt_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"idx": "1", "gt_lyric": "[verse] a."}\n{"idx": "1", "gt_lyric": "[verse] b."}\n')
    with pytest.raises(UsageError, match="twice"):
        load_prompts(bad)
    bad.write_text('{"gt_lyric": "x"}\n')
    with pytest.raises(UsageError, match="idx"):
        load_prompts(bad)
    with pytest.raises(UsageError):
        parse_system("no-equals-sign")


def test_language_detection() -> None:
    assert detect_language("こんにちは世界") == "ja"
    assert detect_language("月亮代表我的心") == "zh"
    assert detect_language("quiero que me digas la verdad") == "es"
    assert detect_language("take me home tonight") == "en"


def test_find_audio_layouts(tmp_path: Path) -> None:
    audio = Audio(np.zeros((1, 100), np.float32), 8000)
    write_audio(tmp_path / "levo" / "audios" / "1_en.flac", audio)
    write_audio(tmp_path / "flat" / "1_en.wav", audio)
    assert find_audio(System("a", tmp_path / "levo"), "1_en").name == "1_en.flac"
    assert find_audio(System("b", tmp_path / "flat"), "1_en").suffix == ".wav"
    assert find_audio(System("b", tmp_path / "flat"), "2_en") is None
