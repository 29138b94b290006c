"""Lyric text helpers every dialect shares: what a word is, CJK detection, and safe sentences.

Separators differ per dialect (``.`` and ``;`` in LeVo, ``,`` in SongBloom, newlines in YuE and
LRC), so a renderer must never let a separator character through inside a lyric line:
:func:`split_sentences` turns a line into separator-free sentences without losing a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

#: CJK ideographs and kana: each character is a word (no spaces between words).
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CHARS}]")
_WORD = re.compile(f"[{CJK_CHARS}]|[^\\W_]+(?:['\u2019][^\\W_]+)*")

#: Punctuation that ends a sentence (or a phrase) in lyrics, at any width. LeVo's own data writes
#: every phrase break, commas included, as ``.``, so all of these become sentence breaks.
SENTENCE_BREAKS = frozenset(".,;:!?\n\r\u3002\uff0e\uff0c\u3001\uff1b\uff1a\uff01\uff1f\u2026\u00b7\uff5e")
_APOSTROPHES = "'\u2019\u2018\u02bc\uff07"
_HYPHENS = "-\u2010\u2011"


def is_cjk_char(char: str) -> bool:
    return bool(_CJK.match(char))


def is_cjk_text(text: str) -> bool:
    """True when CJK characters make up at least half of the letters (words are not space-delimited)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(_CJK.match(c)) for c in letters) * 2 >= len(letters)


def words(text: str) -> list[str]:
    """The lyric words of a text: CJK characters one by one, other words by letters and digits.

    Punctuation is not part of a word and typographic apostrophes count as ``'``, so fixing
    punctuation never changes the words. ``words("We’re 2 hearts, 一颗心") ==
    ["We're", "2", "hearts", "一", "颗", "心"]``.
    """
    return [w.replace("\u2019", "'") for w in _WORD.findall(text)]


def all_words(lines: Iterable[str]) -> list[str]:
    return [w for line in lines for w in words(line)]


def joins_word(text: str, i: int) -> bool:
    """Whether the apostrophe or hyphen at ``text[i]`` belongs to a word (``can't``, ``oh-oh``, ``singin'``)."""
    char = text[i]
    before = i > 0 and text[i - 1].isalnum()
    after = i + 1 < len(text) and text[i + 1].isalnum()
    if char in _APOSTROPHES:
        return before or after
    if char in _HYPHENS:
        return before and after
    return False


def split_sentences(line: str) -> list[str]:
    """Separator-free sentences of one lyric line, words unchanged.

    Sentence punctuation (``. , ; : ! ?`` at either width, newlines) splits; other punctuation and
    symbols (quotes, brackets, dashes) become spaces; typographic apostrophes become ``'``.
    ``split_sentences("Oh-oh-oh, we’re (fading)")  == ["Oh-oh-oh", "we're fading"]``.
    """
    sentences: list[str] = []
    current: list[str] = []
    for i, char in enumerate(line):
        if char.isalnum() or char == " ":
            current.append(char)
        elif char in _APOSTROPHES or char in _HYPHENS:
            if joins_word(line, i):
                current.append("'" if char in _APOSTROPHES else "-")
            else:
                current.append(" ")
        elif char in SENTENCE_BREAKS:
            sentences.append("".join(current))
            current = []
        elif char.isspace():
            current.append(" ")
        elif is_letter_like(char):
            current.append(char)
        else:
            current.append(" ")
    sentences.append("".join(current))
    return [s for s in (" ".join(part.split()) for part in sentences) if s]


def is_letter_like(char: str) -> bool:
    """Letters, digits and combining marks (which belong to the letter before them: Devanagari, Thai)."""
    return unicodedata.category(char)[0] in "LMN"


def sentences_of(lines: Sequence[str]) -> list[str]:
    """:func:`split_sentences` over a section's lines."""
    return [s for line in lines for s in split_sentences(line)]
