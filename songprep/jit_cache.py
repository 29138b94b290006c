"""Compile (or load) the numba code songprep runs, one process at a time, before any song is touched.

Why: numba's on-disk cache is not safe when several processes compile the same functions at once
(numba issues #4807 and #10128): a gufunc and its wrapper saved by two different processes disagree on
an ABI tag, and from then on every process that loads them calls a null pointer and dies. Seen here:
``prep -j 2`` on a fresh environment beside another librosa process left ``librosa.beat.beat_track``
segfaulting in every later process (prep's workers died as "out of memory, or killed") until the cache
files were deleted. So each songprep process runs its numba paths on a short signal under an exclusive
file lock when its pipeline is set up: the first process compiles and saves the whole cache alone, the
others wait and then load complete files. The signatures match prep's (float32 audio at prep's rates).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_WARM = False


def lock_path() -> Path:
    """One lock per user and machine: numba's cache lives beside the packages, shared by every process."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"songprep-jit-{uid}.lock"


@contextmanager
def exclusive(path: Path):
    """An exclusive advisory lock on ``path`` for the block (no lock where the OS has no flock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: numba's race remains, as without songprep
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def warm_jit_caches() -> None:
    """Run every numba-compiled path prep uses once, under the lock (once per process)."""
    global _WARM
    if _WARM:
        return
    with exclusive(lock_path()):
        _exercise()
    _WARM = True


def _exercise() -> None:
    import librosa

    from songprep.alignment.guide import _dtw, _normalise, activity, frame_db, mfcc
    from songprep.audio import Audio
    from songprep.features import ANALYSIS_RATE, compute_features

    rng = np.random.default_rng(0)
    noise = rng.standard_normal(ANALYSIS_RATE * 8).astype(np.float32) * 0.1
    compute_features(Audio(noise[None, :], ANALYSIS_RATE))  # stft, onsets, beat tracking, chroma, mfcc, rms
    tone = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32)
    librosa.pyin(tone, fmin=65.0, fmax=1000.0, sr=16000, frame_length=1024, hop_length=320, resolution=0.5)
    feats = mfcc(tone)  # the guide DTW kernel, with align_guide's dtypes and layouts
    act = activity(frame_db(tone)[: len(feats)]).astype(np.float32)
    audio = _normalise(feats[: len(act)], act)
    _dtw(audio, audio[:4].copy(), act, np.zeros(4, np.int8), np.full(4, -1.0, np.float32), 0.5, 1.0)
