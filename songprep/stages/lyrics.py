"""lyrics: attach the user's reference lyrics (sidecar NAME.txt / NAME.lrc, or --lyrics DIR)."""

from __future__ import annotations

from songprep.lyrics.reference import read_reference_lyrics
from songprep.stages.base import SongItem, Stage


class ReferenceLyricsStage(Stage):
    """Reads the reference text when there is one; songs without it keep ``lyrics`` empty for ASR."""

    name = "lyrics"
    reads = ("source",)
    writes = ("lyrics", "lyrics_source", "language", "reference_lines")

    def process(self, item: SongItem) -> SongItem:
        if self.config.language:
            item.song.language = self.config.language
        if item.source.lyrics_path is None:
            return item
        lines = read_reference_lyrics(item.source.lyrics_path)
        item.reference_lines = lines
        item.song.lyrics = "\n".join(lines)
        item.song.lyrics_source = "reference"
        return item
