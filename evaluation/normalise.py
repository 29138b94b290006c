"""Text normalisation before any error rate: the same rules for reference and hypothesis, recorded.

Why: an error rate is only comparable across systems and papers if both sides were normalised the
same way. The rules here (lower case, punctuation dropped, numbers spelled out in the song's
language, CJK split into one token per character) are returned by :func:`normaliser_rules` and go
into every report's protocol.

>>> normalise_text("Don't stop, it's 42!", "en")
"don't stop it's forty two"
>>> normalise_text("我爱你，中国", "zh")
'我 爱 你 中 国'
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: What the evaluator scores: the languages with a g2p here (espeak-ng for all but zh and ja).
LANGUAGES = ("en", "zh", "es", "ja", "fr", "de", "it", "pt", "ko", "nl", "sv", "da", "fi", "pl", "cs", "ro", "hu",
             "ru", "uk", "tr", "id", "ca", "el")
NORMALISER_VERSION = "1"

_CJK = (
    "\u3040-\u309f"  # hiragana
    "\u30a0-\u30ff"  # katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # han
    "\uff66-\uff9f"  # half-width katakana
)
_CJK_CHAR = re.compile(f"([{_CJK}])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# An apostrophe inside a word is part of it (don't, l'amour); everywhere else it is punctuation.
_INNER_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")


class _PunctuationTable(dict):
    """``str.translate`` table: Unicode punctuation and symbols -> space, decided once per character."""

    def __missing__(self, code: int) -> int:
        value = 32 if unicodedata.category(chr(code))[0] in "PS" else code
        self[code] = value
        return value


_PUNCTUATION_TO_SPACE = _PunctuationTable()


def normaliser_rules() -> dict[str, str]:
    """What :func:`normalise_text` does, in words: recorded in every protocol."""
    return {
        "version": NORMALISER_VERSION,
        "unicode": "NFKC",
        "case": "lower case (str.lower)",
        "punctuation": "every Unicode punctuation/symbol character becomes a space; apostrophes inside a word "
                       "are kept (don't, l'amour)",
        "numbers": "digits spelled out in the song's language (num2words; a built-in reader for zh; digits left "
                   "to espeak-ng where num2words has no such language: el)",
        "cjk": "han, hiragana and katakana split into one token per character (WER on zh/ja counts characters)",
        "whitespace": "collapsed to single spaces",
        "libraries": f"num2words {_num2words_version()}",
    }


def _num2words_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("num2words")
    except metadata.PackageNotFoundError:
        return "absent"


def normalise_text(text: str, language: str) -> str:
    """Lower-cased, punctuation-free, numbers as words, CJK split per character, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _NUMBER.sub(lambda m: f" {spell_number(m.group(0), language)} ", text)
    text = _INNER_APOSTROPHE.sub("\x00", text)
    text = text.translate(_PUNCTUATION_TO_SPACE)
    text = text.replace("\x00", "'")
    text = _CJK_CHAR.sub(r" \1 ", text)
    return " ".join(text.split())


def words(text: str, language: str) -> list[str]:
    """The WER tokens of a text: its normalised words (characters for CJK)."""
    return normalise_text(text, language).split()


def characters(text: str, language: str) -> list[str]:
    """The CER tokens: the normalised text's characters, spaces left out."""
    return [c for c in normalise_text(text, language) if not c.isspace()]


@lru_cache(maxsize=4096)
def spell_number(number: str, language: str) -> str:
    """``"42"`` -> ``"forty two"`` (en), ``"cuarenta y dos"`` (es), ``"四十二"`` (zh, ja)."""
    digits = number.replace(",", ".")
    if language == "zh":
        whole, _, frac = digits.partition(".")
        spoken = _zh_integer(int(whole))
        return spoken + ("点" + "".join(_ZH_DIGITS[int(d)] for d in frac) if frac else "")
    try:
        from num2words import num2words
    except ImportError:  # without num2words, digits are left for the phonemizer to read
        return number
    value: float | int = float(digits) if "." in digits else int(digits)
    try:
        spoken = num2words(value, lang=language if language in LANGUAGES else "en")
    except NotImplementedError:  # num2words does not speak it (el): the phonemizer reads the digits
        return number
    return spoken.replace("-", " ").replace(",", " ")


_ZH_DIGITS = "零一二三四五六七八九"


def _zh_integer(n: int) -> str:
    """Mandarin reading of a non-negative integer below 10^12 (一千九百九十九, 两 not used)."""
    if n < 10:
        return _ZH_DIGITS[n]
    if n >= 10**12:
        return "".join(_ZH_DIGITS[int(d)] for d in str(n))
    parts = []
    for unit, size in (("亿", 10**8), ("万", 10**4), ("", 1)):
        chunk = (n // size) % 10**4 if size < 10**8 else n // size
        if chunk:
            parts.append((_zh_below_10000(chunk, pad=bool(parts)), unit))
        elif parts and parts[-1][0] != "零":
            parts.append(("零", ""))
    text = "".join(a + u for a, u in parts).rstrip("零")
    return text[1:] if text.startswith("一十") else text


def _zh_below_10000(n: int, pad: bool) -> str:
    out, zero = [], pad and n < 1000
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        d = (n // size) % 10
        if d:
            if zero and out:
                out.append("零")
            elif zero and not out and pad:
                out.append("零")
            out.append(_ZH_DIGITS[d] + unit)
            zero = False
        elif out:
            zero = True
    return "".join(out)
