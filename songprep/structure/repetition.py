"""Lyric repetition: which sung words the song sings again elsewhere, the strongest chorus evidence there is.

A chorus is the text a song comes back to. The song's words (case- and accent-folded, sung-alike
consonants merged: :func:`sound_key`) are compared with
themselves at every lag, the way a self-similarity matrix is read along its diagonals: a stretch where
the words match the words ``lag`` positions later marks both copies as repeated. A stretch is scored
+1 per matching word and ``-MISMATCH_COST`` per other word, so a transcript's odd misheard word does
not break a chorus in two, and it counts once it reaches :data:`MIN_RUN_WORDS`. Lags shorter than
that are left out: "te amo te amo te amo" repeats a two-word unit inside one line, not a line.

Works the same on reference lyrics (exact repeats) and on transcripts (repeats with errors); the words
are taken in sung order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from songprep.alignment.normalise import fold
from songprep.records import Word

#: A repeated stretch holds at least this many matching words (a short line's worth; 4 let a verse line that
#: opens like the chorus line count as chorus).
MIN_RUN_WORDS = 5
#: Score of a non-matching word inside a stretch (matches score 1): one miss per two hits is tolerated.
MISMATCH_COST = 2.0


def repeated_words(tokens: Sequence[str]) -> np.ndarray:
    """A 0/1 float per token: 1 where the token lies in a stretch the song sings again (see the module)."""
    ids: dict[str, int] = {}
    keys = [sound_key(t) for t in tokens]
    seq = np.array([ids.setdefault(k, len(ids)) if k else -1 - i for i, k in enumerate(keys)])
    n = seq.shape[0]
    out = np.zeros(n)
    for lag in range(MIN_RUN_WORDS, n):
        match = seq[:-lag] == seq[lag:]
        if match.sum() < MIN_RUN_WORDS:
            continue
        for a, b in _stretches(match):
            out[a:b] = 1.0
            out[a + lag:b + lag] = 1.0
    return out


#: Consonants a recogniser confuses in singing (voiced / voiceless pairs), mapped onto one.
_SOUND = str.maketrans({"d": "t", "b": "p", "v": "p", "g": "k", "c": "k", "q": "k", "z": "s", "h": None})


def sound_key(word: str) -> str:
    """The word folded (case, accents) with sung-alike consonants merged and doubled letters single:
    ``"de" -> "te"``, ``"gatas" -> "katas"``, so a transcript's "de amo" still repeats "te amo"."""
    key = fold(word).translate(_SOUND)
    return "".join(c for i, c in enumerate(key) if i == 0 or c != key[i - 1])


def word_repetition(words: Sequence[Word]) -> np.ndarray:
    """:func:`repeated_words` of timed words, taken in the order they are sung."""
    order = sorted(range(len(words)), key=lambda i: (words[i].start_s, i))
    flags = repeated_words([words[i].word for i in order])
    out = np.zeros(len(words))
    out[order] = flags
    return out


def _stretches(match: np.ndarray) -> list[tuple[int, int]]:
    """Maximal-score stretches ``[a, b)`` of a match vector whose matches reach MIN_RUN_WORDS (Kadane with resets)."""
    found = []
    score = best = 0.0
    start = best_end = 0
    hits = best_hits = 0
    for i, m in enumerate(match):
        score += 1.0 if m else -MISMATCH_COST
        hits += int(m)
        if score <= 0:
            if best_hits >= MIN_RUN_WORDS:
                found.append((start, best_end))
            score = best = 0.0
            hits = best_hits = 0
            start = i + 1
        elif score >= best:  # a tie extends the stretch: the longer copy
            best, best_end, best_hits = score, i + 1, hits
    if best_hits >= MIN_RUN_WORDS:
        found.append((start, best_end))
    return found


def bar_repetition(bar_starts_s: np.ndarray, words: Sequence[Word], flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bar (``bar_starts_s`` holds the bar lines, last = the song's end): the number of words sung in it
    (by midpoint) and the share of them that are repeated (0 where none is sung)."""
    n = bar_starts_s.shape[0] - 1
    count, hits = np.zeros(n), np.zeros(n)
    for w, f in zip(words, flags):
        k = int(np.clip(np.searchsorted(bar_starts_s, (w.start_s + w.end_s) / 2, side="right") - 1, 0, n - 1))
        count[k] += 1
        hits[k] += f
    return count, np.divide(hits, count, out=np.zeros(n), where=count > 0)


def lyric_changes(count: np.ndarray, share: np.ndarray) -> list[int]:
    """Bar indices where the words change between sung-again and sung-once (a chorus starts or ends).

    Each bar with words is "repeated" when most of its words are; the states are smoothed by a
    median over three sung bars (one misheard bar does not cut a chorus), and a change is placed at the
    first bar of the new state; bars without words between two states take no side.
    """
    sung = np.flatnonzero(count > 0)
    if sung.size < 2:
        return []
    state = (share[sung] > 0.5).astype(float)
    padded = np.r_[state[0], state, state[-1]]
    smooth = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    return [int(sung[i]) for i in range(1, sung.size) if smooth[i] != smooth[i - 1]]
