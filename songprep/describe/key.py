"""The song's key from its chroma: Krumhansl-Kessler profiles correlated with the mean chroma.

The 24 major and minor profiles (Krumhansl & Kessler 1982, probe-tone ratings) are rotated to every
tonic; the key is the one whose profile correlates best with the song's mean chroma (Krumhansl-Schmuckler).
Frames are weighted by loudness so quiet stretches (fades, silence) count less. A major key and its relative
minor share their notes, and the profiles often cannot tell them apart (on the synthetic calibration songs,
2 of 6 minor songs came out as their relative major); songs end on their tonic, so between the winner and
its relative key the one whose tonic triad is stronger in the last :data:`ENDING_SHARE` of the song wins
(6 of 6 there; bench/describe.py measures it on other songs). Names follow songprep's test songs:
"A minor", "Bb major".

>>> import numpy as np
>>> estimate_key(np.roll(MAJOR, 7)[:, None]).name   # a G major profile as the only frame
'G major'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
#: The share of the song (its end) whose chords decide between a key and its relative major/minor.
ENDING_SHARE = 0.05


@dataclass(frozen=True)
class KeyEstimate:
    """Tonic pitch class, mode, and the correlation of the winner and of the runner-up."""

    tonic: int
    mode: str
    score: float
    runner_up: float

    @property
    def name(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"


def estimate_key(chroma: np.ndarray, weights: np.ndarray | None = None) -> KeyEstimate:
    """Key of a (12, frames) chroma; ``weights`` (frames,) scale each frame's vote."""
    chroma = np.asarray(chroma, dtype=float)
    w = np.ones(chroma.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    mean = (chroma * w[None, :]).sum(axis=1) / max(float(w.sum()), 1e-9)
    scores = []
    for mode, profile in (("major", MAJOR), ("minor", MINOR)):
        for tonic in range(12):
            r = np.corrcoef(mean, np.roll(profile, tonic))[0, 1] if mean.std() > 0 else 0.0
            scores.append((float(r), tonic, mode))
    scores.sort(key=lambda s: -s[0])
    score, tonic, mode = scores[0]
    n = chroma.shape[1]
    ending = slice(min(int(n * (1 - ENDING_SHARE)), n - 1), n)
    end_chroma = (chroma[:, ending] * w[None, ending]).sum(axis=1)
    rel_tonic, rel_mode = ((tonic + 9) % 12, "minor") if mode == "major" else ((tonic + 3) % 12, "major")
    if _triad(end_chroma, rel_tonic, rel_mode) > _triad(end_chroma, tonic, mode):
        rel_score = next(s for s, t, m in scores if (t, m) == (rel_tonic, rel_mode))
        return KeyEstimate(rel_tonic, rel_mode, rel_score, score)
    return KeyEstimate(tonic, mode, score, scores[1][0])


def _triad(chroma: np.ndarray, tonic: int, mode: str) -> float:
    """Energy of the tonic triad's three pitch classes."""
    third = 4 if mode == "major" else 3
    return float(chroma[tonic] + chroma[(tonic + third) % 12] + chroma[(tonic + 7) % 12])
