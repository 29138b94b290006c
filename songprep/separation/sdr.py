"""Signal-to-distortion ratio as the Music Demixing Challenge scores it.

The MDX "global SDR" of an estimate ``ŝ`` of a stem ``s`` is ``10·log10(Σ s² / Σ (s − ŝ)²)`` over all
samples and channels at once: no BSSEval projection, no framing, so a gain error or a delay counts
against the estimate (as it should for a training corpus). The small ``EPSILON`` in both sums (MDX
uses 1e-7) keeps silence finite. The mixture's own SDR (``ŝ = mix``) is the floor a separator must
beat.
"""

from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-7


def global_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """MDX global SDR in dB of ``estimate`` against ``reference`` (same shape, e.g. ``(channels, frames)``).

    >>> s = np.ones((2, 100), np.float32)
    >>> round(global_sdr(s, 0.9 * s), 1)  # a 10 % gain error is 20 dB
    20.0
    """
    reference = np.asarray(reference, np.float64)
    estimate = np.asarray(estimate, np.float64)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference and estimate differ in shape: {reference.shape} vs {estimate.shape}")
    signal = float(np.sum(reference ** 2)) + EPSILON
    error = float(np.sum((reference - estimate) ** 2)) + EPSILON
    return 10 * math.log10(signal / error)
