from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import LIGHT, make_mixed_corpus, tone, write_audio_file
from songprep.config import PrepConfig
from songprep.errors import DatasetMismatchError, UsageError
from songprep.records import SCHEMA_VERSION
from songprep.runner import RunOptions, prepare_corpus
from songprep.stages import STAGES
from songprep.stages.decode import DecodeStage

QUIET = RunOptions(progress=False)


def read_dataset(out):
    songs = pd.read_parquet(out / "songs").sort_values("id").reset_index(drop=True)
    rejects = pd.read_parquet(out / "rejects").sort_values("id").reset_index(drop=True)
    return songs, rejects


def test_good_songs_are_written_and_bad_ones_rejected_with_reasons(mixed_corpus, tmp_path):
    root, bad = mixed_corpus
    summary = prepare_corpus(root, tmp_path / "out", LIGHT, QUIET)
    songs, rejects = read_dataset(tmp_path / "out")
    assert summary.written == len(songs) == 5 and summary.rejected == len(rejects) == len(bad)
    assert dict(zip(rejects.source_path, rejects.stage)) == bad
    reasons = dict(zip(rejects.source_path, rejects.reason))
    assert reasons["empty.wav"] == "empty file (0 bytes)"
    assert reasons["not-audio.mp3"].startswith("not readable as audio")
    assert reasons["silence.flac"].startswith("silent: digital silence")
    assert reasons["blip.wav"].startswith("too short")
    assert "not UTF-8" in reasons["badlyrics.flac"]
    good0 = songs.set_index("source_path").loc["good-0.flac"]
    assert good0.lyrics == "line one of song 0\nline two of song 0" and good0.lyrics_source == "reference"
    assert good0.duration_s == pytest.approx(1.5) and good0.sample_rate == 44100 and good0.channels == 2
    assert -30 < good0.loudness_lufs < 0 and len(good0.content_sha256) == 64
    assert pd.isna(songs.set_index("source_path").loc["good-1.flac"].lyrics)
    assert "sub dir/Canción ünïcode.wav" in set(songs.source_path)
    prov = good0.provenance
    assert prov["config_hash"] == LIGHT.config_hash()
    assert [s["stage"] for s in prov["stages"]] == ["decode", "lyrics"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"songs": 5, "rejects": 5, "rejects_by_stage": {"decode": 4, "lyrics": 1},
                                  "internal": 0}
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["config"]["stages"] == ["decode", "lyrics"]
    assert manifest["input_dir"] == str(root.resolve())


def test_rerun_resumes_without_duplicates(mixed_corpus, tmp_path):
    root, _ = mixed_corpus
    out = tmp_path / "out"
    prepare_corpus(root, out, LIGHT, QUIET)
    first = read_dataset(out)
    again = prepare_corpus(root, out, LIGHT, QUIET)
    assert (again.written, again.rejected, again.skipped) == (0, 0, 10)
    write_audio_file(root / "late-arrival.wav", tone(1.5, seed=42))
    third = prepare_corpus(root, out, LIGHT, QUIET)
    assert (third.written, third.skipped) == (1, 10)
    songs, rejects = read_dataset(out)
    assert songs.id.is_unique and rejects.id.is_unique and not set(songs.id) & set(rejects.id)
    assert len(songs) == len(first[0]) + 1 and len(rejects) == len(first[1])


class CrashAfter(DecodeStage):
    """decode, but the process 'dies' (KeyboardInterrupt) on the n-th song."""

    calls = 0
    crash_at = 4

    def process(self, item):
        type(self).calls += 1
        if type(self).calls == self.crash_at:
            raise KeyboardInterrupt
        return super().process(item)


def test_interrupted_run_loses_nothing_and_rerun_completes(mixed_corpus, tmp_path, monkeypatch):
    root, _ = mixed_corpus
    reference = tmp_path / "reference"
    prepare_corpus(root, reference, LIGHT, QUIET)
    out = tmp_path / "out"
    monkeypatch.setitem(STAGES, "decode", CrashAfter)
    with pytest.raises(KeyboardInterrupt):
        prepare_corpus(root, out, LIGHT, RunOptions(progress=False, rows_per_shard=2))
    done_before = len(pd.read_parquet(out / "songs")) + len(pd.read_parquet(out / "rejects"))
    assert done_before == 3  # the three finished songs were flushed on the way out
    monkeypatch.setitem(STAGES, "decode", DecodeStage)
    summary = prepare_corpus(root, out, LIGHT, QUIET)
    assert summary.skipped == 3
    for got, want in zip(read_dataset(out), read_dataset(reference)):
        pd.testing.assert_frame_equal(got, want)


def test_stale_temp_shards_are_ignored_and_cleaned(mixed_corpus, tmp_path):
    root, _ = mixed_corpus
    out = tmp_path / "out"
    (out / "songs").mkdir(parents=True)
    (out / "songs" / ".part-00000.parquet.tmp").write_bytes(b"half a shard")
    prepare_corpus(root, out, LIGHT, QUIET)
    assert not list((out / "songs").glob(".part-*"))
    assert len(pd.read_parquet(out / "songs")) == 5


def test_other_config_is_refused_unless_overwrite(mixed_corpus, tmp_path):
    root, _ = mixed_corpus
    out = tmp_path / "out"
    prepare_corpus(root, out, LIGHT, QUIET)
    with pytest.raises(DatasetMismatchError, match="written with config"):
        prepare_corpus(root, out, PrepConfig(stages=LIGHT.stages, sample_rate=22050), QUIET)
    other = PrepConfig(stages=LIGHT.stages, sample_rate=22050)
    summary = prepare_corpus(root, out, other, RunOptions(progress=False, overwrite=True))
    assert summary.written == 5 and summary.skipped == 0
    assert pq.read_schema(next((out / "songs").glob("*.parquet"))).metadata[b"songprep.config_hash"].decode() == \
        PrepConfig(stages=LIGHT.stages, sample_rate=22050).config_hash()


def test_overwrite_refuses_a_directory_that_is_not_a_dataset(mixed_corpus, tmp_path):
    root, _ = mixed_corpus
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("x")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        prepare_corpus(root, tmp_path / "precious", LIGHT, RunOptions(progress=False, overwrite=True))
    assert (tmp_path / "precious" / "thesis.tex").exists()


def test_retry_rejects_reprocesses_only_rejects(mixed_corpus, tmp_path):
    root, bad = mixed_corpus
    out = tmp_path / "out"
    prepare_corpus(root, out, LIGHT, QUIET)
    (root / "badlyrics.txt").write_text("now it is utf-8\n", encoding="utf-8")
    summary = prepare_corpus(root, out, LIGHT, RunOptions(progress=False, retry_rejects=True))
    assert (summary.written, summary.rejected, summary.skipped) == (1, len(bad) - 1, 5)
    songs, rejects = read_dataset(out)
    assert "badlyrics.flac" in set(songs.source_path) and "badlyrics.flac" not in set(rejects.source_path)


def test_too_long_files_are_refused_before_decoding(tmp_path):
    write_audio_file(tmp_path / "in" / "long.flac", tone(12.0))
    prepare_corpus(tmp_path / "in", tmp_path / "out", PrepConfig(stages=LIGHT.stages, max_duration_s=10), QUIET)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert rejects.reason.tolist() == ["too long: 12 s > max 10 s"]


def test_a_stage_chain_with_unmet_reads_is_refused(tmp_path):
    class NeedsSections(DecodeStage):
        name = "needs-sections"
        reads = ("sections",)

    STAGES["needs-sections"] = NeedsSections
    try:
        with pytest.raises(UsageError, match="reads sections"):
            prepare_corpus(tmp_path, tmp_path / "out", PrepConfig(stages=("decode", "needs-sections")), QUIET)
    finally:
        del STAGES["needs-sections"]


@pytest.mark.slow
def test_worker_pool_writes_the_same_dataset(tmp_path):
    root = tmp_path / "corpus"
    make_mixed_corpus(root, n_good=6)
    prepare_corpus(root, tmp_path / "one", LIGHT, QUIET)
    prepare_corpus(root, tmp_path / "two", LIGHT, RunOptions(jobs=2, batch_size=2, progress=False))
    for got, want in zip(read_dataset(tmp_path / "two"), read_dataset(tmp_path / "one")):
        pd.testing.assert_frame_equal(got, want)
