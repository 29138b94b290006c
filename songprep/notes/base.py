"""What every note transcriber is, and the shared front end: mono, resampled, levels to velocities."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np

from songprep.audio import Audio, resample, to_channels
from songprep.records import Note

#: Velocity 1 at this level and below, 127 at 0 dBFS, linear in dB between.
VELOCITY_FLOOR_DB = -60.0


class NoteTranscriber(Protocol):
    """Audio in, note events out; constructed once (models loaded), called once per stem."""

    name: str  # registry name: "pyin", "basic-pitch"
    version: str  # backend library version, for provenance

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Note]:
        """Notes of ``audio`` (``(frames,)`` mono or ``(channels, frames)``), sorted by onset then pitch."""
        ...


def mono_at(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """``audio`` as float32 mono at ``target_rate`` (channel mean, soxr resampling)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"audio must be (frames,) or (channels, frames), got shape {x.shape}")
    mono = to_channels(Audio(x, sample_rate), 1)
    return resample(mono, target_rate).samples[0]


def velocity_from_db(level_db: float | np.ndarray) -> np.ndarray:
    """MIDI velocity (1..127) of an RMS level in dBFS."""
    scaled = 1.0 + 126.0 * (np.asarray(level_db, dtype=np.float64) - VELOCITY_FLOOR_DB) / -VELOCITY_FLOOR_DB
    return np.clip(np.rint(scaled), 1, 127).astype(int)


def sort_notes(notes: list[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: (n.start_s, n.pitch, n.end_s))


def within(notes: list[Note], audio: np.ndarray, sample_rate: int) -> list[Note]:
    """Notes cut to the audio they came from: a frame-based backend's last frame may reach past the end."""
    duration_s = audio.shape[-1] / sample_rate
    return [replace(n, end_s=min(n.end_s, duration_s)) for n in notes if n.start_s < duration_s]
