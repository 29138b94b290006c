"""Grapheme-to-phoneme per language, batched and cached: the phoneme side of PER.

What each language uses, and why (checked by hand against espeak-ng 1.51's own output):

* **en, es and every other language but zh/ja** (fr, de, it, pt, ko, nl, sv, da, fi, pl, cs, ro, hu,
  ru, uk, tr, id, ca, el): phonemizer's espeak-ng backend in that language's own voice (``en-us``,
  ``es``, ``fr-fr``, ...), stress marks off, one token per phone. Each distinct word is phonemized
  once (cached), so a word the recogniser got right always yields the same phones as the reference:
  an error is never a context artefact of the g2p.
* **zh**: espeak-ng's Mandarin voice reads many hanzi as English letter names (``爱`` comes out as
  ``(en)nɪθɹiː(cmn)``, with language-switch flags), so zh uses ``pypinyin`` as VERSA does: per
  syllable, the initial and the tone-marked final (``我爱你`` -> ``uo3 ai4 n i3``), with pypinyin's
  phrase dictionary choosing polyphone readings in context. Latin words inside zh lyrics go to
  espeak-ng ``en-us``.
* **ja**: espeak-ng's Japanese voice reads kana but not kanji (each kanji becomes "Chinese letter").
  ``pyopenjtalk`` (VERSA's choice) downloads its dictionary at first use, so ja converts the text to
  hiragana with ``pykakasi`` (its dictionary ships in the wheel) and phonemizes the kana with
  espeak-ng ``ja``. Without pykakasi it falls back to espeak-ng on the raw text, and says so in
  :func:`g2p_choices`. Known limit: the particle は is read "ha", not "wa", on both sides alike.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata

from songprep.errors import UsageError
from songprep.evaluation.normalise import LANGUAGES

ESPEAK_VOICES = {"en": "en-us", "es": "es", "ja": "ja", "zh": "cmn", "fr": "fr-fr", "de": "de", "it": "it",
                 "pt": "pt", "ko": "ko", "nl": "nl", "sv": "sv", "da": "da", "fi": "fi", "pl": "pl", "cs": "cs",
                 "ro": "ro", "hu": "hu", "ru": "ru", "uk": "uk", "tr": "tr", "id": "id", "ca": "ca", "el": "el"}
#: Languages phonemized by espeak-ng directly, word by word, in their own voice (all but zh and ja).
ESPEAK_DIRECT = tuple(lang for lang in ESPEAK_VOICES if lang not in ("zh", "ja"))
_LATIN_WORD = re.compile(r"[a-z][a-z']*")


@dataclass(frozen=True)
class G2PChoice:
    """Which g2p a language uses, with versions: goes into the protocol."""

    language: str
    backend: str
    versions: str
    unit: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


@lru_cache(maxsize=1)
def espeak_version() -> str:
    try:
        from phonemizer.backend import EspeakBackend

        return ".".join(str(v) for v in EspeakBackend.version())
    except Exception as err:  # espeak-ng not installed
        return f"unavailable ({type(err).__name__})"


def _has_pykakasi() -> bool:
    try:
        import pykakasi  # noqa: F401
    except ImportError:
        return False
    return True


def g2p_choices(languages: tuple[str, ...] = LANGUAGES) -> dict[str, dict[str, str]]:
    """Per language: backend, versions, unit, note. Recorded verbatim in the protocol."""
    espeak = f"phonemizer {_version('phonemizer')}, espeak-ng {espeak_version()}"
    out = {}
    for lang in languages:
        if lang in ESPEAK_DIRECT:
            choice = G2PChoice(lang, f"espeak-ng ({ESPEAK_VOICES[lang]})", espeak, "phone",
                               "stress off; each distinct word phonemized once (context-free)")
        elif lang == "zh":
            choice = G2PChoice(lang, "pypinyin (initial + tone3 final); latin words via espeak-ng en-us",
                               f"pypinyin {_version('pypinyin')}; {espeak}", "initial / toned final",
                               "espeak-ng cmn reads many hanzi as English letter names, so it is not used")
        elif lang == "ja" and _has_pykakasi():
            choice = G2PChoice(lang, "pykakasi -> hiragana -> espeak-ng (ja)",
                               f"pykakasi {_version('pykakasi')}; {espeak}", "phone",
                               "pyopenjtalk needs a dictionary download; pykakasi ships its data in the wheel")
        elif lang == "ja":
            choice = G2PChoice(lang, "espeak-ng (ja), fallback", espeak, "phone",
                               "pykakasi not installed: kanji are read badly by espeak-ng (install pykakasi)")
        else:
            raise UsageError(f"no g2p for language {lang!r}; supported: {', '.join(LANGUAGES)}")
        out[lang] = choice.to_dict()
    return out


class G2P:
    """Phonemizes normalised texts in batches, caching per word (en/es/ja) or per text (zh).

    >>> G2P().phonemize(["hola mundo"], "es")
    [['o', 'l', 'a', 'm', 'u', 'n', 'd', 'o']]
    """

    def __init__(self) -> None:
        self._backends: dict[str, object] = {}
        self._word_cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._text_cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._kakasi = None

    def phonemize(self, texts: list[str], language: str) -> list[list[str]]:
        """Phone tokens for each (already normalised) text; word boundaries are not tokens."""
        if language not in LANGUAGES:
            raise UsageError(f"no g2p for language {language!r}; supported: {', '.join(LANGUAGES)}")
        if language == "zh":
            return [list(self._zh(text)) for text in texts]
        if language == "ja":
            texts = [self._to_kana(text) for text in texts]
        split = [text.split() for text in texts]
        self._fill_words({w for ws in split for w in ws}, ESPEAK_VOICES[language])
        voice = ESPEAK_VOICES[language]
        return [[p for w in ws for p in self._word_cache[(voice, w)]] for ws in split]

    def _fill_words(self, words: set[str], voice: str) -> None:
        """Phonemize the words not yet cached, in one espeak call."""
        todo = sorted(w for w in words if (voice, w) not in self._word_cache)
        if not todo:
            return
        from phonemizer.separator import Separator

        backend = self._backend(voice)
        out = backend.phonemize(todo, separator=Separator(phone=" ", word=" | ", syllable=""), strip=True,
                                njobs=1)
        for word, phones in zip(todo, out):
            self._word_cache[(voice, word)] = tuple(p for p in phones.split() if p != "|")

    def _backend(self, voice: str):
        if voice not in self._backends:
            import logging

            from phonemizer.backend import EspeakBackend

            from songprep.tools import ToolMissingError

            if not EspeakBackend.is_available():  # phonemizer loads libespeak-ng (it does not run the program)
                raise ToolMissingError.for_tool("espeak-ng")
            quiet = logging.getLogger("songprep.evaluation.g2p.phonemizer")
            quiet.setLevel(logging.ERROR)
            self._backends[voice] = EspeakBackend(voice, with_stress=False, language_switch="remove-flags",
                                                  preserve_punctuation=False, logger=quiet)
        return self._backends[voice]

    def _zh(self, text: str) -> tuple[str, ...]:
        key = ("zh", text)
        if key in self._text_cache:
            return self._text_cache[key]
        from pypinyin import Style, lazy_pinyin

        hanzi = "".join(text.split())  # normalised zh has a space between characters: rejoin for phrases
        tokens: list[str] = []
        for chunk in re.split(r"([a-z][a-z']*)", hanzi):
            if not chunk:
                continue
            if _LATIN_WORD.fullmatch(chunk):
                self._fill_words({chunk}, "en-us")
                tokens.extend(self._word_cache[("en-us", chunk)])
                continue
            for syllable in lazy_pinyin(chunk, style=Style.TONE, errors=lambda s: [""] * len(s)):
                if syllable:
                    tokens.extend(_split_syllable(syllable))
        result = tuple(tokens)
        self._text_cache[key] = result
        return result

    def _to_kana(self, text: str) -> str:
        """Hiragana in pykakasi's word chunks (normalised ja arrives split per character)."""
        if not _has_pykakasi():
            return "".join(text.split())
        key = ("ja-kana", text)
        if key not in self._text_cache:
            if self._kakasi is None:
                import pykakasi

                self._kakasi = pykakasi.kakasi()
            kana = " ".join(part["hira"] for part in self._kakasi.convert("".join(text.split())))
            self._text_cache[key] = (kana,)
        return self._text_cache[key][0]


@lru_cache(maxsize=8192)
def _split_syllable(syllable: str) -> tuple[str, ...]:
    """``"zhōng"`` -> ``("zh", "ong1")``: the initial (if any) and the tone-numbered final (neutral = 5)."""
    from pypinyin.contrib.tone_convert import to_finals_tone3, to_initials

    initial = to_initials(syllable, strict=True)
    final = to_finals_tone3(syllable, strict=True, neutral_tone_with_five=True)
    return tuple(t for t in (initial, final) if t)
