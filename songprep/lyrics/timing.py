"""Filling in times a dialect needs but the source did not carry (LeVo and YuE carry none).

SongPrep markup needs section times and LRC needs a time on every line (DiffRhythm places each
line at its timestamp). When converting from a dialect without them we estimate, deterministically:
known times are kept, instrumental sections last what their LeVo suffix says, sung lines a fixed
time per word, and lines are spread over their section by word count. Callers say "estimated".
"""

from __future__ import annotations

from dataclasses import replace

from songprep.lyrics.model import LyricLine, LyricSection, LyricSong
from songprep.lyrics.tags import nominal_duration_s
from songprep.lyrics.text import words

#: Seconds a sung word (or CJK character) takes, and the pause after each line, when nothing is known.
SECONDS_PER_WORD = 0.5
SECONDS_PER_LINE_GAP = 1.0
#: Length assumed for ``[silence]`` (and SongPrep's ``blank``) of unknown length.
SILENCE_S = 2.0


def needs_times(song: LyricSong, lines: bool) -> bool:
    """Whether any section (and, with ``lines``, any lyric line) lacks a time."""
    for s in song.sections:
        if s.start_s is None or s.end_s is None:
            return True
        if lines and any(line.start_s is None for line in s.lines):
            return True
    return False


def with_times(song: LyricSong) -> LyricSong:
    """A copy of ``song`` where every section has start and end and every line a start (see module doc)."""
    out = []
    cursor = 0.0
    for i, s in enumerate(song.sections):
        start = s.start_s if s.start_s is not None else _first_line_time(s, cursor)
        end = s.end_s
        if end is None:
            following = _next_start(song.sections[i + 1:])
            guess = start + _guess_duration(s)
            end = following if following is not None and following >= start else guess
        end = max(end, start)
        out.append(replace(s, start_s=start, end_s=end, duration_s=None, lines=_timed_lines(s.lines, start, end)))
        cursor = end
    return LyricSong(out)


def _first_line_time(section: LyricSection, cursor: float) -> float:
    known = [line.start_s for line in section.lines if line.start_s is not None]
    return known[0] if known else cursor


def _next_start(sections: list[LyricSection]) -> float | None:
    for s in sections:
        if s.start_s is not None:
            return s.start_s
        known = [line.start_s for line in s.lines if line.start_s is not None]
        if known:
            return known[0]
    return None


def _guess_duration(section: LyricSection) -> float:
    if section.duration_s is not None:
        return section.duration_s
    if section.lines:
        return sum(max(1, len(line_words)) * SECONDS_PER_WORD + SECONDS_PER_LINE_GAP
                   for line_words in (_words(line) for line in section.lines))
    return nominal_duration_s(section.tag) or SILENCE_S


def _words(line: LyricLine) -> list[str]:
    return words(line.text)


def _timed_lines(lines: list[LyricLine], start: float, end: float) -> list[LyricLine]:
    """Lines with a start each: known ones kept, unknown ones spread by word count between their neighbours."""
    if all(line.start_s is not None for line in lines):
        return list(lines)
    out = list(lines)
    i = 0
    while i < len(out):
        if out[i].start_s is not None:
            i += 1
            continue
        j = i
        while j < len(out) and out[j].start_s is None:
            j += 1
        lo = out[i - 1].start_s if i > 0 else start
        hi = out[j].start_s if j < len(out) else end
        lo = lo if lo is not None else start
        hi = max(hi if hi is not None else end, lo)
        weights = [max(1, len(_words(line))) for line in out[i:j]]
        # the known line at i-1 also takes its share of the gap before the first unknown line
        offset = 1 if i > 0 else 0
        total = sum(weights) + (weights[0] if offset else 0)
        t = lo + ((hi - lo) * weights[0] / total if offset else 0.0)
        for k, w in zip(range(i, j), weights):
            out[k] = LyricLine(out[k].text, round(t, 2))
            t += (hi - lo) * w / total
        i = j
    return out
