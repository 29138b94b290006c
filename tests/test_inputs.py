from __future__ import annotations

import pytest

from conftest import tone, write_audio_file
from songprep.errors import UsageError
from songprep.inputs import discover, song_id


def test_discovery_finds_audio_recursively_with_sidecars(tmp_path):
    write_audio_file(tmp_path / "a.flac", tone(0.5))
    (tmp_path / "a.txt").write_text("la\n")
    write_audio_file(tmp_path / "album" / "b.wav", tone(0.5))
    (tmp_path / "album" / "b.lrc").write_text("[00:01.00]la\n")
    write_audio_file(tmp_path / ".hidden" / "c.wav", tone(0.5))
    (tmp_path / "notes.txt").write_text("not a song")
    found = discover(tmp_path)
    assert [s.rel_path for s in found] == ["a.flac", "album/b.wav"]
    assert [s.lyrics_path.name for s in found] == ["a.txt", "b.lrc"]


def test_lyrics_dir_by_relative_path_then_flat(tmp_path):
    songs, lyrics = tmp_path / "songs", tmp_path / "lyrics"
    write_audio_file(songs / "x" / "one.wav", tone(0.5))
    write_audio_file(songs / "two.wav", tone(0.5))
    (lyrics / "x").mkdir(parents=True)
    (lyrics / "x" / "one.txt").write_text("a\n")
    (lyrics / "two.lrc").write_text("[00:00.10]b\n")
    found = {s.rel_path: s.lyrics_path for s in discover(songs, lyrics)}
    assert found["x/one.wav"] == lyrics / "x" / "one.txt"
    assert found["two.wav"] == lyrics / "two.lrc"


def test_ids_are_stable_readable_and_unique():
    assert song_id("a/b.flac") == song_id("a/b.flac")
    assert song_id("a/b.flac") != song_id("c/b.flac") != song_id("a/b.wav")
    assert song_id("Ünïcode Sóng 01.mp3").startswith("unicode-song-01-")
    assert song_id("歌曲.flac").startswith("song-")


def test_missing_input_dir_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        discover(tmp_path / "nope")
