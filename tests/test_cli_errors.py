"""Every failure a user can cause is one line on stderr with the fix, and an exit code: never a traceback."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_tool, tone, write_audio_file
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


# --- each failure a user can cause, through the CLI: exit code, one line naming the fix, no traceback ----------


def test_missing_espeak_is_one_line_through_the_cli(tmp_path):
    """With fluidsynth on the PATH but not espeak-ng, building the demo songs stops at the first word voiced;
    `eval per` without the espeak-ng library (phonemizer loads libespeak-ng, not the program) too."""
    only_fluidsynth = tmp_path / "bin"
    only_fluidsynth.mkdir()
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        require_tool("fluidsynth")
    (only_fluidsynth / "fluidsynth").symlink_to(fluidsynth)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{only_fluidsynth}"}
    demo = subprocess.run([SONGPREP, "demo", "-o", str(tmp_path / "demo")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert demo.returncode == 6
    assert "espeak-ng is not installed" in one_line(demo.stderr) and "apt-get install espeak-ng" in demo.stderr
    per = subprocess.run([SONGPREP, "eval", "per", "--ref", "hello world", "--hyp", "hello", "-l", "en"],
                         capture_output=True, text=True, env={**env, "PHONEMIZER_ESPEAK_LIBRARY": "/nonexistent"},
                         cwd=tmp_path, timeout=600)
    assert per.returncode == 6 and "apt-get install espeak-ng" in one_line(per.stderr)


def test_missing_ffmpeg_is_one_line_before_any_song_when_an_input_needs_it(tmp_path, monkeypatch):
    """songprep decodes through FFmpeg's libraries (torchcodec), not the ffmpeg program: a missing library is
    simulated by torchcodec failing to load. Only m4a/aac/wma need it; a corpus of FLAC still runs."""
    from songprep import tools

    songs = tmp_path / "in"
    write_audio_file(songs / "a.flac", tone(2.0))
    (songs / "b.m4a").write_bytes(b"\0\0\0\x18ftypM4A " + bytes(64))
    monkeypatch.setattr(tools, "ffmpeg_decoding", lambda: "libavutil.so.59: cannot open shared object file")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prep", str(songs), "-o", str(out), "--stages", "decode,lyrics", "-q"])
    assert result.exit_code == 6
    line = one_line(result.stderr)
    assert "ffmpeg is not installed" in line and "apt-get install ffmpeg" in line and ".m4a" in line
    assert not out.exists()  # refused before anything was written
    (songs / "b.m4a").unlink()
    flac_only = CliRunner().invoke(cli, ["prep", str(songs), "-o", str(out), "--stages", "decode,lyrics", "-q"])
    assert flac_only.exit_code == 0, flac_only.output


def test_a_missing_library_is_songprep_s_problem_not_the_file_s():
    from songprep import audio, tools
    from songprep.errors import AudioDecodeError
    from songprep.tools import ToolMissingError

    real = tools.ffmpeg_decoding
    try:
        tools.ffmpeg_decoding = lambda: "libavutil.so.59: cannot open shared object file"
        with pytest.raises(ToolMissingError, match="apt-get install ffmpeg"):
            audio._ffmpeg_decoder(Path("song.m4a"))  # only FFmpeg reads it: never a reject
        with pytest.raises(AudioDecodeError, match="FFmpeg decoding unavailable"):
            audio._ffmpeg_decoder(Path("song.flac"))  # libsndfile's own complaint about the file stands
    finally:
        tools.ffmpeg_decoding = real


@pytest.fixture(scope="module")
def untrained_checkpoint(tmp_path_factory) -> Path:
    """A complete tiny generator checkpoint (tokenizers and autoencoder fitted on noise, nothing trained)."""
    import numpy as np

    from songprep.generation.checkpoint import Generator, save_checkpoint
    from songprep.generation.configs import load_config

    gen = Generator.build(load_config("tiny"))
    waves = [0.1 * np.random.default_rng(k).standard_normal((2, 48000 * 2)).astype(np.float32) for k in range(2)]
    for tokenizer in gen.audio_tokenizers.values():
        tokenizer.fit(waves, 48000)
    gen.autoencoder.fit(waves)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "ckpt", gen, {"steps": 0})


@pytest.mark.parametrize("command", ["prep", "eval", "generate"])
def test_an_unwritable_or_impossible_out_is_one_line_for_every_command(tmp_path, command, untrained_checkpoint):
    songs = tmp_path / "in"
    write_audio_file(songs / "a.flac", tone(2.0))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"idx": "a", "gt_lyric": "[verse] hold on to the night, we are young tonight", '
                       '"language": "en"}\n')
    (tmp_path / "a-file").write_text("x")
    for out, fix in (("/sys/songprep-out", "choose a writable -o"),          # read-only filesystem
                     (str(tmp_path / "a-file" / "out"), "choose another -o")):  # a file where a folder goes
        args = {"prep": ["prep", str(songs), "-o", out, "--stages", "decode,lyrics", "-q"],
                "eval": ["eval", "run", "-p", str(prompts), "-s", f"a={songs}", "-o", out, "--no-per",
                         "--aesthetics", ""],
                "generate": ["generate", str(prompts), "-o", out, "--checkpoint", str(untrained_checkpoint),
                             "--device", "cpu", "--duration", "1"]}[command]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 7, result.output
        assert fix in one_line(result.stderr)


def test_foreign_torch_files_as_aesthetic_checkpoints_are_one_line(tmp_path):
    """A torch file of another model (a Linear's state_dict, or a pickled module) is refused, never loaded
    into random weights that would still score 1-5."""
    import torch
    from safetensors.torch import save_file

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"idx": "a", "gt_lyric": "[verse] hold on to the night, we are young tonight"}\n')
    (tmp_path / "sys").mkdir()
    other = torch.nn.Linear(4, 2)
    torch.save(other.state_dict(), tmp_path / "linear.pt")
    torch.save(other, tmp_path / "module.pt")  # unpickling it would run code
    save_file(other.state_dict(), str(tmp_path / "linear.safetensors"))
    cases = [("audiobox", "linear.pt", "not an audiobox-aesthetics checkpoint"),
             ("audiobox", "module.pt", "weights only"),
             ("songeval", "linear.pt", "not a SongEval safetensors file"),
             ("songeval", "linear.safetensors", "does not hold SongEval head weights")]
    for scorer, name, says in cases:
        result = CliRunner().invoke(cli, ["eval", "run", "-p", str(prompts), "-s", f"a={tmp_path / 'sys'}", "-o",
                                          str(tmp_path / f"r-{scorer}"), "--no-per", "--aesthetics", scorer,
                                          f"--{scorer}-checkpoint", str(tmp_path / name)])
        assert result.exit_code == 3, (scorer, name, result.output)
        line = one_line(result.stderr)
        assert says in line and "pass the released" in line, line
    typo = CliRunner().invoke(cli, ["eval", "run", "-p", str(prompts), "-s", f"a={tmp_path / 'sys'}", "-o",
                                    str(tmp_path / "r"), "--aesthetics", "songeval", "--songeval-checkpoint",
                                    str(tmp_path / "no-such.safetensors")])
    assert typo.exit_code == 2 and "does not exist" in one_line(typo.stderr)  # never a silent "not computed"


def test_a_generator_checkpoint_with_corrupt_weights_is_one_line(tmp_path, untrained_checkpoint):
    from songprep.generation.checkpoint import LELM_FILE

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(untrained_checkpoint, checkpoint)
    weights = checkpoint / LELM_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a copy cut short
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"idx": "a", "gt_lyric": "[verse] hold on to the night"}\n')
    result = CliRunner().invoke(cli, ["generate", str(prompts), "-o", str(tmp_path / "gen"), "--checkpoint",
                                      str(checkpoint), "--device", "cpu"])
    assert result.exit_code == 3
    line = one_line(result.stderr)
    assert "is damaged or from another version" in line and "songprep train" in line
    assert not (tmp_path / "gen").exists()


def test_bad_command_lines_are_one_line_too():
    for args, says in ((["prep"], "Missing argument 'IN_DIR'"), (["--bogus"], "No such option '--bogus'"),
                       (["eval", "run", "-p", "/no/such.jsonl", "-s", "a=b", "-o", "x"], "does not exist"),
                       (["eval", "per", "--ref", "a", "--hyp", "b", "-l", "xx"], "'xx' is not one of")):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        line = one_line(result.stderr)
        assert says in line and "--help`)" in line, line
