"""faster-whisper (CTranslate2) backend: the same Whisper weights, several times faster on CPU (int8)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from songprep import models
from songprep.transcription import RawWord
from songprep.transcription.base import GatedWhisper, compression_ratio, invented


class FasterWhisperTranscriber(GatedWhisper):
    """``faster-whisper:<variant>``; word timestamps from the cross-attention heads in ``config.json``."""

    def __init__(self, name: str, device: str = "cpu", local_path: str | None = None, *, gate: bool = True,
                 loops: bool = True, beam_size: int = 5) -> None:
        super().__init__(name, gate=gate, loops=loops, beam_size=beam_size)
        self.version = f"faster-whisper {metadata.version('faster-whisper')}"
        self.model = models.load(name, device, local_path)
        self.weights_path = _weights_path(name, local_path)
        self.multilingual = bool(self.model.model.is_multilingual)

    def _detect(self, speech: np.ndarray) -> tuple[str, float]:
        language, probability, _ = self.model.detect_language(audio=speech)
        return language, float(probability)

    def _decode(self, samples: np.ndarray, language: str, clips: Any) -> list[RawWord]:
        segments, _ = self.model.transcribe(
            samples, language=language, beam_size=self.beam_size, temperature=0.0, word_timestamps=True,
            condition_on_previous_text=not self.loops, vad_filter=False, clip_timestamps=clips)
        return [RawWord(w.word, w.start, w.end, w.probability, i)
                for i, segment in enumerate(segments)
                if not invented(compression_ratio(segment.text), segment.no_speech_prob, segment.avg_logprob)
                for w in (segment.words or [])]


def _weights_path(name: str, local_path: str | None) -> Path | None:
    try:
        return models.locate(name, local_path)
    except Exception:  # downloaded into the hub cache under a name we do not track
        return None
