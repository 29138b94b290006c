"""The Ray Data engine (local Ray on this machine) writes the same dataset as the local engine."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest

from conftest import LIGHT, make_mixed_corpus
from songprep import ray_engine
from songprep.errors import ModelNotFoundError
from songprep.ray_engine import PipelineActor
from songprep.runner import RunOptions, prepare_corpus
from songprep.stages.decode import DecodeStage

RAY = RunOptions(progress=False, engine="ray", jobs=2)


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


class BuggyDecode(DecodeStage):
    def process(self, item):
        if item.source.rel_path == "good-1.flac":
            return 1 / 0
        return super().process(item)


class BuggyActor(PipelineActor):
    """An actor whose decode has a bug that hits one song."""

    def __init__(self, *args):
        super().__init__(*args)
        self.pipeline.stages[0].__class__ = BuggyDecode


class DyingActor(PipelineActor):
    """An actor whose process dies on one song, as if the kernel killed it for memory."""

    def __call__(self, batch):
        if "good-1.flac" in {str(p) for p in batch["rel_path"]}:
            os._exit(9)
        return super().__call__(batch)


class UnloadableActor(PipelineActor):
    def __init__(self, *args):
        super().__init__(*args)
        self.setup_error = ModelNotFoundError("model decode:none is not on this machine; looked in nowhere")


@pytest.fixture
def actor(monkeypatch):
    """Run prep's Ray actors as one of the classes above (shipped to Ray's workers by value)."""
    import ray

    module = sys.modules[__name__]
    ray.cloudpickle.register_pickle_by_value(module)
    yield lambda cls: monkeypatch.setattr(ray_engine, "PipelineActor", cls)
    ray.cloudpickle.unregister_pickle_by_value(module)


@pytest.mark.slow
@pytest.mark.parametrize("cls, stage, logged", [(BuggyActor, "decode", "ZeroDivisionError"),
                                                 (DyingActor, "worker", "Ray Data dropped")])
def test_ray_internal_failures_are_logged_and_retried_next_run(tmp_path, actor, cls, stage, logged):
    root, out = tmp_path / "corpus", tmp_path / "out"
    bad = make_mixed_corpus(root)
    actor(cls)
    summary = prepare_corpus(root, out, LIGHT, RAY)
    assert list(summary.internal_errors) == ["good-1.flac"]
    assert summary.internal_errors["good-1.flac"].startswith(f"{stage}: ")
    assert summary.written == 4 and summary.rejected == len(bad)  # the rest went on
    rejects = pd.read_parquet(out / "rejects").set_index("source_path")
    assert rejects.loc["good-1.flac", "kind"] == "internal" and set(rejects.drop("good-1.flac").kind) == {"input"}
    assert logged in (out / "logs" / "errors.log").read_text()

    actor(PipelineActor)  # the bug is gone
    again = prepare_corpus(root, out, LIGHT, RAY)
    assert (again.written, again.internal_errors, again.skipped) == (1, {}, 4 + len(bad))
    ids = list(pd.read_parquet(out / "songs").id) + list(pd.read_parquet(out / "rejects").id)
    assert len(ids) == len(set(ids)) == 5 + len(bad)


@pytest.mark.slow
def test_ray_a_setup_failure_in_the_actors_is_the_error_itself(tmp_path, actor):
    root = tmp_path / "corpus"
    make_mixed_corpus(root)
    actor(UnloadableActor)
    with pytest.raises(ModelNotFoundError, match="decode:none"):
        prepare_corpus(root, tmp_path / "out", LIGHT, RAY)
