"""Vocal gender from two weak witnesses: the sung pitch and the tagger; "unknown" when they are weak or disagree.

Pitch alone is ambiguous (a tenor and an alto share an octave), and the tagger's gender labels are
unsure on most songs (probabilities of 0.1-0.3), so each gives evidence in [-1, 1] (negative: male,
positive: female) and the decision needs their mean to clear :data:`DECIDE`. Without singing
(no vocal stem or almost no vocal frames) there is no gender to tell: "unknown".

Pitch: the median f0 of the sung frames (pYIN on the vocal stem, or the words' pitch when the notes stage
ran), mapped linearly around :data:`PITCH_SPLIT_MIDI`. Tagger: female minus male score, scaled by
:data:`TAG_SCALE`. The constants are measured in bench/describe.py.

>>> decide_gender(pitch_midi=64.0, female=0.3, male=0.05).gender
'female'
>>> decide_gender(pitch_midi=None, female=0.12, male=0.10).gender
'unknown'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Between the median sung pitch of male (about D3-A3) and female (about A3-E4 and up) singers.
PITCH_SPLIT_MIDI = 57.0
#: Semitones from the split that count as full evidence.
PITCH_SPAN = 5.0
#: A female-minus-male tagger score of this size counts as full evidence.
TAG_SCALE = 0.15
#: The mean evidence needed to decide: the smallest that made no wrong call on the synthetic calibration songs
#: (seed 0: a female espeak voice at MIDI 55.9 whose tagger score leaned male reached -0.44; bench/describe.py).
DECIDE = 0.5
#: Less sung time than this (seconds) tells nothing about the singer.
MIN_SUNG_S = 5.0


@dataclass(frozen=True)
class GenderEvidence:
    gender: str
    evidence: float
    pitch_midi: float | None
    pitch_evidence: float | None
    tag_evidence: float | None


def decide_gender(pitch_midi: float | None, female: float | None, male: float | None) -> GenderEvidence:
    """Combine the sung pitch (median MIDI) and the tagger's female/male scores; None means not known."""
    witnesses = []
    pitch_ev = tag_ev = None
    if pitch_midi is not None:
        pitch_ev = float(np.clip((pitch_midi - PITCH_SPLIT_MIDI) / PITCH_SPAN, -1, 1))
        witnesses.append(pitch_ev)
    if female is not None and male is not None:
        tag_ev = float(np.clip((female - male) / TAG_SCALE, -1, 1))
        witnesses.append(tag_ev)
    evidence = float(np.mean(witnesses)) if witnesses else 0.0
    gender = "unknown"
    if abs(evidence) >= DECIDE:
        gender = "female" if evidence > 0 else "male"
    return GenderEvidence(gender, evidence, pitch_midi, pitch_ev, tag_ev)


def sung_pitch(vocals_mono: np.ndarray, sample_rate: int, sung_frames: np.ndarray, hop_s: float,
               max_seconds: float = 40.0) -> float | None:
    """Median f0 (MIDI) of the sung frames of a vocal stem, from pYIN on at most ``max_seconds`` of singing.

    ``sung_frames`` (0/1 per analysis frame ``hop_s`` apart) says where the voice sings; the longest runs
    are analysed first, so the estimate rests on sustained singing, not on stray bleed.
    """
    import librosa

    active = np.asarray(sung_frames) > 0.5
    if active.sum() * hop_s < MIN_SUNG_S:
        return None
    edges = np.flatnonzero(np.diff(np.r_[0, active.astype(np.int8), 0]))
    runs = sorted(zip(edges[::2], edges[1::2]), key=lambda r: (r[0] - r[1], r[0]))
    rate = 16000
    y = librosa.resample(np.asarray(vocals_mono, dtype=np.float32), orig_sr=sample_rate, target_sr=rate)
    pieces, total = [], 0.0
    for start, end in runs:
        piece = y[int(start * hop_s * rate):int(end * hop_s * rate)]
        if piece.size < 2048:
            continue
        pieces.append(piece)
        total += piece.size / rate
        if total >= max_seconds:
            break
    if not pieces:
        return None
    f0, voiced, _ = librosa.pyin(np.concatenate(pieces), fmin=65.0, fmax=1000.0, sr=rate, frame_length=1024,
                                 hop_length=320, resolution=0.5)
    f0 = f0[voiced & np.isfinite(f0)]
    if f0.size * 0.02 < MIN_SUNG_S / 2:
        return None
    return float(np.median(librosa.hz_to_midi(f0)))
