"""Monophonic notes from a pYIN f0 track (librosa): no weights, the default for sung vocals.

The f0 track (10 ms hop, C2..C6; frames far below the stem's loud level are bleed, not voice) is cut
into notes where voicing stops for longer than a consonant, where the (median-filtered) pitch moves
by more than ``SPLIT_SEMITONES`` for ``SPLIT_FRAMES`` frames in a row, and at strong energy onsets
(a re-attack on the same pitch). Each note's pitch is the rounded
median of its frames; its velocity comes from its RMS level. The thresholds were set on the sung test
songs of seed 0 (tests/test_notes.py); bench/notes.py scores them on other songs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.notes.base import mono_at, sort_notes, velocity_from_db, within
from songprep.records import Note

SAMPLE_RATE = 22050
HOP = 220  # 9.98 ms
FRAME_LENGTH = 1024
MIN_MIDI, MAX_MIDI = 36, 84  # C2..C6: bass to soprano
FMIN_HZ, FMAX_HZ = 440.0 * 2 ** ((MIN_MIDI - 69) / 12), 440.0 * 2 ** ((MAX_MIDI - 69) / 12)
#: pYIN pitch grid in semitones, anchored on C2 so whole MIDI notes are grid points. Its Viterbi pass
#: is quadratic in the grid size: 0.2 runs ~4x faster than librosa's 0.1 for the same notes.
RESOLUTION = 0.2
MEDIAN_FRAMES = 5
SPLIT_SEMITONES = 0.6
SPLIT_FRAMES = 3
#: Unvoiced gaps up to this long inside one pitch (a consonant) do not end a note.
BRIDGE_GAP_S = 0.05
MIN_NOTE_S = 0.06
#: Frames quieter than this below the stem's loud voiced level (its 95th percentile) are not sung:
#: on a separated vocal they are the accompaniment bleeding through.
GATE_DB = 30.0
#: An onset splits a note only where the level rose by this much over the previous 50 ms (a re-attack;
#: smaller rises are a voiced consonant opening into its vowel, not a new note).
ONSET_RISE_DB = 15.0


@dataclass
class PitchTrack:
    """Frame-wise pitch (fractional MIDI, NaN when unvoiced) and RMS level, ``HOP`` samples apart."""

    midi: np.ndarray
    voiced: np.ndarray
    level_db: np.ndarray
    sample_rate: int = SAMPLE_RATE
    hop: int = HOP

    @property
    def hop_s(self) -> float:
        return self.hop / self.sample_rate

    def frame_of(self, t: float) -> int:
        return int(round(t / self.hop_s))


def pitch_track(audio: np.ndarray, sample_rate: int) -> PitchTrack:
    """pYIN f0 of ``audio`` as fractional MIDI, median-filtered inside voiced runs, plus frame RMS in dBFS."""
    import librosa
    import scipy.ndimage

    y = mono_at(audio, sample_rate, SAMPLE_RATE)
    if len(y) < FRAME_LENGTH:
        y = np.pad(y, (0, FRAME_LENGTH - len(y)))
    f0, voiced, _ = librosa.pyin(y, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=SAMPLE_RATE, frame_length=FRAME_LENGTH,
                                 hop_length=HOP, resolution=RESOLUTION)
    voiced = voiced & np.isfinite(f0)
    midi = np.full(len(f0), np.nan)
    midi[voiced] = librosa.hz_to_midi(f0[voiced])
    filled = np.where(voiced, midi, 0.0)
    smoothed = scipy.ndimage.median_filter(filled, size=MEDIAN_FRAMES, mode="nearest")
    # Only trust the filter where the whole window was voiced; elsewhere keep the raw value.
    whole = scipy.ndimage.minimum_filter(voiced.astype(np.uint8), size=MEDIAN_FRAMES, mode="nearest").astype(bool)
    midi = np.where(whole, smoothed, midi)
    rms = librosa.feature.rms(y=y, frame_length=FRAME_LENGTH, hop_length=HOP)[0][: len(midi)]
    level_db = 20.0 * np.log10(np.maximum(rms, 1e-6))
    if len(level_db) < len(midi):
        level_db = np.pad(level_db, (0, len(midi) - len(level_db)), constant_values=-120.0)
    return PitchTrack(midi, voiced, level_db)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` frame runs where ``mask`` is true."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _split_pitch(midi: np.ndarray, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a voiced run where the pitch leaves the current note's median for ``SPLIT_FRAMES`` frames."""
    pieces = []
    a, i = start, start
    while i < end:
        ref = float(np.median(midi[a: i + 1]))
        if abs(midi[i] - ref) > SPLIT_SEMITONES and i + SPLIT_FRAMES <= end and all(
                abs(midi[k] - ref) > SPLIT_SEMITONES for k in range(i, i + SPLIT_FRAMES)):
            if i > a:
                pieces.append((a, i))
            a = i
        i += 1
    pieces.append((a, end))
    return pieces


def _onsets(level_db: np.ndarray, hop_s: float) -> set[int]:
    """Frames where the level jumps up by ``ONSET_RISE_DB`` over ~50 ms: a new syllable attack."""
    lag = max(1, round(0.05 / hop_s))
    rise = level_db[lag:] - level_db[:-lag]
    peaks = [i + lag for i in range(1, len(rise) - 1)
             if rise[i] >= ONSET_RISE_DB and rise[i] >= rise[i - 1] and rise[i] > rise[i + 1]]
    return set(peaks)


def track_to_notes(track: PitchTrack) -> list[Note]:
    """Segment a pitch track into notes (see the module docstring)."""
    hop_s = track.hop_s
    voiced = track.voiced.copy()
    if voiced.any():
        voiced &= track.level_db >= np.percentile(track.level_db[voiced], 95) - GATE_DB
    # Bridge short unvoiced gaps whose two sides sit on the same pitch (a consonant inside a note).
    max_gap = round(BRIDGE_GAP_S / hop_s)
    runs = _runs(voiced)
    edge = MEDIAN_FRAMES
    for (a_start, a_end), (b_start, b_end) in zip(runs, runs[1:]):
        gap = b_start - a_end
        before = np.median(track.midi[max(a_start, a_end - edge): a_end])
        after = np.median(track.midi[b_start: min(b_end, b_start + edge)])
        if 0 < gap <= max_gap and abs(before - after) <= SPLIT_SEMITONES:
            voiced[a_end:b_start] = True
    midi = track.midi.copy()
    idx = np.arange(len(midi))
    known = np.isfinite(midi)
    if known.any():
        midi = np.interp(idx, idx[known], midi[known])  # bridged frames take their neighbours' pitch
    onsets = _onsets(track.level_db, hop_s)
    min_frames = max(1, round(MIN_NOTE_S / hop_s))
    notes = []
    for start, end in _runs(voiced):
        for a, b in _split_pitch(midi, start, end):
            cuts = [a] + [o for o in sorted(onsets) if a + min_frames <= o <= b - min_frames] + [b]
            for c0, c1 in zip(cuts, cuts[1:]):
                if c1 - c0 < min_frames:
                    continue
                frames = track.midi[c0:c1]
                frames = frames[np.isfinite(frames)]
                if not len(frames):
                    continue
                pitch = int(np.clip(np.rint(np.median(frames)), 0, 127))
                level = 10 * np.log10(np.mean(10 ** (track.level_db[c0:c1] / 10)))
                notes.append(Note(round(c0 * hop_s, 4), round(c1 * hop_s, 4), pitch, int(velocity_from_db(level))))
    return sort_notes(notes)


class PyinTranscriber:
    """Monophonic vocal notes from librosa's pYIN (see the module docstring)."""

    name = "pyin"

    def __init__(self) -> None:
        import librosa

        self.version = f"librosa {librosa.__version__}"

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Note]:
        return within(track_to_notes(pitch_track(audio, sample_rate)), audio, sample_rate)
