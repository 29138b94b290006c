"""structure: the song's labelled sections (``sections``) and each word's section index.

Uses the shared features (:func:`songprep.features.song_features`: computed here if no earlier stage
did), the vocal stem when ``separate`` ran before (``item.stems["vocals"]``) and the timed words when
``align`` or ``transcribe`` ran before (a transcript's words are taken as possibly incomplete, see
:func:`songprep.structure.segment`). Without a vocal stem, words stand in for singing; without either, labels rest on
repetition and energy alone (intro/outro from quiet ends), which is weaker.
"""

from __future__ import annotations

from songprep.features import song_features
from songprep.stages.base import SongItem, Stage
from songprep.structure import assign_word_sections, segment


class StructureStage(Stage):
    """Writes ``sections`` (and ``Word.section``); model-free, CPU only."""

    name = "structure"
    reads = ("audio",)
    writes = ("sections",)

    def process(self, item: SongItem) -> SongItem:
        song = item.song
        feats = song_features(item)
        # words known (aligned, or transcribed even to nothing) or not judged at all (None)
        words = song.words if (song.words or song.lyrics_source is not None) else None
        song.sections = segment(feats, words=words, words_complete=song.lyrics_source != "transcript")
        if song.words:
            assign_word_sections(song.words, song.sections)
        return item
