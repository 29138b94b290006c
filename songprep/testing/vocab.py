"""Small curated lyric vocabularies, and a line maker that hits an exact word count.

A line is a sequence of slots (e.g. lead-in, subject+verb, complement); each slot offers phrases
grouped by word count, and a phrase of length 0 means "skip the slot". Lines therefore read as
plausible short lyrics ("tonight we dance under the stars") while the melody fixes their length.

Chinese counts one word per character; each character carries its pinyin, because the espeak-ng
Mandarin dictionary shipped by distributions lacks most characters and reads pinyin reliably.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

#: (slot name, phrases). A phrase is space-separated words; "" skips the slot.
Slots = tuple[tuple[str, tuple[str, ...]], ...]

EN_SLOTS: Slots = (
    ("lead", ("", "oh", "and", "so", "now", "tonight", "hold on", "come on", "all night", "every day")),
    (
        "subject_verb",
        (
            "we run", "we dance", "I wait", "you shine", "we rise", "I fall", "we sing", "you call",
            "I dream", "we drive", "we burn", "I walk", "we fly", "you smile", "we stay", "I listen",
        ),
    ),
    (
        "complement",
        (
            "away", "tonight", "again", "alone", "forever", "together", "slowly",
            "for you", "back home", "so high", "with you", "in time", "all night",
            "through the night", "into the light", "under the stars", "down the road", "like a river",
            "with the wind", "in the rain", "close to me", "out of time", "by the sea",
            "till the morning comes", "across the silver sea", "where the rivers meet",
            "in the golden light", "on the open road", "through the summer rain",
        ),
    ),
)

ES_SLOTS: Slots = (
    ("lead", ("", "oh", "y", "hoy", "ya", "esta noche", "otra vez", "mi amor")),
    (
        "verb",
        (
            "bailamos", "cantamos", "soñamos", "corremos", "volamos", "vivimos",
            "te espero", "te llamo", "yo canto", "tú brillas", "te busco", "me quedo",
        ),
    ),
    (
        "complement",
        (
            "juntos", "contigo", "siempre", "despacio",
            "sin miedo", "por ti", "en silencio", "sin final",
            "bajo la luna", "hasta el amanecer", "en la ciudad", "como el viento",
            "bajo las estrellas", "por el camino", "cerca del mar", "toda la noche",
            "con el corazón abierto", "bajo la lluvia fría", "en la luz dorada", "por las calles vacías",
        ),
    ),
)

#: Chinese phrases as "汉字|pinyin pinyin" (one pinyin syllable per character).
ZH_SLOTS: Slots = (
    ("time", ("", "今夜|jin1 ye4", "明天|ming2 tian1", "春天|chun1 tian1", "夜里|ye4 li3", "清晨|qing1 chen2",
              "现在|xian4 zai4", "今天|jin1 tian1")),
    ("subject", ("我|wo3", "你|ni3", "他|ta1", "大家|da4 jia1", "你我|ni3 wo3")),
    ("adverb", ("", "一起|yi4 qi3", "慢慢|man4 man4", "还在|hai2 zai4", "永远|yong3 yuan3", "轻轻|qing1 qing1")),
    ("verb", ("想|xiang3", "爱|ai4", "唱|chang4", "看|kan4", "等|deng3", "走|zou3", "飞|fei1", "听|ting1",
              "追|zhui1")),
    (
        "complement",
        (
            "你|ni3", "风|feng1", "雨|yu3", "光|guang1", "海|hai3",
            "大海|da4 hai3", "月亮|yue4 liang4", "星星|xing1 xing1", "远方|yuan3 fang1", "天空|tian1 kong1",
            "风声|feng1 sheng1", "花开|hua1 kai1", "梦想|meng4 xiang3", "阳光|yang2 guang1",
            "那片海|na4 pian4 hai3", "满天星|man3 tian1 xing1", "回家路|hui2 jia1 lu4", "春天里|chun1 tian1 li3",
        ),
    ),
)

SLOTS: dict[str, Slots] = {"en": EN_SLOTS, "es": ES_SLOTS, "zh": ZH_SLOTS}
LANGUAGES = tuple(SLOTS)


@dataclass(frozen=True)
class LyricWord:
    """A word as written in the lyrics, and the text espeak-ng is given to sing it."""

    text: str
    spoken: str


def _phrase_words(language: str, phrase: str) -> list[LyricWord]:
    if not phrase:
        return []
    if language == "zh":
        hanzi, pinyin = phrase.split("|")
        syllables = pinyin.split()
        if len(syllables) != len(hanzi):
            raise ValueError(f"pinyin does not match characters in {phrase!r}")
        return [LyricWord(c, s) for c, s in zip(hanzi, syllables)]
    return [LyricWord(w, w) for w in phrase.split()]


def _by_length(language: str) -> list[dict[int, list[list[LyricWord]]]]:
    out = []
    for _, phrases in SLOTS[language]:
        groups: dict[int, list[list[LyricWord]]] = {}
        for phrase in phrases:
            words = _phrase_words(language, phrase)
            groups.setdefault(len(words), []).append(words)
        out.append(groups)
    return out


def line_lengths(language: str) -> tuple[int, int]:
    """The shortest and longest line the vocabulary can make."""
    slots = _by_length(language)
    return sum(min(g) for g in slots), sum(max(g) for g in slots)


def make_line(rng: np.random.Generator, language: str, n_words: int) -> list[LyricWord]:
    """A lyric line of exactly ``n_words`` words, drawn with ``rng``."""
    slots = _by_length(language)
    shapes = [s for s in product(*(sorted(g) for g in slots)) if sum(s) == n_words]
    if not shapes:
        raise ValueError(f"no {language} line of {n_words} words; range is {line_lengths(language)}")
    shape = shapes[int(rng.integers(len(shapes)))]
    words: list[LyricWord] = []
    for groups, length in zip(slots, shape):
        options = groups[length]
        words.extend(options[int(rng.integers(len(options)))])
    return words


def join_line(language: str, words: list[LyricWord]) -> str:
    """Chinese lines are written without spaces; the others with."""
    return ("" if language == "zh" else " ").join(w.text for w in words)
