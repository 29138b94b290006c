"""Same input, same dataset: the whole default chain (+ notes) gives identical rows on every engine and rerun.

Runs the real CLI on two synthetic songs (one with reference lyrics: the alignment path; one without:
the transcription path) and a minute of a real dev song (transcribed), with ``-j 1`` twice, ``-j 2``,
``--engine ray`` and a run killed with SIGKILL and then resumed; then ``eval run`` twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from conftest import REAL_DIR
from songprep.evaluation.synthetic import write_known_systems

REAL = REAL_DIR / "jamendolyrics-dev"
SONGPREP = str(Path(sys.executable).parent / "songprep")
pytestmark = pytest.mark.slow


def corpus(truth_corpus: Path, root: Path) -> Path:
    root.mkdir(parents=True)
    for name, with_lyrics in (("song-000-en", True), ("song-002-es", False)):
        (root / f"{name}.flac").write_bytes((truth_corpus / "songs" / f"{name}.flac").read_bytes())
        if with_lyrics:
            (root / f"{name}.txt").write_text((truth_corpus / "songs" / f"{name}.txt").read_text())
    if REAL.is_dir():
        audio, rate = sf.read(REAL / "mp3" / "Guayeteo_-_JhoyKing.mp3", frames=60 * 44100, dtype="float32")
        sf.write(root / "real-guayeteo-60s.flac", audio, rate)
    elif os.environ.get("CI") == "true":
        pytest.fail(f"the real dev songs are missing ({REAL}); CI must have ../shared/real")
    return root


def prep(in_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([SONGPREP, "prep", str(in_dir), "-o", str(out), "-q", "--notes", *extra],
                          capture_output=True, text=True, timeout=1800)


def rows(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    songs = pd.read_parquet(out / "songs").sort_values("id").reset_index(drop=True)
    rejects_dir = out / "rejects"
    rejects = (pd.read_parquet(rejects_dir) if any(rejects_dir.glob("*.parquet"))
               else pd.DataFrame(columns=["id"])).sort_values("id").reset_index(drop=True)
    return songs, rejects


def assert_same(a: Path, b: Path) -> None:
    songs_a, rejects_a = rows(a)
    songs_b, rejects_b = rows(b)
    assert len(songs_a) >= 2
    pd.testing.assert_frame_equal(songs_a, songs_b)
    pd.testing.assert_frame_equal(rejects_a, rejects_b)


def test_prep_is_identical_on_rerun_jobs_ray_and_after_kill(truth_corpus, tmp_path):
    src = corpus(truth_corpus, tmp_path / "in")
    first = prep(src, tmp_path / "j1a", "-j", "1")
    assert first.returncode == 0, first.stderr[-2000:]
    songs, _ = rows(tmp_path / "j1a")
    assert set(songs.lyrics_source) == {"reference", "transcript"}
    words = dict(zip(songs.source_path, songs.words))
    assert len(words["song-000-en.flac"])  # the alignment path placed the reference words
    # the transcription path heard words: on the real song (what Whisper hears in the espeak-voiced es song
    # depends on the CPU's int8 kernels: 0 words on an AMD EPYC build machine, some on others)
    assert len(words["real-guayeteo-60s.flac"] if REAL.is_dir() else words["song-002-es.flac"])
    for name, extra in (("j1b", ("-j", "1")), ("j2", ("-j", "2")), ("ray", ("--engine", "ray", "-j", "2"))):
        run = prep(src, tmp_path / name, *extra)
        assert run.returncode == 0, f"{name}: {run.stderr[-2000:]}"
        assert_same(tmp_path / "j1a", tmp_path / name)

    # kill -9 once the first song is on disk, then resume
    killed = tmp_path / "killed"
    proc = subprocess.Popen([SONGPREP, "prep", str(src), "-o", str(killed), "-q", "--notes", "-j", "1",
                             "--rows-per-shard", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 900
    while not list((killed / "songs").glob("part-*.parquet")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = prep(src, killed, "-j", "1")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same(tmp_path / "j1a", killed)


def numbers(report: Path) -> dict:
    data = json.loads((report / "results.json").read_text())
    for key in ("created_at", "seconds", "out_dir"):
        data.pop(key, None)
    return data


def test_eval_run_gives_identical_numbers_twice(truth_corpus, tmp_path):
    known = write_known_systems(truth_corpus, tmp_path / "known", fraction=0.6)
    outs = []
    for k in range(2):
        out = tmp_path / f"report-{k}"
        run = subprocess.run([SONGPREP, "eval", "run", "-p", str(known.prompts), "-s", f"clean={known.clean}",
                              "-s", f"degraded={known.degraded}", "-o", str(out), "--aesthetics", "",
                              "--resamples", "200"], capture_output=True, text=True, timeout=1800)
        assert run.returncode == 0, run.stderr[-2000:]
        outs.append(out)
    assert numbers(outs[0]) == numbers(outs[1])
    a = pd.read_parquet(outs[0] / "per_song.parquet").drop(columns=["seconds"], errors="ignore")
    b = pd.read_parquet(outs[1] / "per_song.parquet").drop(columns=["seconds"], errors="ignore")
    pd.testing.assert_frame_equal(a, b)
