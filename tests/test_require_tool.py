"""A test that needs espeak-ng, fluidsynth or ffmpeg fails in CI when the tool is missing, and skips elsewhere:
marked or not, through ``require_tool`` in conftest (a ToolMissingError in a test or fixture goes through it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CONFTEST = f'''
import importlib.util, sys
spec = importlib.util.spec_from_file_location("songprep_tests_conftest", {str(TESTS / "conftest.py")!r})
shared = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = shared
spec.loader.exec_module(shared)
pytest_runtest_setup = shared.pytest_runtest_setup
pytest_runtest_call = shared.pytest_runtest_call
pytest_fixture_setup = shared.pytest_fixture_setup
'''

TESTS_NEEDING_TOOLS = '''
import pytest
from songprep.tools import ToolMissingError, require

@pytest.fixture
def synth():
    return require("fluidsynth")

def test_in_a_fixture(synth):
    pass

def test_in_the_test():
    raise ToolMissingError.for_tool("espeak-ng")

@pytest.mark.needs_tools("ffmpeg")
def test_marked():
    pass
'''


def run_pytest(folder: Path, ci: str, path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "PATH": path}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
                           "markers=needs_tools", str(folder)], capture_output=True, text=True, env=env, cwd=folder,
                          timeout=300)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_tools.py").write_text(TESTS_NEEDING_TOOLS)
    return tmp_path


def test_missing_tools_fail_under_ci_and_skip_elsewhere(suite: Path) -> None:
    bare = str(Path(sys.executable).parent)  # the venv only: no espeak-ng, fluidsynth or ffmpeg
    ci = run_pytest(suite, "true", bare)
    assert "1 failed, 2 errors" in ci.stdout, ci.stdout  # failed in setup (fixture, marker) or in the test
    for tool in ("fluidsynth", "espeak-ng", "ffmpeg"):
        assert f"{tool} not installed" in ci.stdout
    local = run_pytest(suite, "false", bare)
    assert "3 skipped" in local.stdout and "failed" not in local.stdout, local.stdout


def test_a_tool_missing_error_while_the_tool_is_there_stays_an_error(suite: Path) -> None:
    from conftest import require_tool

    require_tool("espeak-ng", "fluidsynth", "ffmpeg")
    result = run_pytest(suite, "false", os.environ["PATH"])
    assert "1 failed, 2 passed" in result.stdout, result.stdout  # the espeak-ng one raised while espeak-ng is here
