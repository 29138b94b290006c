"""Any song (a mix, or its two stems) to a MIDI file and a notes JSON, outside a dataset: ``songprep notes``.

Runs the prep chain's own ``notes`` stage (one way to make a song's notes and MIDI file) after separating
the mix (or taking the stems given), finding its sections and, with reference lyrics, aligning them so each
word is tied to the notes that sing it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from songprep import audio as audio_io
from songprep.config import PrepConfig
from songprep.features import song_features
from songprep.inputs import SourceFile
from songprep.records import Note, Song, Word
from songprep.stages.base import SongItem, StageContext
from songprep.stages.notes import ACCOMPANIMENT_NOTES_KEY, NotesStage, resolve_options
from songprep.structure import assign_word_sections, segment
from songprep.writer import write_json_atomic

#: The rate prep's stages work at: the notes a file gets here are the ones ``prep --notes`` would write.
WORKING_RATE = 44100


@dataclass
class SongNotes:
    """One song's result: the record (notes, words, sections, ``midi_path``), the accompaniment notes, and
    why the lyrics were left out when they did not fit the vocal."""

    song: Song
    accompaniment_notes: list[Note]
    json_path: Path
    lyrics_mismatch: str | None = None


class NotesJob:
    """Transcribes songs one by one into ``OUT/midi/NAME.mid`` and ``OUT/notes/NAME.json``.

    Backends are checked and loaded once, at construction; the separator on the first mix that needs one.
    """

    def __init__(self, out_dir: str | Path, *, vocal: str = "pyin", accompaniment: str = "basic-pitch",
                 separator: str = "auto", device: str = "auto") -> None:
        self.out_dir = Path(out_dir)
        options = resolve_options({"vocal": vocal, "accompaniment": accompaniment})
        self.stage = NotesStage(PrepConfig(stages=("decode", "separate", "notes"), stage_options={"notes": options}))
        self.stage.setup(StageContext(self.out_dir, "cpu"))
        self.separator_name, self.device = separator, device
        self._separator = None

    def _separate(self, mix: audio_io.Audio) -> dict[str, audio_io.Audio]:
        if self._separator is None:
            from songprep.device import resolve_device
            from songprep.separation import load_separator

            self._separator = load_separator(self.separator_name, resolve_device(self.device))
        return self._separator.separate(mix)

    def run(self, path: Path, name: str, stems: tuple[Path, Path] | None = None, lyrics_path: Path | None = None,
            language: str = "en") -> SongNotes:
        """Notes of the song at ``path`` (``stems``: its vocal and accompaniment files, skipping separation)."""
        mix = audio_io.decode(path)
        item = SongItem.start(SourceFile(name, path, path.name))
        item.song.duration_s, item.song.sample_rate, item.song.channels = mix.duration_s, mix.sample_rate, mix.channels
        item.audio = audio_io.standardise(mix, WORKING_RATE, 2)  # what prep's stages see
        if stems is not None:
            item.stems = {"vocals": audio_io.decode(stems[0]), "accompaniment": audio_io.decode(stems[1])}
        else:
            item.stems = self._separate(mix)
        song = item.song
        mismatch = None
        if lyrics_path is not None:
            song.words, mismatch = _aligned_words(lyrics_path, item.stems["vocals"], language)
        feats = song_features(item)
        song.sections = segment(feats, words=song.words or None)
        if song.words:
            assign_word_sections(song.words, song.sections)
        self.stage.process(item)
        accompaniment = item.features.get(ACCOMPANIMENT_NOTES_KEY, [])
        json_path = self.out_dir / "notes" / f"{name}.json"
        write_json_atomic(json_path, {
            "source": str(path), "midi": song.midi_path, "beats_s": feats.beats_s.round(4).tolist(),
            "downbeats_s": feats.downbeats_s.round(4).tolist(),
            "sections": [asdict(s) for s in song.sections], "words": [asdict(w) for w in song.words],
            "vocal_notes": [asdict(n) for n in song.vocal_notes],
            "accompaniment_notes": [asdict(n) for n in accompaniment]})
        return SongNotes(song, accompaniment, json_path, mismatch)


def _aligned_words(lyrics_path: Path, vocals: audio_io.Audio, language: str) -> tuple[list[Word], str | None]:
    """The lyric's words timed in the vocal stem, or none and the reason when the text does not fit it."""
    from songprep.alignment import align_lyrics
    from songprep.lyrics.reference import read_reference_lyrics

    alignment = align_lyrics(read_reference_lyrics(lyrics_path), vocals, language, method="guide")
    if alignment.flagged:
        return [], alignment.reason
    return alignment.words, None
