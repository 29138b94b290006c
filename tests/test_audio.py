from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import RATE, tone, write_audio_file
from songprep.audio import (
    Audio,
    decode,
    loudness_lufs,
    peak_dbfs,
    probe,
    resample,
    standardise,
    to_channels,
    write_audio,
)
from songprep.errors import AudioDecodeError


@pytest.mark.parametrize(("name", "subtype"), [
    ("a.wav", "PCM_16"), ("a24.wav", "PCM_24"), ("f32.wav", "FLOAT"), ("u8.wav", "PCM_U8"), ("a.flac", None),
    ("a.ogg", None), ("a.mp3", None), ("a.m4a", None),
])
def test_decode_each_format(tmp_path, name, subtype):
    src = tone(2.0, seed=3)
    path = write_audio_file(tmp_path / name, src, RATE, subtype)
    info = probe(path)
    audio = decode(path)
    assert (info.sample_rate, info.channels) == (RATE, 2)
    assert audio.sample_rate == RATE and audio.channels == 2
    assert audio.samples.dtype == np.float32
    assert abs(audio.duration_s - 2.0) < 0.06  # lossy codecs pad a few ms
    assert abs(info.duration_s - 2.0) < 0.06
    if name.endswith((".wav", ".flac")):  # lossless: the samples themselves come back
        tol = 1 / 64 if subtype == "PCM_U8" else 1e-4
        assert np.max(np.abs(audio.samples.T - src)) < tol
    else:  # lossy: same signal, judged by correlation after aligning the codec's delay
        x, y = src[:, 0], audio.samples[0]
        lag = int(np.argmax(np.correlate(y[:6000], x[:4000], "valid")))
        n = min(x.size, y.size - lag) - 2000
        assert np.corrcoef(x[:n], y[lag:lag + n])[0, 1] > 0.98


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage" * 10, b"plain text, not audio\n" * 20])
def test_non_audio_is_a_decode_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError):
        probe(path)
    with pytest.raises(AudioDecodeError):
        decode(path)


def test_truncated_flac_decodes_what_is_there_or_fails_cleanly(tmp_path):
    path = write_audio_file(tmp_path / "t.flac", tone(3.0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        audio = decode(path)
    except AudioDecodeError:
        return
    assert 0 < audio.duration_s <= 3.0


def test_channel_handling():
    mono = Audio(tone(1.0, channels=1).T.copy(), RATE)
    assert to_channels(mono, 2).channels == 2
    np.testing.assert_array_equal(to_channels(mono, 2).samples[0], mono.samples[0])
    six = Audio(np.zeros((6, 100), np.float32), RATE)
    six.samples[2] = 0.5  # centre channel only: equal in left and right
    folded = to_channels(six, 2)
    assert folded.channels == 2 and np.allclose(folded.samples[0], folded.samples[1]) and folded.samples[0, 0] > 0
    assert to_channels(Audio(tone(1.0).T.copy(), RATE), 1).channels == 1


def test_resample_keeps_duration_and_pitch():
    x = Audio(tone(2.0, rate=48000, channels=1, freq=1000, seed=0).T.copy(), 48000)
    y = resample(x, 16000)
    assert y.sample_rate == 16000 and abs(y.frames - 32000) <= 1
    spectrum = np.abs(np.fft.rfft(y.samples[0]))
    assert abs(np.argmax(spectrum) * 16000 / y.frames - 1000) < 2
    assert standardise(x, 44100, 2).channels == 2


def test_loudness_and_peak_of_a_known_sine():
    t = np.arange(RATE * 3) / RATE
    x = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    both = Audio(np.stack([x, x]), RATE)
    assert loudness_lufs(both) == pytest.approx(-20.0, abs=0.15)  # BS.1770: 997 Hz sine, RMS -23 dBFS, 2 ch
    assert loudness_lufs(Audio(np.stack([x, 0 * x]), RATE)) == pytest.approx(-23.01, abs=0.15)
    assert peak_dbfs(both) == pytest.approx(-20.0, abs=0.01)
    assert peak_dbfs(Audio(np.zeros((2, 10), np.float32), RATE)) == -np.inf


def test_write_audio_is_atomic_and_lossless_at_24_bit(tmp_path):
    a = Audio(tone(1.0).T.copy(), RATE)
    out = write_audio(tmp_path / "stems" / "x" / "vocals.flac", a)
    assert [p.name for p in out.parent.iterdir()] == ["vocals.flac"]
    back, rate = sf.read(out, dtype="float32")
    assert rate == RATE and np.max(np.abs(back.T - a.samples)) < 1e-6


def test_written_files_are_whole_and_as_readable_as_the_umask_allows(tmp_path):
    """Atomic writes leave no temp file behind and do not make outputs private (mkstemp would: 0600)."""
    import os

    from songprep.atomic import atomic_path, write_text_atomic

    old = os.umask(0o022)
    try:
        stem = write_audio(tmp_path / "stems" / "vocals.flac", Audio(np.zeros((2, 100), np.float32), 44100))
        text = write_text_atomic(tmp_path / "manifest.json", "{}\n")
    finally:
        os.umask(old)
    assert stem.stat().st_mode & 0o777 == 0o644 and text.stat().st_mode & 0o777 == 0o644
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "broken.flac") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "stems"]
    assert [p.name for p in (tmp_path / "stems").iterdir()] == ["vocals.flac"]
