"""Plain structure baselines the benchmark measures beside :func:`songprep.structure.segment`.

- ``agglomerative``: librosa's constrained agglomerative clustering of beat-synchronous chroma + MFCC
  into a fixed number of segments (librosa.segment.agglomerative), the textbook recipe.
- ``blocks``: fixed 8-bar blocks on our own bar grid.

Both label by position only: the first segment ``intro``, the last ``outro``, and ``verse`` /
``chorus`` alternating in between, which is what a reader would guess without listening.
"""

from __future__ import annotations

import numpy as np

from songprep.features import SongFeatures
from songprep.records import Section
from songprep.structure.bars import bar_features


def positional_labels(edges_s: list[float]) -> list[Section]:
    """Sections between consecutive edges, labelled intro, verse, chorus, verse, ..., outro."""
    n = len(edges_s) - 1
    labels = ["intro"] + [("verse", "chorus")[i % 2] for i in range(max(n - 2, 0))] + ["outro"]
    labels = labels[:n] if n >= 2 else ["verse"] * n
    return [Section(label, edges_s[i], edges_s[i + 1]) for i, label in enumerate(labels)]


def agglomerative(feats: SongFeatures, n_segments: int = 8) -> list[Section]:
    import librosa

    x = np.vstack([feats.beat_chroma, librosa.util.normalize(feats.beat_mfcc, axis=1)])
    k = max(1, min(n_segments, x.shape[1]))
    starts = librosa.segment.agglomerative(x, k) if x.shape[1] else np.zeros(1, dtype=int)
    edges = [0.0] + [float(feats.beats_s[i]) for i in starts if i > 0] + [feats.duration_s]
    return positional_labels(edges)


def blocks(feats: SongFeatures, bars_per_block: int = 8) -> list[Section]:
    lines = bar_features(feats).starts_s
    edges = [float(t) for t in lines[:-1:bars_per_block]] + [feats.duration_s]
    return positional_labels(edges)
