"""The song record: typed dataclasses and the one versioned pyarrow schema.

Every stage reads and writes fields of :class:`Song`; the writer turns songs into rows of
:data:`SONG_SCHEMA`. Times are seconds (the unit is in the field name). Bump
:data:`SCHEMA_VERSION` whenever a column is added, removed or changes meaning.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa

#: 1.1: vocal_notes, midi_path, words[].pitch. 1.2: lyrics_confidence; rejects.kind.
#: 1.3: descriptions, tags, bpm, key, vocal_gender (the describe stage).
SCHEMA_VERSION = "1.3"
SCHEMA_VERSION_KEY = b"songprep.schema_version"

#: Section labels: LeVo's and SongPrep's set.
SECTION_LABELS = ("intro", "verse", "chorus", "bridge", "inst", "outro", "silence")
#: Labels that carry no lyrics and take LeVo's length suffix (-short/-medium/-long).
INSTRUMENTAL_LABELS = ("intro", "inst", "outro")
#: Upper bounds (seconds) of LeVo's length suffixes; anything longer is "long".
LENGTH_SUFFIX_LIMITS_S = (("short", 10.0), ("medium", 20.0))

LYRICS_SOURCES = ("reference", "transcript")


def levo_tag(label: str, duration_s: float) -> str:
    """LeVo's tag for a section: instrumental labels get a length suffix, others are bare.

    The rule: short up to 10 s, medium up to 20 s, long beyond (LeVo's own examples use
    these bands). ``levo_tag("intro", 7.5) == "intro-short"``.
    """
    if label not in SECTION_LABELS:
        raise ValueError(f"unknown section label {label!r}; expected one of {SECTION_LABELS}")
    if label not in INSTRUMENTAL_LABELS:
        return label
    for suffix, limit in LENGTH_SUFFIX_LIMITS_S:
        if duration_s <= limit:
            return f"{label}-{suffix}"
    return f"{label}-long"


@dataclass
class Section:
    """A labelled stretch of a song.

    >>> Section("chorus", 30.0, 45.5).tag
    'chorus'
    >>> Section("intro", 0.0, 12.0).tag
    'intro-medium'
    """

    label: str
    start_s: float
    end_s: float
    tag: str = ""

    def __post_init__(self) -> None:
        if self.label not in SECTION_LABELS:
            raise ValueError(f"unknown section label {self.label!r}; expected one of {SECTION_LABELS}")
        if self.end_s < self.start_s:
            raise ValueError(f"section ends before it starts: {self.start_s} > {self.end_s}")
        if not self.tag:
            self.tag = levo_tag(self.label, self.duration_s)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Word:
    """One lyric word with its timing.

    ``score`` is the aligner's or recogniser's confidence in [0, 1]; ``section`` is the index into
    :attr:`Song.sections` (-1 when sections are unknown); ``pitch`` is the mean MIDI pitch the word
    was sung at (fractional; None until the ``notes`` stage ran, or for unpitched words).

    >>> Word("hello", 1.25, 1.6, score=0.9, section=0)
    Word(word='hello', start_s=1.25, end_s=1.6, score=0.9, section=0, pitch=None)
    """

    word: str
    start_s: float
    end_s: float
    score: float = 1.0
    section: int = -1
    pitch: float | None = None


@dataclass
class Note:
    """One note event: onset/offset in seconds, MIDI pitch, MIDI velocity (1..127).

    ``word`` is the index into :attr:`Song.words` of the lyric word the note carries (-1 when none
    or when words are untimed); one word may span several notes.

    >>> Note(1.0, 1.5, 60, 90, word=0).duration_s
    0.5
    """

    start_s: float
    end_s: float
    pitch: int
    velocity: int = 80
    word: int = -1

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"MIDI pitch out of range 0..127: {self.pitch}")
        if self.end_s < self.start_s:
            raise ValueError(f"note ends before it starts: {self.start_s} > {self.end_s}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


#: Categories of :class:`Tag`, in the order LeVo's descriptions name them.
TAG_CATEGORIES = ("gender", "genre", "mood", "instrument", "vocal")
VOCAL_GENDERS = ("female", "male", "unknown")


@dataclass
class Tag:
    """One description tag in LeVo's vocabulary, with the tagger's score for it in [0, 1].

    >>> Tag("piano", "instrument", 0.42)
    Tag(tag='piano', category='instrument', score=0.42)
    """

    tag: str
    category: str
    score: float

    def __post_init__(self) -> None:
        if self.category not in TAG_CATEGORIES:
            raise ValueError(f"unknown tag category {self.category!r}; expected one of {TAG_CATEGORIES}")


@dataclass
class StageProvenance:
    """Which model (and version) a stage used; ``model`` is empty for model-free stages."""

    stage: str
    model: str = ""
    version: str = ""


@dataclass
class Provenance:
    """Where a row came from: enough to reproduce it."""

    songprep_version: str
    config_hash: str
    stages: list[StageProvenance] = field(default_factory=list)


@dataclass
class Song:
    """One song of a corpus: the record every stage reads and extends.

    ``sample_rate`` and ``channels`` describe the source file (stems are written at the
    source rate); ``loudness_lufs`` is the BS.1770 integrated loudness of the source.

    >>> s = Song(id="my-song-1a2b3c4d", source_path="album/my song.flac", duration_s=183.2,
    ...          sample_rate=44100, channels=2)
    >>> Song.from_dict(s.to_dict()) == s
    True
    """

    id: str
    source_path: str
    duration_s: float
    sample_rate: int
    channels: int
    content_sha256: str = ""
    loudness_lufs: float | None = None
    peak_dbfs: float | None = None
    language: str | None = None
    lyrics: str | None = None
    lyrics_source: str | None = None
    levo_lyric: str | None = None
    sections: list[Section] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    alignment_coverage: float | None = None
    #: How far the lyrics can be trusted, in [0, 1]: the median word probability Whisper gives them (reference
    #: lyrics: teacher-forced; transcripts: as decoded). None when no model judged them.
    lyrics_confidence: float | None = None
    vocals_path: str | None = None
    accompaniment_path: str | None = None
    vocal_notes: list[Note] = field(default_factory=list)
    midi_path: str | None = None
    #: LeVo's description text, e.g. "female, pop, sad, piano and drums, the bpm is 120." (describe stage).
    descriptions: str | None = None
    #: Every candidate tag with its score (those above the thresholds made ``descriptions``).
    tags: list[Tag] = field(default_factory=list)
    bpm: float | None = None
    key: str | None = None  # e.g. "A minor"
    vocal_gender: str | None = None  # one of VOCAL_GENDERS; None until describe ran
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        if self.vocal_gender is not None and self.vocal_gender not in VOCAL_GENDERS:
            raise ValueError(f"vocal_gender must be one of {VOCAL_GENDERS}, got {self.vocal_gender!r}")
        if self.lyrics_source is not None and self.lyrics_source not in LYRICS_SOURCES:
            raise ValueError(f"lyrics_source must be one of {LYRICS_SOURCES}, got {self.lyrics_source!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Song:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in known}
        data["sections"] = [Section(**s) for s in data.get("sections") or []]
        data["words"] = [Word(**w) for w in data.get("words") or []]
        data["vocal_notes"] = [Note(**n) for n in data.get("vocal_notes") or []]
        data["tags"] = [t if isinstance(t, Tag) else Tag(**t) for t in data.get("tags") or []]
        prov = data.get("provenance")
        if prov is not None and not isinstance(prov, Provenance):
            data["provenance"] = Provenance(
                songprep_version=prov["songprep_version"],
                config_hash=prov["config_hash"],
                stages=[StageProvenance(**s) for s in prov.get("stages") or []],
            )
        return cls(**data)


#: Why a song is not in the dataset: its own input problem (final) or songprep's internal failure (retried).
REJECT_KINDS = ("input", "internal")


@dataclass
class Reject:
    """An input that did not make it into the dataset, and why.

    ``kind`` is ``"input"`` for a problem with the song itself (corrupt, silent, too long, lyrics that
    do not match: final until ``--retry-rejects``) or ``"internal"`` for a failure of songprep (a bug,
    out of memory, a missing model): those are logged with their traceback (``detail``, not a column)
    and retried by the next run.

    >>> Reject("a-1", "a.flac", "decode", "empty file").kind
    'input'
    """

    id: str
    source_path: str
    stage: str
    reason: str
    config_hash: str = ""
    kind: str = "input"
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in REJECT_KINDS:
            raise ValueError(f"reject kind must be one of {REJECT_KINDS}, got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("detail")
        return data


SECTION_TYPE = pa.struct(
    [
        pa.field("label", pa.string(), nullable=False),
        pa.field("start_s", pa.float64(), nullable=False),
        pa.field("end_s", pa.float64(), nullable=False),
        pa.field("tag", pa.string(), nullable=False),
    ]
)
WORD_TYPE = pa.struct(
    [
        pa.field("word", pa.string(), nullable=False),
        pa.field("start_s", pa.float64(), nullable=False),
        pa.field("end_s", pa.float64(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("section", pa.int32(), nullable=False),
        pa.field("pitch", pa.float32()),
    ]
)
NOTE_TYPE = pa.struct(
    [
        pa.field("start_s", pa.float64(), nullable=False),
        pa.field("end_s", pa.float64(), nullable=False),
        pa.field("pitch", pa.int8(), nullable=False),
        pa.field("velocity", pa.int8(), nullable=False),
        pa.field("word", pa.int32(), nullable=False),
    ]
)
TAG_TYPE = pa.struct(
    [
        pa.field("tag", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
    ]
)
PROVENANCE_TYPE = pa.struct(
    [
        pa.field("songprep_version", pa.string(), nullable=False),
        pa.field("config_hash", pa.string(), nullable=False),
        pa.field(
            "stages",
            pa.list_(
                pa.struct(
                    [
                        pa.field("stage", pa.string(), nullable=False),
                        pa.field("model", pa.string(), nullable=False),
                        pa.field("version", pa.string(), nullable=False),
                    ]
                )
            ),
            nullable=False,
        ),
    ]
)


def _with_version(schema: pa.Schema, kind: str) -> pa.Schema:
    return schema.with_metadata({SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode(), b"songprep.kind": kind.encode()})


SONG_SCHEMA = _with_version(
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("source_path", pa.string(), nullable=False),
            pa.field("duration_s", pa.float64(), nullable=False),
            pa.field("sample_rate", pa.int32(), nullable=False),
            pa.field("channels", pa.int16(), nullable=False),
            pa.field("content_sha256", pa.string(), nullable=False),
            pa.field("loudness_lufs", pa.float64()),
            pa.field("peak_dbfs", pa.float64()),
            pa.field("language", pa.string()),
            pa.field("lyrics", pa.string()),
            pa.field("lyrics_source", pa.string()),
            pa.field("levo_lyric", pa.string()),
            pa.field("sections", pa.list_(SECTION_TYPE), nullable=False),
            pa.field("words", pa.list_(WORD_TYPE), nullable=False),
            pa.field("alignment_coverage", pa.float64()),
            pa.field("lyrics_confidence", pa.float64()),
            pa.field("vocals_path", pa.string()),
            pa.field("accompaniment_path", pa.string()),
            pa.field("vocal_notes", pa.list_(NOTE_TYPE), nullable=False),
            pa.field("midi_path", pa.string()),
            pa.field("descriptions", pa.string()),
            pa.field("tags", pa.list_(TAG_TYPE), nullable=False),
            pa.field("bpm", pa.float64()),
            pa.field("key", pa.string()),
            pa.field("vocal_gender", pa.string()),
            pa.field("provenance", PROVENANCE_TYPE),
        ]
    ),
    "songs",
)

REJECT_SCHEMA = _with_version(
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("source_path", pa.string(), nullable=False),
            pa.field("stage", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("config_hash", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
        ]
    ),
    "rejects",
)


def songs_to_table(songs: list[Song]) -> pa.Table:
    """Songs as a table of :data:`SONG_SCHEMA` (the only place rows are built)."""
    return pa.Table.from_pylist([s.to_dict() for s in songs], schema=SONG_SCHEMA)


def table_to_songs(table: pa.Table) -> list[Song]:
    return [Song.from_dict(row) for row in table.to_pylist()]


def rejects_to_table(rejects: list[Reject]) -> pa.Table:
    return pa.Table.from_pylist([r.to_dict() for r in rejects], schema=REJECT_SCHEMA)


def schema_version_of(schema: pa.Schema) -> str | None:
    """The schema version a Parquet file was written with, or None for foreign files."""
    meta = schema.metadata or {}
    raw = meta.get(SCHEMA_VERSION_KEY)
    return raw.decode() if raw is not None else None


def schema_description() -> str:
    """A human-readable JSON description of the song schema, for the manifest and docs."""
    return json.dumps({f.name: str(f.type) for f in SONG_SCHEMA}, indent=2)
