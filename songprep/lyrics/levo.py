"""LeVo / SongGeneration lyric markup: ``[tag] line.line ; [tag] ...``.

The model reads each of its 13 tags as one structure token and gives every token after a tag that
tag's structure embedding, so the tags carry the structure and the rest must look like its
training data: sections joined by `` ; ``, sentences by ``.``, instrumental tags alone, an English
section ending in ``.``, a Chinese one not, half-width punctuation only.

:func:`scan_levo` is the one parser: it reads any text tolerantly into a
:class:`~songprep.lyrics.model.LyricSong` (repairing what it can without losing a word) and
reports every departure as a :class:`~songprep.lyrics.problems.Problem`. :func:`render_levo_song`
is the one renderer, and ``fix`` is simply render(scan(text)).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from songprep.lyrics.model import LyricSection, LyricSong
from songprep.lyrics.problems import Problems
from songprep.lyrics.scanning import content_bounds, is_empty, scan_sentences
from songprep.lyrics.tags import BLANK, VOCAL_LABELS, levo_tag_for, resolve_tag
from songprep.lyrics.text import is_cjk_text, sentences_of, words
from songprep.records import INSTRUMENTAL_LABELS, Section

__all__ = ["SECTION_SEPARATOR", "SENTENCE_SEPARATOR", "is_cjk_text", "parse_levo", "render_block", "render_levo",
           "render_levo_song", "scan_levo"]

SECTION_SEPARATOR = " ; "
SENTENCE_SEPARATOR = "."

_TAG_OR_BRACKET = re.compile(r"\[([^\[\]\n]*)\]|[\[\]]")
_SEPARATORS = ";\uff1b"


def render_block(tag: str, lines: Sequence[str]) -> str:
    """One section: ``[verse] first line.second line.`` (no trailing ``.`` for CJK lyrics)."""
    clean = sentences_of(lines)
    if not clean:
        return f"[{tag}]"
    body = SENTENCE_SEPARATOR.join(clean)
    if not is_cjk_text(body):
        body += SENTENCE_SEPARATOR
    return f"[{tag}] {body}"


def render_levo_song(song: LyricSong) -> str:
    """Canonical LeVo markup of a song; it lints clean whenever the song has lyrics.

    Instrumental tags never carry lyrics: lines found in an instrumental section are written as a
    ``[verse]`` after it, and a verse, chorus or bridge without a word as ``[inst-...]``
    (see :meth:`~songprep.lyrics.model.LyricSong.normalized`); no word is ever dropped.
    """
    blocks = []
    for section in song.normalized().sections:
        blocks.append(render_block(section.tag, section.texts) if section.vocal else f"[{section.tag}]")
    return SECTION_SEPARATOR.join(blocks)


def render_levo(sections: Sequence[Section], lines_per_section: Sequence[Sequence[str]]) -> str:
    """The LeVo markup of a song from its sections and the lyric lines sung in each.

    Instrumental tags (intro / inst / outro / silence) never carry lyrics: lines passed for one
    are written as a ``[verse]`` after it (see :func:`render_levo_song`).
    """
    return render_levo_song(LyricSong.from_sections(sections, lines_per_section))


def parse_levo(text: str) -> LyricSong:
    """The song in a LeVo lyric, read tolerantly (see :func:`scan_levo`)."""
    return scan_levo(text)[0]


def scan_levo(text: str) -> tuple[LyricSong, Problems]:
    """Read a LeVo lyric into a song and the list of its problems, in one pass.

    Repairs made on the way (each reported): unknown or misspelt tags become the nearest known
    tag, lyrics under an instrumental tag move to a ``[verse]`` after it, text before the first tag
    becomes a ``[verse]``, stray ``;`` inside a section becomes a sentence break.
    """
    problems = Problems()
    if is_empty(text, problems, "lyric"):
        return LyricSong([]), problems
    tags = []  # (start, end, raw)
    for m in _TAG_OR_BRACKET.finditer(text):
        if m.group(1) is None:
            problems.add("stray-bracket", f"{m.group()!r} opens or closes no tag", m.start(), fix="remove it")
        else:
            tags.append((m.start(), m.end(), m.group(1)))
    stray = {p.start for p in problems.items}
    sections: list[LyricSection] = []
    prefix_end = tags[0][0] if tags else len(text)
    _scan_prefix(text, 0, prefix_end, stray, problems, sections)
    for i, (start, end, raw) in enumerate(tags):
        body_end = tags[i + 1][0] if i + 1 < len(tags) else len(text)
        _scan_section(text, start, end, raw, body_end, i + 1 == len(tags), stray, problems, sections)
    if sections and not any(s.vocal and s.lines for s in sections):
        problems.add("no-vocal-section", "no [verse], [chorus] or [bridge] with lyrics", 0, len(text),
                     fix="none: add a [verse] with lyrics")
    return LyricSong(sections), problems


def _scan_prefix(text: str, start: int, end: int, stray: set[int], problems: Problems,
                 sections: list[LyricSection]) -> None:
    """Text before the first tag: separators are noise, lyrics get a ``[verse]``."""
    lo, hi = content_bounds(text, start, end)
    if not text[lo:hi].strip(_SEPARATORS + " \t\r\n"):
        for i in range(lo, hi):
            if text[i] in _SEPARATORS:
                problems.add("edge-separator", "separator before the first section", i, fix="remove it")
        return
    lines = scan_sentences(text, lo, hi, problems, stray)
    if lines and any(words(line.text) for line in lines):
        problems.add("text-before-tag", "lyrics before the first tag", lo, hi, fix="put them under [verse]")
        sections.append(LyricSection("verse", lines=lines))


def _scan_section(text: str, start: int, end: int, raw: str, body_end: int, last: bool, stray: set[int],
                  problems: Problems, sections: list[LyricSection]) -> None:
    seps = []  # separators after the lyrics, nearest the next tag first
    j = body_end
    while True:
        while j > end and text[j - 1].isspace():
            j -= 1
        if j > end and text[j - 1] in _SEPARATORS:
            seps.append(j - 1)
            j -= 1
        else:
            break
    if last:
        for i in seps:
            problems.add("edge-separator", "separator after the last section", i, fix="remove it")
    elif not seps:
        problems.add("missing-separator", "no ';' before the next tag", body_end, body_end + 1, fix="insert ' ; '")
    else:
        close = seps[0]
        for i in seps[1:]:
            problems.add("stray-separator", "two separators in a row", i, fix="remove it")
        if text[close] != ";":
            problems.add("fullwidth-punct", f"full-width {text[close]!r} as section separator", close, fix="' ; '")
        if text[j:close] != " " or text[close + 1:body_end] != " ":
            written = text[j:body_end].replace("\n", "\\n")
            problems.add("separator-spacing", f"separator written as {written!r}", j, body_end, fix="' ; '")
    lo, hi = content_bounds(text, end, j)
    lines = scan_sentences(text, lo, hi, problems, stray) if lo < hi else []
    has_words = any(words(line.text) for line in lines)
    if has_words and text[end:lo] != " ":
        problems.add("tag-spacing", "lyrics should follow the tag after one space", end, lo, fix="one space")
    label, tag = _resolve(raw, start, end, has_words, problems)
    if has_words:
        _check_final_period(text, lo, hi, problems)
    if label in VOCAL_LABELS or not has_words:
        if label in VOCAL_LABELS and not has_words:
            problems.add("empty-vocal-section", f"[{tag}] has no lyrics", start, end,
                         fix=f"[{levo_tag_for('inst')}] (a section without words is instrumental)")
        sections.append(LyricSection(label, tag, lines if has_words else []))
        return
    problems.add("lyrics-in-instrumental", f"[{tag}] carries no lyrics", lo, hi, fix=f"[{tag}] ; [verse] ...")
    sections.append(LyricSection(label, tag))
    sections.append(LyricSection("verse", lines=lines))


def _resolve(raw: str, start: int, end: int, has_words: bool, problems: Problems) -> tuple[str, str]:
    """The label and LeVo tag a written tag stands for, reporting how it was written."""
    match = resolve_tag(raw)
    if match.known:
        label = "silence" if match.label == BLANK else match.label
        tag = levo_tag_for(label, match.suffix)
    else:
        label = "verse" if has_words else "inst"
        tag = levo_tag_for(label)
    if raw == tag:
        return label, tag
    if not match.known or match.form == "alias" or match.label == BLANK:
        problems.add("unknown-tag", f"[{raw}] is not a LeVo tag", start, end, fix=f"[{tag}]")
    elif match.form == "exact" and label in INSTRUMENTAL_LABELS:
        problems.add("tag-length", f"[{raw}] needs a length", start, end, fix=f"[{tag}]")
    else:
        problems.add("tag-form", f"[{raw}] is written differently from [{tag}]", start, end, fix=f"[{tag}]")
    return label, tag


def _check_final_period(text: str, lo: int, hi: int, problems: Problems) -> None:
    cjk = is_cjk_text(text[lo:hi])
    ends_with_period = text[hi - 1] == "."
    if not cjk and not ends_with_period:
        problems.add("missing-final-period", "an English section ends its last sentence with '.'", hi - 1, hi,
                     fix="add '.'")
    elif cjk and ends_with_period:
        problems.add("cjk-final-period", "a Chinese section does not end with '.'", hi - 1, hi, fix="remove it")


