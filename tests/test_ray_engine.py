"""The Ray Data engine (local Ray on this machine) writes the same dataset as the local engine."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import LIGHT, make_mixed_corpus
from songprep.runner import RunOptions, prepare_corpus


def frames(out):
    return [pd.read_parquet(out / name).sort_values("id").reset_index(drop=True) for name in ("songs", "rejects")]


@pytest.mark.slow
def test_ray_engine_matches_local_engine_and_resumes(tmp_path):
    root = tmp_path / "corpus"
    make_mixed_corpus(root, n_good=6)
    prepare_corpus(root, tmp_path / "local", LIGHT, RunOptions(progress=False))
    ray_options = RunOptions(progress=False, engine="ray", jobs=2, batch_size=2)
    summary = prepare_corpus(root, tmp_path / "ray", LIGHT, ray_options)
    assert summary.written == 7 and summary.rejected == 5
    for got, want in zip(frames(tmp_path / "ray"), frames(tmp_path / "local")):
        pd.testing.assert_frame_equal(got, want)
    again = prepare_corpus(root, tmp_path / "ray", LIGHT, ray_options)
    assert (again.written, again.rejected, again.skipped) == (0, 0, 12)
