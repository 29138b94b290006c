"""openai-whisper backend: the reference implementation, on an openai checkpoint or one converted from CTranslate2.

Weights: ``whisper:<variant>`` through the registry (songprep's cache, ``~/.cache/whisper``). Offline,
when only the CTranslate2 model of that variant is here (package-shipped tiny.en / base), it is
converted once into ``$SONGPREP_MODEL_DIR/whisper/<variant>.pt`` (see :mod:`.convert`). With
internet, openai-whisper downloads the official checkpoint.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from songprep import models
from songprep.errors import ModelNotFoundError, UsageError
from songprep.transcription import RawWord
from songprep.transcription.base import GatedWhisper, compression_ratio, invented


def converted_checkpoint_path(variant: str) -> Path:
    """Where a checkpoint converted from CTranslate2 goes: the first place the ``whisper`` family looks."""
    return models.songprep_model_dir() / "whisper" / f"{variant}.pt"


def locate_or_convert(name: str, local_path: str | None = None) -> Path:
    """The checkpoint of ``whisper:<variant>``; offline, converted from the CTranslate2 model if that is here."""
    try:
        return models.locate(name, local_path)
    except ModelNotFoundError as missing:
        if local_path is not None:
            raise
        variant = name.split(":", 1)[1]
        ct2_name = f"faster-whisper:{variant}"
        try:
            ct2_path = models.locate(ct2_name)
        except (ModelNotFoundError, UsageError):  # no CT2 model, or no such CT2 variant (turbo)
            raise missing from None
        from songprep.transcription.convert import convert_ct2_to_openai

        family = models.resolve(ct2_name)
        return convert_ct2_to_openai(family.materialise(ct2_path), converted_checkpoint_path(variant))


def load_checkpoint(path: Path, device: str, variant: str) -> Any:
    """Load an openai checkpoint with the right alignment heads (whisper sets them only for downloads by name)."""
    import numpy as np
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads")
    if heads:
        mask = np.zeros((model.dims.n_text_layer, model.dims.n_text_head), dtype=bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", torch.from_numpy(mask).to_sparse(), persistent=False)
    elif variant in whisper._ALIGNMENT_HEADS:
        model.set_alignment_heads(whisper._ALIGNMENT_HEADS[variant])
    return model.to(device)


class OpenAIWhisperTranscriber(GatedWhisper):
    """``whisper:<variant>`` run by openai-whisper (float32 on CPU, float16 on GPU)."""

    def __init__(self, name: str, device: str = "cpu", local_path: str | None = None, *, gate: bool = True,
                 loops: bool = True, beam_size: int = 5) -> None:
        super().__init__(name, gate=gate, loops=loops, beam_size=beam_size)
        self.version = f"openai-whisper {metadata.version('openai-whisper')}"
        self.device = device
        variant = name.split(":", 1)[1]
        try:
            self.weights_path = locate_or_convert(name, local_path)
            self.model = load_checkpoint(self.weights_path, device, variant)
        except ModelNotFoundError:
            if local_path is not None or models.offline():
                raise
            self.weights_path = None
            self.model = models.load(name, device)  # downloads the official checkpoint (heads set by name)
        self.multilingual = bool(self.model.is_multilingual)

    def _detect(self, speech: np.ndarray) -> tuple[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech), self.model.dims.n_mels).to(self.model.device)
        _, probs = whisper.detect_language(self.model, mel)
        language = max(probs, key=probs.get)
        return language, float(probs[language])

    def _decode(self, samples: np.ndarray, language: str, clips: Any) -> list[RawWord]:
        import whisper

        result = whisper.transcribe(
            self.model, samples, language=language, word_timestamps=True, beam_size=self.beam_size,
            temperature=0.0, fp16=self.device.startswith("cuda"), condition_on_previous_text=not self.loops,
            clip_timestamps=clips, verbose=None)
        return [RawWord(w["word"], w["start"], w["end"], w.get("probability", 1.0), i)
                for i, segment in enumerate(result["segments"])
                if not invented(compression_ratio(segment.get("text", "")), segment.get("no_speech_prob"),
                                segment.get("avg_logprob"))
                for w in segment.get("words", [])]
