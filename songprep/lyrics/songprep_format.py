"""SongPrep's output markup: ``[label][start:end]lyric.lyric ; [label][start:end] ; ...``.

SongPrep (structure parsing + lyric transcription) writes one section per block with times in
seconds; its labels are the plain ones plus ``blank`` (a stretch it leaves unlabelled), never
LeVo's length suffixes. Sentences are joined by ``.``, blocks by `` ; ``.
"""

from __future__ import annotations

import re

from songprep.lyrics.model import LyricSection, LyricSong
from songprep.lyrics.problems import Problems
from songprep.lyrics.scanning import content_bounds, is_empty, resolve_plain_tag, scan_sentences
from songprep.lyrics.tags import LYRIC_LABELS
from songprep.lyrics.text import is_cjk_text, sentences_of, words
from songprep.lyrics.timing import needs_times, with_times

SEPARATOR = " ; "
_HEAD = re.compile(r"\[([^\[\]\n]*)\][ \t]*(\[[\d\s.:]*\])?")
_TIMES = re.compile(r"\[\s*(\d+(?:\.\d*)?)\s*:\s*(\d+(?:\.\d*)?)\s*\]")


def render_songprep(song: LyricSong) -> str:
    """SongPrep markup; times missing from ``song`` are estimated (see :mod:`songprep.lyrics.timing`)."""
    timed = with_times(song) if needs_times(song, lines=False) else song
    blocks = []
    for s in timed.sections:
        sentences = sentences_of(s.texts)
        body = ".".join(sentences)
        if sentences and not is_cjk_text(body):
            body += "."
        blocks.append(f"[{s.label}][{s.start_s:.2f}:{s.end_s:.2f}]{body}")
    return SEPARATOR.join(blocks)


def parse_songprep(text: str) -> LyricSong:
    return scan_songprep(text)[0]


def scan_songprep(text: str) -> tuple[LyricSong, Problems]:
    """Read SongPrep markup into a song (times kept) and its problems."""
    problems = Problems()
    if is_empty(text, problems):
        return LyricSong([]), problems
    heads = [m for m in _HEAD.finditer(text) if not _TIMES.fullmatch(m.group())]
    sections: list[LyricSection] = []
    lo, hi = content_bounds(text, 0, heads[0].start() if heads else len(text))
    if lo < hi and words(text[lo:hi].replace(";", " ")):
        problems.add("text-before-tag", "lyrics before the first section", lo, hi, fix="put them under [verse]")
        sections.append(LyricSection("verse", lines=scan_sentences(text, lo, hi, problems)))
    previous_end = None
    for i, head in enumerate(heads):
        body_end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        lo, hi = content_bounds(text, head.end(), body_end)
        while hi > lo and text[hi - 1] in ";\uff1b":
            hi -= 1
            lo, hi = content_bounds(text, lo, hi)
        lines = scan_sentences(text, lo, hi, problems) if lo < hi else []
        has_words = any(words(line.text) for line in lines)
        label, _ = resolve_plain_tag(head.group(1), head.start(1) - 1, head.end(1) + 1, has_words, problems,
                                     LYRIC_LABELS, dialect="SongPrep")
        start_s, end_s = _times(head, problems)
        if start_s is not None and previous_end is not None and start_s < previous_end - 0.005:
            problems.add("time-order", f"section starts at {start_s:.2f} s, before the previous one ends",
                         head.start(2), head.end(2), fix="none (times are data)")
        previous_end = end_s if end_s is not None else previous_end
        sections.append(LyricSection(label, lines=lines, start_s=start_s, end_s=end_s))
    return LyricSong(sections), problems


def _times(head: re.Match[str], problems: Problems) -> tuple[float | None, float | None]:
    raw = head.group(2)
    where = head.start(2) if raw else head.end(1) + 1
    times = _TIMES.fullmatch(raw) if raw else None
    if times is None:
        problems.add("bad-time", f"no [start:end] after [{head.group(1)}]" if raw is None else f"unreadable {raw}",
                     where, where + len(raw or " "), fix="times estimated from the neighbouring sections")
        return None, None
    start_s, end_s = float(times.group(1)), float(times.group(2))
    if end_s < start_s:
        problems.add("bad-time", f"section ends ({end_s}) before it starts ({start_s})", head.start(2), head.end(2),
                     fix="end set to the start")
        end_s = start_s
    return start_s, end_s
