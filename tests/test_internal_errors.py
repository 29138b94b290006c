"""Internal failures are not rejects: a bug in songprep is logged, fails the run loudly, and is retried."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import LIGHT
from songprep import runner
from songprep.cli import cli
from songprep.config import PrepConfig
from songprep.errors import AudioRejected, LyricsError, ModelNotFoundError
from songprep.inputs import SourceFile
from songprep.pipeline import Pipeline
from songprep.records import Reject
from songprep.runner import RunOptions, prepare_corpus
from songprep.stages import STAGES, Stage
from songprep.stages.decode import DecodeStage

QUIET = RunOptions(progress=False)


class BuggyDecode(DecodeStage):
    """decode with a bug that hits one song."""

    def process(self, item):
        if item.source.rel_path == "good-1.flac":
            return 1 / 0
        return super().process(item)


def test_a_bug_is_logged_not_final_and_the_next_run_retries_it(mixed_corpus, tmp_path, monkeypatch):
    root, bad = mixed_corpus
    out = tmp_path / "out"
    monkeypatch.setitem(STAGES, "decode", BuggyDecode)
    summary = prepare_corpus(root, out, LIGHT, QUIET)
    assert summary.internal_errors == {"good-1.flac": "decode: ZeroDivisionError: division by zero"}
    assert summary.written == 4 and summary.rejected == len(bad)  # the rest of the batch went on
    rejects = pd.read_parquet(out / "rejects")
    kinds = dict(zip(rejects.source_path, rejects.kind))
    assert kinds.pop("good-1.flac") == "internal" and set(kinds.values()) == {"input"}
    log = (out / "logs" / "errors.log").read_text()
    assert "good-1.flac" in log and "Traceback" in log and "ZeroDivisionError" in log
    assert json.loads((out / "manifest.json").read_text())["counts"]["internal"] == 1

    monkeypatch.setitem(STAGES, "decode", DecodeStage)  # the bug is fixed
    again = prepare_corpus(root, out, LIGHT, QUIET)  # no --retry-rejects
    assert again.written == 1 and again.internal_errors == {} and again.skipped == 4 + len(bad)
    songs = pd.read_parquet(out / "songs")
    rejects = pd.read_parquet(out / "rejects")
    assert "good-1.flac" in set(songs.source_path) and "good-1.flac" not in set(rejects.source_path)
    ids = list(songs.id) + list(rejects.id)
    assert len(ids) == len(set(ids)) == 5 + len(bad)
    assert json.loads((out / "manifest.json").read_text())["counts"]["internal"] == 0


def test_the_cli_finishes_the_batch_then_exits_non_zero_with_one_line(mixed_corpus, tmp_path, monkeypatch):
    root, _ = mixed_corpus
    monkeypatch.setitem(STAGES, "decode", BuggyDecode)
    result = CliRunner().invoke(cli, ["prep", str(root), "-o", str(tmp_path / "out"), "--stages", "decode,lyrics",
                                      "-j", "1", "-q"])
    assert result.exit_code == 5
    assert "4 written, 5 rejected, 1 failed inside songprep" in result.stdout
    assert "internal error on good-1.flac in decode: ZeroDivisionError" in result.stderr
    assert "rerun the same command to retry them" in result.stderr and "Traceback" not in result.stderr


class DyingDecode(DecodeStage):
    """decode whose worker process dies on some songs, as if the kernel killed it for memory."""

    dies_on = ("good-1.flac",)

    def process(self, item):
        if item.source.rel_path in self.dies_on:
            os._exit(9)
        return super().process(item)


class UnloadableDecode(DecodeStage):
    def setup(self, ctx):
        raise ModelNotFoundError("model decode:none is not on this machine; looked in nowhere")


def ids_once(out):
    ids = list(pd.read_parquet(out / "songs").id) + list(pd.read_parquet(out / "rejects").id)
    assert len(ids) == len(set(ids))
    return ids


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_its_own_batch_and_the_next_run_retries_it(mixed_corpus, tmp_path,
                                                                                monkeypatch):
    root, bad = mixed_corpus
    out = tmp_path / "out"
    monkeypatch.setattr(runner, "START_METHOD", "fork")  # workers inherit the patched stage registry
    monkeypatch.setitem(STAGES, "decode", DyingDecode)
    pool = RunOptions(progress=False, jobs=2)
    summary = prepare_corpus(root, out, LIGHT, pool)
    assert list(summary.internal_errors) == ["good-1.flac"], summary.internal_errors
    assert summary.internal_errors["good-1.flac"].startswith("worker: worker process died (BrokenProcessPool)")
    assert summary.written == 4 and summary.rejected == len(bad)  # the batches beside it were run again
    rejects = pd.read_parquet(out / "rejects").set_index("source_path")
    assert rejects.loc["good-1.flac", "kind"] == "internal"
    assert "BrokenProcessPool" in (out / "logs" / "errors.log").read_text()

    monkeypatch.setitem(STAGES, "decode", DecodeStage)
    again = prepare_corpus(root, out, LIGHT, pool)
    assert (again.written, again.internal_errors, again.skipped) == (1, {}, 4 + len(bad))
    assert len(ids_once(out)) == 5 + len(bad)


@pytest.mark.slow
def test_workers_that_always_die_end_the_run_with_every_song_internal(mixed_corpus, tmp_path, monkeypatch):
    root, bad = mixed_corpus
    monkeypatch.setattr(runner, "START_METHOD", "fork")
    monkeypatch.setattr(DyingDecode, "dies_on", tuple(p.relative_to(root).as_posix() for p in root.rglob("*.*")))
    monkeypatch.setitem(STAGES, "decode", DyingDecode)
    summary = prepare_corpus(root, tmp_path / "out", LIGHT, RunOptions(progress=False, jobs=2))
    assert summary.written == 0 and summary.rejected == 0 and len(summary.internal_errors) == 5 + len(bad)
    assert any("times in a row" in reason for reason in summary.internal_errors.values())


@pytest.mark.slow
def test_a_setup_failure_in_the_workers_is_the_error_itself(mixed_corpus, tmp_path, monkeypatch):
    root, _ = mixed_corpus
    monkeypatch.setattr(runner, "START_METHOD", "fork")
    monkeypatch.setitem(STAGES, "decode", UnloadableDecode)
    with pytest.raises(ModelNotFoundError, match="decode:none"):
        prepare_corpus(root, tmp_path / "out", LIGHT, RunOptions(progress=False, jobs=2))


class Raising(Stage):
    """A stage that raises what its song's name says (batches too, so the pipeline isolates each song)."""

    name = "raising"
    reads = ("source",)
    raises = {"bug": ZeroDivisionError("division by zero"), "memory": MemoryError(),
              "model": ModelNotFoundError("model whisper:huge is not on this machine"),
              "silent": AudioRejected("silent: digital silence"), "lyrics": LyricsError("lyrics file is empty")}

    def process_batch(self, items):
        for item in items:
            if item.source.id in self.raises:
                raise self.raises[item.source.id]
        return items


def test_only_reject_errors_are_input_problems_everything_else_is_internal(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES, "raising", Raising)
    pipeline = Pipeline(PrepConfig(stages=("raising",)))
    names = ["fine", *Raising.raises]
    outcomes = pipeline.run([SourceFile(n, tmp_path / f"{n}.wav", f"{n}.wav") for n in names])
    kinds = {o.id: (o.kind, o.reason) if isinstance(o, Reject) else "song" for o in outcomes}
    assert kinds == {"fine": "song", "bug": ("internal", "ZeroDivisionError: division by zero"),
                     "memory": ("internal", "MemoryError"),
                     "model": ("internal", "ModelNotFoundError: model whisper:huge is not on this machine"),
                     "silent": ("input", "silent: digital silence"), "lyrics": ("input", "lyrics file is empty")}
    internal = [o for o in outcomes if isinstance(o, Reject) and o.kind == "internal"]
    assert all("Traceback" in o.detail and o.stage == "raising" for o in internal)
    assert all("detail" not in o.to_dict() for o in internal)  # the traceback goes to the log, not the table
