"""YuE's lyric format: sections separated by a blank line, each a ``[tag]`` line and its lyric lines.

YuE splits lyrics with ``\\[(\\w+)\\](.*?)\\n(?=\\[|\\Z)``, so a tag must be a bare word (``[verse]``,
not ``[intro-short]`` or ``[Verse 1]``) and each section must end with a line break. One lyric line
per line; punctuation is left as written.
"""

from __future__ import annotations

import re

from songprep.lyrics.model import LyricLine, LyricSection, LyricSong
from songprep.lyrics.problems import Problems
from songprep.lyrics.scanning import is_empty, resolve_plain_tag
from songprep.lyrics.tags import LYRIC_LABELS, levo_tag_for
from songprep.lyrics.text import words

_TAG_LINE = re.compile(r"[ \t]*\[([^\[\]\n]*)\][ \t]*(.*)")


def clean_line(text: str) -> str:
    """One lyric line as a line-based dialect can hold it: no line breaks, no brackets."""
    return " ".join(text.replace("[", " ").replace("]", " ").split())


def render_yue(song: LyricSong) -> str:
    """YuE lyrics: ``[label]`` then one line per lyric line, sections separated by a blank line."""
    blocks = []
    for s in song.sections:
        lines = [t for t in (clean_line(line.text) for line in s.lines) if t]
        blocks.append("\n".join([f"[{s.label}]", *lines]))
    return "\n\n".join(blocks) + "\n"


def parse_yue(text: str) -> LyricSong:
    return scan_yue(text)[0]


def scan_yue(text: str) -> tuple[LyricSong, Problems]:
    """Read YuE lyrics (or any "[Tag] then lines" text) into a song and its problems."""
    problems = Problems()
    if is_empty(text, problems):
        return LyricSong([]), problems
    sections: list[LyricSection] = []
    pos = 0
    for raw_line in text.splitlines(keepends=True):
        line = raw_line.rstrip("\r\n")
        start, pos = pos, pos + len(raw_line)
        if not line.strip():
            continue
        m = _TAG_LINE.fullmatch(line)
        if m is not None:
            rest = m.group(2).strip()
            label, suffix = resolve_plain_tag(m.group(1), start + m.start(1) - 1, start + m.end(1) + 1,
                                              bool(words(rest)), problems, LYRIC_LABELS, dialect="YuE")
            sections.append(LyricSection(label, levo_tag_for(label, suffix) if suffix else ""))
            if rest:
                sections[-1].lines.append(LyricLine(rest))
            continue
        if not sections:
            problems.add("text-before-tag", "lyrics before the first tag", start, start + len(line),
                         fix="put them under [verse]")
            sections.append(LyricSection("verse"))
        sections[-1].lines.append(LyricLine(line.strip()))
    return LyricSong(sections), problems
