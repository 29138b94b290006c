"""The bar grid sections are made of, and per-bar features summarising each bar.

Sections are whole bars, contiguous, and cover the song, so everything downstream works on bars:
bar ``k`` spans ``[starts_s[k], starts_s[k + 1])``, the first starts at 0 and the last ends at the song's
end. Bar lines are the tracked downbeats; where the tracker found none (a free-time intro, a long
fade) the grid is extended at the median bar length, so the grid always covers the song.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.features import SongFeatures

#: A stretch at either end shorter than this many bars joins its neighbour instead of becoming a bar.
_PARTIAL_BAR = 0.5
#: A bar (or section) is silence this far (dB) below the song's loud level (95th percentile of bar power).
SILENCE_BELOW_DB = 40.0


@dataclass
class BarFeatures:
    """One row per bar. ``vocal`` is the share of singing frames (None without a vocal stem)."""

    starts_s: np.ndarray  # (n_bars + 1,) bar lines, starts_s[0] == 0, starts_s[-1] == duration
    chroma: np.ndarray  # (n_bars, 12 * beats_per_bar): chroma of each beat-long slice of the bar, stacked
    timbre: np.ndarray  # (n_bars, N_MFCC - 1): mean MFCC without c0 (loudness lives in rms_db)
    rms_db: np.ndarray  # (n_bars,) mean power of the bar, in dBFS
    vocal: np.ndarray | None  # (n_bars,)
    median_db: np.ndarray | None = None  # (n_bars,) median frame level: a sliver of music leaves it low


    @property
    def n_bars(self) -> int:
        return int(self.rms_db.shape[0])

    @property
    def loud_db(self) -> float:
        """The song's loud level: the 95th percentile of bar power."""
        return float(np.percentile(self.rms_db, 95)) if self.n_bars else 0.0

    def silent(self) -> np.ndarray:
        """Bars far below the loud level (see :data:`SILENCE_BELOW_DB`), judged by their median frame."""
        level = self.median_db if self.median_db is not None else self.rms_db
        return level < self.loud_db - SILENCE_BELOW_DB

    def bar_of(self, time_s: float) -> int:
        """The bar a time falls in."""
        return int(np.clip(np.searchsorted(self.starts_s, time_s, side="right") - 1, 0, self.n_bars - 1))


def bar_lines(downbeats_s: np.ndarray, duration_s: float, default_bar_s: float) -> np.ndarray:
    """Bar lines covering ``[0, duration_s]``: downbeats, extended at the median bar length where missing."""
    down = np.asarray(downbeats_s, dtype=float)
    down = down[(down > 0) & (down < duration_s)]
    bar_s = float(np.median(np.diff(down))) if down.size >= 2 else default_bar_s
    if bar_s <= 0:
        bar_s = max(duration_s, 1e-3)
    if down.size == 0:
        down = np.array([bar_s]) if duration_s > bar_s * (1 + _PARTIAL_BAR) else np.zeros(0)
    lines = list(down)
    while lines and lines[0] - bar_s >= bar_s * _PARTIAL_BAR:  # extend backwards to the start
        lines.insert(0, lines[0] - bar_s)
    while lines and duration_s - (lines[-1] + bar_s) >= bar_s * _PARTIAL_BAR:  # and forwards to the end
        lines.append(lines[-1] + bar_s)
    if lines and lines[0] < bar_s * _PARTIAL_BAR:  # a sliver before the first bar line joins bar 0
        lines.pop(0)
    if lines and duration_s - lines[-1] < bar_s * _PARTIAL_BAR:
        lines.pop()
    return np.array([0.0, *lines, duration_s])


def bar_features(feats: SongFeatures) -> BarFeatures:
    """Summarise every bar of the song's grid (see :func:`bar_lines`)."""
    beats = feats.beats_s
    beat_s = float(np.median(np.diff(beats))) if beats.size >= 2 else 60.0 / max(feats.tempo_bpm, 1.0)
    starts = bar_lines(feats.downbeats_s, feats.duration_s, beat_s * feats.beats_per_bar)
    m = feats.beats_per_bar
    # Sub-bar slices: each bar cut into beats_per_bar equal parts (beats inside a bar are near-even).
    slice_edges = np.concatenate([np.linspace(a, b, m + 1)[:-1] for a, b in zip(starts[:-1], starts[1:])])
    slice_edges = np.r_[slice_edges, feats.duration_s]
    frames = feats.frame_of(slice_edges)
    frames[-1] = feats.n_frames
    chroma = _span_mean(feats.chroma, frames)  # (12, n_bars * m)
    n_bars = starts.shape[0] - 1
    chroma = chroma.T.reshape(n_bars, m * 12)
    bar_frames = frames[::m]
    timbre = _span_mean(feats.mfcc[1:], bar_frames).T
    power = _span_mean(10 ** (feats.frame_rms_db[None] / 10), bar_frames)[0]
    vocal = _span_mean(feats.vocal_activity[None], bar_frames)[0] if feats.vocal_activity is not None else None
    spans = zip(bar_frames[:-1], bar_frames[1:])
    median_db = np.array([np.median(feats.frame_rms_db[a:max(b, a + 1)]) for a, b in spans])
    return BarFeatures(starts, chroma, timbre, 10 * np.log10(np.maximum(power, 1e-10)), vocal, median_db)


def _span_mean(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``x`` (dims, frames) over ``[edges[i], edges[i+1])``; an empty span takes its first frame."""
    edges = np.clip(edges.astype(int), 0, x.shape[1])
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=float)], axis=1)
    lo, hi = edges[:-1], edges[1:]
    out = (csum[:, hi] - csum[:, lo]) / np.maximum(hi - lo, 1)
    empty = hi <= lo
    if empty.any():
        out[:, empty] = x[:, np.minimum(lo[empty], x.shape[1] - 1)]
    return out
