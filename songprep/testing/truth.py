"""The ground truth of one generated test song, and its JSON form.

Every test and benchmark scores songprep's output against these fields, so they are exact by
construction: section bounds sit on downbeats, word times are the first and last non-silent
samples actually placed in the vocal stem, and the stems sum to the mix.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from songprep.records import Section, Word


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

    def section_lines(self) -> list[list[str]]:
        """The lyric lines sung in each section (empty for instrumental ones)."""
        out: list[list[str]] = [[] for _ in self.sections]
        seen: set[int] = set()
        for w, line in zip(self.words, self.word_lines):
            if line not in seen:
                seen.add(line)
                out[w.section].append(self.lines[line])
        return out

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
        d["paths"] = TruthPaths(**d["paths"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> TruthSong:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically, so a half-built song never looks cached."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TruthSong:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
