"""Note-level transcription scores with ``mir_eval.transcription`` (pure functions over Note lists).

Three views, as in the transcription literature: onset only (pitch ignored), onset + pitch, and
onset + pitch + offset. Onsets match within ``onset_tolerance`` (50 ms by default), pitches within a
quarter tone, offsets within 20 % of the reference note's length or 50 ms, whichever is larger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from songprep.records import Note

ONSET_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class NoteScores:
    """Precision, recall and F1 of one view, with the counts they came from."""

    precision: float
    recall: float
    f1: float
    n_reference: int
    n_estimate: int


def _intervals_hz(notes: Sequence[Note]) -> tuple[np.ndarray, np.ndarray]:
    intervals = np.array([[n.start_s, n.end_s] for n in notes], dtype=np.float64).reshape(-1, 2)
    pitches = 440.0 * 2.0 ** ((np.array([n.pitch for n in notes], dtype=np.float64) - 69.0) / 12.0)
    # mir_eval refuses zero-length intervals; a note one sample long is still a note.
    intervals[:, 1] = np.maximum(intervals[:, 1], intervals[:, 0] + 1e-4)
    return intervals, pitches


def note_scores(reference: Sequence[Note], estimate: Sequence[Note], *, pitch: bool = True, offset: bool = False,
                onset_tolerance: float = ONSET_TOLERANCE_S) -> NoteScores:
    """Scores of ``estimate`` against ``reference``; both empty counts as perfect, one empty as zero."""
    if not reference or not estimate:
        perfect = float(not reference and not estimate)
        return NoteScores(perfect, perfect, perfect, len(reference), len(estimate))
    import mir_eval

    ref_iv, ref_hz = _intervals_hz(reference)
    est_iv, est_hz = _intervals_hz(estimate)
    if pitch:
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=onset_tolerance, offset_ratio=0.2 if offset else None)
    elif offset:
        raise ValueError("offset scoring needs pitch=True")
    else:
        p, r, f = mir_eval.transcription.onset_precision_recall_f1(ref_iv, est_iv, onset_tolerance=onset_tolerance)
    return NoteScores(float(p), float(r), float(f), len(reference), len(estimate))


def transcription_f1(reference: Sequence[Note], estimate: Sequence[Note]) -> dict[str, float]:
    """``{"onset", "onset_pitch", "onset_pitch_offset"}`` F1: the three numbers a notes benchmark reports."""
    return {
        "onset": note_scores(reference, estimate, pitch=False).f1,
        "onset_pitch": note_scores(reference, estimate).f1,
        "onset_pitch_offset": note_scores(reference, estimate, offset=True).f1,
    }
