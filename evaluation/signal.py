"""Signal checks every report shows beside the learned metrics: loudness, peaks, clipping, length, silence.

These are measurements of the file, not judgements of quality: a system that wins on aesthetics by
being 6 dB louder, or that clips, or that returns half-silent songs, shows it here.

>>> import numpy as np
>>> from songprep.audio import Audio
>>> checks = signal_checks(Audio(np.zeros((2, 44100), np.float32), 44100))
>>> checks.duration_s, checks.silence_ratio
(1.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from songprep.audio import Audio, loudness_lufs, peak_dbfs, resample

#: Frames whose RMS is below this level count as silent.
SILENCE_DBFS = -60.0
SILENCE_FRAME_S = 0.05
#: A sample at or above this magnitude counts as clipped (full scale, less one 16-bit step).
CLIP_LEVEL = 1.0 - 1.0 / 32768
TRUE_PEAK_OVERSAMPLING = 4

SIGNAL_METRICS = ("duration_s", "loudness_lufs", "sample_peak_dbfs", "true_peak_dbtp", "clipped_fraction",
                  "silence_ratio")
SIGNAL_LABELS = {
    "duration_s": "duration (s)",
    "loudness_lufs": "integrated loudness (LUFS, BS.1770-4)",
    "sample_peak_dbfs": "sample peak (dBFS)",
    "true_peak_dbtp": "true peak (dBTP, 4x oversampled)",
    "clipped_fraction": "clipped samples (fraction)",
    "silence_ratio": f"silence ratio (50 ms frames below {SILENCE_DBFS:.0f} dBFS RMS)",
}


@dataclass(frozen=True)
class SignalChecks:
    duration_s: float
    loudness_lufs: float
    sample_peak_dbfs: float
    true_peak_dbtp: float
    clipped_fraction: float
    silence_ratio: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def true_peak_dbtp(audio: Audio) -> float:
    """Peak of the 4x oversampled signal (BS.1770-4 Annex 2 style): catches inter-sample overs."""
    if audio.frames == 0:
        return -math.inf
    up = resample(audio, audio.sample_rate * TRUE_PEAK_OVERSAMPLING)
    peak = max(float(np.max(np.abs(up.samples))), float(np.max(np.abs(audio.samples))))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def silence_ratio(audio: Audio) -> float:
    """Share of 50 ms frames (channel mean) whose RMS is below -60 dBFS."""
    mono = audio.mono().astype(np.float64)
    hop = max(1, int(round(SILENCE_FRAME_S * audio.sample_rate)))
    n = mono.size // hop
    if n == 0:
        return 1.0 if not np.any(mono) else 0.0
    rms = np.sqrt(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1))
    return float(np.mean(rms < 10 ** (SILENCE_DBFS / 20)))


def signal_checks(audio: Audio) -> SignalChecks:
    clipped = float(np.mean(np.abs(audio.samples) >= CLIP_LEVEL)) if audio.frames else 0.0
    return SignalChecks(
        duration_s=audio.duration_s,
        loudness_lufs=loudness_lufs(audio),
        sample_peak_dbfs=peak_dbfs(audio),
        true_peak_dbtp=true_peak_dbtp(audio),
        clipped_fraction=clipped,
        silence_ratio=silence_ratio(audio),
    )
