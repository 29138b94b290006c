"""decode: read the file once, measure it at the source rate, hand on the standardised audio."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from songprep import audio as audio_io
from songprep.errors import AudioDecodeError, AudioRejected
from songprep.stages.base import SongItem, Stage


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DecodeStage(Stage):
    """Probe (refuse over-long files unread), decode, refuse broken samples, measure loudness/peak, refuse
    silence, standardise."""

    name = "decode"
    reads = ("source",)
    writes = ("duration_s", "sample_rate", "channels", "content_sha256", "loudness_lufs", "peak_dbfs", "audio")

    def process(self, item: SongItem) -> SongItem:
        cfg = self.config
        info = audio_io.probe(item.source.path)
        if info.duration_s > cfg.max_duration_s:
            raise AudioRejected(f"too long: {info.duration_s:.0f} s > max {cfg.max_duration_s:.0f} s")
        decoded = audio_io.decode(item.source.path)
        if decoded.duration_s < cfg.min_duration_s:
            raise AudioRejected(f"too short: {decoded.duration_s:.2f} s < min {cfg.min_duration_s:.2f} s")
        broken = int(np.count_nonzero(~np.isfinite(decoded.samples)))
        if broken:  # a float file with NaN/inf samples: every measure and model downstream would be poisoned
            raise AudioDecodeError(f"corrupt samples: {broken} of {decoded.samples.size} are NaN or infinite")
        peak = audio_io.peak_dbfs(decoded)
        if peak < cfg.silence_dbfs:
            level = "digital silence" if math.isinf(peak) else f"peak {peak:.1f} dBFS"
            raise AudioRejected(f"silent: {level} (threshold {cfg.silence_dbfs:.0f} dBFS)")
        loudness = audio_io.loudness_lufs(decoded)
        song = item.song
        song.duration_s = decoded.duration_s
        song.sample_rate = decoded.sample_rate
        song.channels = decoded.channels
        song.content_sha256 = file_sha256(item.source.path)
        song.peak_dbfs = round(peak, 3)
        song.loudness_lufs = round(loudness, 3) if math.isfinite(loudness) else None
        item.audio = audio_io.standardise(decoded, cfg.sample_rate, cfg.channels)
        return item
