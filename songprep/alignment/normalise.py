"""Reference text -> word tokens, one per lyric word, with the forms matching and synthesis need.

A "word" is what the dataset's ``words`` column holds: whitespace-separated tokens for space-delimited
languages and one token per character for Chinese (CJK ideographs), the convention the test corpus
and LeVo use. Each token carries a matching key (case- and accent-folded; toneless pinyin for
hanzi, so ASR homophones still match) and a spoken form for the guide synthesiser.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


@dataclass(frozen=True)
class RefWord:
    """One reference word: its text as written, its matching key, how to say it, and its line.

    >>> reference_words(["Hold on, tonight!"], "en")[2]
    RefWord(text='tonight', key='tonight', spoken='tonight', line=0)
    """

    text: str
    key: str
    spoken: str
    line: int


def fold(text: str) -> str:
    """Case- and accent-folded letters and digits only: ``"Canción!" -> "cancion"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _pinyin(char: str, tones: bool) -> str:
    from pypinyin import Style, lazy_pinyin

    style = Style.TONE3 if tones else Style.NORMAL
    syllables = lazy_pinyin(char, style=style, neutral_tone_with_five=True)
    return syllables[0] if syllables else char


def tokens(text: str) -> list[str]:
    """Word tokens of one line: CJK characters one by one, other runs split on whitespace, edge punctuation off."""
    out = []
    for raw in _TOKEN.findall(text):
        word = raw if _CJK.fullmatch(raw) else _EDGE_PUNCT.sub("", raw)
        if word:
            out.append(word)
    return out


def word_key(word: str) -> str:
    """The form two words are compared in (ASR output against reference)."""
    if _CJK.fullmatch(word):
        return _pinyin(word, tones=False)
    return fold(word)


def spoken_form(word: str) -> str:
    """What the guide synthesiser is given: tone-numbered pinyin for hanzi, the word itself otherwise."""
    if _CJK.fullmatch(word):
        return _pinyin(word, tones=True)
    return word


def reference_words(lines: list[str], language: str) -> list[RefWord]:
    """Every word of the reference lines, in order (``language`` is kept for languages needing rules)."""
    del language  # tokenisation is script-driven; the parameter keeps the call site honest
    return [RefWord(w, word_key(w), spoken_form(w), i) for i, line in enumerate(lines) for w in tokens(line)]


def split_cjk(word: str) -> list[str]:
    """An ASR token as reference-style tokens (a multi-character Chinese word becomes its characters)."""
    return tokens(word)
