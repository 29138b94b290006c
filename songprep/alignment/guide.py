"""Alignment driven by the text: DTW of the vocal against a guide synthesised from the lyrics.

Every reference word is spoken by espeak-ng (a different voice and speed from any singer, and MFCCs
without c0, CMVN'd and L2-normalised, so neither loudness nor pitch dominates the match). Between
words the guide holds a one-frame *pause* state whose cost is the vocal's activity, so silences and
instrumental sections in the vocal are absorbed by pauses and cannot be given words; a word frame
matched against inactive audio pays for it. ASR anchors, when given, pull their word's first frame
towards the time ASR heard it. The DTW keeps only a byte of back-pointer per cell (a 4-minute song
at 20 ms frames against its guide is ~75 MB) and runs compiled with numba.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from songprep.alignment.anchors import Anchor
from songprep.alignment.normalise import RefWord
from songprep.errors import RejectError

SAMPLE_RATE = 16000
HOP = 320  # 20 ms frames
N_FFT = 640
FRAME_S = HOP / SAMPLE_RATE
N_MFCC = 7  # c0 (loudness) is dropped: c1..c6, the coarse envelope, robust to pitch and formant shifts
#: Guide voices: deliberately not the en-us / es / cmn-latn-pinyin + m3/f3 voices the test songs are sung with.
GUIDE_VOICES = {"en": "en-gb-x-rp+m1", "es": "es-419+m1", "zh": "cmn-latn-pinyin+m1"}
GUIDE_SPEED = 165
#: The guide is trimmed like a word: samples within this many dB of its peak.
TRIM_DB = -35.0
#: Activity: frames this far below the vocal's loud frames (95th percentile) count as silent.
ACTIVITY_FLOOR_DB = 30.0
ACTIVITY_SLOPE_DB = 3.0
#: Frames quieter than this (dBFS) are never active, however quiet the rest (a silent stem has no singing).
SILENT_DB = -70.0
#: Cost of a word frame on silent audio, of a pause frame on active audio, and of an anchored word's first frame
#: ANCHOR_REACH_S or more away from where ASR heard it (linear in between).
SILENCE_COST = 1.0
PAUSE_COST = 0.9
ANCHOR_COST = 0.5
ANCHOR_REACH_S = 1.0
#: One byte of back-pointer per (audio frame, guide frame): 600 MB covers ~16 minutes of song with its lyrics.
MAX_CELLS = 600_000_000


class GuideUnavailable(RejectError):
    """espeak-ng is missing or cannot voice this language."""


@dataclass
class DtwResult:
    """Per reference word: start/end seconds and the mean DTW cost of its frames along the path."""

    starts_s: np.ndarray
    ends_s: np.ndarray
    match_cost: np.ndarray


def guide_voice(language: str) -> str:
    if shutil.which("espeak-ng") is None:
        raise GuideUnavailable("espeak-ng is not installed (the text-driven aligner synthesises its guide with it)")
    voice = GUIDE_VOICES.get(language, language)
    if voice.split("+")[0] not in _espeak_voices():
        raise GuideUnavailable(f"espeak-ng has no voice for language {language!r}")
    return voice


@lru_cache(maxsize=1)
def _espeak_voices() -> frozenset[str]:
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=False).stdout
    names = set()
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            names.update((cols[1], cols[4].split("/")[-1]))
    return frozenset(names)


@lru_cache(maxsize=8192)
def speak(text: str, voice: str, speed: int = GUIDE_SPEED) -> np.ndarray:
    """espeak-ng's rendering of one word at 16 kHz, trimmed to its audible part (cached per process)."""
    from songprep.audio import resample
    from songprep.audio import speak as espeak
    from songprep.errors import AudioDecodeError

    try:
        voiced = espeak(text, voice, speed)
    except AudioDecodeError:
        voiced = None
    if voiced is None or voiced.frames == 0:
        raise GuideUnavailable(f"espeak-ng could not voice {text!r} with {voice}")
    y = resample(voiced, SAMPLE_RATE).samples[0]
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak <= 0:
        return np.zeros(HOP * 3, np.float32)
    loud = np.flatnonzero(np.abs(y) > peak * 10 ** (TRIM_DB / 20))
    return y[loud[0]: loud[-1] + 1]


def synthesise(words: list[RefWord], language: str) -> list[np.ndarray]:
    """Each word's guide audio (unique words are voiced once, four espeak-ng processes at a time)."""
    voice = guide_voice(language)
    unique = sorted({w.spoken for w in words})
    with ThreadPoolExecutor(4) as pool:
        voiced = dict(zip(unique, pool.map(lambda s: speak(s, voice), unique)))
    return [voiced[w.spoken] for w in words]


def mfcc(y: np.ndarray) -> np.ndarray:
    """(frames, 12) MFCCs without c0 at 20 ms hops."""
    import librosa

    m = librosa.feature.mfcc(y=y, sr=SAMPLE_RATE, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=40,
                             fmin=60.0, fmax=7600.0, center=True)
    return m[1:].T.astype(np.float32)


def frame_db(y: np.ndarray) -> np.ndarray:
    """Frame RMS in dB on the same frame grid as :func:`mfcc`."""
    pad = np.pad(y, (N_FFT // 2, N_FFT // 2))
    n = 1 + (len(pad) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(np.square(pad[idx]), axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-8))


def activity(db: np.ndarray) -> np.ndarray:
    """Vocal activity in [0, 1] per frame from the vocal's energy, relative to its own loud frames.

    The threshold is 30 dB under the loud frames (95th percentile) on a clean stem; where the quiet
    frames are not silent (accompaniment bleeding into a separated vocal) it rises to halfway between
    the quiet (20th percentile) and the loud frames, so bleed alone does not count as singing.
    """
    top, low = np.percentile(db, [95, 20])
    threshold = max(top - ACTIVITY_FLOOR_DB, (top + low) / 2, SILENT_DB)
    return 1.0 / (1.0 + np.exp(-(db - threshold) / ACTIVITY_SLOPE_DB))


def _normalise(feats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """CMVN with statistics from the weighted (active) frames, then unit length (cosine distance by dot)."""
    w = weights[:, None] / max(float(weights.sum()), 1e-6)
    mean = (feats * w).sum(axis=0)
    std = np.sqrt(((feats - mean) ** 2 * w).sum(axis=0)) + 1e-6
    z = (feats - mean) / std
    return (z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-6)).astype(np.float32)


@dataclass
class Guide:
    """Guide frames: features (zero rows for pauses), which word each frame belongs to (-1 for pauses)."""

    feats: np.ndarray
    word_of: np.ndarray


def build_guide(clips: list[np.ndarray]) -> Guide:
    feats, owner = [_pause_row()], [-1]
    for k, clip in enumerate(clips):
        f = mfcc(clip)
        feats.append(f)
        owner += [k] * len(f)
        feats.append(_pause_row())
        owner.append(-1)
    stacked = np.concatenate(feats)
    word = np.asarray(owner) >= 0
    normed = np.zeros_like(stacked)
    normed[word] = _normalise(stacked[word], np.ones(int(word.sum()), np.float32))
    return Guide(normed, np.asarray(owner, np.int64))


def _pause_row() -> np.ndarray:
    return np.zeros((1, N_MFCC - 1), np.float32)


def align_guide(vocal_16k: np.ndarray, words: list[RefWord], language: str,
                anchors: list[Anchor] | None = None, anchor_cost: float = ANCHOR_COST,
                anchor_reach_s: float = ANCHOR_REACH_S) -> DtwResult:
    """Word times of ``words`` in the vocal by DTW against their synthesised guide.

    ``anchor_cost`` / ``anchor_reach_s``: how hard anchors pull (soft ASR anchors by default; Whisper
    forced-alignment anchors pull harder and closer, see ``songprep.alignment.refine_with_guide``).
    """
    guide = build_guide(synthesise(words, language))
    feats = mfcc(vocal_16k)
    db = frame_db(vocal_16k)[: len(feats)]
    feats = feats[: len(db)]
    act = activity(db).astype(np.float32)
    audio = _normalise(feats, act)
    anchor_at = np.full(len(guide.word_of), -1.0, np.float32)
    first_frame = {}
    for j, k in enumerate(guide.word_of):
        if k >= 0 and k not in first_frame:
            first_frame[k] = j
    for a in anchors or []:
        if a.ref in first_frame:
            anchor_at[first_frame[a.ref]] = a.start_s / FRAME_S
    if len(audio) * len(guide.word_of) > MAX_CELLS:
        raise RejectError(f"too long for the guide aligner: {len(audio) * FRAME_S:.0f} s of vocal against "
                          f"{len(words)} words needs more than {MAX_CELLS / 1e6:.0f} MB")
    path_j_of_i = _dtw(audio, guide.feats, act, (guide.word_of < 0).astype(np.int8), anchor_at, anchor_cost,
                       anchor_reach_s)
    return _word_times(path_j_of_i, audio, guide, act, len(words))


def _word_times(path: tuple[np.ndarray, np.ndarray], audio: np.ndarray, guide: Guide, act: np.ndarray,
                n_words: int) -> DtwResult:
    """A word starts at the first audio frame its guide frames meet on the path and ends after the last."""
    pi, pj = path
    owner = guide.word_of[pj]
    on_word = owner >= 0
    cost = np.zeros(n_words)
    count = np.zeros(n_words)
    wi, wo = pi[on_word], owner[on_word]
    d = 1.0 - np.einsum("ij,ij->i", audio[wi], guide.feats[pj[on_word]]) + SILENCE_COST * (1.0 - act[wi])
    first = np.full(n_words, np.iinfo(np.int64).max)
    last = np.full(n_words, -1)
    np.minimum.at(first, wo, wi)
    np.maximum.at(last, wo, wi)
    np.add.at(cost, wo, d)
    np.add.at(count, wo, 1)
    starts = first * FRAME_S
    ends = (last + 1) * FRAME_S
    return DtwResult(starts, ends, cost / np.maximum(count, 1))


def _dtw(audio: np.ndarray, guide: np.ndarray, act: np.ndarray, is_pause: np.ndarray,
         anchor_frame: np.ndarray, anchor_cost: float, anchor_reach_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest monotone path from (0, 0) to (N-1, M-1) as (audio frame, guide frame) arrays."""
    back = _dtw_kernel(audio, guide, act, is_pause, anchor_frame, np.float32(SILENCE_COST), np.float32(PAUSE_COST),
                       np.float32(anchor_cost), np.float32(anchor_reach_s / FRAME_S))
    return _backtrack(back)


def _backtrack(back: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, j = back.shape[0] - 1, back.shape[1] - 1
    pi, pj = [i], [j]
    while i > 0 or j > 0:
        step = back[i, j]
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
        pi.append(i)
        pj.append(j)
    return np.asarray(pi[::-1]), np.asarray(pj[::-1])


def _kernel_impl(audio, guide, act, is_pause, anchor_frame, silence_cost, pause_cost, anchor_cost, reach):
    n, m = audio.shape[0], guide.shape[0]
    dims = audio.shape[1]
    back = np.zeros((n, m), np.int8)
    prev = np.empty(m, np.float64)
    cur = np.empty(m, np.float64)
    for i in range(n):
        for j in range(m):
            if is_pause[j]:
                c = pause_cost * act[i]
            else:
                dot = 0.0
                for k in range(dims):
                    dot += audio[i, k] * guide[j, k]
                c = 1.0 - dot + silence_cost * (1.0 - act[i])
                if anchor_frame[j] >= 0:
                    off = abs(i - anchor_frame[j]) / reach
                    c += anchor_cost * min(off, 1.0)
            if i == 0 and j == 0:
                cur[j] = c
                continue
            best = np.inf
            step = 0
            if i > 0 and j > 0:
                best = prev[j - 1]
            if i > 0 and prev[j] < best:
                best = prev[j]
                step = 1
            if j > 0 and cur[j - 1] < best:
                best = cur[j - 1]
                step = 2
            cur[j] = best + c
            back[i, j] = step
        prev, cur = cur, prev
    return back


try:
    import numba

    _dtw_kernel = numba.njit(cache=True, nogil=True)(_kernel_impl)
except ImportError:  # pragma: no cover - numba comes with librosa
    _dtw_kernel = _kernel_impl
