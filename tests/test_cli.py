from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from songprep.cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_lists_the_command_groups():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("prep", "models", "demo"):
        assert command in result.output


def test_prep_writes_dataset_and_reports_rejects(mixed_corpus, tmp_path):
    root, bad = mixed_corpus
    out = tmp_path / "out"
    result = invoke("prep", str(root), "-o", str(out), "-q", "--stages", "decode,lyrics")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("5 written, 5 rejected, 0 already done (of 10 found)")
    assert "rejected empty.wav: decode: empty file (0 bytes)" in result.output
    assert len(pd.read_parquet(out / "songs")) == 5
    again = invoke("prep", str(root), "-o", str(out), "-q", "--stages", "decode,lyrics")
    assert again.output.startswith("0 written, 0 rejected, 10 already done")


def test_errors_are_one_line_with_exit_codes(mixed_corpus, tmp_path):
    root, _ = mixed_corpus
    missing = CliRunner().invoke(cli, ["prep", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert missing.exit_code == 2
    assert missing.output.strip().count("\n") == 0 and "input directory not found" in missing.output
    invoke("prep", str(root), "-o", str(tmp_path / "out"), "-q", "--stages", "decode,lyrics")
    mismatch = CliRunner().invoke(cli, ["prep", str(root), "-o", str(tmp_path / "out"), "--mono", "-q",
                                        "--stages", "decode,lyrics"])
    assert mismatch.exit_code == 4 and "use a new output directory" in mismatch.output
    bad_stage = CliRunner().invoke(cli, ["prep", str(root), "-o", str(tmp_path / "x"), "--stages", "decode,nope"])
    assert bad_stage.exit_code == 2 and "unknown stage 'nope'" in bad_stage.output
    bad_value = CliRunner().invoke(cli, ["prep", str(root), "-o", str(tmp_path / "y"), "--sample-rate", "10"])
    assert bad_value.exit_code == 2 and "sample_rate out of range" in bad_value.output


def test_models_list_and_offline_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    listing = json.loads(invoke("models", "list", "--json").output)
    names = {row["name"]: row for row in listing}
    assert {"whisper:large-v3", "demucs:htdemucs"} <= set(names) and not names["whisper:base"]["available"]
    fetch = CliRunner().invoke(cli, ["models", "fetch", "whisper:base"])
    assert fetch.exit_code == 3 and "offline mode is on" in fetch.output
