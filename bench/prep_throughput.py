"""Throughput of `songprep prep`: local engine (-j 1, -j 2) and Ray engine vs. the naive routes.

Baselines, timed on the same songs in the same run:
- "naive route" (the full chain only): what users script today, file by file — a separation
  command in a fresh process (Spleeter, the offline separator, loaded per file as a CLI does), then
  openai-whisper's own CLI on the vocal stem (base, word timestamps, language detection).
- "naive script" (the decode-only columns): librosa.load + pyloudnorm + sha256 per file, one
  pandas.to_parquet at the end (no resume, no rejects, one process).
The -j 1 row runs the real CLI in a subprocess, so its peak RSS is one worker's.

    .venv/bin/python bench/prep_throughput.py [--songs 8] [--form full] [--stages decode,lyrics,...]

Prints one table (seconds, songs/hour, x realtime, ratio to the baseline) and the per-stage
seconds of the -j 1 run, from which a cluster estimate is made (see ``cluster_estimate``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep.config import DEFAULT_STAGES, PrepConfig  # noqa: E402
from songprep.runner import RunOptions, RunSummary, prepare_corpus  # noqa: E402
from songprep.testing.corpus import build_corpus  # noqa: E402


def naive_script(songs_dir: Path, out: Path) -> float:
    """The baseline: librosa + pyloudnorm per file, one Parquet file at the end."""
    import librosa
    import numpy as np
    import pandas as pd
    import pyloudnorm

    started = time.perf_counter()
    rows = []
    for path in sorted(songs_dir.glob("*.flac")):
        y, sr = librosa.load(path, sr=None, mono=False)
        y = np.atleast_2d(y)
        lyrics = path.with_suffix(".txt")
        rows.append({
            "path": str(path), "duration_s": y.shape[1] / sr, "sample_rate": sr, "channels": y.shape[0],
            "loudness": pyloudnorm.Meter(sr).integrated_loudness(y.T.astype(np.float64)),
            "peak": float(np.abs(y).max()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "lyrics": lyrics.read_text() if lyrics.exists() else None,
        })
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(out / "songs.parquet")
    return time.perf_counter() - started


SEPARATE_ONE_FILE = """import sys
from songprep.audio import decode, write_audio
from songprep.separation import load_separator
stems = load_separator("spleeter:2stems").separate(decode(sys.argv[1]))
write_audio(sys.argv[2], stems["vocals"]); write_audio(sys.argv[3], stems["accompaniment"])
"""


def naive_route(songs_dir: Path, out: Path) -> float:
    """Separation command, then whisper's CLI, per file (the route the prep chain replaces)."""
    from songprep.transcription.openai_backend import locate_or_convert

    checkpoint = locate_or_convert("whisper:base")  # offline: converted once from the shipped weights
    whisper_cli = Path(sys.executable).parent / "whisper"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for path in sorted(songs_dir.glob("*.flac")):
        vocals, accompaniment = out / f"{path.stem}.vocals.wav", out / f"{path.stem}.accompaniment.wav"
        subprocess.run([sys.executable, "-c", SEPARATE_ONE_FILE, str(path), str(vocals), str(accompaniment)],
                       check=True, capture_output=True)
        subprocess.run([str(whisper_cli), str(vocals), "--model", str(checkpoint), "--word_timestamps", "True",
                        "--device", "cpu", "--fp16", "False", "--output_format", "json", "--output_dir", str(out)],
                       check=True, capture_output=True)
    return time.perf_counter() - started


def run_cli(songs_dir: Path, out: Path, stages: str, *extra: str) -> tuple[float, float]:
    """`songprep prep` as a user runs it; returns (seconds, peak RSS in MB of that process and its workers)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "songprep"), "prep", str(songs_dir), "-o", str(out), "-q",
               "--stages", stages, *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(proc.stderr.read().decode()[-2000:])
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker so far
    return seconds, max(usage.ru_maxrss, children) / 1024


def run(songs_dir: Path, out: Path, config: PrepConfig, **options) -> RunSummary:
    shutil.rmtree(out, ignore_errors=True)
    return prepare_corpus(songs_dir, out, config, RunOptions(progress=False, **options))


def cluster_estimate(stage_seconds_per_song: dict[str, float], gpu_stages: set[str], nodes: int = 8,
                     cpus_per_node: int = 16, gpu_speedup: float = 20.0) -> tuple[float, str]:
    """Songs per hour on ``nodes`` nodes from this machine's per-stage costs (a paper estimate).

    Assumptions, printed with the result: CPU stages share every core of a node; GPU stages share
    one GPU per node that runs them ``gpu_speedup`` times faster than one core here. Each node is
    bounded by the busier of its two resources; the name returned is that resource's costliest stage.
    """
    cpu = {n: s for n, s in stage_seconds_per_song.items() if n not in gpu_stages}
    gpu = {n: s for n, s in stage_seconds_per_song.items() if n in gpu_stages}
    cpu_s = sum(cpu.values()) / cpus_per_node
    gpu_s = sum(gpu.values()) / gpu_speedup
    busy, stages = (gpu_s, gpu) if gpu_s > cpu_s else (cpu_s, cpu)
    return nodes * 3600 / busy, max(stages, key=stages.get)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--form", default="full", choices=["short", "full"])
    parser.add_argument("--stages", default=",".join(DEFAULT_STAGES))
    parser.add_argument("--no-ray", action="store_true", help="Skip the Ray engine row.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="songprep-bench-"))
    corpus = Path(tempfile.gettempdir()) / f"songprep-bench-corpus-{args.form}-{args.songs}"
    truths = build_corpus(corpus, n_songs=args.songs, form=args.form)
    songs_dir = corpus / "songs"
    audio_s = sum(t.duration_s for t in truths)
    config = PrepConfig(stages=tuple(args.stages.split(",")))
    full_chain = {"separate", "transcribe"} <= set(config.stages)

    rows = []
    if full_chain:
        base_s = naive_route(songs_dir, work / "naive")
        rows.append(("naive route (separation command + whisper CLI, per file)", base_s))
    else:
        base_s = naive_script(songs_dir, work / "naive")
        rows.append(("naive script (librosa + pyloudnorm, 1 process)", base_s))
    default_s, default_rss = run_cli(songs_dir, work / "default", args.stages)
    rows.append((f"songprep prep (the default command: -j 0 = a worker per core; peak RSS {default_rss:,.0f} MB)",
                 default_s))
    j1_s, j1_rss = run_cli(songs_dir, work / "j1", args.stages, "-j", "1")
    rows.append((f"songprep prep -j 1 (CLI, one compute thread; peak RSS {j1_rss:,.0f} MB)", j1_s))
    import songprep.device

    pinned = songprep.device.WORKER_THREADS
    songprep.device.WORKER_THREADS = os.cpu_count() or 1  # what -j 1 used before threads were pinned (#14)
    try:
        unpinned = run(songs_dir, work / "j1-threads", config, jobs=1, batch_size=1)
    finally:
        songprep.device.WORKER_THREADS = pinned
    rows.append((f"songprep prep -j 1 with {os.cpu_count()} threads (before pinning; rows then depend on -j)",
                 unpinned.seconds))
    local2 = run(songs_dir, work / "j2", config, jobs=2, batch_size=1)
    rows.append(("songprep prep -j 2", local2.seconds))
    if not args.no_ray:
        ray2 = run(songs_dir, work / "ray", config, jobs=2, batch_size=1, engine="ray")
        rows.append(("songprep prep --engine ray -j 2", ray2.seconds))
    print(f"{len(truths)} {args.form} songs, {audio_s / 60:.1f} min of audio, stages: {args.stages}")
    print_table(
        ["route", "seconds", "songs/hour", "x realtime", "vs naive"],
        [[name, f"{s:.2f}", f"{len(truths) * 3600 / s:,.0f}", f"{audio_s / s:.1f}", f"{base_s / s:.2f}x"]
         for name, s in rows],
    )
    print("(vs naive > 1 means faster than the baseline; x realtime = audio seconds per wall second)")
    if not args.no_ray:
        print(f"Ray vs local (-j 2): {ray2.seconds / local2.seconds:.2f}x the time "
              f"(target: within 1.15x)")
    print("\nper-stage seconds (-j 2 run, summed over both workers):")
    print_table(["stage", "seconds", "s per audio minute"],
                [[n, f"{s:.2f}", f"{s / (audio_s / 60):.3f}"] for n, s in local2.stage_seconds.items()])
    from songprep.stages import STAGES

    gpu = {name for name in local2.stage_seconds if STAGES[name].resources.gpu}
    per_song = {n: s / len(truths) for n, s in local2.stage_seconds.items()}
    songs_h, bound = cluster_estimate(per_song, gpu)
    print(f"\npaper estimate, 8 nodes x (16 cores + 1 GPU at 20x one core for GPU stages {sorted(gpu) or 'none'}):"
          f" {songs_h:,.0f} songs/hour, bounded by '{bound}'")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
