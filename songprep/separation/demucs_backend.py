"""Demucs separation (``htdemucs``, ``htdemucs_ft``, ...): vocals from the model, accompaniment = mix − vocals.

Each chunk batch goes through ``demucs.apply.apply_model(..., split=False, shifts=0)``, which handles
bags of models, padding to the model's valid length and trimming; the chunking (and so the memory
bound) is ours (:mod:`songprep.separation.chunking`). As ``demucs.separate`` does, the whole song is
normalised by its mono mixture's mean and standard deviation before separation and the vocals are
scaled back after (the mean removed stays in the accompaniment, which is mix − vocals).

A bag is reduced to the models that weigh on vocals before anything runs: for ``htdemucs_ft`` that is
one of its four fine-tuned models.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from songprep.separation.base import ChunkedSeparator

#: Chunk overlap as a share of the chunk (demucs' own default).
OVERLAP = 0.25
VOCALS = "vocals"
#: Chunks per model call on a GPU (7.8 s htdemucs chunks; a few GB of activations).
GPU_BATCH = 8


def demucs_version() -> str:
    try:
        return metadata.version("demucs")
    except metadata.PackageNotFoundError:
        return "unknown"


def vocals_only(model):
    """The model, or for a bag only its members with a vocal weight (the others change nothing we keep)."""
    from demucs.apply import BagOfModels

    if not isinstance(model, BagOfModels):
        return model
    k = model.sources.index(VOCALS)
    kept = [(m, w) for m, w in zip(model.models, model.weights) if w[k] != 0]
    if len(kept) == len(model.models):
        return model
    return BagOfModels([m for m, _ in kept], [w for _, w in kept])


def max_segment_s(model) -> float:
    """The longest chunk the model takes: HTDemucs refuses input longer than its training segment."""
    from demucs.apply import BagOfModels

    if isinstance(model, BagOfModels):
        return float(model.max_allowed_segment)
    return float(model.segment)


class DemucsSeparator(ChunkedSeparator):
    """A demucs model (or bag) as a two-stem separator; ``name`` is its registry name, e.g. ``demucs:htdemucs``."""

    def __init__(self, model, name: str, *, chunk_s: float | None = None, overlap_s: float | None = None,
                 batch_size: int | None = None, device: str = "cpu") -> None:
        if VOCALS not in model.sources:
            raise ValueError(f"{name} has no vocals stem (sources: {', '.join(model.sources)})")
        self.sample_rate = int(model.samplerate)
        self.channels = int(model.audio_channels)
        longest = max_segment_s(model)
        chunk_s = longest if chunk_s is None else chunk_s
        if chunk_s > longest:
            raise ValueError(f"chunk_s {chunk_s} is longer than {name} takes ({longest:.2f} s)")
        if batch_size is None:  # on CPU a batch only adds memory (about 0.6 GB per htdemucs chunk), not speed
            batch_size = 1 if device == "cpu" else GPU_BATCH
        super().__init__(chunk_s, OVERLAP * chunk_s if overlap_s is None else overlap_s, batch_size, device)
        self.chunk_frames = min(self.chunk_frames, int(longest * self.sample_rate))  # never past the model's limit
        self.model = vocals_only(model).to(device).eval()
        self.vocals_index = self.model.sources.index(VOCALS)
        self.name = name
        self.version = f"demucs {demucs_version()}"

    def normalise(self, mix: np.ndarray) -> tuple[np.ndarray, float]:
        ref = mix.mean(axis=0)
        std = float(ref.std()) or 1.0
        return (mix - float(ref.mean())) / std, std

    def vocals_of_chunks(self, batch):
        from demucs.apply import apply_model

        out = apply_model(self.model, batch, shifts=0, split=False, progress=False, device=self.device)
        return out[:, self.vocals_index]
