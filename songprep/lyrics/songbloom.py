"""SongBloom's lyric format: ``[intro] [intro] , [verse] line. line , [chorus] ...``.

Per SongBloom's ``docs/lyric_format.md``: sections are separated by ``,`` (so a comma may never
appear inside lyrics), sentences by ``.``; vocal sections start with ``[verse]``, ``[chorus]`` or
``[bridge]``; non-vocal ones are ``[intro]``, ``[inst]`` or ``[outro]`` repeated, one tag per second
of the section. SongBloom has no silence tag: ``silence`` and ``blank`` are written as ``[inst]``.
"""

from __future__ import annotations

import re

from songprep.lyrics.model import LyricSection, LyricSong
from songprep.lyrics.problems import Problems
from songprep.lyrics.scanning import content_bounds, is_empty, resolve_plain_tag, scan_sentences
from songprep.lyrics.tags import BLANK, nominal_duration_s
from songprep.lyrics.text import is_cjk_text, sentences_of, words

SEPARATOR = " , "
LABELS = ("intro", "verse", "chorus", "bridge", "inst", "outro")
SUBSTITUTES = {"silence": "inst", BLANK: "inst"}
_TAG = re.compile(r"\[([^\[\]\n]*)\]")


def songbloom_label(label: str) -> str:
    return SUBSTITUTES.get(label, label)


def render_songbloom(song: LyricSong) -> str:
    """SongBloom lyrics: non-vocal tags repeated once per second (their LeVo band's middle when untimed)."""
    blocks = []
    for s in song.normalized().sections:
        if s.vocal:
            sentences = sentences_of(s.texts)
            joiner = "." if is_cjk_text("".join(sentences)) else ". "
            blocks.append(f"[{s.label}] {joiner.join(sentences)}")
        else:
            seconds = s.duration_s if s.duration_s is not None else nominal_duration_s(s.tag) or 1.0
            blocks.append(" ".join([f"[{songbloom_label(s.label)}]"] * max(1, round(seconds))))
    return SEPARATOR.join(blocks)


def parse_songbloom(text: str) -> LyricSong:
    return scan_songbloom(text)[0]


def scan_songbloom(text: str) -> tuple[LyricSong, Problems]:
    """Read SongBloom lyrics into a song (repeated tags give a duration) and its problems."""
    problems = Problems()
    if is_empty(text, problems):
        return LyricSong([]), problems
    sections: list[LyricSection] = []
    start = 0
    for end in [m.start() for m in re.finditer(",", text)] + [len(text)]:
        _scan_segment(text, start, end, problems, sections)
        start = end + 1
    return LyricSong(sections), problems


def _scan_segment(text: str, lo: int, hi: int, problems: Problems, sections: list[LyricSection]) -> None:
    """One comma-separated segment: a run of (repeated) tags, then lyrics."""
    lo, hi = content_bounds(text, lo, hi)
    runs: list[tuple[str, str | None, int, int, int]] = []  # label, suffix, count, first start, last end
    pos = lo
    while True:
        m = _TAG.match(text, pos)
        if m is None:
            break
        body_after = text[m.end():hi]
        next_is_tag = _TAG.match(text, content_bounds(text, m.end(), hi)[0]) is not None
        label, suffix = resolve_plain_tag(m.group(1), m.start(), m.end(), bool(words(body_after)) and not next_is_tag,
                                          problems, LABELS, SUBSTITUTES, "SongBloom")
        if runs and runs[-1][0] == label:
            runs[-1] = (label, suffix, runs[-1][2] + 1, runs[-1][3], m.end())
        else:
            runs.append((label, suffix, 1, m.start(), m.end()))
        pos = content_bounds(text, m.end(), hi)[0]
    lines = scan_sentences(text, pos, hi, problems) if pos < hi else []
    has_words = any(words(line.text) for line in lines)
    if not runs:
        if has_words:
            problems.add("text-before-tag", "lyrics with no tag (a ',' inside lyrics splits the section)", pos, hi,
                         fix="join them to the section before ('.' for ',')")
            if sections and sections[-1].vocal:
                sections[-1].lines.extend(lines)
            else:
                sections.append(LyricSection("verse", lines=lines))
        return
    for label, suffix, count, first, last in runs[:-1]:
        sections.append(_section(label, suffix, count, [], first, last, problems))
    label, suffix, count, first, last = runs[-1]
    if has_words and label not in ("verse", "chorus", "bridge"):
        problems.add("lyrics-in-instrumental", f"[{label}] carries no lyrics", pos, hi, fix=f"[{label}] , [verse] ...")
        sections.append(_section(label, suffix, count, [], first, last, problems))
        sections.append(LyricSection("verse", lines=lines))
        return
    sections.append(_section(label, suffix, count, lines if has_words else [], first, last, problems))


def _section(label: str, suffix: str | None, count: int, lines: list, first: int, last: int,
             problems: Problems) -> LyricSection:
    if label in ("verse", "chorus", "bridge"):
        if not lines:
            problems.add("empty-vocal-section", f"[{label}] has no lyrics", first, last,
                         fix="[inst] (a section without words is instrumental)")
        return LyricSection(label, lines=lines)
    if suffix is not None and count == 1:
        # a LeVo tag like [intro-medium]: its band stands for the length
        return LyricSection(label, duration_s=nominal_duration_s(f"{label}-{suffix}"))
    return LyricSection(label, duration_s=float(count))
