"""markup: the LeVo lyric (``levo_lyric``) from the song's sections and aligned words.

Lines come from the reference lyrics when the song has them (``reference_lines``, else the
``lyrics`` column), otherwise from pauses between words; see :mod:`songprep.lyrics.grouping`.
The markup is rendered by :func:`songprep.lyrics.levo.render_levo_song`, so it always lints clean
(no words means an instrumental markup: every section as its instrumental tag).

Songs without sections get no markup: ``levo_lyric`` stays None. LeVo markup without section tags
is not valid input, and guessing a structure is the structure stage's job, not this one's.

Options (``stage_options["markup"]``): ``line_gap_s`` (default 0.8), ``max_line_words`` (12).
"""

from __future__ import annotations

from songprep.lyrics.grouping import LINE_GAP_S, MAX_LINE_WORDS, group_lines
from songprep.lyrics.levo import render_levo_song
from songprep.stages.base import SongItem, Stage


class MarkupStage(Stage):
    """Writes ``levo_lyric``; model-free, CPU only."""

    name = "markup"
    reads = ("sections", "words")
    writes = ("levo_lyric",)

    def process(self, item: SongItem) -> SongItem:
        song = item.song
        if not song.sections:
            song.levo_lyric = None
            return item
        reference = item.reference_lines
        if reference is None and song.lyrics:
            reference = song.lyrics.splitlines()
        grouped = group_lines(song.sections, song.words, reference,
                              line_gap_s=float(self.options.get("line_gap_s", LINE_GAP_S)),
                              max_line_words=int(self.options.get("max_line_words", MAX_LINE_WORDS)))
        song.levo_lyric = render_levo_song(grouped)
        return item
