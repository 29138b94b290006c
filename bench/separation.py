"""Separation quality, speed and memory on the ground-truth songs.

    .venv/bin/python bench/separation.py [--corpus DIR] [--songs 3] [--long-minutes 10] [--device cpu]

For every separator (Spleeter's shipped weights always; ``demucs:htdemucs`` when its weights are on
this machine, otherwise a full-size *untrained* HTDemucs for speed and memory only), in a fresh process
each so peak RSS is its own:

* vocal and accompaniment SDR (MDX global SDR, :mod:`songprep.separation.sdr`) against the true stems,
  next to the **baseline** measured in the same run: the mixture itself as the estimate (the floor);
* seconds of compute per minute of audio, and the realtime factor;
* peak RSS of the process after also separating one long input (the songs tiled to ``--long-minutes``):
  what one worker needs for a song that long.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import print_table  # noqa: E402


def _untrained_htdemucs():
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    return HTDemucs(["drums", "bass", "other", "vocals"], segment=7.8).eval()  # htdemucs' own config


def _load(name: str, device: str):
    from songprep.separation import load_separator
    from songprep.separation.demucs_backend import DemucsSeparator

    if name == "htdemucs-untrained":
        return DemucsSeparator(_untrained_htdemucs().to(device), "demucs:htdemucs (untrained)", device=device)
    return load_separator(name, device)


def _current_rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _tiled(mixes: list[np.ndarray], frames: int) -> np.ndarray:
    """The songs one after another, repeated to ``frames`` (one allocation: the long input itself)."""
    out = np.empty((mixes[0].shape[0], frames), np.float32)
    at = 0
    while at < frames:
        for mix in mixes:
            n = min(mix.shape[1], frames - at)
            out[:, at:at + n] = mix[:, :n]
            at += n
            if at == frames:
                break
    return out


def _measure(name: str, corpus: str, long_minutes: float, device: str, queue) -> None:
    from songprep.audio import Audio, decode
    from songprep.separation.sdr import global_sdr
    from songprep.testing.corpus import load_corpus

    sep = _load(name, device)
    loaded_mb = _current_rss_mb()
    sep.separate(Audio(np.zeros((2, 5 * 44100), np.float32), 44100))  # warm-up: first-call set-up is not speed
    root = Path(corpus)
    vocal_sdr, acc_sdr, seconds, audio_s, mixes = [], [], 0.0, 0.0, []
    for truth in load_corpus(root):
        mix = decode(root / truth.paths.mix)
        mixes.append(mix.samples)
        start = time.perf_counter()
        stems = sep.separate(mix)
        seconds += time.perf_counter() - start
        audio_s += mix.duration_s
        vocal_sdr.append(global_sdr(decode(root / truth.paths.vocals).samples, stems["vocals"].samples))
        acc_sdr.append(global_sdr(decode(root / truth.paths.accompaniment).samples, stems["accompaniment"].samples))
    long_mix = _tiled(mixes, int(long_minutes * 60 * 44100))
    del mixes, stems
    start = time.perf_counter()
    sep.separate(Audio(long_mix, 44100))
    long_seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(dict(name=sep.name, version=sep.version, vocal_sdr=vocal_sdr, acc_sdr=acc_sdr, seconds=seconds,
                   audio_s=audio_s, long_minutes=long_minutes, long_seconds=long_seconds, peak_mb=peak_mb,
                   loaded_mb=loaded_mb))


def _in_child(name: str, corpus: Path, long_minutes: float, device: str) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(name, str(corpus), long_minutes, device, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _floors(corpus: Path) -> tuple[list[float], list[float]]:
    from songprep.audio import decode
    from songprep.separation.sdr import global_sdr
    from songprep.testing.corpus import load_corpus

    vocal, acc = [], []
    for truth in load_corpus(corpus):
        mix = decode(corpus / truth.paths.mix).samples
        vocal.append(global_sdr(decode(corpus / truth.paths.vocals).samples, mix))
        acc.append(global_sdr(decode(corpus / truth.paths.accompaniment).samples, mix))
    return vocal, acc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="ground-truth corpus dir (built if missing)")
    parser.add_argument("--songs", type=int, default=3)
    parser.add_argument("--form", choices=("short", "full"), default="short")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="length of the long input (peak RSS)")
    parser.add_argument("--untrained-minutes", type=float, default=1.0,
                        help="long input for the untrained HTDemucs (speed only; CPU runs near realtime)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from songprep import models
    from songprep.errors import ModelNotFoundError
    from songprep.testing.corpus import build_corpus

    corpus = args.corpus or Path(tempfile.gettempdir()) / "songprep-bench-truth"
    build_corpus(corpus, args.songs, form=args.form)
    try:
        models.locate("demucs:htdemucs")
        runs = [("spleeter:2stems", args.long_minutes), ("demucs:htdemucs", args.long_minutes)]
    except ModelNotFoundError:
        runs = [("spleeter:2stems", args.long_minutes), ("htdemucs-untrained", args.untrained_minutes)]
    vocal_floor, acc_floor = _floors(corpus)
    results = [_in_child(name, corpus, minutes, args.device) for name, minutes in runs]

    print(f"songs: {args.songs} ({args.form}) in {corpus}; device {args.device}; "
          f"baseline = the mixture as the estimate of each stem")
    header = ["separator", "vocal SDR dB", "acc SDR dB", "vs mixture (voc/acc)", "s per min audio", "x realtime",
              "long input", "long s per min", "RSS loaded MB", "peak RSS MB"]
    rows = [["mixture (baseline)", f"{np.mean(vocal_floor):.2f}", f"{np.mean(acc_floor):.2f}", "+0.00/+0.00",
             "0", "-", "-", "-", "-", "-"]]
    for r in results:
        trained = "untrained" not in r["name"]
        per_min = r["seconds"] / (r["audio_s"] / 60)
        v, a = np.mean(r["vocal_sdr"]), np.mean(r["acc_sdr"])
        rows.append([
            f"{r['name']} [{r['version']}]",
            f"{v:.2f}" if trained else "n/a", f"{a:.2f}" if trained else "n/a",
            f"{v - np.mean(vocal_floor):+.2f}/{a - np.mean(acc_floor):+.2f}" if trained else "n/a",
            f"{per_min:.2f}", f"{60 / per_min:.1f}x", f"{r['long_minutes']:g} min",
            f"{r['long_seconds'] / r['long_minutes']:.2f}", f"{r['loaded_mb']:.0f}", f"{r['peak_mb']:.0f}",
        ])
    print_table(header, rows)
    for r in results:
        if "untrained" not in r["name"]:
            per_song = ", ".join(f"{v:.2f}" for v in r["vocal_sdr"])
            print(f"{r['name']} vocal SDR per song: {per_song} (floors "
                  f"{', '.join(f'{f:.2f}' for f in vocal_floor)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
