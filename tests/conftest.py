"""Shared fixtures: small synthetic audio written in any format, and a tiny mixed corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songprep.config import PrepConfig

RATE = 44100
#: The model-free stages: what runner, writer and bad-input tests exercise (fast, no weights).
LIGHT = PrepConfig(stages=("decode", "lyrics"))


def tone(seconds: float = 2.0, rate: int = RATE, channels: int = 2, freq: float = 440.0, amp: float = 0.3,
         seed: int = 0) -> np.ndarray:
    """(frames, channels) float32: a sine with a little seeded noise, distinct per seed."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    x = amp * np.sin(2 * np.pi * (freq + 10 * seed) * t) + 0.01 * rng.standard_normal(t.size)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def write_audio_file(path: Path, data: np.ndarray, rate: int = RATE, subtype: str | None = None) -> Path:
    """Write with soundfile, or through ffmpeg for formats libsndfile does not write (m4a, mp3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".m4a", ".mp3"):
        require_tool("ffmpeg")
        wav = path.with_suffix(".src.wav")
        sf.write(wav, data, rate)
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), str(path)], check=True)
        wav.unlink()
    else:
        sf.write(path, data, rate, subtype=subtype)
    return path


@pytest.fixture
def audio_file(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "song.wav", seconds: float = 2.0, rate: int = RATE, channels: int = 2, seed: int = 0,
             subtype: str | None = None) -> Path:
        return write_audio_file(tmp_path / name, tone(seconds, rate, channels, seed=seed), rate, subtype)

    return make


def make_mixed_corpus(root: Path, n_good: int = 4) -> dict[str, str]:
    """Good songs (some with lyrics sidecars) beside bad inputs; returns {rel_path: expected reject stage}."""
    for i in range(n_good):
        write_audio_file(root / f"good-{i}.flac", tone(1.5, seed=i))
        if i % 2 == 0:
            (root / f"good-{i}.txt").write_text(f"line one of song {i}\nline two of song {i}\n", encoding="utf-8")
    write_audio_file(root / "sub dir" / "Canción ünïcode.wav", tone(1.5, seed=99))
    bad = {}
    (root / "empty.wav").write_bytes(b"")
    bad["empty.wav"] = "decode"
    (root / "not-audio.mp3").write_text("this is not audio\n" * 50)
    bad["not-audio.mp3"] = "decode"
    write_audio_file(root / "silence.flac", np.zeros((RATE * 2, 2), np.float32))
    bad["silence.flac"] = "decode"
    write_audio_file(root / "blip.wav", tone(0.2))
    bad["blip.wav"] = "decode"
    write_audio_file(root / "badlyrics.flac", tone(1.5, seed=7))
    (root / "badlyrics.txt").write_bytes("caf\xe9 con leche\n".encode("latin-1"))
    bad["badlyrics.flac"] = "lyrics"
    return bad


@pytest.fixture
def mixed_corpus(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "corpus"
    return root, make_mixed_corpus(root)


@pytest.fixture(scope="session")
def truth_corpus(tmp_path_factory) -> Path:
    """Three short ground-truth songs (en, zh, es), built once per test session; read-only for tests."""
    from songprep.testing.corpus import build_corpus

    require_tool(*SONG_TOOLS)
    root = tmp_path_factory.mktemp("truth-corpus")
    build_corpus(root, n_songs=3, form="short")
    return root


def require_tool(*names: str) -> None:
    """Skip a test whose external programs are missing, except in CI (``CI=true``), where that fails it:
    a suite that silently skips what it cannot run would pass without testing anything."""
    missing = [name for name in names if name != "soundfont" and shutil.which(name) is None]
    if "soundfont" in names:
        from songprep.testing.render import find_soundfont
        from songprep.tools import ToolMissingError

        try:
            find_soundfont()
        except ToolMissingError:
            missing.append("soundfont")
    if not missing:
        return
    message = f"{', '.join(missing)} not installed; run `make setup` (it installs the system packages)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


#: What the ground-truth test songs are rendered with.
SONG_TOOLS = ("fluidsynth", "espeak-ng", "soundfont")


def pytest_runtest_setup(item) -> None:
    """``@pytest.mark.needs_tools`` (``needs_tools("ffmpeg")`` for others than the song tools): require_tool
    decides skip or fail."""
    marker = item.get_closest_marker("needs_tools")
    if marker:
        require_tool(*(marker.args or SONG_TOOLS))


def _tool_missing(err: BaseException) -> None:
    """A test (or its fixture) that ran into a missing tool is held to require_tool too, marked or not:
    it skips outside CI and fails in CI, and a ToolMissingError while the tool is there stays an error."""
    from songprep.tools import ToolMissingError

    if isinstance(err, ToolMissingError) and err.tool:
        require_tool(err.tool)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    except Exception as err:
        _tool_missing(err)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    try:
        return (yield)
    except Exception as err:
        _tool_missing(err)
        raise


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one thread is as fast, and intra-op threads collapse on a loaded 2-core CI machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


#: Real songs with human annotations, beside the repository (never inside it: licences). CI has them.
REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """``../shared/real``; a missing folder fails under CI (where it must be) and skips elsewhere."""
    if not (REAL_DIR / "jamendolyrics-dev" / "meta.csv").is_file():
        message = f"the real dev songs are not at {REAL_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REAL_DIR
