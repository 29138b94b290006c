"""Structure scores against a reference: boundary hit rates (mir_eval) and frame-level label accuracy.

- ``hr05_f`` / ``hr3_f``: boundary detection F-measure with a 0.5 s / 3 s window
  (``mir_eval.segment.detection``, ``trim=False``: the song's start and end count as boundaries, which
  lifts scores a little for songs with few sections).
- ``accuracy``: the share of 10 Hz frames (centres at 0.05 s, 0.15 s, ... over the reference's span)
  whose estimated label equals the reference label; a frame outside every estimated section is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.records import Section

FRAME_RATE_HZ = 10.0


@dataclass(frozen=True)
class StructureScores:
    hr05_f: float
    hr3_f: float
    accuracy: float


def intervals(sections: list[Section]) -> np.ndarray:
    return np.array([[s.start_s, s.end_s] for s in sections], dtype=float).reshape(-1, 2)


def frame_labels(sections: list[Section], times_s: np.ndarray) -> np.ndarray:
    """The label at each time ('' where no section holds it)."""
    out = np.full(times_s.shape, "", dtype=object)
    for s in sections:
        out[(times_s >= s.start_s) & (times_s < s.end_s)] = s.label
    return out


def label_accuracy(reference: list[Section], estimate: list[Section], frame_rate_hz: float = FRAME_RATE_HZ) -> float:
    start, end = reference[0].start_s, reference[-1].end_s
    times = np.arange(start + 0.5 / frame_rate_hz, end, 1.0 / frame_rate_hz)
    if times.size == 0:
        return 0.0
    return float(np.mean(frame_labels(reference, times) == frame_labels(estimate, times)))


def score(reference: list[Section], estimate: list[Section]) -> StructureScores:
    import mir_eval

    ref, est = intervals(reference), intervals(estimate)
    hr05 = mir_eval.segment.detection(ref, est, window=0.5, trim=False)[2]
    hr3 = mir_eval.segment.detection(ref, est, window=3.0, trim=False)[2]
    return StructureScores(float(hr05), float(hr3), label_accuracy(reference, estimate))
