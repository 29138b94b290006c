"""ASR words -> anchors on the reference: an edit-distance alignment of normalised word keys.

The alignment is global and order-preserving, so the third chorus's "tonight" in the transcript can
only anchor the third chorus's "tonight" in the text. Where a sparse transcript leaves the order
ambiguous (one "tonight" heard, three choruses sung), a small tie-break cost prefers the occurrence
whose place in the text is closest to the word's place in time. Only exact key matches (or near
matches: one edit in a word of five letters or more) become anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

from songprep.alignment.normalise import RefWord, split_cjk, word_key
from songprep.records import Word

#: DP costs: a match is free, a near match cheap, anything else one edit; ties broken by relative position.
_NEAR_COST = 0.4
_POSITION_COST = 0.3


@dataclass(frozen=True)
class Anchor:
    """Reference word ``ref`` was heard by ASR at ``start_s``..``end_s`` (ASR's own times)."""

    ref: int
    start_s: float
    end_s: float
    exact: bool


def asr_tokens(words: list[Word]) -> list[tuple[str, float, float]]:
    """ASR words as (key, start, end) in reference-style tokens; a multi-character Chinese word shares its span."""
    out = []
    for w in words:
        parts = split_cjk(w.word)
        if not parts:
            continue
        step = (w.end_s - w.start_s) / len(parts)
        for i, part in enumerate(parts):
            key = word_key(part)
            if key:
                out.append((key, w.start_s + i * step, w.start_s + (i + 1) * step))
    return out


def _edits_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def _pair_cost(ref: str, hyp: str) -> float:
    if ref == hyp:
        return 0.0
    if min(len(ref), len(hyp)) >= 5 and _edits_at_most_one(ref, hyp):
        return _NEAR_COST
    return 1.0


def match_keys(ref: list[str], hyp: list[str], hyp_place: list[float] | None = None) -> list[tuple[int, int]]:
    """(ref index, hyp index) pairs of the cheapest edit script whose paired words (nearly) agree.

    ``hyp_place``: each hyp word's relative place in the song (0..1, e.g. from its time), to break ties.
    """
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        return []
    place = hyp_place if hyp_place is not None else [j / max(m - 1, 1) for j in range(m)]
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    move = [[0] * (m + 1) for _ in range(n + 1)]  # 1 diagonal, 2 skip ref word, 3 skip hyp word
    cost[0] = [float(j) for j in range(m + 1)]
    for j in range(1, m + 1):
        move[0][j] = 3
    for i in range(1, n + 1):
        row, prev, mv = cost[i], cost[i - 1], move[i]
        row[0], mv[0] = float(i), 2
        r = ref[i - 1]
        r_place = (i - 1) / max(n - 1, 1)
        for j in range(1, m + 1):
            pair = _pair_cost(r, hyp[j - 1])
            if pair < 1.0:
                pair += _POSITION_COST * abs(r_place - place[j - 1])
            best, how = prev[j - 1] + pair, 1
            if prev[j] + 1.0 < best:
                best, how = prev[j] + 1.0, 2
            if row[j - 1] + 1.0 < best:
                best, how = row[j - 1] + 1.0, 3
            row[j], mv[j] = best, how
    pairs = []
    i, j = n, m
    while i > 0 or j > 0:
        how = move[i][j]
        if how == 1:
            if _pair_cost(ref[i - 1], hyp[j - 1]) < 1.0:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif how == 2:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def find_anchors(ref_words: list[RefWord], asr_words: list[Word]) -> list[Anchor]:
    """Anchors of the reference in an ASR transcript, in reference order, with times strictly increasing."""
    hyp = asr_tokens(asr_words)
    if not hyp:
        return []
    t0, t1 = hyp[0][1], hyp[-1][1]
    place = [(h[1] - t0) / max(t1 - t0, 1e-6) for h in hyp]
    pairs = match_keys([w.key for w in ref_words], [h[0] for h in hyp], place)
    anchors: list[Anchor] = []
    for r, h in pairs:
        key, start, end = hyp[h]
        if anchors and start < anchors[-1].start_s:
            continue  # ASR timestamps that run backwards are not evidence
        anchors.append(Anchor(r, start, end, key == ref_words[r].key))
    return anchors


def interpolate(n_words: int, anchors: list[Anchor], span_s: tuple[float, float]) -> list[tuple[float, float]]:
    """(start, end) for every reference word: anchors keep ASR's times, words between them share the gap evenly.

    Words before the first or after the last anchor are spread over the rest of ``span_s`` (the vocal-active
    region). This is the transcript-driven aligner the issue describes first, kept as the baseline.
    """
    fixed = {a.ref: (a.start_s, a.end_s) for a in anchors}
    times: list[tuple[float, float]] = [(0.0, 0.0)] * n_words
    points = [(-1, span_s[0], span_s[0])] + [(a.ref, a.start_s, a.end_s) for a in anchors] + \
        [(n_words, span_s[1], span_s[1])]
    for (i0, _, t0), (i1, t1, _) in zip(points, points[1:]):
        gap = i1 - i0 - 1
        if gap > 0:
            step = max(t1 - t0, 0.0) / gap
            for k in range(gap):
                times[i0 + 1 + k] = (t0 + k * step, t0 + (k + 1) * step)
    for i, t in fixed.items():
        times[i] = t
    return times
