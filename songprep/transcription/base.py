"""What both Whisper backends share: gate the audio, pick the language, decode the voiced spans, finish.

Decoding is beam search at temperature 0 only: Whisper's default temperature fallback (0.2, 0.4, ...
when a segment looks repetitive or unlikely) *samples*, unseeded, so two runs on one song wrote
different lyrics. Without the fallback the same audio gives the same words on every run; the loops it
was meant to escape are cut by loop removal instead (``DECODING`` is recorded in provenance).

A backend supplies only how its library detects a language and decodes with clip timestamps; the
recipe around them (VAD gating, forced vs detected language, loop removal) is written once, here.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from songprep.audio import Audio
from songprep.transcription import (
    SAMPLE_RATE,
    RawWord,
    Transcript,
    check_language,
    finish,
    speech_sample,
    to_16k_mono,
)
from songprep.transcription.gating import VoiceGate, clip_timestamps, decode_clips

#: Whisper's own quality gates, applied without its sampling fallback: a segment this repetitive (gzip
#: compression ratio) is a decoder loop, and one Whisper itself judges silent (no-speech probability over
#: 0.6 with a mean log-probability under -1) is invented. Both are dropped, deterministically.
#: The ratio is the segment's own text's: both libraries report one ratio for the whole 30 s window, so a
#: window with one loop took its good lines along (measured, real song Guayeteo in prep: a window of six
#: sung lines at 4.36 was dropped, 17 words kept of 340; on the same stem read back from FLAC 136 words).
MAX_COMPRESSION_RATIO = 2.4
NO_SPEECH_PROBABILITY = 0.6
MIN_AVG_LOGPROB = -1.0
#: How both backends decode, recorded in every transcript's provenance.
DECODING = ("beam search, temperature 0 (no sampling fallback); segments dropped when their text's compression "
            "ratio > 2.4 or (no-speech probability > 0.6 and mean log-probability < -1); gated: voiced spans "
            "decoded in clips of at most one 30 s window, a word kept when it overlaps a span")


def compression_ratio(text: str) -> float:
    """Whisper's repetitiveness measure (bytes over gzip'd bytes) of one segment's text.

    >>> compression_ratio("la " * 40) > MAX_COMPRESSION_RATIO, compression_ratio("hold on, I'm coming") < 2
    (True, True)
    """
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def invented(ratio: float | None, no_speech_prob: float | None, avg_logprob: float | None) -> bool:
    """Whisper's fallback triggers (``ratio``: :func:`compression_ratio` of the segment's text), used to drop
    a segment instead of re-sampling it."""
    if ratio is not None and ratio > MAX_COMPRESSION_RATIO:
        return True
    return (no_speech_prob is not None and avg_logprob is not None and no_speech_prob > NO_SPEECH_PROBABILITY
            and avg_logprob < MIN_AVG_LOGPROB)


class GatedWhisper:
    """Base of the Whisper transcribers. Subclasses set ``model``, ``multilingual``, ``version`` and
    ``weights_path`` in their ``__init__`` and implement :meth:`_detect` and :meth:`_decode`."""

    name: str
    version: str
    model: Any
    multilingual: bool
    weights_path: Path | None

    def __init__(self, name: str, *, gate: bool = True, loops: bool = True, beam_size: int = 5) -> None:
        self.name = name
        self.gate = VoiceGate() if gate else None
        self.loops = loops
        self.beam_size = beam_size

    def transcribe(self, audio: Audio, language: str | None = None, gate_on: Audio | None = None) -> Transcript:
        """What is sung in ``audio``. ``gate_on``: the audio whose voice activity picks the spans Whisper hears
        (the vocal stem, when ``audio`` is the mix: the stem tells where the voice is, the mix is what Whisper
        was trained on); ``audio`` itself when not given."""
        check_language(self.name, self.multilingual, language)
        samples = to_16k_mono(audio)
        duration = len(samples) / SAMPLE_RATE
        gate_samples = samples if gate_on is None else to_16k_mono(gate_on)
        spans = self.gate.speech_spans(gate_samples) if self.gate is not None else None
        if spans == []:  # nothing voiced: nothing to hear, nothing to invent
            return Transcript(language or ("" if self.multilingual else "en"), "", [], self.name, None,
                              speech_spans=[])
        language, probability = self._language(samples, spans, language)
        clips = clip_timestamps(decode_clips(spans, self.gate.config.window_s)) if spans else "0"
        raw = self._decode(samples, language, clips)
        return finish(raw, model=self.name, language=language, language_probability=probability,
                      duration_s=duration, spans=spans, loops=self.loops)

    def _language(self, samples: np.ndarray, spans: list | None, forced: str | None) -> tuple[str, float | None]:
        if forced is not None:
            return forced, None
        if not self.multilingual:
            return "en", None
        return self._detect(speech_sample(samples, spans or []))

    def _detect(self, speech: np.ndarray) -> tuple[str, float]:
        """The most likely language of ``speech`` (16 kHz mono) and its probability."""
        raise NotImplementedError

    def _decode(self, samples: np.ndarray, language: str, clips: Any) -> list[RawWord]:
        """Words with times from the voiced ``clips`` of ``samples``, segment index kept."""
        raise NotImplementedError
