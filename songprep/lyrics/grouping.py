"""Grouping a song's timed words into the lyric lines of each section (for the markup stage).

With reference lyrics the lines are the reference lines, whole and as written (so words the
aligner could not anchor are kept too), each placed in the section where most of its aligned words
were sung. Without them, words are split into lines at pauses. Words the structure put in an
instrumental section go to the nearest verse, chorus or bridge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from songprep.lyrics.model import LyricSection, LyricSong
from songprep.lyrics.tags import VOCAL_LABELS
from songprep.lyrics.text import is_cjk_char, words
from songprep.records import Section, Word

#: A pause at least this long between two words starts a new line (when there are no reference lines).
LINE_GAP_S = 0.8
#: A line without reference is also closed when it reaches this many words.
MAX_LINE_WORDS = 12
#: How far ahead in the reference a timed word is looked for (aligners skip or merge a few words).
MATCH_WINDOW = 8


def group_lines(sections: Sequence[Section], timed: Sequence[Word], reference: Sequence[str] | None = None,
                line_gap_s: float = LINE_GAP_S, max_line_words: int = MAX_LINE_WORDS) -> LyricSong:
    """The song's sections with the lines sung in each (see the module docstring)."""
    order = sorted(range(len(timed)), key=lambda i: (timed[i].start_s, i))
    where = {i: _vocal_section(sections, timed[i]) for i in order}
    lines: list[list[str]] = [[] for _ in sections]
    if reference and any(words(line) for line in reference):
        for index, line in _place_reference(reference, [timed[i] for i in order], [where[i] for i in order]):
            lines[index].append(line)
    else:
        for index, line in _pause_lines([timed[i] for i in order], [where[i] for i in order], line_gap_s,
                                        max_line_words):
            lines[index].append(line)
    return LyricSong([LyricSection(s.label, s.tag, group, s.start_s, s.end_s) for s, group in zip(sections, lines)])


def _vocal_section(sections: Sequence[Section], word: Word) -> int:
    """The index of the section a word belongs to, moved to the nearest vocal section if it fell outside one."""
    mid = (word.start_s + word.end_s) / 2
    index = word.section if 0 <= word.section < len(sections) else min(
        range(len(sections)), key=lambda k: _distance(sections[k], mid))
    if sections[index].label in VOCAL_LABELS:
        return index
    vocal = [k for k, s in enumerate(sections) if s.label in VOCAL_LABELS]
    return min(vocal, key=lambda k: (_distance(sections[k], mid), k)) if vocal else index


def _distance(section: Section, t: float) -> float:
    return max(section.start_s - t, 0.0, t - section.end_s)


def _place_reference(reference: Sequence[str], timed: Sequence[Word], where: Sequence[int]) -> list[tuple[int, str]]:
    """Each reference line with the section most of its matched words fell in (monotonic; gaps inherit)."""
    stream = [(n, w.lower()) for n, line in enumerate(reference) for w in words(line)]
    votes: list[Counter[int]] = [Counter() for _ in reference]
    pointer = 0
    for word, section in zip(timed, where):
        target = [w.lower() for w in words(word.word)]
        if not target or pointer >= len(stream):
            continue
        for q in range(pointer, min(pointer + MATCH_WINDOW, len(stream))):
            if stream[q][1] == target[0]:
                votes[stream[q][0]][section] += 1
                pointer = q + len(target)
                break
    placed = [v.most_common(1)[0][0] if v else None for v in votes]
    first = next((p for p in placed if p is not None), None)
    if first is None:
        return []
    out = []
    current = first
    for n, line in enumerate(reference):
        if placed[n] is not None and placed[n] >= current:
            current = placed[n]
        if line.strip():
            out.append((current, line.strip()))
    return out


def _pause_lines(timed: Sequence[Word], where: Sequence[int], gap_s: float, max_words: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    current: list[str] = []
    section = None
    previous_end = None
    for word, index in zip(timed, where):
        pause = previous_end is not None and word.start_s - previous_end >= gap_s
        if current and (index != section or pause or len(current) >= max_words):
            out.append((section, _join(current)))
            current = []
        current.append(word.word.strip())
        section = index
        previous_end = word.end_s
    if current:
        out.append((section, _join(current)))
    return out


def _join(tokens: list[str]) -> str:
    """Words joined by spaces, except between two CJK characters."""
    text = ""
    for token in filter(None, tokens):
        if text and not (is_cjk_char(text[-1]) and is_cjk_char(token[0])):
            text += " "
        text += token
    return text
