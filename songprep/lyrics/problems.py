"""Lint problems: the codes, their severity, and where in the text each one is.

Errors change what a model reads (a tag it does not know, lyrics it will never see); warnings are
departures from the canonical form that the model's own examples also make. ``lint`` fails on
errors; ``fix`` removes both.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """A kind of problem: ``E101`` / ``unknown-tag``, its severity, and what it means."""

    code: str
    name: str
    severity: str
    summary: str


_CODES = [
    Code("E100", "empty", ERROR, "no lyrics at all"),
    Code("E101", "unknown-tag", ERROR, "a section tag the model does not know"),
    Code("E102", "tag-form", ERROR, "a known tag written another way (case, spaces, numbering, suffix)"),
    Code("E103", "tag-length", ERROR, "an instrumental tag without LeVo's -short/-medium/-long"),
    Code("E104", "lyrics-in-instrumental", ERROR, "lyrics under a tag that carries none"),
    Code("E105", "empty-vocal-section", ERROR, "a verse, chorus or bridge without lyrics"),
    Code("E106", "text-before-tag", ERROR, "lyrics that no section tag covers"),
    Code("E107", "missing-separator", ERROR, "two sections with no separator between them"),
    Code("E108", "fullwidth-punct", ERROR, "full-width punctuation (。，！)"),
    Code("E109", "stray-bracket", ERROR, "a bracket that opens or closes no tag"),
    Code("E110", "too-long", ERROR, "more tokens than the model reads; the rest is cut"),
    Code("E120", "bad-time", ERROR, "a missing or unreadable time"),
    Code("E121", "untimed-line", ERROR, "an LRC lyric line without a timestamp (DiffRhythm drops it)"),
    Code("E122", "multi-time", ERROR, "several timestamps on one LRC line (DiffRhythm sings the rest as text)"),
    Code("W201", "separator-spacing", WARNING, "a section separator not written as ' ; '"),
    Code("W202", "tag-spacing", WARNING, "no space between a tag and its lyrics"),
    Code("W203", "missing-final-period", WARNING, "an English section whose last sentence has no '.'"),
    Code("W204", "cjk-final-period", WARNING, "a Chinese section ending in '.'"),
    Code("W205", "stray-separator", WARNING, "a section separator inside a section"),
    Code("W206", "ascii-punct", WARNING, "punctuation inside a sentence (, ! ? : \" ...)"),
    Code("W207", "typographic-punct", WARNING, "typographic punctuation (’ “ — …)"),
    Code("W208", "empty-sentence", WARNING, "an empty sentence (two separators in a row)"),
    Code("W209", "extra-space", WARNING, "runs of spaces or tabs"),
    Code("W210", "line-break", WARNING, "a line break inside a one-line lyric"),
    Code("W211", "edge-separator", WARNING, "a separator before the first or after the last section"),
    Code("W212", "no-vocal-section", WARNING, "no verse, chorus or bridge"),
    Code("W213", "time-order", WARNING, "times out of order or overlapping"),
    Code("W214", "empty-line", WARNING, "a timed line without lyrics"),
    Code("W215", "maybe-too-long", WARNING, "an estimated length just over the limit (count exactly to be sure)"),
]
CODES: dict[str, Code] = {c.code: c for c in _CODES}
CODES_BY_NAME: dict[str, Code] = {c.name: c for c in _CODES}


@dataclass(frozen=True)
class Problem:
    """One problem found by a dialect's parser: what, where (character offsets), and the fix.

    ``line`` and ``col`` (1-based) are filled in by :func:`locate`; ``fix`` says what ``fix`` will
    write instead (empty when no fix can keep every word).
    """

    code: str
    message: str
    start: int
    end: int
    fix: str = ""
    line: int = 0
    col: int = 0

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    @property
    def name(self) -> str:
        return CODES[self.code].name

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity, "name": self.name}

    def format(self) -> str:
        """``line:col code message (fix: ...)``, the line lint prints."""
        fix = self.fix or "none that keeps every word"
        return f"{self.line}:{self.col} {self.code} {self.message} (fix: {fix})"


class Problems:
    """Collects problems while a parser walks a text; positions are made line:col once, at the end."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, name: str, message: str, start: int, end: int | None = None, fix: str = "") -> None:
        code = CODES_BY_NAME[name].code
        self.items.append(Problem(code, message, start, start + 1 if end is None else end, fix))

    def located(self, text: str, line_offset: int = 0) -> list[Problem]:
        return locate(self.items, text, line_offset)


def locate(problems: list[Problem], text: str, line_offset: int = 0) -> list[Problem]:
    """Problems with ``line``/``col`` filled in from their offsets in ``text``, sorted by position."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    out = []
    for p in sorted(problems, key=lambda p: (p.start, p.code)):
        row = bisect.bisect_right(starts, p.start) - 1
        out.append(Problem(p.code, p.message, p.start, p.end, p.fix, row + 1 + line_offset, p.start - starts[row] + 1))
    return out


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
