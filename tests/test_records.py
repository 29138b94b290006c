from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from songprep.records import (
    SCHEMA_VERSION,
    SONG_SCHEMA,
    Note,
    Provenance,
    Section,
    Song,
    StageProvenance,
    Word,
    levo_tag,
    schema_version_of,
    songs_to_table,
    table_to_songs,
)


def full_song(i: int = 0) -> Song:
    return Song(
        id=f"song-{i}", source_path=f"dir/song {i}.flac", duration_s=61.25, sample_rate=48000, channels=2,
        content_sha256="ab" * 32, loudness_lufs=-14.2, peak_dbfs=-0.9, language="en",
        lyrics="hello there\nsecond line", lyrics_source="reference",
        levo_lyric="[intro-short] ; [verse] hello there.second line. ; [outro-short]",
        sections=[Section("intro", 0.0, 8.0), Section("verse", 8.0, 50.0), Section("outro", 50.0, 61.25)],
        words=[Word("hello", 8.5, 8.9, 0.75, 1, pitch=64.5), Word("there", 9.0, 9.4, 1.0, 1)],
        alignment_coverage=1.0, vocals_path="stems/song-0/vocals.flac",
        accompaniment_path="stems/song-0/accompaniment.flac",
        vocal_notes=[Note(8.5, 8.7, 64, 90, 0), Note(8.7, 8.9, 65, 85, 0), Note(10.0, 10.5, 127, 1, -1)],
        midi_path="midi/song-0.mid",
        provenance=Provenance("0.1.0", "0123456789abcdef", [StageProvenance("decode"),
                                                             StageProvenance("separate", "demucs:htdemucs", "4.1.0")]),
    )


def test_parquet_round_trip_keeps_every_field(tmp_path):
    songs = [full_song(0), Song(id="bare", source_path="bare.wav", duration_s=1.0, sample_rate=44100, channels=1)]
    pq.write_table(songs_to_table(songs), tmp_path / "part.parquet")
    table = pq.read_table(tmp_path / "part.parquet")
    assert table_to_songs(table) == songs
    assert schema_version_of(table.schema) == SCHEMA_VERSION


def test_arrow_types_match_the_contract():
    t = SONG_SCHEMA
    assert str(t.field("duration_s").type) == "double"
    assert str(t.field("sample_rate").type) == "int32"
    assert str(t.field("sections").type) == (
        "list<item: struct<label: string not null, start_s: double not null, end_s: double not null, "
        "tag: string not null>>")
    word = t.field("words").type.value_type
    assert [(f.name, str(f.type)) for f in word] == [
        ("word", "string"), ("start_s", "double"), ("end_s", "double"), ("score", "float"), ("section", "int32"),
        ("pitch", "float")]
    note = t.field("vocal_notes").type.value_type
    assert [(f.name, str(f.type)) for f in note] == [
        ("start_s", "double"), ("end_s", "double"), ("pitch", "int8"), ("velocity", "int8"), ("word", "int32")]
    assert str(t.field("midi_path").type) == "string"


def test_pandas_reads_nested_columns(tmp_path):
    (tmp_path / "songs").mkdir()
    pq.write_table(songs_to_table([full_song(0), full_song(1)]), tmp_path / "songs" / "part-00000.parquet")
    frame = pd.read_parquet(tmp_path / "songs")
    assert list(frame["id"]) == ["song-0", "song-1"]
    assert frame.loc[0, "sections"][1]["label"] == "verse"
    assert frame.loc[0, "provenance"]["stages"][1]["model"] == "demucs:htdemucs"


@pytest.mark.parametrize(("label", "seconds", "tag"), [
    ("intro", 0.5, "intro-short"), ("intro", 10.0, "intro-short"), ("inst", 10.01, "inst-medium"),
    ("outro", 20.0, "outro-medium"), ("outro", 20.5, "outro-long"), ("verse", 3.0, "verse"),
    ("chorus", 40.0, "chorus"), ("bridge", 1.0, "bridge"), ("silence", 30.0, "silence"),
])
def test_levo_tag_length_suffix(label, seconds, tag):
    assert levo_tag(label, seconds) == tag
    assert Section(label, 100.0, 100.0 + seconds).tag == tag


def test_invalid_records_are_refused():
    with pytest.raises(ValueError, match="unknown section label"):
        Section("prechorus", 0, 1)
    with pytest.raises(ValueError, match="ends before"):
        Section("verse", 2, 1)
    with pytest.raises(ValueError, match="lyrics_source"):
        Song(id="x", source_path="x", duration_s=1, sample_rate=1, channels=1, lyrics_source="guess")
