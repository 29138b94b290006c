"""Systems whose ranking is known: the ground-truth songs, and copies with sung words removed.

Used by the tests, the benchmark and the walkthrough notebook to check that the evaluator ranks a
known-worse system below a known-better one. The degraded copy keeps the accompaniment and silences
(or replaces with another word's audio) a seeded share of the vocal line's words, using the truth
word times, then remixes: the lyrics a listener (or a recogniser) can hear are known to be fewer.

Layout written by :func:`write_known_systems`::

    OUT/prompts.jsonl            LeVo prompts (idx = song name, gt_lyric = truth markup, language)
    OUT/clean/audios/{idx}.flac  the ground-truth mix
    OUT/degraded/audios/{idx}.flac
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songprep import audio as audio_io
from songprep.audio import Audio

DEGRADE_MODES = ("silence", "replace")


@dataclass(frozen=True)
class KnownSystems:
    prompts: Path
    clean: Path
    degraded: Path
    words_removed: dict[str, int]


def degrade_vocals(vocals: Audio, word_spans_s: list[tuple[float, float]], fraction: float, seed: int,
                   mode: str = "silence") -> tuple[Audio, int]:
    """Silence (or overwrite with another word's audio) ``fraction`` of the words; returns (audio, count)."""
    if mode not in DEGRADE_MODES:
        raise ValueError(f"mode must be one of {DEGRADE_MODES}, got {mode!r}")
    x = vocals.samples.copy()
    rng = np.random.default_rng(seed)
    n = len(word_spans_s)
    chosen = sorted(rng.choice(n, size=int(round(fraction * n)), replace=False).tolist()) if n else []
    sr = vocals.sample_rate
    for i in chosen:
        start, end = (int(round(t * sr)) for t in word_spans_s[i])
        end = min(end, x.shape[1])
        if end <= start:
            continue
        x[:, start:end] = 0.0
        if mode == "replace" and n > 1:  # another word's audio, cut to this span
            j = (i + 1 + int(rng.integers(0, n - 1))) % n
            s2, e2 = (int(round(t * sr)) for t in word_spans_s[j])
            donor = vocals.samples[:, s2:e2][:, : end - start]
            x[:, start:start + donor.shape[1]] = donor
    return Audio(x, sr), len(chosen)


def write_known_systems(corpus_dir: str | Path, out_dir: str | Path, fraction: float = 0.6, seed: int = 0,
                        mode: str = "silence") -> KnownSystems:
    """Write prompts.jsonl, clean/ and degraded/ for every ground-truth song under ``corpus_dir``."""
    from songprep.testing.corpus import load_corpus

    corpus, out = Path(corpus_dir), Path(out_dir)
    truths = load_corpus(corpus)
    if not truths:
        raise ValueError(f"no ground-truth songs under {corpus}")
    lines, removed = [], {}
    for k, truth in enumerate(truths):
        p = truth.paths
        vocals = audio_io.decode(corpus / p.vocals)
        accompaniment = audio_io.decode(corpus / p.accompaniment)
        spans = [(w.start_s, w.end_s) for w in truth.words]
        degraded, removed[truth.name] = degrade_vocals(vocals, spans, fraction, seed + k, mode)
        mix = audio_io.decode(corpus / p.mix)
        audio_io.write_audio(out / "clean" / "audios" / f"{truth.name}.flac", mix)
        audio_io.write_audio(out / "degraded" / "audios" / f"{truth.name}.flac",
                             Audio(degraded.samples + accompaniment.samples, mix.sample_rate))
        lines.append(json.dumps({"idx": truth.name, "gt_lyric": truth.levo_lyric, "language": truth.language},
                                ensure_ascii=False))
    prompts = out / "prompts.jsonl"
    prompts.parent.mkdir(parents=True, exist_ok=True)
    prompts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return KnownSystems(prompts, out / "clean", out / "degraded", removed)
