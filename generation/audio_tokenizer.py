"""Audio -> 25 Hz token ids, one stream at a time: a k-means codebook over frozen log-mel features.

LeLM needs discrete tokens at exactly 25 Hz (1920 samples at 48 kHz). The bundled tokenizer is trainable
here with no download: stereo is folded to mid, each 1920-sample hop gets a log-mel frame from an 80 ms
window plus its first-order delta, features are standardised with statistics from the fitting audio, and
Lloyd's k-means (seeded random init, deterministic) learns ``codebook_size`` centroids. ``encode`` returns the
nearest centroid per frame, exactly ``ceil(frames / sample_rate * frame_rate)`` ids.

It is pluggable: :func:`register_audio_tokenizer` adds another ``kind`` (a pretrained codec such as MuCodec
wrapped in the :class:`AudioTokenizer` protocol) and :func:`build_audio_tokenizer` picks by ``cfg.kind``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from songprep.audio import Audio, resample
from songprep.errors import UsageError


@dataclass
class AudioTokenizerConfig:
    kind: str = "kmeans"
    codebook_size: int = 1024
    frame_rate: float = 25.0
    sample_rate: int = 48000  # features are computed at this rate (input at another rate is resampled)
    n_mels: int = 80
    window_s: float = 0.08
    deltas: bool = True
    iterations: int = 30
    max_fit_frames: int = 200_000  # frames sampled (seeded) from the fitting audio for k-means
    seed: int = 0


@runtime_checkable
class AudioTokenizer(Protocol):
    codebook_size: int
    frame_rate: float

    def fit(self, waves: list[np.ndarray], sample_rate: int) -> None: ...

    def encode(self, wave: np.ndarray, sample_rate: int) -> np.ndarray: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None: ...


_REGISTRY: dict[str, Callable[[AudioTokenizerConfig], AudioTokenizer]] = {}


def register_audio_tokenizer(kind: str) -> Callable[[Callable[[AudioTokenizerConfig], AudioTokenizer]],
                                                    Callable[[AudioTokenizerConfig], AudioTokenizer]]:
    """Class decorator: make ``AudioTokenizerConfig(kind=kind)`` build this tokenizer."""
    def add(factory: Callable[[AudioTokenizerConfig], AudioTokenizer]) -> Callable[[AudioTokenizerConfig],
                                                                                    AudioTokenizer]:
        _REGISTRY[kind] = factory
        return factory
    return add


def build_audio_tokenizer(cfg: AudioTokenizerConfig) -> AudioTokenizer:
    if cfg.kind not in _REGISTRY:
        raise UsageError(f"unknown audio tokenizer kind {cfg.kind!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[cfg.kind](cfg)


def token_count(frames: int, sample_rate: int, frame_rate: float) -> int:
    """Tokens for ``frames`` samples: ``ceil(frames / sample_rate * frame_rate)``, in exact rational arithmetic
    (in floats, 7 * 1920 / 48000 * 25 is 7.000000000000001 and would round up to 8)."""
    return math.ceil(Fraction(frames) * Fraction(frame_rate).limit_denominator(10**6) / sample_rate)


@register_audio_tokenizer("kmeans")
class KMeansTokenizer:
    """k-means over standardised log-mel (+ delta) frames; see the module docstring."""

    def __init__(self, cfg: AudioTokenizerConfig) -> None:
        hop = cfg.sample_rate / cfg.frame_rate
        if not hop.is_integer():
            raise UsageError(f"audio tokenizer: sample_rate {cfg.sample_rate} is not a whole number of "
                             f"{cfg.frame_rate} Hz frames")
        if cfg.codebook_size < 2:
            raise UsageError(f"audio tokenizer: codebook_size must be >= 2, got {cfg.codebook_size}")
        self.cfg = cfg
        self.codebook_size = cfg.codebook_size
        self.frame_rate = cfg.frame_rate
        self.hop = int(hop)
        self.window = round(cfg.window_s * cfg.sample_rate)
        self.n_fft = 1 << (self.window - 1).bit_length()
        import torchaudio

        self._fbank = torchaudio.functional.melscale_fbanks(self.n_fft // 2 + 1, 20.0, cfg.sample_rate / 2, cfg.n_mels,
                                                            cfg.sample_rate, norm="slaney", mel_scale="slaney")
        dim = cfg.n_mels * (2 if cfg.deltas else 1)
        self.mean = torch.zeros(dim)
        self.std = torch.ones(dim)
        self.centroids = torch.zeros(0, dim)

    @property
    def fitted(self) -> bool:
        return self.centroids.shape[0] == self.codebook_size

    def features(self, wave: np.ndarray, sample_rate: int) -> torch.Tensor:
        """(T, D) float32 raw (unstandardised) features, T = :func:`token_count` of the input."""
        wave = np.asarray(wave, dtype=np.float32)
        wave = wave[None] if wave.ndim == 1 else wave
        frames = token_count(wave.shape[1], sample_rate, self.frame_rate)
        mid = resample(Audio(wave.mean(axis=0, keepdims=True), sample_rate), self.cfg.sample_rate).samples[0]
        x = torch.from_numpy(np.ascontiguousarray(mid))
        if x.numel() == 0:
            return torch.zeros(0, self.mean.numel())
        spec = torch.stft(x, self.n_fft, self.hop, self.window, torch.hann_window(self.window), center=True,
                          pad_mode="constant", return_complex=True).abs().square()  # (F, 1 + n // hop)
        logmel = torch.log10(self._fbank.T @ spec + 1e-5).T  # (frames, n_mels); floor ~110 dB below full scale
        if logmel.shape[0] < frames:  # resampling rounded the length down
            logmel = torch.cat([logmel, logmel[-1:].expand(frames - logmel.shape[0], -1)])
        logmel = logmel[:frames]
        if not self.cfg.deltas:
            return logmel
        padded = torch.cat([logmel[:1], logmel, logmel[-1:]])
        return torch.cat([logmel, (padded[2:] - padded[:-2]) / 2], dim=1)

    def fit(self, waves: list[np.ndarray], sample_rate: int) -> None:
        feats = torch.cat([self.features(w, sample_rate) for w in waves]) if waves else torch.zeros(0)
        k = self.codebook_size
        if feats.shape[0] < k:
            raise UsageError(f"audio tokenizer: {feats.shape[0]} frames ({feats.shape[0] / self.frame_rate:.1f} s) "
                             f"cannot fit {k} codes; give more audio or a smaller codebook_size")
        g = torch.Generator().manual_seed(self.cfg.seed)
        if feats.shape[0] > self.cfg.max_fit_frames:
            feats = feats[torch.randperm(feats.shape[0], generator=g)[: self.cfg.max_fit_frames]]
        self.mean = feats.mean(0)
        self.std = feats.std(0).clamp(min=1e-4)
        x = (feats - self.mean) / self.std
        self.centroids = kmeans(x, k, self.cfg.iterations, g)

    def encode(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        if not self.fitted:
            raise UsageError("audio tokenizer is not fitted: fit it on audio (songprep train does) or load a state")
        x = (self.features(wave, sample_rate) - self.mean) / self.std
        return nearest(x, self.centroids).numpy().astype(np.int64)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.clone(), "std": self.std.clone(), "centroids": self.centroids.clone()}

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        dim = self.mean.numel()
        want = {"mean": (dim,), "std": (dim,), "centroids": (self.codebook_size, dim)}
        for key, shape in want.items():
            if key not in sd or tuple(sd[key].shape) != shape:
                got = tuple(sd[key].shape) if key in sd else "missing"
                raise UsageError(f"audio tokenizer state: {key!r} should have shape {shape}, got {got} "
                                 "(the state was saved with another codebook_size or feature config)")
        self.mean, self.std, self.centroids = (sd[k].float().clone() for k in ("mean", "std", "centroids"))


def nearest(x: torch.Tensor, centroids: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Index of the nearest centroid (squared Euclidean) for each row of ``x``, in chunks to bound memory."""
    c2 = centroids.square().sum(1)
    out = [(c2 - 2 * part @ centroids.T).argmin(1) for part in x.split(chunk)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def kmeans(x: torch.Tensor, k: int, iterations: int, g: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means from ``k`` distinct random rows; an empty cluster takes the worst-fitting point."""
    centroids = x[torch.randperm(x.shape[0], generator=g)[:k]].clone()
    assign = None
    for _ in range(iterations):
        new = nearest(x, centroids)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        empty = (counts == 0).nonzero().flatten()
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        if empty.numel():
            dist = (x - centroids[assign]).square().sum(1)
            worst = dist.topk(min(empty.numel(), x.shape[0])).indices
            centroids[empty[: worst.numel()]] = x[worst]
    return centroids
