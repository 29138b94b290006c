"""Audio I/O: the only place songprep reads or writes audio files.

Decoding goes through libsndfile (soundfile: wav, flac, ogg/vorbis, opus, mp3, aiff) and falls back
to FFmpeg via torchcodec for everything else (m4a/aac, wma, ...). Arrays are float32 shaped
``(channels, frames)``. Files are probed before they are decoded, so an over-long file is refused
without being read into memory.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songprep.atomic import atomic_path
from songprep.errors import AudioDecodeError
from songprep.tools import ToolMissingError

#: Extensions treated as audio inputs (lower case, with dot).
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma")
_SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff")


@dataclass
class AudioInfo:
    """What a file's header says, read without decoding the samples."""

    sample_rate: int
    channels: int
    duration_s: float
    codec: str


@dataclass
class Audio:
    """Decoded samples, float32 ``(channels, frames)`` in [-1, 1], at ``sample_rate``.

    >>> a = Audio(np.zeros((2, 44100), np.float32), 44100)
    >>> a.duration_s, a.channels
    (1.0, 2)
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise ValueError(f"samples must be (channels, frames), got shape {self.samples.shape}")

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def mono(self) -> np.ndarray:
        """The channel mean, float32 ``(frames,)``: what analysis features are computed on."""
        return self.samples.mean(axis=0)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise AudioDecodeError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise AudioDecodeError("empty file (0 bytes)")


def probe(path: str | Path) -> AudioInfo:
    """Read rate, channels and duration from the header; raises AudioDecodeError if it is not audio."""
    path = Path(path)
    _check_file(path)
    errors = []
    if path.suffix.lower() in _SOUNDFILE_EXTENSIONS:
        import soundfile as sf

        try:
            info = sf.info(str(path))
            if info.frames > 0 and info.samplerate > 0:
                return AudioInfo(info.samplerate, info.channels, info.frames / info.samplerate, info.format.lower())
            errors.append("header reports no samples")
        except Exception as err:  # libsndfile reports corrupt and foreign files alike
            errors.append(_one_line(err))
    try:
        decoder = _ffmpeg_decoder(path)
        meta = decoder.metadata
        duration = meta.duration_seconds_from_header or meta.duration_seconds
        if not duration or not meta.sample_rate:
            raise AudioDecodeError("no duration in header")
        return AudioInfo(int(meta.sample_rate), int(meta.num_channels), float(duration), str(meta.codec))
    except ToolMissingError:
        raise
    except Exception as err:
        errors.append(_one_line(err))
    raise AudioDecodeError(_describe("not readable as audio", errors, path))


def decode(path: str | Path) -> Audio:
    """Decode a whole file to float32 ``(channels, frames)`` at its own rate."""
    path = Path(path)
    _check_file(path)
    errors = []
    if path.suffix.lower() in _SOUNDFILE_EXTENSIONS:
        import soundfile as sf

        try:
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
            if data.shape[0] == 0:
                raise AudioDecodeError("no samples")
            return Audio(np.ascontiguousarray(data.T), int(rate))
        except Exception as err:
            errors.append(_one_line(err))
    try:
        samples = _ffmpeg_decoder(path).get_all_samples()
        data = samples.data.numpy().astype(np.float32, copy=False)
        if data.shape[-1] == 0:
            raise AudioDecodeError("no samples")
        return Audio(np.ascontiguousarray(data), int(samples.sample_rate))
    except ToolMissingError:
        raise
    except Exception as err:
        errors.append(_one_line(err))
    raise AudioDecodeError(_describe("cannot decode", errors, path))


def _describe(what: str, errors: list[str], path: Path) -> str:
    """One line naming each decoder's complaint once, with the file's name rather than its full path."""
    return f"{what}: " + "; ".join(dict.fromkeys(e.replace(str(path), path.name) for e in errors))


def _ffmpeg_decoder(path: Path):
    from songprep.tools import ffmpeg_decoding, require_ffmpeg_decoding

    why = ffmpeg_decoding()  # torchcodec loads FFmpeg's shared libraries at import
    if why and path.suffix.lower() in _SOUNDFILE_EXTENSIONS:  # libsndfile's complaint about the file stands
        raise AudioDecodeError(f"FFmpeg decoding unavailable ({why}); install ffmpeg")
    require_ffmpeg_decoding()  # only FFmpeg reads this format: a missing library is songprep's problem, not the file's
    from torchcodec.decoders import AudioDecoder

    return AudioDecoder(str(path))


_NATIVE_SOURCE = re.compile(r"\w+, /\S+\.(?:cpp|c|h):\d+, ")


def _one_line(err: BaseException) -> str:
    """First line of a library's error, without C++ source locations (they mean nothing to users)."""
    lines = str(err).strip().splitlines()
    text = _NATIVE_SOURCE.sub("", lines[0]) if lines else type(err).__name__
    return text[:300]


def to_channels(audio: Audio, channels: int) -> Audio:
    """Mono <-> stereo; more than two channels fold down to stereo (ITU 5.1 weights for 6 channels)."""
    x = audio.samples
    if audio.channels == channels:
        return audio
    if channels == 1:
        return Audio(x.mean(axis=0, keepdims=True), audio.sample_rate)
    if channels != 2:
        raise ValueError(f"channels must be 1 or 2, got {channels}")
    if audio.channels == 1:
        return Audio(np.repeat(x, 2, axis=0), audio.sample_rate)
    if audio.channels == 6:  # L R C LFE Ls Rs
        g = 1 / math.sqrt(2)
        left = x[0] + g * x[2] + g * x[4]
        right = x[1] + g * x[2] + g * x[5]
        folded = np.stack([left, right]) / (1 + 2 * g)
    else:
        folded = np.stack([x[0::2].mean(axis=0), x[1::2].mean(axis=0)])
    return Audio(folded.astype(np.float32), audio.sample_rate)


def resample(audio: Audio, sample_rate: int) -> Audio:
    """Band-limited resampling with soxr (high quality); a no-op at the same rate."""
    if audio.sample_rate == sample_rate:
        return audio
    import soxr

    y = soxr.resample(audio.samples.T, audio.sample_rate, sample_rate, quality="HQ")
    return Audio(np.ascontiguousarray(y.T, dtype=np.float32), sample_rate)


def standardise(audio: Audio, sample_rate: int, channels: int) -> Audio:
    """The working form every stage sees: fixed rate and channel count."""
    return resample(to_channels(audio, channels), sample_rate)


def peak_dbfs(audio: Audio) -> float:
    peak = float(np.max(np.abs(audio.samples))) if audio.frames else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def loudness_lufs(audio: Audio) -> float:
    """ITU-R BS.1770-4 integrated loudness (pyloudnorm); -inf for silence, NaN if under 0.4 s."""
    import pyloudnorm

    if audio.duration_s < 0.4:
        return math.nan
    meter = pyloudnorm.Meter(audio.sample_rate)
    data = audio.samples.T if audio.channels <= 5 else to_channels(audio, 2).samples.T
    return float(meter.integrated_loudness(data.astype(np.float64)))


def speak(text: str, voice: str, speed: int, pitch: int | None = None) -> Audio:
    """espeak-ng's rendering of ``text`` (mono, at espeak's own rate, float32 from its 16-bit output).

    One way to voice text for the test songs and the aligner's guide; raises AudioDecodeError when
    espeak-ng fails or writes nothing. A header-only WAV comes back as zero frames.
    """
    import io

    import soundfile as sf

    from songprep.tools import require

    cmd = [require("espeak-ng"), "-b", "1", "-v", voice, "-s", str(speed)]
    if pitch is not None:
        cmd += ["-p", str(pitch)]
    result = subprocess.run([*cmd, "--stdout", text], capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        stderr = result.stderr.decode(errors="replace")[-300:]
        raise AudioDecodeError(f"espeak-ng could not voice {text!r} with {voice}: {stderr}")
    samples, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return Audio(np.ascontiguousarray(samples.reshape(1, -1)), int(rate))


def write_audio(path: str | Path, audio: Audio, subtype: str = "PCM_24") -> Path:
    """Write atomically (temp file + rename): a crash never leaves a half-written stem behind."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(audio.samples.T, -1.0, 1.0), audio.sample_rate, subtype=subtype)
    return Path(path)
