"""LRC with timestamps, as DiffRhythm reads it: ``[mm:ss.xx]line``, one lyric line per line.

DiffRhythm cuts each line at fixed columns (``line[1:9]`` is the time, ``line[10:]`` the lyric),
so the stamp must be exactly ``[mm:ss.xx]``; a line without one is silently dropped, and a second
stamp on a line is sung as text. Section names are written as tag lines (``[verse]``) that
DiffRhythm skips and LRC players ignore; ``[ar:...]``-style metadata is skipped on reading.
"""

from __future__ import annotations

import re

from songprep.errors import LyricsError
from songprep.lyrics.model import LyricLine, LyricSection, LyricSong
from songprep.lyrics.problems import Problems
from songprep.lyrics.scanning import is_empty, resolve_plain_tag
from songprep.lyrics.tags import LYRIC_LABELS, levo_tag_for
from songprep.lyrics.text import words
from songprep.lyrics.timing import needs_times, with_times
from songprep.lyrics.yue import clean_line

_STAMPS = re.compile(r"[ \t]*((?:\[\d+:\d+(?:[.:]\d+)?\][ \t]*)+)(.*)")
_STAMP = re.compile(r"\[(\d+):(\d+)(?:[.:](\d+))?\]")
_CANONICAL_STAMP = re.compile(r"\[\d\d:\d\d\.\d\d\]")
_META = re.compile(r"[ \t]*\[[A-Za-z]+:[^\]]*\][ \t]*")
_TAG_LINE = re.compile(r"[ \t]*\[([^\[\]\n]*)\][ \t]*")


def format_stamp(seconds: float) -> str:
    """``[mm:ss.xx]``, the only form DiffRhythm reads. ``format_stamp(75.5) == "[01:15.50]"``."""
    centis = round(seconds * 100)
    minutes, rest = divmod(centis, 6000)
    if minutes > 99:
        raise LyricsError(f"LRC cannot stamp {seconds:.2f} s (over 99 minutes)")
    return f"[{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}]"


def render_lrc(song: LyricSong) -> str:
    """LRC: a ``[label]`` line per section, then ``[mm:ss.xx]line``; missing times are estimated."""
    timed = with_times(song) if needs_times(song, lines=True) else song
    out = []
    for s in timed.sections:
        out.append(f"[{s.label}]")
        out += [f"{format_stamp(line.start_s)}{clean_line(line.text)}" for line in s.lines if clean_line(line.text)]
    return "\n".join(out) + "\n"


def parse_lrc(text: str) -> LyricSong:
    return scan_lrc(text)[0]


def scan_lrc(text: str) -> tuple[LyricSong, Problems]:
    """Read LRC into a song (line times kept, lines sorted by time within each section) and its problems."""
    problems = Problems()
    if is_empty(text, problems):
        return LyricSong([]), problems
    sections: list[LyricSection] = []
    pos = 0
    last_time = None
    for raw_line in text.splitlines(keepends=True):
        line = raw_line.rstrip("\r\n")
        start, pos = pos, pos + len(raw_line)
        if not line.strip() or _META.fullmatch(line):
            continue
        stamped = _STAMPS.fullmatch(line)
        if stamped is None:
            tag = _TAG_LINE.fullmatch(line)
            if tag is not None:
                label, suffix = resolve_plain_tag(tag.group(1), start + tag.start(1) - 1, start + tag.end(1) + 1,
                                                  False, problems, LYRIC_LABELS, dialect="LRC")
                sections.append(LyricSection(label, levo_tag_for(label, suffix) if suffix else ""))
                continue
            problems.add("untimed-line", "lyric line without a timestamp", start, start + len(line),
                         fix="time it between its neighbours")
            _section(sections).lines.append(LyricLine(line.strip()))
            continue
        lyric = stamped.group(2).strip()
        times = []
        for m in _STAMP.finditer(stamped.group(1)):
            offset = start + stamped.start(1) + m.start()
            seconds = int(m.group(1)) * 60 + float(f"{m.group(2)}.{m.group(3) or 0}")
            if not _CANONICAL_STAMP.fullmatch(m.group()):
                problems.add("bad-time", f"{m.group()} is not [mm:ss.xx]", offset, offset + len(m.group()),
                             fix=format_stamp(seconds))
            times.append(seconds)
        if len(times) > 1:
            problems.add("multi-time", f"{len(times)} timestamps on one line", start, start + len(line),
                         fix="one line per timestamp")
        if not words(lyric):
            problems.add("empty-line", "timed line without lyrics", start, start + len(line), fix="remove it")
            continue
        for seconds in times:
            if last_time is not None and seconds < last_time:
                problems.add("time-order", f"{format_stamp(seconds)} comes after {format_stamp(last_time)}",
                             start, start + len(line), fix="lines sorted by time within the section")
            last_time = seconds
            _section(sections).lines.append(LyricLine(lyric, seconds))
    for s in sections:
        if all(line.start_s is not None for line in s.lines):
            s.lines.sort(key=lambda line: line.start_s)
    return LyricSong(sections), problems


def _section(sections: list[LyricSection]) -> LyricSection:
    """The section lines go to: the last one, or an implicit verse (plain DiffRhythm LRC has no sections)."""
    if not sections:
        sections.append(LyricSection("verse"))
    return sections[-1]
