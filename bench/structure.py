"""Song structure vs. plain baselines on generated ground-truth songs (HR.5F, HR3F, ACC, speed) and real songs.

    .venv/bin/python bench/structure.py [--full 6] [--short 6] [--seed 11] [--corpus DIR]
                                        [--real DIR] [--real-cache DIR] [--no-real]

Builds (or reuses) a corpus of full-form and short-form songs with ``build_corpus`` under ``--corpus``
(default: a cache dir in the system temp dir) and scores, per song and on average:

- ours: ``songprep.structure.segment`` with the song's vocal stem (the clean truth stem: an upper
  bound for what a separation model gives) and, in the ``mix only`` columns, without any stem;
  ``--separator spleeter:2stems`` (or any name ``songprep.separation`` knows) adds ``separated``
  columns that use the stem that separator makes from the mix (its time is not counted);
- baselines measured in the same run: librosa agglomerative segmentation (8 segments) and fixed
  8-bar blocks, both labelled by position (intro, verse/chorus alternating, outro).

HR.5F / HR3F: ``mir_eval.segment.detection`` F-measure, window 0.5 s / 3 s, ``trim=False``.
ACC: share of 10 Hz frames whose label equals the reference label.
Real songs (``--real``, the JamendoLyrics dev songs in ``../shared/real`` by default, and the real
instrumental beside them): no section labels exist, so the human line timings are the evidence
(``songprep.structure.metrics.line_evidence``: sung_in_vocal, inst_clean, repeated_in_chorus, runs).
``songprep prep`` (the real CLI) runs once with the lyrics given and once with the transcript only;
its separation, alignment and transcription are cached under ``--real-cache`` (default
``~/.cache/songprep-bench/structure-real``; delete it to redo them), so a rerun only redoes the
structure, from the mix, the cached vocal stem and the cached words, as the ``structure`` stage does.
The baselines are scored on the same songs in the same run.

Speed: seconds per minute of audio on one core (this process is pinned to one CPU, BLAS/numba
threads set to 1), decoded audio in memory; librosa's numba compilation is warmed up first and
excluded. Tuning seeds were 1, 2, 7 and 8: keep --seed away from them for honest numbers.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep import audio as audio_io  # noqa: E402
from songprep.features import song_features  # noqa: E402
from songprep.structure import baseline, segment  # noqa: E402
from songprep.structure.metrics import score  # noqa: E402
from songprep.testing.corpus import build_corpus  # noqa: E402

METHODS = ("ours", "mix only", "agglomerative", "8-bar blocks")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO.parent / "shared" / "real" / "jamendolyrics-dev"
DEFAULT_REAL_CACHE = Path.home() / ".cache" / "songprep-bench" / "structure-real"
#: prep runs on the real songs: (cache folder, extra CLI arguments given the data folder)
REAL_RUNS = {"lyrics given": ("with-lyrics", lambda data: ["--lyrics", str(data / "lyrics")]),
             "transcript only": ("transcript", lambda data: [])}


def warm_up() -> None:
    """Run everything once on a short signal so numba's compilation is not timed."""
    sr = 22050
    t = np.arange(sr * 8) / sr
    clicks = (np.sin(2 * np.pi * 220 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
    feats = song_features(audio_io.Audio(clicks[None], sr), vocals=audio_io.Audio(clicks[None], sr))
    segment(feats)
    baseline.agglomerative(feats)


def cached_prep(in_dir: Path, out: Path, extra: list[str], expected: set[str]) -> dict:
    """prep's rows per song name, running the CLI only when the cache lacks one of ``expected``."""
    from real_songs import read_rows, run_prep

    rows, rejected = read_rows(out) if (out / "songs").is_dir() else ({}, {})
    if not expected <= set(rows) | set(rejected):
        print(f"prep {in_dir} -> {out} (cached for the next run)", file=sys.stderr)
        run_prep(in_dir, out, extra)
        rows, rejected = read_rows(out)
    for name in sorted(set(rejected)):
        print(f"{name}: rejected by prep ({rejected[name]['reason'][:80]})", file=sys.stderr)
    return rows


def real_structures(row, out: Path, mix: audio_io.Audio) -> dict[str, list]:
    """Ours (as the structure stage runs it: mix, vocal stem, words) and the baselines on one prep row."""
    from songprep.records import Word

    vocals = audio_io.decode(out / row["vocals_path"]) if row["vocals_path"] else None
    words = [Word(w["word"], w["start_s"], w["end_s"]) for w in row["words"]]
    feats = song_features(mix, vocals=vocals)
    plain = song_features(mix)
    ours = segment(feats, words=words, words_complete=row["lyrics_source"] != "transcript")
    return {"ours": ours, "agglomerative": baseline.agglomerative(plain),
            "8-bar blocks": baseline.blocks(plain)}


def real_songs_table(data: Path, cache: Path) -> None:
    """line_evidence of ours and the baselines on every real song, lyrics given and transcript only."""
    from songprep.structure.metrics import line_evidence
    from songprep.testing.jamendo import load_dataset

    songs = load_dataset(data)
    names = {s.name for s in songs}
    instrumental = data.parent / "instrumental"
    runs = {mode: cached_prep(data / "mp3", cache / folder, extra(data), names)
            for mode, (folder, extra) in REAL_RUNS.items()}
    inst_rows = (cached_prep(instrumental, cache / "instrumental", [], {p.stem for p in instrumental.glob("*.ogg")})
                 if instrumental.is_dir() else {})
    methods = ("ours", "agglomerative", "8-bar blocks")
    rows, pooled = [], {}
    for mode, by_name in runs.items():
        folder = cache / REAL_RUNS[mode][0]
        for song in songs:
            if song.name not in by_name:
                continue
            lines = [(x.start_s, x.end_s, x.text) for x in song.timed_lines]
            found = real_structures(by_name[song.name], folder, audio_io.decode(song.mp3))
            for method in methods:
                e = line_evidence(found[method], lines)
                pooled.setdefault((mode, method), []).append(e)
                rows.append([song.name[:28], mode, method, f"{e.sung_in_vocal:.3f}", f"{e.inst_clean:.3f}",
                             f"{e.repeated_in_chorus:.3f}", e.runs, " ".join(_short(x.label) for x in found[method])])
    for name, row in inst_rows.items():
        found = real_structures(row, cache / "instrumental", audio_io.decode(next(instrumental.glob(name + ".*"))))
        for method in methods:
            e = line_evidence(found[method], [])
            rows.append([name[:28] + " (instrumental)", "transcript only", method, "-", f"{e.inst_clean:.3f}", "-",
                         e.runs, " ".join(_short(x.label) for x in found[method])])
    print(f"measured on real songs: {len(songs)} JamendoLyrics dev songs from {data} (+ the real instrumental); "
          f"prep outputs cached in {cache}\n")
    print_table(["song", "words from", "method", "sung_in_vocal", "inst_clean", "repeated_in_chorus", "runs",
                 "sections"], rows)
    print("\nmean over the real songs (targets, lyrics given: sung_in_vocal >= 0.97, inst_clean >= 0.95, "
          "repeated_in_chorus >= 0.75, runs <= 3; transcript only: repeated_in_chorus >= 0.60)\n")
    mean_rows = []
    for (mode, method), evidence in pooled.items():
        mean_rows.append([mode, method] + [f"{np.nanmean([getattr(e, k) for e in evidence]):.3f}"
                                           for k in ("sung_in_vocal", "inst_clean", "repeated_in_chorus")]
                         + [max(e.runs for e in evidence)])
    print_table(["words from", "method", "sung_in_vocal", "inst_clean", "repeated_in_chorus", "max runs"], mean_rows)
    print()


_SHORT = {"intro": "I", "verse": "V", "chorus": "C", "bridge": "B", "inst": "N", "outro": "O", "silence": "S"}


def _short(label: str) -> str:
    return _SHORT[label]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", type=int, default=6, help="full-form songs")
    parser.add_argument("--short", type=int, default=6, help="short-form songs")
    parser.add_argument("--seed", type=int, default=11, help="corpus seed (full songs; short songs use seed + 1)")
    parser.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "songprep-bench-structure")
    parser.add_argument("--separator", help="also score with vocal stems from this separator, e.g. spleeter:2stems")
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="JamendoLyrics-layout folder of real songs")
    parser.add_argument("--real-cache", type=Path, default=DEFAULT_REAL_CACHE, help="where prep's outputs are kept")
    parser.add_argument("--no-real", action="store_true", help="synthetic songs only")
    args = parser.parse_args()
    if not args.no_real:
        if (args.real / "meta.csv").is_file():
            real_songs_table(args.real, args.real_cache)  # before the pin below: prep uses every core
        else:
            print(f"no real songs at {args.real} (meta.csv missing): synthetic only", file=sys.stderr)
    methods = METHODS + (("separated",) if args.separator else ())
    separator = None
    if args.separator:
        from songprep.separation import load_separator

        separator = load_separator(args.separator, "cpu", None)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    songs = []
    for form, n, seed in (("full", args.full, args.seed), ("short", args.short, args.seed + 1)):
        root = args.corpus / f"{form}-seed{seed}"
        songs += [(root, t) for t in build_corpus(root, n, seed=seed, form=form)] if n else []
    warm_up()

    rows, scores, audio_s = [], {m: [] for m in methods}, 0.0
    seconds = {"features": 0.0, "features (mix only)": 0.0, "segment": 0.0, "agglomerative": 0.0}
    for root, truth in songs:
        mix = audio_io.decode(root / truth.paths.mix)
        vocals = audio_io.decode(root / truth.paths.vocals)
        audio_s += mix.duration_s
        t0 = time.perf_counter()
        feats = song_features(mix, vocals=vocals)
        t1 = time.perf_counter()
        ours = segment(feats)
        t2 = time.perf_counter()
        plain = song_features(mix)
        t3 = time.perf_counter()
        mix_only = segment(plain)
        agglo = baseline.agglomerative(plain)
        t4 = time.perf_counter()
        seconds["features"] += t1 - t0
        seconds["segment"] += t2 - t1
        seconds["features (mix only)"] += t3 - t2
        seconds["agglomerative"] += t4 - t3
        result = {"ours": ours, "mix only": mix_only, "agglomerative": agglo, "8-bar blocks": baseline.blocks(plain)}
        if separator is not None:
            stem = separator.separate(mix)["vocals"]
            result["separated"] = segment(song_features(mix, vocals=stem))
        row = [truth.name + f" ({truth.form})", f"{truth.duration_s:.0f}"]
        for method in methods:
            s = score(truth.sections, result[method])
            scores[method].append((s.hr05_f, s.hr3_f, s.accuracy))
            row += [f"{s.hr05_f:.2f}", f"{s.hr3_f:.2f}", f"{s.accuracy:.2f}"]
        rows.append(row)
    means = {m: np.mean(scores[m], axis=0) for m in methods}
    rows.append(["mean", f"{audio_s / max(len(songs), 1):.0f}"] + [f"{v:.3f}" for m in methods for v in means[m]])
    header = ["song", "s"] + [f"{m} {k}" for m in methods for k in ("HR.5F", "HR3F", "ACC")]
    print(f"{len(songs)} songs, {audio_s / 60:.1f} min of audio, corpus {args.corpus}\n")
    print_table(header, rows)
    base = means["agglomerative"]
    ratios = [f"{k} {means['ours'][i] / base[i]:.2f}x" if base[i] else f"{k} n/a"
              for i, k in enumerate(("HR.5F", "HR3F", "ACC"))]
    print("\nratio ours / agglomerative: " + ", ".join(ratios))
    minutes = audio_s / 60
    print()
    timing = [[name, f"{s / minutes:.3f}", f"{audio_s / s:.0f}x" if s else "-"] for name, s in seconds.items()]
    ours_s = seconds["features"] + seconds["segment"]
    timing.append(["ours total (features + segment)", f"{ours_s / minutes:.3f}", f"{audio_s / ours_s:.0f}x"])
    print_table(["one core, decoded audio in memory", "s per min of audio", "x realtime"], timing)


if __name__ == "__main__":
    main()
