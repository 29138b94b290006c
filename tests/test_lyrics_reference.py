from __future__ import annotations

import pytest

from songprep.errors import LyricsError
from songprep.lyrics.reference import parse_lyric_lines, read_reference_lyrics


def test_plain_lines_skip_blank_lines_and_headers():
    text = "[Verse 1]\nfirst line\n\n  second line  \n[Chorus]\nla la\n"
    assert parse_lyric_lines(text) == ["first line", "second line", "la la"]


def test_lrc_drops_timestamps_and_metadata():
    text = "[ar:Someone]\n[ti:Song]\n[00:01.50]first line\n[00:04.00][01:04.00]again\n[00:09.20]\n"
    assert parse_lyric_lines(text) == ["first line", "again"]


def test_levo_markup_drops_tags_and_splits_sentences():
    text = "[intro-short] ; [verse] 雪花舞动.情缘如同 ; [chorus] hello there.second line. ; [outro-short]"
    assert parse_lyric_lines(text) == ["雪花舞动", "情缘如同", "hello there", "second line"]


def test_unreadable_files_raise_lyrics_error(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(LyricsError, match="not UTF-8"):
        read_reference_lyrics(latin)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n[Chorus]\n", encoding="utf-8")
    with pytest.raises(LyricsError, match="no lyric lines"):
        read_reference_lyrics(empty)


def test_utf8_bom_and_utf16_are_read(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffhola mundo\n".encode("utf-8"))
    assert read_reference_lyrics(bom) == ["hola mundo"]
    utf16 = tmp_path / "u16.txt"
    utf16.write_text("你好\n", encoding="utf-16")
    assert read_reference_lyrics(utf16) == ["你好"]
