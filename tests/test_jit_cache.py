"""numba's cache is written by one process at a time: the lock songprep takes before compiling."""

from __future__ import annotations

import subprocess
import sys

import pytest

from songprep import jit_cache

TRY_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a") as f:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(3)
sys.exit(0)
"""


def other_process_gets_lock(path) -> bool:
    rc = subprocess.run([sys.executable, "-c", TRY_LOCK, str(path)], check=False).returncode
    assert rc in (0, 3)
    return rc == 0


@pytest.fixture
def private_lock(tmp_path, monkeypatch):
    path = tmp_path / "jit.lock"
    monkeypatch.setattr(jit_cache, "lock_path", lambda: path)
    monkeypatch.setattr(jit_cache, "_WARM", False)
    return path


def test_exercise_runs_under_the_lock_and_once_per_process(private_lock, monkeypatch):
    seen = []
    monkeypatch.setattr(jit_cache, "_exercise", lambda: seen.append(other_process_gets_lock(private_lock)))
    jit_cache.warm_jit_caches()
    jit_cache.warm_jit_caches()
    assert seen == [False]  # another process had to wait while this one compiled, and it compiled once
    assert other_process_gets_lock(private_lock)  # released afterwards


def test_lock_is_released_when_compiling_fails(private_lock, monkeypatch):
    def broken():
        raise RuntimeError("numba failed")

    monkeypatch.setattr(jit_cache, "_exercise", broken)
    with pytest.raises(RuntimeError):
        jit_cache.warm_jit_caches()
    assert other_process_gets_lock(private_lock)
    assert jit_cache._WARM is False  # the next pipeline tries again


@pytest.mark.slow
def test_exercise_runs_every_numba_path_without_error(private_lock):
    jit_cache.warm_jit_caches()
    assert jit_cache._WARM
