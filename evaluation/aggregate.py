"""Summaries with uncertainty: per-system bootstrap CIs, and paired comparisons between systems.

Every resampling draws from ``numpy.random.default_rng(seed)`` with the seed recorded in the
protocol, so a rerun prints the same intervals. Songs are the resampling unit: for a corpus rate
(sum of errors / sum of reference lengths) whole songs are resampled with their counts.

>>> s = summarise([1.0, 2.0, 3.0, 4.0], seed=0)
>>> s.n, s.mean, s.median
(4, 2.5, 2.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20250601
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean, median and a percentile-bootstrap 95% CI of the mean over ``n`` songs."""

    n: int
    mean: float
    median: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` on the prompts both systems were scored on.

    ``p_wilcoxon``: two-sided Wilcoxon signed-rank test (scipy; zero differences dropped, NaN when all
    differences are zero). ``p_bootstrap``: two-sided paired bootstrap, twice the share of resampled
    mean differences on the far side of zero.
    """

    a: str
    b: str
    metric: str
    n: int
    mean_difference: float
    ci_low: float
    ci_high: float
    p_wilcoxon: float
    p_bootstrap: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _clean(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return x[np.isfinite(x)]


def _percentiles(stats: np.ndarray) -> tuple[float, float]:
    alpha = (1 - CONFIDENCE) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def _resample_index(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def summarise(values: Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Summary:
    """Mean, median and bootstrap CI of the finite values (NaN fields when there are none)."""
    x = _clean(values)
    if x.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    means = x[_resample_index(x.size, resamples, seed)].mean(axis=1)
    low, high = _percentiles(means)
    return Summary(int(x.size), float(x.mean()), float(np.median(x)), low, high)


def summarise_corpus_rate(errors: Sequence[float], lengths: Sequence[float], resamples: int = DEFAULT_RESAMPLES,
                          seed: int = DEFAULT_SEED) -> Summary:
    """Corpus rate sum(errors)/sum(lengths) with a bootstrap over songs; ``median`` is of per-song rates."""
    e, n = np.asarray(errors, dtype=np.float64), np.asarray(lengths, dtype=np.float64)
    keep = np.isfinite(e) & np.isfinite(n) & (n > 0)
    e, n = e[keep], n[keep]
    if e.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    idx = _resample_index(e.size, resamples, seed)
    rates = e[idx].sum(axis=1) / n[idx].sum(axis=1)
    low, high = _percentiles(rates)
    return Summary(int(e.size), float(e.sum() / n.sum()), float(np.median(e / n)), low, high)


def paired_difference(a_name: str, a: Sequence[float], b_name: str, b: Sequence[float], metric: str,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> PairedDifference:
    """Paired comparison of two systems' per-prompt values (same order; pairs with a NaN dropped)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    if d.size == 0:
        return PairedDifference(a_name, b_name, metric, 0, *(math.nan,) * 5)
    means = d[_resample_index(d.size, resamples, seed)].mean(axis=1)
    low, high = _percentiles(means)
    p_boot = min(1.0, 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0))))
    return PairedDifference(a_name, b_name, metric, int(d.size), float(d.mean()), low, high, _wilcoxon(d), p_boot)


def _wilcoxon(d: np.ndarray) -> float:
    if not np.any(d != 0):
        return math.nan
    from scipy.stats import wilcoxon

    return float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
