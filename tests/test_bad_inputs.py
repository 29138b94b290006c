"""Bad and unusual inputs: each becomes a song or a reject with its reason; the good ones are written."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import LIGHT
from songprep.runner import RunOptions, prepare_corpus
from songprep.testing.bad_inputs import build_bad_corpus


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    expected = build_bad_corpus(root / "in")
    summary = prepare_corpus(root / "in", root / "out", LIGHT, RunOptions(progress=False))
    songs = pd.read_parquet(root / "out" / "songs").set_index("source_path")
    rejects = pd.read_parquet(root / "out" / "rejects").set_index("source_path")
    return expected, summary, songs, rejects


def test_every_input_gets_exactly_its_expected_outcome(bad_run):
    expected, summary, songs, rejects = bad_run
    assert summary.found == len(expected) == len(songs) + len(rejects)
    assert set(songs.index) == {p for p, e in expected.items() if e.stage is None}
    assert set(rejects.kind) == {"input"} and summary.internal_errors == {}
    for path, outcome in expected.items():
        if outcome.stage is not None:
            row = rejects.loc[path]
            assert row.stage == outcome.stage, (path, row.reason)
            assert row.reason.startswith(outcome.reason_prefix) or outcome.reason_prefix in row.reason, row.reason


def test_reasons_are_one_readable_line(bad_run):
    _, _, _, rejects = bad_run
    for reason in rejects.reason:
        assert "\n" not in reason and ".cpp:" not in reason and "/tmp/" not in reason and len(reason) <= 500


def test_unusual_but_valid_audio_is_described_by_its_source(bad_run):
    _, _, songs, _ = bad_run
    assert (songs.loc["rate-8k.wav", "sample_rate"], songs.loc["rate-8k.wav", "channels"]) == (8000, 1)
    assert songs.loc["rate-192k.flac", "sample_rate"] == 192000
    assert songs.loc["six-channel.wav", "channels"] == 6
    assert songs.loc["clipping-noise.wav", "peak_dbfs"] == pytest.approx(0.0, abs=0.01)
    assert songs.loc["pcm-8bit.wav", "duration_s"] == pytest.approx(3.0)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_the_full_default_chain_gives_every_file_one_readable_outcome(tmp_path, engine):
    """The whole default chain (separate, transcribe, align, structure, markup) on the bad-input corpus:
    each file once, as a row or an input reject with a one-line reason; nothing is an internal failure."""
    from songprep.config import PrepConfig

    expected = build_bad_corpus(tmp_path / "in")
    options = RunOptions(progress=False, engine=engine, jobs=2 if engine == "ray" else 1)
    summary = prepare_corpus(tmp_path / "in", tmp_path / "out", PrepConfig(), options)
    assert summary.internal_errors == {}, summary.internal_errors
    songs = pd.read_parquet(tmp_path / "out" / "songs").set_index("source_path")
    rejects = pd.read_parquet(tmp_path / "out" / "rejects").set_index("source_path")
    assert summary.found == len(expected) == len(songs) + len(rejects)
    assert not set(songs.index) & set(rejects.index)
    assert set(rejects.kind) == {"input"}
    full = {path: outcome.on_full_chain() for path, outcome in expected.items()}
    assert set(songs.index) == {p for p, e in full.items() if e.stage is None}
    for path, outcome in full.items():
        if outcome.stage is not None:  # refused at its stage, for its reason
            row = rejects.loc[path]
            assert row.stage == outcome.stage and outcome.reason_prefix in row.reason, (path, row.stage, row.reason)
    for reason in rejects.reason:
        assert "\n" not in reason and "Traceback" not in reason and ".py" not in reason and len(reason) <= 500
    assert songs.levo_lyric.notna().all() and songs.vocals_path.notna().all()
