"""What every separator backend shares: model-rate conversion, chunking, and the two stems it returns.

A backend only says how to turn a batch of mixture chunks (at the model's rate, stereo) into vocal
chunks. Everything else is here, once:

* the song is brought to the model's rate and channels (songprep.audio) and back afterwards;
* it is separated chunk by chunk with crossfaded overlap (:mod:`songprep.separation.chunking`);
* **accompaniment = mix − vocals**, computed on the caller's own audio. Why not the sum of the other
  stems (what ``demucs --two-stems`` writes) or the model's own accompaniment mask? The corpus
  invariant ``mix == vocals + accompaniment`` then holds exactly (as it does for the ground-truth
  stems), nothing the model leaves unassigned is lost, and only the vocal estimate is computed: for
  ``htdemucs_ft``, a bag of four fine-tuned models of which only one weighs on vocals, that is four
  times less work. What the vocal estimate misses shows up as vocal leakage in the accompaniment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from songprep import audio as audio_io
from songprep.audio import Audio
from songprep.separation.chunking import ChunkFn, separate_chunked


class ChunkedSeparator:
    """Base of the backends. Subclasses set the attributes and implement :meth:`vocals_of_chunks`."""

    name: str
    version: str
    #: The rate and channel count the model works at.
    sample_rate: int = 44100
    channels: int = 2

    def __init__(self, chunk_s: float, overlap_s: float, batch_size: int = 4, device: str = "cpu") -> None:
        if chunk_s <= 0 or overlap_s < 0 or overlap_s > chunk_s / 2:
            raise ValueError(f"need chunk_s > 0 and 0 <= overlap_s <= chunk_s/2, got {chunk_s}, {overlap_s}")
        self.chunk_frames = int(round(chunk_s * self.sample_rate))
        self.overlap_frames = int(round(overlap_s * self.sample_rate))
        self.batch_size = batch_size
        self.device = device

    def vocals_of_chunks(self, batch):  # (B, channels, frames) tensor at sample_rate -> same shape
        raise NotImplementedError

    def separate(self, audio: Audio) -> dict[str, Audio]:
        """``{"vocals", "accompaniment"}`` at the rate, channels and length of ``audio``."""
        return self.separate_batch([audio])[0]

    def separate_batch(self, audios: Sequence[Audio]) -> list[dict[str, Audio]]:
        """Several songs at once: their chunks share model calls (batches fill up on short songs)."""
        mixes, scales = zip(*(self._to_model_form(a) for a in audios))
        fn: ChunkFn = self.vocals_of_chunks
        vocals = separate_chunked(mixes, fn, self.chunk_frames, self.overlap_frames, self.batch_size, self.device)
        del mixes  # the model-form copies are done with: free them before the stems are built
        results = []
        for audio, scale, voc in zip(audios, scales, vocals):
            if scale != 1.0:
                voc *= scale
            voc_audio = self._from_model_form(voc, audio)
            accompaniment = Audio(audio.samples - voc_audio.samples, audio.sample_rate)
            results.append({"vocals": voc_audio, "accompaniment": accompaniment})
        return results

    def normalise(self, mix: np.ndarray) -> tuple[np.ndarray, float]:
        """What the model expects as input, and the gain that scales its output back (identity here)."""
        return mix, 1.0

    def _to_model_form(self, audio: Audio) -> tuple[np.ndarray, float]:
        model_audio = audio_io.standardise(audio, self.sample_rate, self.channels)
        return self.normalise(model_audio.samples)

    def _from_model_form(self, samples: np.ndarray, like: Audio) -> Audio:
        """Back to ``like``'s rate, channels and exact length (resampling may be off by a sample)."""
        out = audio_io.resample(Audio(samples.astype(np.float32, copy=False), self.sample_rate), like.sample_rate)
        out = audio_io.to_channels(out, like.channels)
        x = out.samples[:, : like.frames]
        if x.shape[1] < like.frames:
            x = np.pad(x, ((0, 0), (0, like.frames - x.shape[1])))
        return Audio(np.ascontiguousarray(x, dtype=np.float32), like.sample_rate)
