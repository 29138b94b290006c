"""Structure scores against a reference: boundary hit rates (mir_eval) and frame-level label accuracy.

- ``hr05_f`` / ``hr3_f``: boundary detection F-measure with a 0.5 s / 3 s window
  (``mir_eval.segment.detection``, ``trim=False``: the song's start and end count as boundaries, which
  lifts scores a little for songs with few sections).
- ``accuracy``: the share of 10 Hz frames (centres at 0.05 s, 0.15 s, ... over the reference's span)
  whose estimated label equals the reference label; a frame outside every estimated section is wrong.

Real songs have no section labels, but their human line timings are evidence (:func:`line_evidence`):

- ``sung_in_vocal``: the share of annotated sung-line time (10 Hz frames inside any line) that lies in a
  verse, chorus or bridge;
- ``inst_clean``: the share of intro/inst/outro/silence time with no annotated line;
- ``repeated_in_chorus``: of the lines whose text (case- and accent-folded) occurs twice or more in the
  song, the share whose midpoint lies in a chorus;
- ``runs``: the longest run of consecutive sections with the same label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.alignment.normalise import fold
from songprep.records import Section

FRAME_RATE_HZ = 10.0
VOCAL_SECTION_LABELS = ("verse", "chorus", "bridge")


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


@dataclass(frozen=True)
class LineEvidence:
    """Scores of sections against human line timings (see the module docstring); NaN where undefined."""

    sung_in_vocal: float
    inst_clean: float
    repeated_in_chorus: float
    runs: int
    repeated_lines: int


def longest_run(labels: list[str]) -> int:
    """The longest run of equal consecutive labels (0 for none)."""
    best = run = 0
    for i, label in enumerate(labels):
        run = run + 1 if i and labels[i - 1] == label else 1
        best = max(best, run)
    return best


def repeated_line_mask(texts: list[str]) -> np.ndarray:
    """True for each line whose folded text (words joined) occurs twice or more among ``texts``."""
    keys = [" ".join(fold(w) for w in t.split() if fold(w)) for t in texts]
    counts: dict[str, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    return np.array([bool(k) and counts[k] >= 2 for k in keys], dtype=bool)


def line_evidence(sections: list[Section], lines: list[tuple[float, float, str]],
                  frame_rate_hz: float = FRAME_RATE_HZ) -> LineEvidence:
    """Sections scored against annotated lines ``(start_s, end_s, text)``."""
    end = max([s.end_s for s in sections] + [b for _, b, _ in lines] + [0.0])
    times = np.arange(0.5 / frame_rate_hz, end, 1.0 / frame_rate_hz)
    labels = frame_labels(sections, times)
    in_line = np.zeros(times.shape, dtype=bool)
    for a, b, _ in lines:
        in_line |= (times >= a) & (times < b)
    vocal = np.isin(labels, VOCAL_SECTION_LABELS)
    quiet = np.isin(labels, ("intro", "inst", "outro", "silence"))
    sung_in_vocal = float(vocal[in_line].mean()) if in_line.any() else float("nan")
    inst_clean = float((~in_line[quiet]).mean()) if quiet.any() else float("nan")
    repeated = repeated_line_mask([t for _, _, t in lines])
    mids = np.array([(a + b) / 2 for a, b, _ in lines])[repeated]
    chorus = frame_labels(sections, mids) == "chorus" if mids.size else np.zeros(0, dtype=bool)
    return LineEvidence(sung_in_vocal, inst_clean, float(chorus.mean()) if chorus.size else float("nan"),
                        longest_run([s.label for s in sections]), int(repeated.sum()))
