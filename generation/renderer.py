"""Flow-matching renderer: LeLM's 25 Hz tokens (mixed, vocal, bgm) -> autoencoder latents of one track.

Rectified flow with velocity prediction (the SD3 convention that diffusers' ``FlowMatchEulerDiscreteScheduler``
samples): ``x_s = (1 - s) x_0 + s * noise`` for ``s`` in [0, 1], the network predicts ``noise - x_0``, and a few
Euler steps go from pure noise (s = 1) to latents (s = 0). Training draws ``s`` from a logit-normal (SD3).

The network is a DiT made of diffusers pieces: per frame, the sum of one embedding per token stream plus the
projected noisy latent and a convolutional (relative) position embedding; globally, the flow time
(``Timesteps`` + ``TimestepEmbedding``) plus a track embedding (0 mix, 1 vocal, 2 bgm) modulates every
``BasicTransformerBlock`` through PixArt's adaLN-single. Relative positions keep the model translation-equivariant,
so windows of any length look alike to it.

Long songs are sampled in windows of ``window_frames`` with ``overlap_frames`` of overlap, MultiDiffusion style
(Bar-Tal et al. 2023): at every Euler step each window predicts a velocity, overlapping predictions are averaged
with trapezoid weights, and one step is taken on the whole song. Windows therefore share the initial noise and
agree at every step, and the result has exactly T frames; all windows of a step run as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from songprep.errors import UsageError
from songprep.generation.config_dict import config_from_dict, config_to_dict
from songprep.generation.delay import STREAMS

#: Renderer track ids: what one ``sample`` call renders.
TRACKS = ("mix", "vocal", "bgm")
#: Token streams the renderer is conditioned on, in LeLM's order (mixed, vocal, bgm).
NUM_STREAMS = len(STREAMS)


@dataclass
class RendererConfig:
    """Size and sampling of the flow renderer.

    >>> RendererConfig(layers=2, width=64, heads=4).head_dim
    16
    """

    layers: int = 2
    width: int = 64
    heads: int = 4
    ffn: int = 0  # feed-forward inner width; 0 = 4 * width
    steps: int = 10  # Euler steps when sampling
    window_frames: int = 250  # 10 s at 25 Hz
    overlap_frames: int = 50
    window_batch: int = 16  # windows run together in one forward pass
    time_dim: int = 256  # sinusoidal flow-time features
    pos_conv_kernel: int = 31  # relative position embedding: depthwise-grouped conv over frames
    pos_conv_groups: int = 16
    dropout: float = 0.0
    shift: float = 1.0  # scheduler's sigma shift (>1 spends more steps at high noise)
    time_mean: float = 0.0  # logit-normal training times (SD3)
    time_std: float = 1.0

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RendererConfig:
        return config_from_dict(cls, d, "renderer")

    def validate(self) -> None:
        if self.width % self.heads:
            raise UsageError(f"renderer width {self.width} must be a multiple of heads {self.heads}")
        if self.width % self.pos_conv_groups:
            raise UsageError(f"renderer width {self.width} must be a multiple of pos_conv_groups "
                             f"{self.pos_conv_groups}")
        if not 0 <= self.overlap_frames < self.window_frames:
            raise UsageError(f"overlap_frames {self.overlap_frames} must be in [0, window_frames={self.window_frames})")
        if self.pos_conv_kernel % 2 == 0:
            raise UsageError(f"pos_conv_kernel must be odd (keeps T frames), got {self.pos_conv_kernel}")
        if self.steps < 1:
            raise UsageError(f"renderer steps must be >= 1, got {self.steps}")


def window_starts(frames: int, window: int, overlap: int) -> list[int]:
    """Starts of windows of ``window`` frames covering ``frames`` with at least ``overlap`` frames of overlap;
    the last window ends exactly at ``frames`` (so every window is full length)."""
    if frames <= window:
        return [0]
    stride = window - overlap
    return [*range(0, frames - window, stride), frames - window]


def window_weights(window: int, overlap: int) -> torch.Tensor:
    """Trapezoid: ramps over ``overlap`` frames at both ends, never zero, so any frame's weights normalise."""
    w = torch.ones(window)
    if overlap:
        ramp = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
        w[:overlap], w[-overlap:] = ramp, ramp.flip(0)
    return w


class FlowRenderer(nn.Module):
    """Tokens [B, 3, T] + track [B] -> latents [B, latent_dim, T]. See the module docstring for the design."""

    def __init__(self, cfg: RendererConfig, audio_vocab: int, latent_dim: int) -> None:
        super().__init__()
        cfg.validate()
        self.cfg, self.audio_vocab, self.latent_dim = cfg, audio_vocab, latent_dim
        w = cfg.width
        self.token_embed = nn.ModuleList(nn.Embedding(audio_vocab, w) for _ in range(NUM_STREAMS))
        self.track_embed = nn.Embedding(len(TRACKS), w)
        self.time_proj = Timesteps(cfg.time_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(cfg.time_dim, w)
        self.latent_in = nn.Linear(latent_dim, w)
        self.pos_conv = nn.Conv1d(w, w, cfg.pos_conv_kernel, padding=cfg.pos_conv_kernel // 2,
                                  groups=cfg.pos_conv_groups)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(w, 6 * w))  # adaLN-single, shared by all blocks
        self.blocks = nn.ModuleList(
            BasicTransformerBlock(w, cfg.heads, cfg.head_dim, dropout=cfg.dropout, activation_fn="gelu-approximate",
                                  norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6,
                                  ff_inner_dim=cfg.ffn or 4 * w)
            for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.out_scale_shift = nn.Parameter(torch.randn(2, w) / w**0.5)
        self.proj_out = nn.Linear(w, latent_dim)
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- the network ----------------------------------------------------------------------------------------
    def velocity(self, noisy: torch.Tensor, sigma: torch.Tensor, tokens: torch.Tensor, track: torch.Tensor,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted ``noise - x_0`` for latents ``noisy`` [B, D, T] at noise level ``sigma`` [B] in [0, 1]."""
        dtype = self.latent_in.weight.dtype
        h = self.latent_in(noisy.transpose(1, 2).to(dtype))
        for stream, embed in enumerate(self.token_embed):
            h = h + embed(tokens[:, stream])
        bias = None
        if mask is not None:  # padded frames: silenced before the position conv, and masked as attention keys
            h = h * mask[..., None].to(dtype)
            bias = ((~mask).to(dtype) * -10000.0)[:, None]  # additive [B, 1, T], as diffusers' transformers pass it
        h = h + nn.functional.gelu(self.pos_conv(h.transpose(1, 2))).transpose(1, 2)
        cond = self.time_embed(self.time_proj(sigma * 1000).to(dtype)) + self.track_embed(track)
        modulation = self.modulation(cond)
        for block in self.blocks:
            h = block(h, attention_mask=bias, timestep=modulation)
        shift, scale = (self.out_scale_shift[None] + cond[:, None]).chunk(2, dim=1)
        h = self.norm_out(h) * (1 + scale) + shift
        return self.proj_out(h).transpose(1, 2)

    def _check(self, tokens: torch.Tensor, track: torch.Tensor, latents: torch.Tensor | None = None) -> None:
        if tokens.ndim != 3 or tokens.shape[1] != NUM_STREAMS:
            raise UsageError(f"renderer tokens must be [B, {NUM_STREAMS}, T], got {tuple(tokens.shape)}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.audio_vocab):
            raise UsageError(f"renderer tokens must be in [0, {self.audio_vocab}), got [{int(tokens.min())}, "
                             f"{int(tokens.max())}]")
        if track.shape != (tokens.shape[0],) or int(track.min()) < 0 or int(track.max()) >= len(TRACKS):
            raise UsageError(f"track must be [B] ids in 0..{len(TRACKS) - 1} ({', '.join(TRACKS)})")
        if latents is not None and (latents.ndim != 3 or latents.shape[1] != self.latent_dim
                                    or latents.shape[0] != tokens.shape[0] or latents.shape[2] != tokens.shape[2]):
            raise UsageError(f"latents must be [B, {self.latent_dim}, T] matching tokens {tuple(tokens.shape)}, "
                             f"got {tuple(latents.shape)}")

    # --- training -------------------------------------------------------------------------------------------
    def loss(self, tokens: torch.Tensor, latents: torch.Tensor, track: torch.Tensor,
             generator: torch.Generator | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Flow-matching MSE on velocity, averaged over frames (only those where ``mask`` [B, T] is true)."""
        self._check(tokens, track, latents)
        b, device = latents.shape[0], latents.device
        x0 = latents.float()
        sigma = torch.sigmoid(self.cfg.time_mean + self.cfg.time_std * _randn((b,), generator, device))
        noise = _randn(x0.shape, generator, device)
        s = sigma[:, None, None]
        pred = self.velocity((1 - s) * x0 + s * noise, sigma, tokens, track, mask).float()
        err = (pred - (noise - x0)).pow(2)
        if mask is None:
            return err.mean()
        m = mask[:, None, :].to(err.dtype)
        return (err * m).sum() / (m.sum() * err.shape[1]).clamp_min(1.0)

    # --- sampling -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, tokens: torch.Tensor, track: torch.Tensor, *, steps: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Latents [B, latent_dim, T] for tokens [B, 3, T]; deterministic for a given ``generator`` state."""
        self._check(tokens, track)
        b, _, frames = tokens.shape
        scheduler = FlowMatchEulerDiscreteScheduler(shift=self.cfg.shift)
        scheduler.set_timesteps(steps or self.cfg.steps, device=tokens.device)
        x = _randn((b, self.latent_dim, frames), generator, tokens.device)
        for t in scheduler.timesteps:
            sigma = (t / scheduler.config.num_train_timesteps).expand(b).float()
            x = scheduler.step(self._windowed_velocity(x, sigma, tokens, track), t, x).prev_sample
        return x

    def _windowed_velocity(self, x: torch.Tensor, sigma: torch.Tensor, tokens: torch.Tensor,
                           track: torch.Tensor) -> torch.Tensor:
        """Velocity for the whole song: per-window predictions blended by trapezoid weights."""
        b, d, frames = x.shape
        window, overlap = self.cfg.window_frames, self.cfg.overlap_frames
        if frames <= window:
            return self.velocity(x, sigma, tokens, track).float()
        starts = window_starts(frames, window, overlap)
        weight = window_weights(window, overlap).to(x.device)
        total = torch.zeros_like(x)
        norm = torch.zeros(frames, device=x.device)
        per_pass = max(1, self.cfg.window_batch // b)
        for i in range(0, len(starts), per_pass):
            chunk = starts[i:i + per_pass]
            xs = torch.cat([x[..., s:s + window] for s in chunk])
            ts = torch.cat([tokens[..., s:s + window] for s in chunk])
            v = self.velocity(xs, sigma.repeat(len(chunk)), ts, track.repeat(len(chunk))).float()
            for j, s in enumerate(chunk):
                total[..., s:s + window] += v[j * b:(j + 1) * b] * weight
                norm[s:s + window] += weight
        return total / norm


def _randn(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None,
           device: torch.device) -> torch.Tensor:
    """Standard normal on ``device``, drawn on the generator's device so a seed means the same numbers anywhere."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


__all__ = ["FlowRenderer", "RendererConfig", "TRACKS", "window_starts", "window_weights"]
