"""The dataset as users meet it: killed runs, HF datasets, the installed wheel."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import LIGHT, make_mixed_corpus, tone, write_audio_file
from songprep.runner import RunOptions, prepare_corpus

SONGPREP = Path(sys.executable).parent / "songprep"


def dataset_frames(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = []
    for name in ("songs", "rejects"):
        frame = pd.read_parquet(out / name) if list((out / name).glob("*.parquet")) else pd.DataFrame({"id": []})
        frames.append(frame.sort_values("id").reset_index(drop=True))
    return frames[0], frames[1]


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_gives_the_same_dataset(tmp_path):
    root = tmp_path / "corpus"
    make_mixed_corpus(root, n_good=4)
    for i in range(36):
        write_audio_file(root / "many" / f"song-{i:02d}.flac", tone(20.0, seed=i))
    reference = tmp_path / "reference"
    prepare_corpus(root, reference, LIGHT, RunOptions(progress=False))
    out = tmp_path / "out"
    command = [str(SONGPREP), "prep", str(root), "-o", str(out), "-q", "--rows-per-shard", "1",
               "--stages", "decode,lyrics"]
    rng = random.Random(7)
    kills = 0
    for _ in range(8):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(1.5, 4.0))
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        songs, rejects = dataset_frames(out)
        assert songs.id.is_unique and rejects.id.is_unique and not set(songs.id) & set(rejects.id)
    assert kills >= 1, "the run finished before it could be killed; make the corpus bigger"
    subprocess.run(command, check=True, capture_output=True)
    for got, want in zip(dataset_frames(out), dataset_frames(reference)):
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.slow
def test_hf_datasets_loads_the_songs(mixed_corpus, tmp_path):
    import datasets

    root, _ = mixed_corpus
    out = tmp_path / "out"
    prepare_corpus(root, out, LIGHT, RunOptions(progress=False))
    ds = datasets.load_dataset("parquet", data_dir=str(out / "songs"), split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert ds.num_rows == 5
    assert set(ds.column_names) >= {"id", "sections", "words", "provenance", "levo_lyric"}
    assert ds.features["words"].feature["start_s"].dtype == "float64"
    assert ds[0]["provenance"]["config_hash"] == LIGHT.config_hash()


@pytest.mark.slow
def test_wheel_installs_the_layout_under_songprep(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(repo)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("songprep-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in list(repo.glob("songprep/**/__init__.py")):  # every package of the source tree ships
        assert package.relative_to(repo).as_posix() in names
    for top in ("evaluation", "generation", "pipelines"):
        for module in (repo / top).rglob("*.py"):
            assert f"songprep/{module.relative_to(repo).as_posix()}" in names
    assert not any(n.split("/")[0] in ("evaluation", "generation", "pipelines", "tests") for n in names)
