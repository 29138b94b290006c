"""The bundled default job on ground-truth songs: what prep writes agrees with the truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from songprep.config import DEFAULT_STAGES
from songprep.pipelines.demo import run_demo
from songprep.runner import RunOptions
from songprep.testing.corpus import load_corpus


def test_demo_dataset_matches_the_truth(tmp_path):
    result = run_demo(tmp_path, n_songs=3, options=RunOptions(progress=False))
    assert result.summary.written == 3 and result.summary.rejected == 0
    songs = pd.read_parquet(result.dataset_dir / "songs").set_index("source_path")
    truths = load_corpus(tmp_path / "corpus")
    assert {t.language for t in truths} == {"en", "zh", "es"}
    for truth in truths:
        row = songs.loc[f"{truth.name}.flac"]
        assert row.duration_s == pytest.approx(truth.duration_s, abs=1e-6)
        assert row.lyrics.split("\n") == truth.lines and row.lyrics_source == "reference"
        assert row.sample_rate == truth.sample_rate and row.channels == 2 and row.language == truth.language
        # the whole chain: stems on disk, one timed word per reference word, sections, markup
        for stem in (row.vocals_path, row.accompaniment_path):
            assert (result.dataset_dir / stem).is_file()
        starts = np.array([w["start_s"] for w in row.words])
        assert len(starts) == len(truth.words) and np.all(np.diff(starts) >= 0)
        assert np.median(np.abs(starts - [w.start_s for w in truth.words])) < 0.1
        assert [s["label"] for s in row.sections] == [s.label for s in truth.sections]
        assert row.levo_lyric.startswith("[intro-short] ; [verse] ")
        assert [s["stage"] for s in row.provenance["stages"]] == list(DEFAULT_STAGES)
    assert "song-001-zh" in result.table


@pytest.mark.slow
def test_demo_command_runs_and_resumes(tmp_path):
    songprep = Path(sys.executable).parent / "songprep"
    first = subprocess.run([str(songprep), "demo", "-o", str(tmp_path), "-q"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("3 written, 0 rejected, 0 already done")
    second = subprocess.run([str(songprep), "demo", "-o", str(tmp_path), "-q"], capture_output=True, text=True)
    assert second.stdout.startswith("0 written, 0 rejected, 3 already done")
