"""Internal failures are not rejects: a bug in songprep is logged, fails the run loudly, and is retried."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from conftest import LIGHT
from songprep.cli import cli
from songprep.runner import RunOptions, prepare_corpus
from songprep.stages import STAGES
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

    monkeypatch.setitem(STAGES, "decode", DecodeStage)  # the bug is fixed
    again = prepare_corpus(root, out, LIGHT, QUIET)  # no --retry-rejects
    assert again.written == 1 and again.internal_errors == {} and again.skipped == 4 + len(bad)
    songs = pd.read_parquet(out / "songs")
    rejects = pd.read_parquet(out / "rejects")
    assert "good-1.flac" in set(songs.source_path) and "good-1.flac" not in set(rejects.source_path)
    ids = list(songs.id) + list(rejects.id)
    assert len(ids) == len(set(ids)) == 5 + len(bad)


def test_the_cli_finishes_the_batch_then_exits_non_zero_with_one_line(mixed_corpus, tmp_path, monkeypatch):
    root, _ = mixed_corpus
    monkeypatch.setitem(STAGES, "decode", BuggyDecode)
    result = CliRunner().invoke(cli, ["prep", str(root), "-o", str(tmp_path / "out"), "--stages", "decode,lyrics",
                                      "-j", "1", "-q"])
    assert result.exit_code == 5
    assert "4 written" in result.stdout
    assert "internal error on good-1.flac in decode: ZeroDivisionError" in result.stderr
    assert "rerun the same command to retry them" in result.stderr and "Traceback" not in result.stderr
