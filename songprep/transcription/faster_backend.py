"""faster-whisper (CTranslate2) backend: the same Whisper weights, several times faster on CPU (int8)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from songprep import models
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
from songprep.transcription.gating import VoiceGate, clip_timestamps


class FasterWhisperTranscriber:
    """``faster-whisper:<variant>``; word timestamps from the cross-attention heads in ``config.json``."""

    def __init__(self, name: str, device: str = "cpu", local_path: str | None = None, *, gate: bool = True,
                 loops: bool = True, beam_size: int = 5) -> None:
        self.name = name
        self.version = f"faster-whisper {metadata.version('faster-whisper')}"
        self.model = models.load(name, device, local_path)
        self.weights_path = _weights_path(name, local_path)
        self.multilingual = bool(self.model.model.is_multilingual)
        self.gate = VoiceGate() if gate else None
        self.loops = loops
        self.beam_size = beam_size

    def transcribe(self, audio: Audio, language: str | None = None) -> Transcript:
        check_language(self.name, self.multilingual, language)
        samples = to_16k_mono(audio)
        duration = len(samples) / SAMPLE_RATE
        spans = self.gate.speech_spans(samples) if self.gate is not None else None
        if spans == []:  # nothing voiced: nothing to hear, nothing to invent
            return Transcript(language or ("" if self.multilingual else "en"), "", [], self.name, None,
                              speech_spans=[])
        language, probability = self._language(samples, spans, language)
        segments, _ = self.model.transcribe(
            samples, language=language, beam_size=self.beam_size, word_timestamps=True,
            condition_on_previous_text=not self.loops, vad_filter=False,
            clip_timestamps=clip_timestamps(spans, self.gate.config.decode_gap_s) if spans else "0")
        raw = [RawWord(w.word, w.start, w.end, w.probability, i)
               for i, segment in enumerate(segments) for w in (segment.words or [])]
        return finish(raw, model=self.name, language=language, language_probability=probability,
                      duration_s=duration, spans=spans, loops=self.loops)

    def _language(self, samples, spans, forced: str | None) -> tuple[str, float | None]:
        if forced is not None:
            return forced, None
        if not self.multilingual:
            return "en", None
        language, probability, _ = self.model.detect_language(audio=speech_sample(samples, spans or []))
        return language, float(probability)


def _weights_path(name: str, local_path: str | None) -> Path | None:
    try:
        return models.locate(name, local_path)
    except Exception:  # downloaded into the hub cache under a name we do not track
        return None
