"""The one intermediate representation every lyric dialect parses to and renders from.

A :class:`LyricSong` is an ordered list of :class:`LyricSection`; a section has a label (from
:data:`~songprep.lyrics.tags.LYRIC_LABELS`), LeVo's tag for it, its lyric lines and, when the
dialect carries them, times in seconds. Converting between dialects is parse + render through
this, so no dialect knows another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from songprep.lyrics.tags import LEVO_TAGS, LYRIC_LABELS, VOCAL_LABELS, levo_tag_for, resolve_tag
from songprep.lyrics.text import all_words
from songprep.records import Section


@dataclass
class LyricLine:
    """One sung line (a sentence in LeVo), with its start time when the dialect carries one (LRC)."""

    text: str
    start_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start_s": self.start_s}


@dataclass
class LyricSection:
    """A section of a song's lyrics.

    ``tag`` is LeVo's tag (``intro-medium``) and is derived from the label and duration when left
    empty; ``duration_s`` is derived from the times, or set alone by dialects that carry only a
    length (SongBloom repeats ``[inst]`` once per second). Lines may be given as plain strings.

    >>> s = LyricSection("intro", start_s=0.0, end_s=12.0)
    >>> s.tag, s.duration_s
    ('intro-medium', 12.0)
    >>> LyricSection("verse", lines=["first line", "second line"]).words()
    ['first', 'line', 'second', 'line']
    """

    label: str
    tag: str = ""
    lines: list[LyricLine] = field(default_factory=list)
    start_s: float | None = None
    end_s: float | None = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.label not in LYRIC_LABELS:
            raise ValueError(f"unknown section label {self.label!r}; expected one of {LYRIC_LABELS}")
        self.lines = [line if isinstance(line, LyricLine) else LyricLine(str(line)) for line in self.lines]
        if self.start_s is not None and self.end_s is not None:
            if self.end_s < self.start_s:
                raise ValueError(f"section ends before it starts: {self.start_s} > {self.end_s}")
            self.duration_s = self.end_s - self.start_s
        if not self.tag:
            self.tag = levo_tag_for(self.label, duration_s=self.duration_s)
        elif self.tag not in LEVO_TAGS or levo_tag_for(self.label, resolve_tag(self.tag).suffix) != self.tag:
            raise ValueError(f"tag {self.tag!r} does not fit label {self.label!r}")

    @property
    def vocal(self) -> bool:
        """Whether the section carries lyrics (verse, chorus, bridge)."""
        return self.label in VOCAL_LABELS

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def words(self) -> list[str]:
        return all_words(self.texts)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "tag": self.tag, "lines": [line.to_dict() for line in self.lines],
                "start_s": self.start_s, "end_s": self.end_s, "duration_s": self.duration_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LyricSection:
        lines = [LyricLine(**line) if isinstance(line, dict) else line for line in data.get("lines", [])]
        return cls(data["label"], data.get("tag", ""), lines, data.get("start_s"), data.get("end_s"),
                   data.get("duration_s"))


@dataclass
class LyricSong:
    """A song's lyrics in order of singing.

    >>> song = LyricSong([LyricSection("intro"), LyricSection("verse", lines=["hello there"])])
    >>> song.labels(), song.words()
    (['intro', 'verse'], ['hello', 'there'])
    >>> LyricSong.from_dict(song.to_dict()) == song
    True
    """

    sections: list[LyricSection] = field(default_factory=list)

    def labels(self) -> list[str]:
        return [s.label for s in self.sections]

    def words(self) -> list[str]:
        return [w for s in self.sections for w in s.words()]

    def lines(self) -> list[str]:
        return [line.text for s in self.sections for line in s.lines]

    def normalized(self) -> LyricSong:
        """The song as tag-per-section dialects (LeVo, SongBloom) must write it, without losing a word.

        Lyrics found under an instrumental tag move to a ``verse`` right after it; a verse, chorus
        or bridge without a word is the instrumental stretch it is (``inst``, same times).
        """
        out: list[LyricSection] = []
        for s in self.sections:
            has_words = bool(s.words())
            if s.vocal and not has_words:
                out.append(LyricSection("inst", start_s=s.start_s, end_s=s.end_s, duration_s=s.duration_s))
            elif not s.vocal and has_words:
                out.append(replace(s, lines=[]))
                out.append(LyricSection("verse", lines=list(s.lines)))
            else:
                out.append(s)
        return LyricSong(out)

    def to_dict(self) -> dict[str, Any]:
        return {"sections": [s.to_dict() for s in self.sections]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LyricSong:
        return cls([LyricSection.from_dict(s) for s in data.get("sections", [])])

    @classmethod
    def from_sections(cls, sections: Sequence[Section], lines_per_section: Sequence[Sequence[str]]) -> LyricSong:
        """From the record's :class:`~songprep.records.Section` list and the lines sung in each."""
        if len(sections) != len(lines_per_section):
            raise ValueError(f"{len(sections)} sections but {len(lines_per_section)} line groups")
        return cls([LyricSection(s.label, s.tag, list(lines), s.start_s, s.end_s)
                    for s, lines in zip(sections, lines_per_section)])
