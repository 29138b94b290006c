"""The song's bpm from the beat grid songprep already tracks (:mod:`songprep.features`).

Beats sit on analysis frames (23 ms apart), so a median inter-beat interval is quantised: at 126 bpm the
interval is 20.5 frames and the median reads 129.2 bpm (2.5% off). Instead every beat gets its index on an
ideal grid (skipped or doubled beats count as whole numbers of the median interval) and the period is the
least-squares slope of beat time against index, which averages the quantisation away.
Songs with fewer than :data:`MIN_BEATS` beats have no bpm.
"""

from __future__ import annotations

import numpy as np

MIN_BEATS = 4


def bpm_from_beats(beats_s: np.ndarray) -> float | None:
    """60 / the fitted beat period, or None when there are too few beats.

    >>> bpm_from_beats(np.round(np.arange(0, 20, 60 / 126) / 0.0232) * 0.0232)   # frame-quantised 126 bpm
    126.0
    """
    beats = np.asarray(beats_s, dtype=float)
    if beats.size < MIN_BEATS:
        return None
    ibi = np.diff(beats)
    median = float(np.median(ibi))
    if median <= 0:
        return None
    steps = np.maximum(np.round(ibi / median), 1.0)  # a skipped beat is two steps, not one long one
    index = np.r_[0.0, np.cumsum(steps)]
    period = float(np.polyfit(index, beats, 1)[0])
    return round(60.0 / period, 1) if period > 0 else None
