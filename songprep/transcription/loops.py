"""Repetition-loop detection: Whisper on clean sung vocals falls into "a-a-a-a" or "oh oh oh oh ..." loops.

A loop is a unit of 1–4 words (compared case- and punctuation-blind) repeated back to back more
often than a song plausibly repeats it, or one word made of many hyphen-joined copies of a
syllable. Real lyrics repeat too ("na na na na na na na na", "baby baby baby baby", a hook sung
eight times), so up to ``max_repeats`` copies are kept (16: a sung run of one unit longer than that
is rare, a decoder loop of 20-100 copies is not); only the excess is removed, and every removal is
reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from songprep.records import Word

_NON_WORD = re.compile(r"[^\w']+", re.UNICODE)


@dataclass(frozen=True)
class Loop:
    """``unit`` repeated ``copies`` times from word index ``start``; the copies past ``kept`` were removed."""

    start: int
    unit: tuple[str, ...]
    copies: int
    kept: int


@dataclass
class LoopReport:
    """The words left (stutters collapsed), the index of each in the input, and the loops found."""

    words: list[Word]
    kept: list[int] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return sum((loop.copies - loop.kept) * len(loop.unit) for loop in self.loops)


def normalise(word: str) -> str:
    return _NON_WORD.sub("", word.lower())


def collapse_stutter(word: str, max_repeats: int = 8) -> str:
    """``"a-a-a-a-a-a-a-a-a-a"`` -> ``"a-a-a-a-a-a-a-a"``: a hyphen-joined syllable repeated past ``max_repeats``.

    >>> collapse_stutter("a-a-a-a-a-a", max_repeats=3)
    'a-a-a'
    >>> collapse_stutter("na-na-na-na")
    'na-na-na-na'
    >>> collapse_stutter("well-known")
    'well-known'
    """
    parts = word.split("-")
    if len(parts) <= max_repeats or len({normalise(p) for p in parts if normalise(p)}) != 1:
        return word
    return "-".join(parts[:max_repeats])


def _copies(keys: list[str], start: int, n: int) -> int:
    unit = keys[start:start + n]
    copies = 1
    while keys[start + copies * n:start + (copies + 1) * n] == unit:
        copies += 1
    return copies


def remove_loops(words: list[Word], max_repeats: int = 16, max_unit: int = 4) -> LoopReport:
    """Cut repetition loops down to ``max_repeats`` copies of their unit; words keep their times.

    >>> ws = [Word(w, i, i + 0.5) for i, w in enumerate("oh oh oh oh oh oh oh oh yeah".split())]
    >>> report = remove_loops(ws, max_repeats=4)
    >>> [w.word for w in report.words], report.removed
    (['oh', 'oh', 'oh', 'oh', 'yeah'], 4)
    """
    cleaned = [Word(collapse_stutter(w.word), w.start_s, w.end_s, w.score, w.section) for w in words]
    keys = [normalise(w.word) for w in cleaned]
    kept: list[int] = []
    loops: list[Loop] = []
    i = 0
    while i < len(cleaned):
        best_n, best_copies = 1, 1
        if keys[i]:
            for n in range(1, max_unit + 1):
                if i + 2 * n > len(keys) or not all(keys[i:i + n]):
                    break
                copies = _copies(keys, i, n)
                if copies > max_repeats and copies * n > best_copies * best_n:
                    best_n, best_copies = n, copies
        if best_copies > max_repeats:
            loops.append(Loop(i, tuple(keys[i:i + best_n]), best_copies, max_repeats))
            kept.extend(range(i, i + best_n * max_repeats))
            i += best_n * best_copies
        else:
            kept.append(i)
            i += 1
    return LoopReport([cleaned[k] for k in kept], kept, loops)
