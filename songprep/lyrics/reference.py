"""Reading a song's reference lyrics (plain lines, LRC, or LeVo markup) into plain lyric lines."""

from __future__ import annotations

import re
from pathlib import Path

from songprep.errors import LyricsError
from songprep.lyrics.levo import parse_levo

_LRC_TIME = re.compile(r"\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\]")
_LRC_META = re.compile(r"^\[[a-zA-Z]+:.*\]$")
_TAG = re.compile(r"\[[^\]]*\]")


def read_text(path: Path) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM; anything else is refused, never guessed."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LyricsError(f"lyrics file is not UTF-8 text (byte {err.start}): {path.name}") from err


def parse_lyric_lines(text: str) -> list[str]:
    """Plain lyric lines from plain text, LRC or LeVo markup (tags, timestamps and separators dropped)."""
    if " ; " in text or re.search(r"\]\s*;", text):
        return parse_levo(text).lines()  # the one LeVo parser: tolerant, fixes tags, keeps every word
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _LRC_META.match(line):
            continue
        line = _LRC_TIME.sub("", line).strip()
        if not line or _TAG.fullmatch(line):  # "[Verse 1]" style headers
            continue
        lines.append(line)
    return lines


def read_reference_lyrics(path: str | Path) -> list[str]:
    """The lyric lines of a sidecar file; raises LyricsError for unreadable, broken or empty files.

    A bracket left in a lyric line means a tag or timestamp was malformed: the text cannot be
    trusted to be lyrics, so it is refused rather than sung.
    """
    path = Path(path)
    lines = parse_lyric_lines(read_text(path))
    for number, line in enumerate(lines, 1):
        if "[" in line or "]" in line:
            raise LyricsError(f"broken lyric markup in {path.name}, lyric line {number}: {line[:60]!r}")
    if not lines:
        raise LyricsError(f"lyrics file holds no lyric lines: {path.name}")
    return lines
