"""The ground truth of one generated test song, and its JSON form.

Every test and benchmark scores songprep's output against these fields, so they are exact by
construction: section bounds sit on downbeats, word times are the first and last non-silent
samples actually placed in the vocal stem, and the stems sum to the mix.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from songprep.atomic import write_text_atomic
from songprep.records import Note, Section, Word

#: General MIDI's percussion channel (channel 10, zero-based 9): unpitched, left out of note truth.
DRUM_CHANNEL = 9


@dataclass
class Instrument:
    """One accompaniment voice: its role in the arrangement and its General MIDI program."""

    role: str
    channel: int
    program: int
    name: str


@dataclass
class MelodyNote:
    """The note a word was meant to be sung on (its beat slot and MIDI pitch).

    The espeak voice follows it only roughly (speech intonation rides on top), so this is the
    intended melody, not a measured one.
    """

    start_s: float
    end_s: float
    pitch: int
    word: str


@dataclass
class TruthNote:
    """A note actually sung (sung voicing only): its voiced samples, exact MIDI pitch, and word.

    ``word`` indexes :attr:`TruthSong.words`; a long word may carry two notes (a melisma).
    """

    start_s: float
    end_s: float
    pitch: int
    word: int


@dataclass
class ChordSpan:
    """One bar's chord, e.g. ``ChordSpan(0.0, 2.0, "Am")``."""

    start_s: float
    end_s: float
    chord: str


@dataclass
class TruthPaths:
    """Where a song's files are, relative to the corpus directory."""

    mix: str
    vocals: str
    accompaniment: str
    midi: str
    lyrics: str


@dataclass
class TruthSong:
    """Everything known about a generated song; ``words[i].section`` indexes ``sections``."""

    name: str
    language: str
    seed: int
    form: str
    tempo_bpm: float
    key: str
    time_signature: tuple[int, int]
    sample_rate: int
    duration_s: float
    sections: list[Section]
    words: list[Word]
    word_lines: list[int]
    lines: list[str]
    lyrics: str
    levo_lyric: str
    beats_s: list[float]
    downbeats_s: list[float]
    instruments: list[Instrument]
    melody: list[MelodyNote]
    chords: list[ChordSpan]
    voice: str
    vocal_to_accompaniment_db: float
    paths: TruthPaths
    generator_version: str
    voicing: str = "speech"
    notes: list[TruthNote] = field(default_factory=list)

    def section_lines(self) -> list[list[str]]:
        """The lyric lines sung in each section (empty for instrumental ones)."""
        out: list[list[str]] = [[] for _ in self.sections]
        seen: set[int] = set()
        for w, line in zip(self.words, self.word_lines):
            if line not in seen:
                seen.add(line)
                out[w.section].append(self.lines[line])
        return out

    def vocal_notes(self) -> list[Note]:
        """The sung notes as records (velocity is not part of the truth: a fixed 100); empty for speech songs."""
        return [Note(n.start_s, n.end_s, n.pitch, 100, n.word) for n in self.notes]

    def accompaniment_notes(self, corpus_dir: str | os.PathLike[str]) -> list[Note]:
        """The pitched accompaniment notes of ``accompaniment.mid`` (drums left out), sorted by onset."""
        from songprep.daw.midi import read_midi

        tracks = read_midi(Path(corpus_dir) / self.paths.midi, skip_channels=(DRUM_CHANNEL,)).notes.values()
        return sorted((n for notes in tracks for n in notes), key=lambda n: (n.start_s, n.pitch))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TruthSong:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        d["time_signature"] = tuple(d["time_signature"])
        d["sections"] = [Section(**s) for s in d["sections"]]
        d["words"] = [Word(**w) for w in d["words"]]
        d["instruments"] = [Instrument(**i) for i in d["instruments"]]
        d["melody"] = [MelodyNote(**m) for m in d["melody"]]
        d["chords"] = [ChordSpan(**c) for c in d["chords"]]
        d["notes"] = [TruthNote(**n) for n in d.get("notes", [])]
        d["paths"] = TruthPaths(**d["paths"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> TruthSong:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically, so a half-built song never looks cached."""
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TruthSong:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
