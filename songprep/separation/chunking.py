"""Overlap-add chunking: a separator sees fixed-length pieces, so memory does not grow with song length.

A song of ``frames`` samples is cut into chunks of ``chunk`` samples starting every
``hop = chunk - overlap`` samples (the tail is zero-padded to fill the last chunk). Each chunk's output
is weighted by a crossfade window: flat in the middle, a raised-cosine fade-in over its leading
overlap and a fade-out over its trailing one (none at the song's two ends). Fade-in and fade-out are
``sin²`` and ``cos²`` of the same phase, so the weights of overlapping chunks sum to exactly 1 at
every sample: the output is a plain weighted sum, a seam is a smooth crossfade between two estimates,
and an identity model gives back its input exactly.

Peak memory is the input and output buffers (linear in song length, a few hundred MB for ten
minutes of stereo float32) plus one batch of ``batch_size`` chunks through the model (fixed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

#: (batch, channels, chunk) float32 tensor in, same shape out: one separated stem per chunk.
ChunkFn = Callable[["torch.Tensor"], "torch.Tensor"]  # noqa: F821


@dataclass(frozen=True)
class ChunkPlan:
    """Where the chunks of one signal start, and their crossfade weights.

    ``overlap`` may be at most half of ``chunk``, so no sample is covered by more than two chunks.
    A signal shorter than ``chunk`` is one chunk of its own length.

    >>> plan = ChunkPlan(frames=10, chunk=4, overlap=2)
    >>> plan.starts, plan.padded_frames
    ([0, 2, 4, 6], 10)
    """

    frames: int
    chunk: int
    overlap: int

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"nothing to chunk: {self.frames} frames")
        if self.chunk < 1 or not 0 <= self.overlap <= self.chunk // 2:
            raise ValueError(f"need chunk >= 1 and 0 <= overlap <= chunk/2, got chunk={self.chunk}, "
                             f"overlap={self.overlap}")

    @classmethod
    def for_signal(cls, frames: int, chunk: int, overlap: int) -> ChunkPlan:
        """The plan for a signal; a short signal gets one chunk of its own length (no padding to run)."""
        if frames <= chunk:
            return cls(frames, frames, min(overlap, frames // 2))
        return cls(frames, chunk, overlap)

    @property
    def hop(self) -> int:
        return self.chunk - self.overlap

    @property
    def n_chunks(self) -> int:
        return max(1, math.ceil((self.frames - self.overlap) / self.hop))

    @property
    def starts(self) -> list[int]:
        return [k * self.hop for k in range(self.n_chunks)]

    @property
    def padded_frames(self) -> int:
        return (self.n_chunks - 1) * self.hop + self.chunk

    def weights(self, index: int) -> np.ndarray:
        """Crossfade window of chunk ``index``, float32 ``(chunk,)``; summed over chunks it is 1 everywhere."""
        w = np.ones(self.chunk, np.float32)
        if self.overlap:
            phase = (np.arange(self.overlap) + 0.5) / self.overlap * (np.pi / 2)
            fade_in = (np.sin(phase) ** 2).astype(np.float32)
            if index > 0:
                w[: self.overlap] = fade_in
            if index < self.n_chunks - 1:
                w[-self.overlap:] = 1.0 - fade_in  # cos² of the same phase, as 1 - sin² (exact sum)
        return w


def separate_chunked(mixes: Sequence[np.ndarray], fn: ChunkFn, chunk: int, overlap: int, batch_size: int = 4,
                     device: str = "cpu") -> list[np.ndarray]:
    """Run ``fn`` over every chunk of every mix, ``batch_size`` chunks per call, and overlap-add the outputs.

    ``mixes`` are float32 ``(channels, frames)`` arrays, all with the channel count ``fn`` expects.
    Chunks of several songs share a batch (what keeps a GPU busy on short songs); chunks of
    different lengths (a song shorter than ``chunk``) never do. Returns one array per mix, the
    same shape as the mix.
    """

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    plans = [ChunkPlan.for_signal(m.shape[-1], chunk, overlap) for m in mixes]
    outputs = [np.zeros_like(m, dtype=np.float32) for m in mixes]
    pending: list[tuple[int, int]] = []

    def flush() -> None:
        if not pending:
            return
        length = plans[pending[0][0]].chunk
        batch = np.stack([_chunk_of(mixes[i], plans[i], k) for i, k in pending])
        separated = _run_shrinking(fn, batch, device)
        if separated.shape != batch.shape:
            raise RuntimeError(f"separator returned shape {separated.shape} for chunks of shape {batch.shape}")
        for (i, k), out in zip(pending, separated):
            start = plans[i].starts[k]
            end = min(start + length, plans[i].frames)
            outputs[i][:, start:end] += (out * plans[i].weights(k))[:, : end - start]
        pending.clear()

    for i, k in _jobs(plans):
        if pending and (len(pending) == batch_size or plans[pending[0][0]].chunk != plans[i].chunk):
            flush()
        pending.append((i, k))
    flush()
    return outputs


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's (or any accelerator's) out-of-memory error, whatever class the torch version raises."""
    import torch

    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def _run_shrinking(fn: ChunkFn, batch: np.ndarray, device: str) -> np.ndarray:
    """``fn`` on the batch; out of memory, the batch is split in halves (down to one chunk per call).

    A long song on a small GPU then still separates, only with fewer chunks per call; one chunk that
    does not fit is a real error and is raised as it is.
    """
    import torch

    try:
        with torch.inference_mode():
            return fn(torch.from_numpy(batch).to(device)).float().cpu().numpy()
    except RuntimeError as err:
        if len(batch) == 1 or not is_out_of_memory(err):
            raise
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    half = len(batch) // 2
    return np.concatenate([_run_shrinking(fn, batch[:half], device), _run_shrinking(fn, batch[half:], device)])


def _jobs(plans: Sequence[ChunkPlan]) -> Iterator[tuple[int, int]]:
    for i, plan in enumerate(plans):
        for k in range(plan.n_chunks):
            yield i, k


def _chunk_of(mix: np.ndarray, plan: ChunkPlan, index: int) -> np.ndarray:
    """Chunk ``index`` of ``mix``, zero-padded past the end of the signal."""
    start = plan.starts[index]
    piece = mix[:, start:start + plan.chunk]
    if piece.shape[-1] < plan.chunk:
        piece = np.pad(piece, ((0, 0), (0, plan.chunk - piece.shape[-1])))
    return np.ascontiguousarray(piece, dtype=np.float32)
