"""Benchmark: lyric transcription backends on ground-truth songs (speed, WER/CER, invented words).

    .venv/bin/python bench/transcription.py [--songs 6] [--input mix|vocals|mix-gated] [--beam 1] [--corpus DIR]

For each configuration: seconds of compute per minute of audio (model load excluded), WER against
the true lyrics (CER for zh), and words "heard" inside instrumental sections (intro / inst / outro)
per minute of instrumental audio. The baseline, measured in the same run, is plain openai-whisper
(converted base, no VAD, no loop handling, Whisper's default conditioning on previous text). Weights
are the package-shipped ones (offline). The default input is the mix: the truth vocal stem is
digitally silent between lines, which would hide the hallucination this measures.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from songprep.audio import decode
from songprep.testing.corpus import build_corpus
from songprep.testing.truth import TruthSong
from songprep.transcription import Transcript, load_transcriber

INSTRUMENTAL = ("intro", "inst", "outro")
BASELINE = "whisper:base plain"
#: label -> (registry name, gate, loop removal)
CONFIGS = {
    BASELINE: ("whisper:base", False, False),
    "whisper:base gated": ("whisper:base", True, True),
    "faster-whisper:base plain": ("faster-whisper:base", False, False),
    "faster-whisper:base gated": ("faster-whisper:base", True, True),
    "faster-whisper:tiny.en gated": ("faster-whisper:tiny.en", True, True),
}


def normalise(text: str, language: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s']", " ", text)
    if language == "zh":  # CER: characters only
        return " ".join(ch for ch in text if not ch.isspace())
    return " ".join(text.split())


@dataclass
class Row:
    label: str
    audio_s: float = 0.0
    compute_s: float = 0.0
    errors: dict[str, list[tuple[str, str]]] = None  # metric -> [(truth, hypothesis)]
    inst_words: int = 0
    inst_s: float = 0.0
    loops_removed: int = 0
    songs: int = 0

    def add(self, song: TruthSong, transcript: Transcript, seconds: float) -> None:
        metric = "cer" if song.language == "zh" else "wer"
        self.errors.setdefault(metric, []).append((normalise(song.lyrics, song.language),
                                                   normalise(transcript.text, song.language)))
        inst = [s for s in song.sections if s.label in INSTRUMENTAL]
        self.inst_s += sum(s.duration_s for s in inst)
        self.inst_words += sum(any(s.start_s <= 0.5 * (w.start_s + w.end_s) <= s.end_s for s in inst)
                               for w in transcript.words)
        self.audio_s += song.duration_s
        self.compute_s += seconds
        self.loops_removed += transcript.loop_words_removed
        self.songs += 1

    def rate(self, metric: str) -> float | None:
        import jiwer

        pairs = self.errors.get(metric)
        if not pairs:
            return None
        truth, hyp = [p[0] for p in pairs], [p[1] or "<empty>" for p in pairs]
        return jiwer.wer(truth, hyp)  # zh text is space-separated characters, so this is the CER

    @property
    def s_per_min(self) -> float:
        return 60 * self.compute_s / self.audio_s if self.audio_s else float("nan")

    @property
    def inst_per_min(self) -> float:
        return 60 * self.inst_words / self.inst_s if self.inst_s else float("nan")


def run(songs: list[TruthSong], corpus: Path, input_stem: str, beam: int) -> list[Row]:
    rows = []
    for label, (name, gate, loops) in CONFIGS.items():
        transcriber = load_transcriber(name, "cpu", gate=gate, loops=loops, beam_size=beam)
        row = Row(label, errors={})
        for song in songs:
            if name.endswith(".en") and song.language != "en":
                continue
            audio = decode(corpus / (song.paths.vocals if input_stem == "vocals" else song.paths.mix))
            gate_on = decode(corpus / song.paths.vocals) if input_stem == "mix-gated" else None
            start = time.perf_counter()
            transcript = transcriber.transcribe(audio, None if not name.endswith(".en") else "en", gate_on=gate_on)
            row.add(song, transcript, time.perf_counter() - start)
        rows.append(row)
        print(f"  {label}: {row.songs} songs, {row.compute_s:.1f} s", file=sys.stderr, flush=True)
    return rows


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(rows: list[Row]) -> str:
    base = next(r for r in rows if r.label == BASELINE)
    lines = ["| config | songs | s / min audio | speed vs baseline | WER (en, es) | CER (zh) | "
             "inst words / min | loop words removed |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.label} | {r.songs} | {fmt(r.s_per_min, 1)} | {base.s_per_min / r.s_per_min:.2f}x | "
                     f"{fmt(r.rate('wer'))} | {fmt(r.rate('cer'))} | {fmt(r.inst_per_min, 1)} | {r.loops_removed} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--input", choices=("mix", "vocals", "mix-gated"), default="mix",
                        help="what Whisper hears; mix-gated: the mix, gated by the vocal stem's voice activity")
    parser.add_argument("--beam", type=int, default=1, help="beam size for every config (1 = greedy)")
    parser.add_argument("--corpus", type=Path, default=None, help="where to build/cache the songs")
    args = parser.parse_args(argv)
    corpus = args.corpus or Path(tempfile.gettempdir()) / "songprep-bench-transcription"
    songs = build_corpus(corpus, args.songs, form="short")
    minutes = sum(s.duration_s for s in songs) / 60
    print(f"{len(songs)} ground-truth songs ({minutes:.1f} min, {', '.join(s.language for s in songs)}), "
          f"input: {args.input}, beam {args.beam}, CPU", file=sys.stderr)
    rows = run(songs, corpus, args.input, args.beam)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
