"""The markup stage on hand-built songs: lines from reference lyrics or pauses, and songs without sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from songprep.config import PrepConfig
from songprep.errors import UsageError
from songprep.inputs import SourceFile
from songprep.lyrics.lint import lint
from songprep.records import Section, Song, Word
from songprep.stages import STAGES, SongItem, check_chain
from songprep.stages.markup import MarkupStage

SECTIONS = [Section("intro", 0.0, 8.0), Section("verse", 8.0, 20.0), Section("chorus", 20.0, 32.0),
            Section("outro", 32.0, 45.0)]


def timed(text: str, start: float, step: float = 0.4, section: int = -1) -> list[Word]:
    """Words of ``text`` sung one every ``step`` seconds from ``start``."""
    return [Word(w, start + k * step, start + k * step + step * 0.8, section=section)
            for k, w in enumerate(text.split())]


def item(words: list[Word], sections: list[Section] | None = None, lyrics: str | None = None,
         reference: list[str] | None = None) -> SongItem:
    source = SourceFile("song-1", Path("song.flac"), "song.flac")
    song = Song("song-1", "song.flac", 45.0, 44100, 2, sections=list(SECTIONS if sections is None else sections),
                words=words, lyrics=lyrics)
    return SongItem(source, song, reference_lines=reference)


def run(it: SongItem, **options) -> SongItem:
    stage = MarkupStage(PrepConfig(stage_options={"markup": options} if options else {}))
    return stage.process_batch([it])[0]


def test_lines_follow_the_reference_lyrics_and_sections():
    words = timed("walking down the street feeling the beat", 8.5) + timed("let the music play all night", 21.0)
    reference = ["Walking down the street,", "feeling the beat", "Let the music play all night!"]
    out = run(item(words, reference=reference))
    assert out.song.levo_lyric == ("[intro-short] ; [verse] Walking down the street.feeling the beat. ; "
                                   "[chorus] Let the music play all night. ; [outro-medium]")
    assert lint(out.song.levo_lyric).problems == []


def test_reference_words_the_aligner_missed_are_kept():
    words = timed("walking the street", 8.5) + timed("music play", 21.0)
    out = run(item(words, lyrics="walking down the street\nlet the music play"))
    assert out.song.levo_lyric == ("[intro-short] ; [verse] walking down the street. ; "
                                   "[chorus] let the music play. ; [outro-medium]")


def test_without_reference_lines_break_at_pauses():
    words = timed("one two three", 9.0) + timed("four five", 12.0) + timed("six seven", 22.0)
    out = run(item(words))
    assert out.song.levo_lyric == "[intro-short] ; [verse] one two three.four five. ; [chorus] six seven. ; " \
                                  "[outro-medium]"
    shorter = run(item(words), max_line_words=2)
    assert "[verse] one two.three.four five." in shorter.song.levo_lyric


def test_chinese_words_join_without_spaces_and_end_without_period():
    words = timed("\u82b1 \u6735 \u7efd \u653e", 9.0) + timed("\u968f \u98ce", 12.0)
    out = run(item(words, sections=SECTIONS[:2]))
    assert out.song.levo_lyric == "[intro-short] ; [verse] \u82b1\u6735\u7efd\u653e.\u968f\u98ce"


def test_words_in_an_instrumental_section_go_to_the_nearest_vocal_one():
    words = timed("early", 7.5, section=0) + timed("hello there", 9.0, section=1)
    out = run(item(words, sections=SECTIONS[:2]))
    assert out.song.levo_lyric == "[intro-short] ; [verse] early.hello there."  # a 1.2 s pause: two lines


def test_vocal_sections_without_words_are_instrumental_and_no_words_is_an_instrumental_markup():
    out = run(item(timed("hello there", 21.0)))
    assert out.song.levo_lyric == "[intro-short] ; [inst-medium] ; [chorus] hello there. ; [outro-medium]"
    silent = run(item([]))
    assert silent.song.levo_lyric == "[intro-short] ; [inst-medium] ; [inst-medium] ; [outro-medium]"


def test_songs_without_sections_get_no_markup():
    out = run(item(timed("hello there", 1.0), sections=[]))
    assert out.song.levo_lyric is None


def test_stage_is_registered_and_needs_a_structure_stage_before_it():
    assert STAGES["markup"] is MarkupStage
    assert MarkupStage.reads == ("sections", "words") and MarkupStage.writes == ("levo_lyric",)
    with pytest.raises(UsageError, match="reads sections, words"):
        check_chain(("decode", "lyrics", "markup"))
