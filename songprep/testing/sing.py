"""Sung voicing for test songs: espeak-ng words re-synthesised with WORLD on their exact MIDI notes.

espeak-ng speaks, so its pitch wanders with speech intonation. Here each word is analysed once with
the WORLD vocoder (harvest f0, cheaptrick envelope, d4c aperiodicity), its voiced frames are stretched
to fill the note's slot, and it is re-synthesised with f0 replaced by the note's frequency on every
voiced frame (unvoiced frames stay unvoiced; no vibrato), so the sung pitch *is* the MIDI note.
The melody is sung in the voice's singing octave (:func:`octave_shift`). A long word may carry a
melisma: its voiced span split in two notes a scale step apart. Each note's truth span is the
voiced frames that were synthesised at its pitch, in output samples.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soxr

with warnings.catch_warnings():  # pyworld imports the deprecated pkg_resources
    warnings.simplefilter("ignore")
    import pyworld

from songprep.testing.compose import SCALES

#: Bump whenever sung rendering changes what a song sounds like (part of the corpus cache key).
SING_VERSION = "1"
#: WORLD analysis hop.
FRAME_PERIOD_MS = 5.0
F0_FLOOR_HZ, F0_CEIL_HZ = 60.0, 800.0
#: A word slot of at least this many beats is sung on two notes (a melisma).
MELISMA_MIN_BEATS = 2
#: A singer's median note sits about this far above espeak-ng's speaking pitch for the voice; the
#: composed melody (placed for speech) is moved by whole octaves towards it, so a male voice does
#: not sing at 55 Hz.
SUNG_ABOVE_SPEECH = 10.5
#: Voiced frames may be squeezed down to this fraction of their length before a word is cut.
MIN_VOICED_STRETCH = 0.5
#: Only vowel-like frames are held to fill a slot: voiced ones within this many dB of the word's loudest
#: (nasals and other voiced consonants keep their spoken length, as a singer's do).
HELD_WITHIN_DB = 12.0
#: Unvoiced gaps shorter than this inside one note are bridged (a flick of the f0 tracker, not a consonant),
#: and voiced fragments shorter than it are not notes (a voiced consonant between unvoiced ones).
MIN_NOTE_PART_MS = 50.0


@dataclass
class WorldAnalysis:
    """WORLD parameters of one trimmed espeak-ng word (frame-synchronous arrays)."""

    f0: np.ndarray
    spectrogram: np.ndarray
    aperiodicity: np.ndarray
    sample_rate: int

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0

    @property
    def held(self) -> np.ndarray:
        """The frames a singer would hold: voiced and loud (vowels, not voiced consonants)."""
        level = 10.0 * np.log10(np.maximum(self.spectrogram.sum(axis=1), 1e-30))
        voiced = self.voiced
        if not voiced.any():
            return voiced
        return voiced & (level >= level[voiced].max() - HELD_WITHIN_DB)


@dataclass
class SungNoteSpan:
    """Samples ``[start, end)`` of a word's audio sung at ``pitch``."""

    start: int
    end: int
    pitch: int


@dataclass
class SungWord:
    """A word's sung audio (starting at its first non-silent sample), its audible end and its notes."""

    audio: np.ndarray
    end: int
    notes: list[SungNoteSpan]


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def analyse(audio: np.ndarray, sample_rate: int) -> WorldAnalysis:
    """WORLD analysis of a (trimmed) mono word; float64 in, deterministic."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.harvest(x, sample_rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ,
                                frame_period=FRAME_PERIOD_MS)
    sp = pyworld.cheaptrick(x, f0, times, sample_rate)
    ap = pyworld.d4c(x, f0, times, sample_rate)
    return WorldAnalysis(f0, sp, ap, sample_rate)


def octave_shift(pitches: Sequence[int], voice_base_midi: float) -> int:
    """Whole octaves (in semitones) that put the melody's median near the voice's singing centre."""
    return 12 * round((voice_base_midi + SUNG_ABOVE_SPEECH - float(np.median(pitches))) / 12)


def scale_step(pitch: int, direction: int, tonic: int, mode: str) -> int:
    """The nearest pitch of the key (``tonic`` pitch class, ``mode``) above (+1) or below (-1) ``pitch``."""
    step = 1 if direction >= 0 else -1
    p = pitch + step
    while (p - tonic) % 12 not in SCALES[mode]:
        p += step
    return p


def note_pitches(pitch: int, dur_beats: float, next_pitch: int | None, tonic: int, mode: str) -> tuple[int, ...]:
    """The notes a word is sung on: long slots pass by a scale step towards the next note (or fall)."""
    if dur_beats < MELISMA_MIN_BEATS:
        return (pitch,)
    direction = 1 if next_pitch is not None and next_pitch > pitch else -1
    return pitch, scale_step(pitch, direction, tonic, mode)


def _frame_map(held: np.ndarray, target_ms: float) -> np.ndarray:
    """Fractional input-frame position of every output frame: held frames stretched to fill ``target_ms``."""
    n_held = int(held.sum())
    n_other = len(held) - n_held
    if n_held:
        stretch = max((target_ms - n_other * FRAME_PERIOD_MS) / (n_held * FRAME_PERIOD_MS), MIN_VOICED_STRETCH)
    else:
        stretch = 1.0
    lengths = np.where(held, stretch * FRAME_PERIOD_MS, FRAME_PERIOD_MS)
    starts = np.concatenate([[0.0], np.cumsum(lengths)])
    out_times = np.arange(0.0, starts[-1], FRAME_PERIOD_MS)
    index = np.clip(np.searchsorted(starts, out_times, side="right") - 1, 0, len(held) - 1)
    return np.clip(index + (out_times - starts[index]) / lengths[index], 0.0, len(held) - 1)


def _interpolate(frames: np.ndarray, position: np.ndarray) -> np.ndarray:
    lo = np.floor(position).astype(int)
    hi = np.minimum(lo + 1, len(frames) - 1)
    w = (position - lo)[:, None]
    return np.ascontiguousarray((1.0 - w) * frames[lo] + w * frames[hi])


def sing_word(analysis: WorldAnalysis, pitches: Sequence[int], sample_rate: int, limit: int,
              silence_db: float = -40.0, fade: int = 0) -> SungWord:
    """Re-synthesise a word on ``pitches`` (one per part of its voiced span), at most ``limit`` samples long.

    The voiced frames are split evenly between the pitches. Each voiced run at a pitch is a note (an
    unvoiced consonant inside a word ends it, since nothing is pitched there; gaps and fragments shorter
    than ``MIN_NOTE_PART_MS`` excepted), clipped to the audible word.
    """
    voiced_in = analysis.voiced
    position = _frame_map(analysis.held, limit / sample_rate * 1000.0)
    voiced = voiced_in[np.clip(np.rint(position).astype(int), 0, len(voiced_in) - 1)]
    sp = _interpolate(analysis.spectrogram, position)
    ap = _interpolate(analysis.aperiodicity, position)

    voiced_frames = np.flatnonzero(voiced)
    groups = np.array_split(voiced_frames, len(pitches)) if len(voiced_frames) else []
    f0 = np.zeros(len(position))
    for frames, pitch in zip(groups, pitches):
        if len(frames):
            f0[frames[0]: frames[-1] + 1] = np.where(voiced[frames[0]: frames[-1] + 1], midi_hz(pitch), 0.0)
    y = pyworld.synthesize(f0, sp, ap, analysis.sample_rate, FRAME_PERIOD_MS)
    y = soxr.resample(y, analysis.sample_rate, sample_rate)

    threshold = np.abs(y).max() * 10 ** (silence_db / 20)
    loud = np.flatnonzero(np.abs(y) > threshold)
    first = int(loud[0])
    y = y[first: loud[-1] + 1].copy()
    if len(y) > limit:
        y = y[:limit]
        n = min(limit, fade)
        if n:
            y[-n:] *= np.linspace(1.0, 0.0, n + 1)[1:]
    loud = np.flatnonzero(np.abs(y) > threshold)
    end = int(loud[-1]) + 1

    def sample(frame: float) -> int:  # frame centre k sits at k * FRAME_PERIOD_MS in the synthesis
        return round(frame * FRAME_PERIOD_MS / 1000.0 * sample_rate) - first

    min_frames = MIN_NOTE_PART_MS / FRAME_PERIOD_MS
    notes = []
    for frames, pitch in zip(groups, pitches):
        for a, b in _runs(frames, min_frames):
            start = max(0, sample(a - 0.5))
            stop = min(end, sample(b + 0.5))
            if stop - start >= min_frames * FRAME_PERIOD_MS / 1000.0 * sample_rate:
                notes.append(SungNoteSpan(start, stop, int(pitch)))
    return SungWord(y, end, notes)


def _runs(frames: np.ndarray, min_gap: float) -> list[tuple[int, int]]:
    """First and last frame of each run of (sorted) voiced frame indices, gaps under ``min_gap`` bridged."""
    if not len(frames):
        return []
    breaks = np.flatnonzero(np.diff(frames) > min_gap)
    firsts = np.concatenate([[0], breaks + 1])
    lasts = np.concatenate([breaks, [len(frames) - 1]])
    return [(int(frames[a]), int(frames[b])) for a, b in zip(firsts, lasts)]
