"""A corpus of bad and unusual inputs, generated (never committed), with the outcome each must get.

Every file either becomes a song row (unusual but valid audio: 8-bit, float, 8 kHz, 192 kHz,
6 channels, clipping, unicode names, DC offset, a lone click, just over the minimum length) or a reject
row at a known stage (corrupt, NaN samples, empty, not audio, silent, over-long, duplicate content,
unreadable or empty lyrics). Some files pass decode and lyrics and are refused further down the full
chain (reference lyrics beside an instrumental: align finds none of the words): :attr:`Expected.full_stage`.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class Expected:
    """``stage`` is None for a file that must become a song (with decode and lyrics, the model-free
    stages); ``full_stage`` is where the full default chain refuses it instead (None: it becomes a
    song there too), with ``full_reason`` in its reason."""

    stage: str | None
    reason_prefix: str = ""
    full_stage: str | None = None
    full_reason: str = ""

    def on_full_chain(self) -> Expected:
        """The outcome under the full default chain (decode ... markup)."""
        if self.stage is not None or self.full_stage is None:
            return self
        return Expected(self.full_stage, self.full_reason)


def _music(seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    notes = 220 * 2 ** (rng.integers(0, 12, size=8) / 12)
    x = sum(0.1 * np.sin(2 * np.pi * f * t) * (np.sin(2 * np.pi * (k + 1) * t / seconds) ** 2)
            for k, f in enumerate(notes))
    x = x + 0.005 * rng.standard_normal(t.size)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def _ffmpeg(src: Path, dst: Path) -> None:
    from songprep.tools import require

    subprocess.run([require("ffmpeg"), "-y", "-loglevel", "error", "-i", str(src), str(dst)], check=True)


def build_bad_corpus(root: str | Path, long_hours: float = 1.0) -> dict[str, Expected]:
    """Write the corpus under ``root`` and return ``{relative path: expected outcome}``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rate = 44100
    expected: dict[str, Expected] = {}

    def song(name: str, data: np.ndarray, sr: int = rate, subtype: str | None = None,
             outcome: Expected = Expected(None)) -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, data, sr, subtype=subtype)
        expected[name] = outcome
        return path

    good = song("good.flac", _music(4, rate, 2, 0))
    song("pcm-8bit.wav", _music(3, rate, 1, 1), subtype="PCM_U8")
    song("float32.wav", _music(3, rate, 2, 2), subtype="FLOAT")
    song("rate-8k.wav", _music(3, 8000, 1, 3), sr=8000)
    song("rate-192k.flac", _music(3, 192000, 2, 4), sr=192000)
    song("six-channel.wav", _music(3, 48000, 6, 5), sr=48000)
    clipped = np.clip(np.random.default_rng(6).standard_normal((rate * 3, 2)) * 2, -1, 1).astype(np.float32)
    song("clipping-noise.wav", clipped)
    song("Ünïcode name with spaces/canción 歌.flac", _music(3, rate, 2, 7))
    song("silence.wav", np.zeros((rate * 3, 2), np.float32), outcome=Expected("decode", "silent"))
    long_rate = 8000
    song("one-hour.wav", np.zeros((int(long_hours * 3600 * long_rate), 1), np.int16).astype(np.float32) + 0.01,
         sr=long_rate, subtype="PCM_16", outcome=Expected("decode", "too long"))

    dup = root / "zz-copy-of-good.flac"  # sorts after good.flac, so it is the one set aside
    shutil.copyfile(good, dup)
    expected[dup.name] = Expected("dedupe", "same content as good.flac")

    (root / "zero-length.flac").write_bytes(b"")
    expected["zero-length.flac"] = Expected("decode", "empty file")
    (root / "text-not-audio.wav").write_text("these are not the samples you are looking for\n" * 40)
    expected["text-not-audio.wav"] = Expected("decode", "not readable as audio")

    flac = song("truncated.flac", _music(6, rate, 2, 8))
    flac.write_bytes(flac.read_bytes()[:2000])  # header and a sliver of the first frame
    expected["truncated.flac"] = Expected("decode")
    corrupt = song("corrupt.flac", _music(6, rate, 2, 9))
    data = bytearray(corrupt.read_bytes())
    data[200:] = np.random.default_rng(10).integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes()
    corrupt.write_bytes(bytes(data))
    expected["corrupt.flac"] = Expected("decode")
    mp3 = root / "truncated.mp3"
    _ffmpeg(song("mp3-source.wav", _music(6, rate, 2, 11)), mp3)
    (root / "mp3-source.wav").unlink()
    del expected["mp3-source.wav"]
    mp3.write_bytes(mp3.read_bytes()[:600])
    expected["truncated.mp3"] = Expected("decode")

    song("dc-offset.wav", np.full((rate * 3, 2), 0.5, np.float32))
    click = np.zeros((rate * 3, 2), np.float32)
    click[rate] = 0.9
    song("lone-click.wav", click)  # not silent by its peak, nothing else: every later stage sees near-silence
    song("just-over-minimum.wav", _music(1.05, rate, 2, 14))
    poisoned = _music(3, rate, 2, 15)
    poisoned[1000:2000] = np.nan
    poisoned[5000] = np.inf
    song("nan-samples.wav", poisoned, subtype="FLOAT", outcome=Expected("decode", "corrupt samples"))

    song("lyrics-latin1.flac", _music(3, rate, 2, 12), outcome=Expected("lyrics", "lyrics file is not UTF-8"))
    (root / "lyrics-latin1.txt").write_bytes("caf\xe9 con leche\nma\xf1ana\n".encode("latin-1"))
    song("lyrics-broken.flac", _music(3, rate, 2, 13), outcome=Expected("lyrics", "broken lyric markup"))
    (root / "lyrics-broken.txt").write_text("[verse] hello there.second line ; [chorus la la la\n", encoding="utf-8")
    song("lyrics-empty.flac", _music(3, rate, 2, 16), outcome=Expected("lyrics", "holds no lyric lines"))
    (root / "lyrics-empty.txt").write_text("", encoding="utf-8")
    song("lyrics-on-instrumental.flac", _music(4, rate, 2, 17),
         outcome=Expected(None, full_stage="align", full_reason="lyrics do not match the audio"))
    (root / "lyrics-on-instrumental.txt").write_text("hello world this is a song\nsecond line of words\n",
                                                     encoding="utf-8")
    return expected
