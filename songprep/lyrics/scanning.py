"""Scanning helpers the dialect parsers share: sentences, punctuation checks, tags in plain-label dialects.

Each parser walks its text once; these report every character or tag that needs a fix at its
exact offset, so ``lint`` positions are right and ``fix`` (render of the parse) repairs them.
"""

from __future__ import annotations

from songprep.lyrics.model import LyricLine
from songprep.lyrics.problems import Problems
from songprep.lyrics.tags import resolve_tag
from songprep.lyrics.text import SENTENCE_BREAKS, is_letter_like, joins_word

#: Characters every '.'-separated dialect treats as the end of a sentence while parsing.
HARD_BREAKS = ".;\n\u3002\uff0e\uff1b"
TYPOGRAPHIC = "\u2018\u2019\u201c\u201d\u2014\u2013\u2026\u2010\u2011\u00ab\u00bb\u2032"


def is_empty(text: str, problems: Problems, what: str = "text") -> bool:
    """Record the one problem an empty input has; True when there is nothing left to scan."""
    if text.strip():
        return False
    problems.add("empty", f"the {what} is empty", 0, len(text), fix="none: write the lyrics")
    return True


def content_bounds(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi



def scan_sentences(text: str, lo: int, hi: int, problems: Problems, stray: frozenset[int] | set[int] = frozenset(),
                   breaks: str = HARD_BREAKS) -> list[LyricLine]:
    """Split ``text[lo:hi]`` at hard sentence breaks, reporting every character that needs a fix."""
    pieces = []  # (start, end, index of the break after the piece or None)
    piece_start = lo
    run_start = None
    for i in range(lo, hi):
        char = text[i]
        if char in " \t":
            run_start = i if run_start is None else run_start
            if char == "\t":
                problems.add("extra-space", "tab inside lyrics", i, fix="one space")
            continue
        if run_start is not None and i - run_start > 1:
            problems.add("extra-space", "several spaces in a row", run_start, i, fix="one space")
        run_start = None
        if i not in stray:
            check_char(text, i, problems)
        if char in breaks:
            pieces.append((piece_start, i, i))
            piece_start = i + 1
    pieces.append((piece_start, hi, None))
    lines = []
    for a, b, brk in pieces:
        piece = text[a:b].strip()
        if piece:
            lines.append(LyricLine(piece))
        elif brk is not None and text[brk] != "\n" and not text[a:b].count("\n"):
            problems.add("empty-sentence", "empty sentence", brk, fix="drop the extra separator")
    return lines


def check_char(text: str, i: int, problems: Problems) -> None:
    char = text[i]
    if char.isalnum() or char == ".":
        return
    breaks = char in SENTENCE_BREAKS
    if char in "'-":
        if not joins_word(text, i):
            problems.add("ascii-punct", f"{char!r} outside a word", i, fix="remove it")
    elif char == ";":
        problems.add("stray-separator", "';' inside a section", i, fix="'.'")
    elif char in "\n\r":
        problems.add("line-break", "line break inside the lyric", i, fix="'.'")
    elif "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef":
        problems.add("fullwidth-punct", f"full-width {char!r}", i, fix="'.'" if breaks else "remove it")
    elif char in TYPOGRAPHIC or not char.isascii() and not is_letter_like(char):
        apostrophe = char in "\u2018\u2019\u2032" and joins_word(text, i)
        fix = "\"'\"" if apostrophe else ("'.'" if breaks else "remove it")
        problems.add("typographic-punct", f"typographic {char!r}", i, fix=fix)
    elif not is_letter_like(char):
        problems.add("ascii-punct", f"{char!r} inside a sentence", i, fix="'.'" if breaks else "remove it")


def resolve_plain_tag(raw: str, start: int, end: int, has_words: bool, problems: Problems,
                      labels: tuple[str, ...], substitutes: dict[str, str] | None = None,
                      dialect: str = "") -> tuple[str, str | None]:
    """Label (and LeVo length suffix) of a tag in a dialect that writes bare labels (``[intro]``).

    ``labels`` are the ones the dialect knows; ``substitutes`` maps others to the nearest known one.
    """
    match = resolve_tag(raw)
    label = match.label if match.known else ("verse" if has_words else "inst")
    label = (substitutes or {}).get(label, label)
    if raw == label:
        return label, match.suffix
    if not match.known or match.form == "alias" or label != match.label:
        problems.add("unknown-tag", f"[{raw}] is not a {dialect} tag", start, end, fix=f"[{label}]")
    else:
        problems.add("tag-form", f"[{raw}] is written differently from [{label}]", start, end, fix=f"[{label}]")
    return label, match.suffix
