"""MIDI grid: do a DAW's beats and bars land on the song's? A beat-following tempo map vs. fixed-tempo MIDI.

    .venv/bin/python bench/midi_grid.py [--short 4] [--full 2] [--seed 21] [--corpus DIR]

For each ground-truth song (beats and downbeats exact by construction), in four cases: steady;
time-warped (the mix resampled along a tempo ramp from 92% to 108% of its tempo, the truth warped with
it); swung (the same plan re-rendered with swung eighths, ``songprep.testing.compose.swing``: beats
unchanged, off-beats late); and with a pickup (the song's last two beats of its first full-band bar
played before bar 1, so the music starts on beat 3 and the truth moves by two beats) — beats are
detected on the mix (``songprep.features``) and the MIDI grid is written three ways; the beat and bar
lines a DAW draws are read back with ``songprep.daw.midi.grid_times``:

- ours: the tempo map from the detected beats and time signatures from the detected downbeats
  (``BeatGrid``), what the ``notes`` stage and ``export`` write;
- baseline ``fixed 120``: one tempo of 120 BPM, 4/4 from 0 s (basic-pitch's own MIDI export, and most
  transcribers', write this);
- baseline ``global tempo``: one tempo, the tracker's global estimate, 4/4 from 0 s;
- ``tracker``: songprep's detected beats and decoded downbeats themselves (the tempo map can only lose);
- baseline ``librosa alone``: ``librosa.beat.beat_track`` with its defaults on the mix, bars every 4
  beats from its first beat (librosa has no downbeat tracker): the grid without songprep's decoder.

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

METHODS = ("ours", "fixed 120", "global tempo", "tracker", "librosa alone")
RAMP = (0.92, 1.08)
CASES = ("steady", "tempo ramp", "swing", "pickup")
PICKUP_BEATS = 2


def warp(mono: np.ndarray, rate: int, beats: np.ndarray, downbeats: np.ndarray):
    """Play the song at a speed that ramps linearly over RAMP; the truth's times move with it."""
    t = np.arange(mono.size) / rate
    speed = np.linspace(*RAMP, mono.size)
    tau = np.concatenate([[0.0], np.cumsum(1.0 / speed[:-1]) / rate])  # new time of each source sample
    out_t = np.arange(int(tau[-1] * rate)) / rate
    source_t = np.interp(out_t, tau, t)
    warped = np.interp(source_t, t, mono).astype(np.float32)
    return warped, np.interp(beats, t, tau), np.interp(downbeats, t, tau)


def pickup(mono: np.ndarray, rate: int, beats: np.ndarray, downbeats: np.ndarray):
    """Two beats from the end of the first bar with bass and drums (bar 1) played before the song's start."""
    bar = 1 if downbeats.size > 2 else 0
    a, b = downbeats[bar + 1] - PICKUP_BEATS * (beats[1] - beats[0]), downbeats[bar + 1]
    lead = mono[int(round(a * rate)):int(round(b * rate))]
    shift = lead.size / rate
    lead_beats = beats[(beats >= a - 1e-6) & (beats < b - 1e-6)] - a
    return (np.concatenate([lead, mono]), np.r_[lead_beats, beats + shift], downbeats + shift)


def librosa_alone(mono: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    _, beats = librosa.beat.beat_track(y=mono, sr=rate, units="time")
    return beats, beats[::4]


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
        "librosa alone": scores(*librosa_alone(mono, rate), beats, downbeats) + [float("nan")],
    }


def swung_mix(root: Path, truth) -> np.ndarray:
    """The song's plan with swung eighths, rendered once and kept beside the corpus."""
    path = root / "swing" / f"{truth.name}.flac"
    if not path.is_file():
        import soundfile as sf

        from songprep.testing.compose import compose, swing
        from songprep.testing.render import render

        rendered = render(swing(compose(truth.seed, truth.language, truth.form)), truth.sample_rate)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, rendered.mix.T, truth.sample_rate, subtype="PCM_24")
    return audio_io.standardise(audio_io.decode(path), ANALYSIS_RATE, 1).samples[0]


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
    results: dict[str, dict[str, list[list[float]]]] = {case: {} for case in CASES}
    for root, truth in songs:
        mix = audio_io.standardise(audio_io.decode(root / truth.paths.mix), ANALYSIS_RATE, 1).samples[0]
        beats, downbeats = np.asarray(truth.beats_s), np.asarray(truth.downbeats_s)
        cases = {"steady": (mix, beats, downbeats), "tempo ramp": warp(mix, ANALYSIS_RATE, beats, downbeats),
                 "swing": (swung_mix(root, truth), beats, downbeats),
                 "pickup": pickup(mix, ANALYSIS_RATE, beats, downbeats)}
        for case, args_ in cases.items():
            for method, row in evaluate(args_[0], ANALYSIS_RATE, args_[1], args_[2]).items():
                results[case].setdefault(method, []).append(row)
    print(f"{len(songs)} songs ({args.short} short, {args.full} full; seed {args.seed}); "
          f"tempo ramp {RAMP[0]:.2f}-{RAMP[1]:.2f}x; swing 2/3; pickup {PICKUP_BEATS} beats")
    rows = []
    for case, by_method in results.items():
        ours_f = np.mean([r[0] for r in by_method["ours"]])
        for method in METHODS:
            m = np.array(by_method[method], dtype=float)
            beat_f, bar_f, p95, tempos = m.mean(axis=0)
            ratio = "" if method in ("ours", "tracker") else f"{ours_f / max(beat_f, 1e-9):.2f}x"
            rows.append([case, method, f"{beat_f:.3f}", f"{bar_f:.3f}", f"{p95:.0f}",
                         "" if np.isnan(tempos) else f"{tempos:.0f}", ratio])
    print_table(["case", "grid", "beat F", "bar F", "p95 beat err ms", "set_tempo", "ours/this beat F"], rows)


if __name__ == "__main__":
    main()
