"""MIDI grid: do a DAW's beats and bars land on the song's? A beat-following tempo map vs. fixed-tempo MIDI.

    .venv/bin/python bench/midi_grid.py [--short 4] [--full 2] [--seed 21] [--corpus DIR]

For each ground-truth song (beats and downbeats exact by construction), steady and time-warped (the
mix resampled along a tempo ramp from 92% to 108% of its tempo, the truth warped with it), beats are
detected on the mix (``songprep.features``) and the MIDI grid is written three ways; the beat and bar
lines a DAW draws are read back with ``songprep.daw.midi.grid_times``:

- ours: the tempo map from the detected beats and time signatures from the detected downbeats
  (``BeatGrid``), what the ``notes`` stage and ``export`` write;
- baseline ``fixed 120``: one tempo of 120 BPM, 4/4 from 0 s (basic-pitch's own MIDI export, and most
  transcribers', write this);
- baseline ``global tempo``: one tempo, the tracker's global estimate, 4/4 from 0 s;
- ceiling ``tracker``: the detected beats and downbeats themselves (the tempo map can only lose).

Scores: ``mir_eval.beat.f_measure`` (70 ms window) of the beat lines against the true beats and of the
bar lines against the true downbeats; p95 of |true beat - nearest beat line| in ms; set_tempo events.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep import audio as audio_io  # noqa: E402
from songprep.daw.midi import BeatGrid, TempoMap, TimeSignature, grid_times  # noqa: E402
from songprep.features import ANALYSIS_RATE, song_features  # noqa: E402
from songprep.testing.corpus import build_corpus  # noqa: E402

METHODS = ("ours", "fixed 120", "global tempo", "tracker")
RAMP = (0.92, 1.08)


def warp(mono: np.ndarray, rate: int, beats: np.ndarray, downbeats: np.ndarray):
    """Play the song at a speed that ramps linearly over RAMP; the truth's times move with it."""
    t = np.arange(mono.size) / rate
    speed = np.linspace(*RAMP, mono.size)
    tau = np.concatenate([[0.0], np.cumsum(1.0 / speed[:-1]) / rate])  # new time of each source sample
    out_t = np.arange(int(tau[-1] * rate)) / rate
    source_t = np.interp(out_t, tau, t)
    warped = np.interp(source_t, t, mono).astype(np.float32)
    return warped, np.interp(beats, t, tau), np.interp(downbeats, t, tau)


def scores(beat_lines: np.ndarray, bar_lines: np.ndarray, beats: np.ndarray, downbeats: np.ndarray) -> list[float]:
    import mir_eval

    nearest = np.min(np.abs(beats[:, None] - beat_lines[None, :]), axis=1) if beat_lines.size else beats * np.inf
    return [mir_eval.beat.f_measure(beats, beat_lines), mir_eval.beat.f_measure(downbeats, bar_lines),
            float(np.percentile(nearest, 95) * 1000)]


def evaluate(mono: np.ndarray, rate: int, beats: np.ndarray, downbeats: np.ndarray) -> dict[str, list[float]]:
    audio = audio_io.Audio(mono[None], rate)
    feats = song_features(audio)
    end = audio.duration_s
    grid = BeatGrid.from_features(feats)
    tempo_map = grid.tempo_map()
    ours = grid_times(tempo_map, grid.time_signatures(), end)
    fixed = grid_times(TempoMap.constant(120.0), [TimeSignature(0, 4)], end)
    global_tempo = grid_times(TempoMap.constant(feats.tempo_bpm), [TimeSignature(0, 4)], end)
    return {
        "ours": scores(*ours, beats, downbeats) + [len(tempo_map.changes)],
        "fixed 120": scores(*fixed, beats, downbeats) + [1],
        "global tempo": scores(*global_tempo, beats, downbeats) + [1],
        "tracker": scores(feats.beats_s, feats.downbeats_s, beats, downbeats) + [float("nan")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=4, help="short-form songs")
    parser.add_argument("--full", type=int, default=2, help="full-form songs")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "songprep-bench-midi-grid")
    args = parser.parse_args()
    songs = []
    for form, n, seed in (("short", args.short, args.seed), ("full", args.full, args.seed + 1)):
        root = args.corpus / f"{form}-seed{seed}"
        songs += [(root, t) for t in build_corpus(root, n, seed=seed, form=form)] if n else []
    results: dict[str, dict[str, list[list[float]]]] = {"steady": {}, "tempo ramp": {}}
    for root, truth in songs:
        mix = audio_io.standardise(audio_io.decode(root / truth.paths.mix), ANALYSIS_RATE, 1).samples[0]
        beats, downbeats = np.asarray(truth.beats_s), np.asarray(truth.downbeats_s)
        for case, args_ in (("steady", (mix, beats, downbeats)), ("tempo ramp", warp(mix, ANALYSIS_RATE, beats,
                                                                                      downbeats))):
            for method, row in evaluate(args_[0], ANALYSIS_RATE, args_[1], args_[2]).items():
                results[case].setdefault(method, []).append(row)
    print(f"{len(songs)} songs ({args.short} short, {args.full} full; seed {args.seed}); "
          f"tempo ramp {RAMP[0]:.2f}-{RAMP[1]:.2f}x")
    rows = []
    for case, by_method in results.items():
        ours_f = np.mean([r[0] for r in by_method["ours"]])
        for method in METHODS:
            m = np.array(by_method[method], dtype=float)
            beat_f, bar_f, p95, tempos = m.mean(axis=0)
            ratio = "" if method in ("ours", "tracker") else f"{ours_f / max(beat_f, 1e-9):.1f}x"
            rows.append([case, method, f"{beat_f:.3f}", f"{bar_f:.3f}", f"{p95:.0f}",
                         "" if np.isnan(tempos) else f"{tempos:.0f}", ratio])
    print_table(["case", "grid", "beat F", "bar F", "p95 beat err ms", "set_tempo", "ours/this beat F"], rows)


if __name__ == "__main__":
    main()
