"""Aligning known lyrics to a song's vocal: a time, an end and a score for every reference word.

The text drives the alignment (ASR on sung vocals matches too few words to time them): ``whisper``
(the default: Whisper forced alignment, teacher-forced reference tokens timed by cross-attention and
a DTW with a pause state driven by the vocal stem's activity; see :mod:`.whisper_fa`), ``guide``
(DTW against an espeak-ng rendering of the text, any language espeak-ng voices), ``sphinx``
(pocketsphinx forced alignment, English, model shipped in its wheel) or ``ctc`` (torchaudio's
MMS_FA, weights downloaded on first use). ASR words, when given, are matched to the text by edit
distance and used as anchors; ``asr`` alone (anchors + interpolation) is the transcript-driven
baseline. A text that does not match its audio is *flagged* with a reason, never silently timed.

>>> from songprep.audio import Audio
>>> import numpy as np
>>> a = align_lyrics(["hold on"], Audio(np.zeros((1, 16000), np.float32), 16000), "en", method="asr")
>>> [w.word for w in a.words], a.flagged
(['hold', 'on'], True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.alignment.anchors import Anchor, find_anchors, interpolate
from songprep.alignment.normalise import RefWord, reference_words
from songprep.audio import Audio, resample
from songprep.errors import UsageError
from songprep.records import Word

METHODS = ("auto", "whisper", "guide", "sphinx", "ctc", "asr")
#: Whisper verdict on the median word probability (a word's least likely token, teacher-forced: a multi-byte
#: Chinese character's later bytes are near-certain, so a mean would flatter wrong text). Measured: the right
#: lyrics 0.38-0.86 on the real dev songs and 0.26-0.88 on the synthetic en/zh/es songs; another song's
#: lyrics 0.002-0.011 (all 12 real swaps) and 0.002-0.014 (synthetic swaps). 0.06 is ~4x from both sides.
MIN_MEDIAN_PROBABILITY = 0.06
#: A word Whisper gives at least this probability counts as anchored by evidence (``coverage``).
WORD_EVIDENCE_PROBABILITY = 0.5
#: Guide refinement of Whisper's times: Whisper's starts anchor the guide DTW (pulling hard, within 0.3 s);
#: where the guide fits the song clearly better than the same words shuffled (mean cost ratio below
#: GUIDE_SONG_RATIO) its start replaces Whisper's for each word it matches well (cost share below
#: GUIDE_WORD_SHARE). Measured on the real dev songs (0.91 -> 0.94 of starts within 0.3 s; the slow folk
#: song 0.75 -> 0.94; the rap and the dense pop song, ratio 0.98 and 1.03, keep Whisper's times).
GUIDE_ANCHOR_COST = 2.0
GUIDE_ANCHOR_REACH_S = 0.3
GUIDE_SONG_RATIO = 0.95
GUIDE_WORD_SHARE = 0.8
#: Before that, the guide leads wherever it agrees with Whisper: a word whose start in the free guide DTW
#: (no anchors) lies within GUIDE_AGREE_S of Whisper's takes the guide's times, which are exact to the
#: frame where Whisper's attention smears by 0.1-0.3 s; where they disagree the guide has drifted (real
#: songs: 0.61-0.93 of words agree) and the anchored path above decides. Measured (bench/alignment.py,
#: 6 synthetic songs, median start error clean/degraded/separated/mix): 0.009/0.080/0.012/0.041 s ->
#: 0.007/0.020/0.011/0.013 s; real dev songs unchanged (0.934 within 0.3 s). 0.3 s and more cost the
#: real songs (0.929 at 0.3, 0.899 at 0.5).
GUIDE_AGREE_S = 0.2
#: Where they disagree, the guide still leads when it is sure and on track: the free and the Whisper-anchored
#: guide put the word within GUIDE_SELF_AGREE_S of each other (Whisper's pull did not move it) and a
#: neighbouring word's guide start agrees with Whisper (the guide has not drifted there). Whisper's
#: attention lands 0.3-0.5 s off on such words (synthetic songs: 87 of 113 of them the guide's start is
#: within 0.1 s, Whisper's 9). Measured (per-word study over the 24 synthetic cases of bench/alignment.py
#: and the 4 real dev songs): synthetic medians clean/degraded/separated/mix 0.007/0.022/0.011/0.014 s ->
#: 0.007/0.018/0.009/0.011 s (the guide-alone figures); real 0.934 -> 0.929 within 0.3 s, AAE 0.147 ->
#: 0.125 s. Flat from 0 to 0.2 s; without the neighbour condition the real songs drop to 0.900.
GUIDE_SELF_AGREE_S = 0.05
#: A text Whisper does not hear (median probability under MIN_MEDIAN_PROBABILITY) is still kept when the
#: guide fits it far better than chance: a voice unlike the singing Whisper learnt (measured: the right
#: lyrics of synthetic espeak-voiced songs 0.13-0.88; another song's lyrics 0.955-1.06 on synthetic and
#: real songs, all 12 real swaps at least 0.975). Rejected means neither Whisper nor the guide finds it.
GUIDE_RESCUE_RATIO = 0.92
#: A word is anchored by the guide when its match costs at most this share of the chance level (the mean cost of
#: the same words aligned in a shuffled order), or by ASR when an ASR word agrees within ANCHOR_AGREE_S.
EVIDENCE_SHARE = 0.85
ANCHOR_AGREE_S = 0.5
#: Flag the song when fewer than this share of words are anchored ...
MIN_COVERAGE = 0.15
#: ... or when the text in its own order fits the vocal barely better than shuffled (cost ratio above this).
MAX_ORDER_RATIO = 0.94


@dataclass
class Alignment:
    """One timed word per reference word (in order), how much of the text evidence supports, and a verdict.

    ``coverage`` is the share of reference words anchored by evidence (a DTW match clearly better than
    chance on active vocal, or an agreeing ASR word); ``flagged`` says the text does not match the audio
    (``reason`` says why): its times are then not to be written.
    """

    words: list[Word]
    coverage: float
    method: str
    flagged: bool
    reason: str | None = None
    #: The median word probability Whisper gives the text (whisper method only): the row's lyrics_confidence.
    confidence: float | None = None


def align_lyrics(reference_lines: list[str], vocals: Audio, language: str, asr_words: list[Word] | None = None,
                 method: str = "auto") -> Alignment:
    """Time every word of ``reference_lines`` in ``vocals`` (a vocal stem, or the mix when there is none)."""
    if method not in METHODS:
        raise UsageError(f"unknown alignment method {method!r}; expected one of {METHODS}")
    ref = reference_words(reference_lines, language)
    if not ref:
        return Alignment([], 0.0, method, True, "reference lyrics hold no words")
    mono = to_16k(vocals)
    anchors = find_anchors(ref, asr_words) if asr_words else []
    if method == "whisper":
        raise UsageError("the whisper method needs a loaded model: call align_with_whisper")
    if method == "auto":  # without a model at hand: the model-free default (the align stage prefers whisper)
        method = "guide"
    if method == "asr":
        return _from_anchors(ref, mono, anchors)
    if method == "guide":
        from songprep.alignment.guide import align_guide

        result = align_guide(mono, ref, language, anchors)
        null = align_guide(mono, shuffled_words(ref), language)
        return _verdict(ref, result.starts_s, result.ends_s, result.match_cost, float(null.match_cost.mean()),
                        anchors, method)
    if method == "sphinx":
        from songprep.alignment.sphinx import align_sphinx

        return align_sphinx(ref, mono, language, anchors)
    from songprep.alignment.ctc import align_ctc

    return align_ctc(ref, mono, language, anchors)


def align_with_whisper(reference_lines: list[str], vocals: Audio, language: str, model,
                       mix: Audio | None = None) -> Alignment:
    """Whisper forced alignment: attention on ``mix`` (or the vocal when there is no mix), pauses from ``vocals``.

    Measured on the real dev songs, Whisper attends better on the mix (0.85 of word starts within 0.3 s)
    than on a Spleeter vocal stem (0.82), whose artefacts it has not heard in training; the stem is
    what tells singing from silence, so it drives the pause state. ``model`` is an openai-whisper model.
    """
    from songprep.alignment.guide import activity, frame_db
    from songprep.alignment.whisper_fa import align_whisper

    ref = reference_words(reference_lines, language)
    if not ref:
        return Alignment([], 0.0, "whisper", True, "reference lyrics hold no words")
    vocal_16k = to_16k(vocals)
    heard = to_16k(mix) if mix is not None else vocal_16k
    times = align_whisper(heard, ref, language, model, activity(frame_db(vocal_16k)))
    alignment = whisper_verdict(ref, times.starts_s, times.ends_s, times.probability)
    if alignment.words:
        refine_with_guide(alignment, ref, vocal_16k, language)
    return alignment


def refine_with_guide(alignment: Alignment, ref: list[RefWord], vocal_16k: np.ndarray, language: str) -> bool:
    """Sharpen Whisper's word starts with the espeak-ng guide where the guide clearly fits (in place).

    Whisper places words robustly (no drift, the right chorus repeat) but only to its attention's
    smear; the guide DTW finds onsets to the frame when the singer is close enough to a speaking voice.
    So a word takes the free guide's times where they agree with Whisper's (GUIDE_AGREE_S) or where the
    guide is sure of them and on track (GUIDE_SELF_AGREE_S), else the guide anchored on Whisper's where
    that fits (GUIDE_SONG_RATIO, GUIDE_WORD_SHARE). A text Whisper flagged is kept, with the guide's
    times, when the guide fits it far better than chance (GUIDE_RESCUE_RATIO). Returns whether the
    guide was used (not for languages espeak-ng cannot voice).
    """
    from songprep.alignment.guide import GuideUnavailable, align_guide

    starts = np.array([w.start_s for w in alignment.words])
    anchors = [Anchor(i, float(s), float(w.end_s), True) for i, (s, w) in enumerate(zip(starts, alignment.words))]
    try:
        fitted = align_guide(vocal_16k, ref, language, anchors, GUIDE_ANCHOR_COST, GUIDE_ANCHOR_REACH_S)
        free = align_guide(vocal_16k, ref, language)
        chance = float(align_guide(vocal_16k, shuffled_words(ref), language).match_cost.mean())
    except GuideUnavailable:
        return False
    share = fitted.match_cost / max(chance, 1e-6)
    ratio = float(share.mean())
    rescue = alignment.flagged and ratio < GUIDE_RESCUE_RATIO
    if alignment.flagged and not rescue:
        alignment.reason = f"{alignment.reason}; nor does the guide fit it (cost ratio {ratio:.2f})"
        return False
    agrees = np.abs(np.asarray(free.starts_s) - starts) <= GUIDE_AGREE_S
    neighbour_agrees = np.zeros_like(agrees)
    neighbour_agrees[1:] |= agrees[:-1]
    neighbour_agrees[:-1] |= agrees[1:]
    sure = np.abs(np.asarray(free.starts_s) - np.asarray(fitted.starts_s)) <= GUIDE_SELF_AGREE_S
    agrees |= sure & neighbour_agrees
    anchored = rescue or ratio < GUIDE_SONG_RATIO
    if not (anchored or agrees.any()):
        return False
    if rescue:
        alignment.flagged, alignment.reason, alignment.method = False, None, "whisper+guide"
    previous = 0.0
    for i, word in enumerate(alignment.words):
        source = free if agrees[i] else fitted if anchored and (rescue or share[i] < GUIDE_WORD_SHARE) else None
        if source is not None:
            word.start_s = round(float(source.starts_s[i]), 3)
            word.end_s = round(float(max(source.ends_s[i], source.starts_s[i])), 3)
        word.start_s = max(word.start_s, previous)  # starts stay in text order
        word.end_s = max(word.end_s, word.start_s)
        previous = word.start_s
    return True


def whisper_verdict(ref: list[RefWord], starts: np.ndarray, ends: np.ndarray, probability: np.ndarray) -> Alignment:
    """Words (unplaced ones share their neighbours' gaps), coverage and the lyrics-mismatch flag from probabilities."""
    placed = ~np.isnan(starts)
    if not placed.any():
        return Alignment([Word(w.text, 0.0, 0.0, 0.0) for w in ref], 0.0, "whisper", True,
                         "Whisper found none of the words in the audio")
    starts, ends = fill_gaps(starts, ends)
    median = float(np.median(probability[placed]))
    coverage = float(np.mean(placed & (probability >= WORD_EVIDENCE_PROBABILITY)))
    words = [Word(w.text, round(float(s), 3), round(float(max(e, s)), 3), float(p) if ok else 0.0)
             for w, s, e, p, ok in zip(ref, starts, ends, probability, placed)]
    reason = None
    if median < MIN_MEDIAN_PROBABILITY:
        reason = (f"Whisper hears these words with a median probability of {median:.2f} "
                  f"(lyrics that match score 0.25 or more; need {MIN_MEDIAN_PROBABILITY})")
    return Alignment(words, round(coverage, 4), "whisper", reason is not None, reason, round(median, 4))


def to_16k(audio: Audio) -> np.ndarray:
    """Mono 16 kHz float32: what every aligner listens to."""
    return resample(Audio(audio.mono()[None, :], audio.sample_rate), 16000).samples[0]


def shuffled_words(ref: list[RefWord], seed: int = 0) -> list[RefWord]:
    """The chance-level text: the same words in a fixed random order.

    Aligning it costs what matching these sounds out of order costs in this vocal with this guide voice:
    the yardstick the text's own cost is judged against, whatever the singer, language or mix.
    """
    order = np.random.default_rng(seed).permutation(len(ref))
    return [ref[i] for i in order]


def _verdict(ref: list[RefWord], starts: np.ndarray, ends: np.ndarray, match: np.ndarray, chance: float,
             anchors: list[Anchor], method: str) -> Alignment:
    """Words, per-word scores, coverage and the flag, from per-word match costs and the song's chance-level cost."""
    share = match / max(chance, 1e-6)
    agreed = np.zeros(len(ref), bool)
    for a in anchors:
        agreed[a.ref] = abs(starts[a.ref] - a.start_s) <= ANCHOR_AGREE_S
    evidence = (share <= EVIDENCE_SHARE) | agreed
    scores = np.clip(1.0 - share, 0.0, 1.0)
    words = [Word(w.text, round(float(s), 3), round(float(max(e, s)), 3), float(sc))
             for w, s, e, sc in zip(ref, starts, ends, scores)]
    coverage = float(evidence.mean())
    order_ratio = float(match.mean()) / max(chance, 1e-6)
    reason = None
    if coverage < MIN_COVERAGE:
        reason = f"only {coverage:.0%} of the words are anchored (need {MIN_COVERAGE:.0%})"
    elif order_ratio > MAX_ORDER_RATIO:
        reason = (f"the vocal fits the text barely better than the same words shuffled "
                  f"(cost ratio {order_ratio:.2f} > {MAX_ORDER_RATIO})")
    return Alignment(words, round(coverage, 4), method, reason is not None, reason)


def fill_gaps(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Words a backend could not place (NaN) share the gap between their placed neighbours evenly.

    Unplaced words before the first (after the last) placed word get zero length at its start (end):
    nothing is invented outside what the backend found.
    """
    starts, ends = starts.copy(), ends.copy()
    placed = np.flatnonzero(~np.isnan(starts))
    if placed.size == 0:
        return np.zeros_like(starts), np.zeros_like(ends)
    anchors = [Anchor(int(i), float(starts[i]), float(ends[i]), True) for i in placed]
    span = (float(starts[placed[0]]), float(ends[placed[-1]]))
    for i, (s, e) in enumerate(interpolate(len(starts), anchors, span)):
        if np.isnan(starts[i]):
            starts[i], ends[i] = s, e
    return starts, ends


def _verdict_from_times(ref: list[RefWord], starts: np.ndarray, ends: np.ndarray, scores: np.ndarray,
                        anchors: list[Anchor], method: str) -> Alignment:
    """For backends that give times and a per-word confidence (NaN times: not placed)."""
    placed = ~np.isnan(starts)
    if not placed.any():
        return Alignment([Word(w.text, 0.0, 0.0, 0.0) for w in ref], 0.0, method, True,
                         f"{method} found no alignment of the text in the audio")
    starts, ends = fill_gaps(starts, ends)
    agreed = np.zeros(len(ref), bool)
    for a in anchors:
        agreed[a.ref] = abs(starts[a.ref] - a.start_s) <= ANCHOR_AGREE_S
    evidence = (placed & (scores >= 0.5)) | agreed
    coverage = float(evidence.mean())
    words = [Word(w.text, round(float(s), 3), round(float(max(e, s)), 3), float(sc) if p else 0.0)
             for w, s, e, sc, p in zip(ref, starts, ends, scores, placed)]
    reason = None if coverage >= MIN_COVERAGE else (
        f"only {coverage:.0%} of the words are anchored (need {MIN_COVERAGE:.0%})")
    return Alignment(words, round(coverage, 4), method, reason is not None, reason)


def _from_anchors(ref: list[RefWord], mono: np.ndarray, anchors: list[Anchor]) -> Alignment:
    """The transcript-driven aligner: ASR anchors keep their times, the rest is interpolated between them."""
    from songprep.alignment.guide import FRAME_S, activity, frame_db

    act = activity(frame_db(mono)) > 0.5
    active = np.flatnonzero(act)
    span = (active[0] * FRAME_S, (active[-1] + 1) * FRAME_S) if active.size else (0.0, len(mono) / 16000)
    times = interpolate(len(ref), anchors, span)
    anchored = {a.ref for a in anchors}
    words = [Word(w.text, round(s, 3), round(max(e, s), 3), 1.0 if i in anchored else 0.0)
             for i, (w, (s, e)) in enumerate(zip(ref, times))]
    coverage = len(anchored) / len(ref)
    reason = None if coverage >= MIN_COVERAGE else (
        f"only {coverage:.0%} of the words are anchored by the transcript (need {MIN_COVERAGE:.0%})")
    return Alignment(words, round(coverage, 4), "asr", reason is not None, reason)


__all__ = ["METHODS", "Alignment", "align_lyrics", "align_with_whisper", "shuffled_words"]
