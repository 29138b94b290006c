"""Every failure a user can cause is one line on stderr with the fix, and an exit code: never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import tone, write_audio_file
from songprep.cli import cli

SONGPREP = str(Path(sys.executable).parent / "songprep")


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def run_without_system_tools(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI with a PATH that holds only the venv: espeak-ng, ffmpeg and fluidsynth are all missing."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([SONGPREP, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_missing_fluidsynth_and_espeak_are_one_line_with_the_install_command(tmp_path, monkeypatch):
    demo = run_without_system_tools("demo", "-o", str(tmp_path / "demo"), cwd=tmp_path)
    assert demo.returncode == 6
    assert "fluidsynth is not installed" in one_line(demo.stderr) and "apt-get install fluidsynth" in demo.stderr
    songs = tmp_path / "in"
    write_audio_file(songs / "a.flac", tone(2.0))
    (songs / "a.txt").write_text("hello there\n", encoding="utf-8")
    guide = run_without_system_tools("prep", str(songs), "-o", str(tmp_path / "out"), "--stages",
                                     "decode,lyrics,align", "-q", cwd=tmp_path)
    # the whisper aligner needs no espeak-ng; asking for the guide aligner explicitly does
    assert guide.returncode == 0, guide.stderr
    from songprep.audio import speak
    from songprep.tools import ToolMissingError

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    with pytest.raises(ToolMissingError, match=r"espeak-ng is not installed .*apt-get install espeak-ng"):
        speak("hello", "en", 160)


def test_an_unwritable_out_dir_is_one_line(tmp_path):
    songs = tmp_path / "in"
    write_audio_file(songs / "a.flac", tone(2.0))
    result = CliRunner().invoke(cli, ["prep", str(songs), "-o", "/proc/no-such/out", "--stages", "decode,lyrics",
                                      "-q"])
    assert result.exit_code == 7
    assert "choose a writable -o" in one_line(result.stderr) or "check the path" in result.stderr


def test_a_full_disk_while_writing_a_shard_is_one_line_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    songs = tmp_path / "in"
    write_audio_file(songs / "a.flac", tone(2.0))
    real_write = pq.write_table

    def full_disk(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a shard")  # the device fills up mid-write
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(pq, "write_table", full_disk)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prep", str(songs), "-o", str(out), "--stages", "decode,lyrics", "-q"])
    assert result.exit_code == 7
    assert "no space left on the device" in one_line(result.stderr)
    assert not [p for p in out.rglob("*.parquet*")], "a partial shard was left behind"
    monkeypatch.setattr(pq, "write_table", real_write)
    again = CliRunner().invoke(cli, ["prep", str(songs), "-o", str(out), "--stages", "decode,lyrics", "-q"])
    assert again.exit_code == 0 and "1 written" in again.stdout  # space freed: the rerun completes


def test_foreign_aesthetic_checkpoints_are_one_line(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"idx": "a", "gt_lyric": "[verse] hold on to the night, we are young tonight"}\n')
    (tmp_path / "sys").mkdir()
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    for scorer in ("audiobox", "songeval"):
        result = CliRunner().invoke(cli, ["eval", "run", "-p", str(prompts), "-s", f"a={tmp_path / 'sys'}", "-o",
                                          str(tmp_path / scorer), "--no-per", "--aesthetics", scorer,
                                          f"--{scorer}-checkpoint", str(bad)])
        assert result.exit_code == 3, result.output
        assert str(bad) in one_line(result.stderr)


def test_a_corrupt_generator_checkpoint_is_one_line(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"idx": "a", "gt_lyric": "[verse] hold on to the night"}\n')
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{ not json")
    result = CliRunner().invoke(cli, ["generate", str(prompts), "-o", str(tmp_path / "gen"), "--checkpoint",
                                      str(checkpoint)])
    assert result.exit_code != 0
    assert "not a generator checkpoint" in one_line(result.stderr)
