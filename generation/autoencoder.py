"""Audio autoencoders: 48 kHz stereo waveforms <-> 25 Hz latent frames that the flow renderer learns to produce.

Two kinds, one interface (:class:`AudioAutoencoder`), picked by ``AutoencoderConfig.kind``:

- ``"stft-pca"``: closed-form and fast, for tiny configs and CPU. Each latent frame covers one hop (1920 samples)
  seen as ``sub_frames`` short STFT frames; their log-magnitudes (all channels) are projected on the leading
  principal components of the training frames (SVD, no gradient descent). Decoding inverts the projection and
  recovers phase with Griffin-Lim, so it is faithful in magnitude, not in waveform.
- ``"oobleck"``: Stable Audio Open's VAE (diffusers' ``AutoencoderOobleck``), the real audio autoencoder for large
  configs: pretrained weights from a local directory or the hub, or a random-weight config for tests and benchmarks.

Latent normalisation lives here, decided once: ``encode`` returns latents with zero mean and unit variance per
dimension over the frames ``fit`` saw (PCA whitening for stft-pca, measured mean/std for oobleck), and ``decode``
undoes it. The renderer can then assume unit-scale targets whatever the autoencoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torchaudio.functional as AF

from songprep.errors import ModelNotFoundError, UsageError
from songprep.generation.config_dict import config_from_dict, config_to_dict

STABLE_AUDIO_OPEN = "stabilityai/stable-audio-open-1.0"
#: Griffin-Lim works on this many STFT bins at once at most (about 2 minutes of one channel; ~0.5 GB per pass).
GRIFFIN_LIM_BINS_PER_PASS = 961 * 12000


@dataclass
class AutoencoderConfig:
    """How waveforms become latents.

    >>> AutoencoderConfig(kind="stft-pca", latent_dim=64).frame_rate
    25.0
    """

    kind: str = "stft-pca"
    latent_dim: int = 64
    sample_rate: int = 48000
    channels: int = 2
    hop: int = 1920
    # stft-pca
    sub_frames: int = 4  # STFT frames per latent frame: STFT hop = hop / sub_frames (10 ms)
    n_fft: int = 1920
    griffin_lim_iters: int = 32  # 48 gains about 0.1 dB LSD for 1.5x the decode time
    max_fit_frames: int = 8192  # latent frames the SVD sees at most (spread evenly over the training waves)
    # oobleck
    pretrained: str | None = None  # local directory or hub id (e.g. stabilityai/stable-audio-open-1.0); None = random
    subfolder: str = "vae"
    downsampling_ratios: tuple[int, ...] = (2, 4, 4, 6, 10)  # product 1920: exactly 25 Hz at 48 kHz
    channel_multiples: tuple[int, ...] = (1, 2, 4, 8, 16)
    encoder_width: int = 0  # 0 = 2 * latent_dim (Oobleck's encoder emits mean and scale)
    decoder_channels: int = 128
    tiled: bool = True  # encode/decode long songs in overlapping tiles (diffusers' tiling): memory bounded by a tile

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AutoencoderConfig:
        return config_from_dict(cls, d, "autoencoder")


@runtime_checkable
class AudioAutoencoder(Protocol):
    sample_rate: int
    channels: int
    frame_rate: float
    latent_dim: int
    hop: int

    def fit(self, waves: list[np.ndarray]) -> None: ...
    def encode(self, wave: torch.Tensor) -> torch.Tensor: ...
    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...
    def state_dict(self) -> dict[str, torch.Tensor]: ...
    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None: ...
    def to(self, device: str | torch.device) -> AudioAutoencoder: ...


def build_autoencoder(cfg: AutoencoderConfig) -> AudioAutoencoder:
    if cfg.sample_rate % cfg.hop:
        raise UsageError(f"hop {cfg.hop} must divide the sample rate {cfg.sample_rate}")
    if cfg.kind == "stft-pca":
        return StftPcaAutoencoder(cfg)
    if cfg.kind == "oobleck":
        return OobleckAutoencoder(cfg)
    raise UsageError(f"unknown autoencoder kind {cfg.kind!r}; known: stft-pca, oobleck")


def num_frames(samples: int, hop: int) -> int:
    """Latent frames for ``samples`` samples: the last partial hop counts as a frame (zero-padded)."""
    return max(1, math.ceil(samples / hop))


def log_spectral_distance(ref: np.ndarray, est: np.ndarray) -> float:
    """Reconstruction error in dB: RMS over frequency of the power-spectrum difference (2048-point STFT, hop 512,
    floor 80 dB below the reference's peak), averaged over frames and channels. Phase-blind, so it is fair to
    Griffin-Lim decoders; 0 for identical audio. ``ref`` and ``est`` are (channels, frames) at the same rate."""
    window = torch.hann_window(2048)
    power = [torch.stft(torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)), 2048, 512, window=window,
                        return_complex=True).abs() ** 2 for x in (ref, est)]
    floor = power[0].amax() * 1e-8
    diff = 10 * torch.log10(power[0] + floor) - 10 * torch.log10(power[1] + floor)
    return float(diff.pow(2).mean(-2).sqrt().mean())


def _pad_to_frames(wave: torch.Tensor, hop: int) -> torch.Tensor:
    frames = num_frames(wave.shape[-1], hop)
    return torch.nn.functional.pad(wave, (0, frames * hop - wave.shape[-1]))


def _check_wave(wave: torch.Tensor, channels: int) -> None:
    if wave.ndim != 3 or wave.shape[1] != channels:
        raise UsageError(f"expected a waveform batch [B, {channels}, N], got shape {tuple(wave.shape)}")


def _check_latents(latents: torch.Tensor, latent_dim: int) -> None:
    if latents.ndim != 3 or latents.shape[1] != latent_dim:
        raise UsageError(f"expected latents [B, {latent_dim}, T], got shape {tuple(latents.shape)}")


def _as_batch(wave: np.ndarray, channels: int) -> torch.Tensor:
    w = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    if w.ndim != 2 or w.shape[0] != channels:
        raise UsageError(f"expected a waveform (channels={channels}, frames), got shape {tuple(w.shape)}")
    return w[None]


class StftPcaAutoencoder:
    """Log-magnitude STFT frames, ``sub_frames`` per latent frame, whitened-PCA to ``latent_dim``.

    The STFT hop is ``hop / sub_frames`` with a centred ``n_fft`` Hann window; a wave of N samples is zero-padded to
    ``T = ceil(N / hop)`` hops and gives exactly ``sub_frames * T`` STFT frames (the trailing centre frame is dropped
    on encode and restored as silence on decode), so decode(encode(x)) has ``T * hop`` samples.
    """

    def __init__(self, cfg: AutoencoderConfig) -> None:
        if cfg.hop % cfg.sub_frames:
            raise UsageError(f"sub_frames {cfg.sub_frames} must divide hop {cfg.hop}")
        self.cfg = cfg
        self.sample_rate, self.channels, self.hop = cfg.sample_rate, cfg.channels, cfg.hop
        self.latent_dim = cfg.latent_dim
        self.frame_rate = cfg.frame_rate
        self.stft_hop = cfg.hop // cfg.sub_frames
        self.bins = cfg.n_fft // 2 + 1
        self.feature_dim = cfg.channels * cfg.sub_frames * self.bins
        if cfg.latent_dim > self.feature_dim:
            raise UsageError(f"latent_dim {cfg.latent_dim} exceeds the {self.feature_dim} STFT features per frame")
        self.window = torch.hann_window(cfg.n_fft)
        self.mean = torch.zeros(self.feature_dim)
        self.components = torch.zeros(self.feature_dim, cfg.latent_dim)  # orthonormal columns
        self.scale = torch.ones(cfg.latent_dim)  # std of each component over the fit frames
        self.fitted = False

    # --- features -------------------------------------------------------------------------------------------
    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, C, T*hop] -> complex [B, C, bins, sub_frames*T]."""
        b, c, n = wave.shape
        spec = torch.stft(wave.reshape(b * c, n), self.cfg.n_fft, self.stft_hop, window=self.window.to(wave.device),
                          center=True, return_complex=True)
        return spec[..., :-1].reshape(b, c, self.bins, -1)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, C, N] -> [B, T, feature_dim] log-magnitudes, one row per latent frame."""
        _check_wave(wave, self.channels)
        mag = self._stft(_pad_to_frames(wave.float(), self.hop)).abs()
        b, c, f, frames = mag.shape
        t = frames // self.cfg.sub_frames
        logmag = torch.log(mag + self.log_floor)
        return logmag.reshape(b, c, f, t, self.cfg.sub_frames).permute(0, 3, 1, 4, 2).reshape(b, t, -1)

    @property
    def log_floor(self) -> float:
        """-100 dB re a full-scale sine's STFT peak (n_fft / 4): silence maps to a finite, shared value."""
        return 1e-5 * self.cfg.n_fft / 4

    # --- fit / encode / decode ------------------------------------------------------------------------------
    def fit(self, waves: list[np.ndarray]) -> None:
        """Principal components of the training frames (randomised SVD, seeded: the same waves give the same fit)."""
        if not waves:
            raise UsageError("stft-pca fit needs at least one waveform")
        total = sum(num_frames(np.asarray(w).shape[-1], self.hop) for w in waves)
        keep = min(1.0, self.cfg.max_fit_frames / total)
        rows = []
        with torch.no_grad():
            for w in waves:
                feats = self.features(_as_batch(w, self.channels).to(self.window.device))[0]
                n = max(1, round(feats.shape[0] * keep))
                rows.append(feats[torch.linspace(0, feats.shape[0] - 1, n).round().long()])
        x = torch.cat(rows)
        del rows
        if x.shape[0] <= self.latent_dim:
            raise UsageError(f"stft-pca fit needs more than latent_dim={self.latent_dim} frames; got {x.shape[0]} "
                             f"({x.shape[0] / self.frame_rate:.1f} s of audio)")
        mean = x.mean(0, dtype=torch.float64).float()
        x -= mean  # in place: at max_fit_frames the frame matrix is the fit's whole memory (8192 x 7688 x 4 B)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            _, s, v = torch.svd_lowrank(x, q=min(self.latent_dim + 16, *x.shape), niter=6)
        self.mean = mean
        self.components = v[:, :self.latent_dim].float().contiguous()
        self.scale = (s[:self.latent_dim] / math.sqrt(x.shape[0] - 1)).clamp_min(1e-6).float()
        self.fitted = True

    def _require_fit(self) -> None:
        if not self.fitted:
            raise UsageError("the stft-pca autoencoder is not fitted: call fit(waves) or load a checkpoint first")

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, C, N] -> [B, latent_dim, ceil(N / hop)], unit variance per dimension over the fit frames."""
        self._require_fit()
        feats = self.features(wave)
        z = (feats - self.mean) @ self.components / self.scale
        return z.transpose(1, 2).contiguous()

    def decode(self, latents: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """[B, latent_dim, T] -> [B, C, T * hop]; phase by Griffin-Lim, seeded: the same latents give the same audio."""
        self._require_fit()
        _check_latents(latents, self.latent_dim)
        b, _, t = latents.shape
        feats = (latents.float().transpose(1, 2) * self.scale) @ self.components.T + self.mean
        mag = (feats.exp() - self.log_floor).clamp_min(0.0)
        mag = mag.reshape(b, t, self.channels, self.cfg.sub_frames, self.bins).permute(0, 2, 4, 1, 3)
        mag = mag.reshape(b * self.channels, self.bins, t * self.cfg.sub_frames)
        mag = torch.nn.functional.pad(mag, (0, 1))  # the trailing centre frame dropped on encode
        wave = self._griffin_lim(mag, t * self.hop, generator)
        return wave.reshape(b, self.channels, -1)

    def exact_magnitude_decode(self, wave: torch.Tensor) -> torch.Tensor:
        """Griffin-Lim from the wave's own STFT magnitudes, no PCA: the floor that phase recovery alone sets on
        this autoencoder's error (what ``decode(encode(wave))`` would give with ``latent_dim`` unlimited)."""
        _check_wave(wave, self.channels)
        b, frames = wave.shape[0], num_frames(wave.shape[-1], self.hop)
        mag = self._stft(_pad_to_frames(wave.float(), self.hop)).abs().flatten(0, 1)
        wave = self._griffin_lim(torch.nn.functional.pad(mag, (0, 1)), frames * self.hop, None)
        return wave.reshape(b, self.channels, -1)

    def _griffin_lim(self, mag: torch.Tensor, length: int, generator: torch.Generator | None) -> torch.Tensor:
        """Fast Griffin-Lim (Perraudin et al. 2013, momentum 0.99) from a seeded random phase, [rows, bins, frames]
        -> [rows, length].

        torchaudio's ``griffinlim`` draws its initial phase from the global RNG; here the phase comes from
        ``generator`` (default seed 0) so decoding is reproducible without touching global state. Rows (channels of
        the batch) are solved independently, a few at a time, which bounds memory on long songs and gives the same
        result whatever the grouping.
        """
        gen = generator or torch.Generator(device="cpu").manual_seed(0)
        phase = torch.rand(mag.shape, generator=gen, device=gen.device).to(mag.device) * (2 * math.pi)
        rows_per_pass = max(1, GRIFFIN_LIM_BINS_PER_PASS // (mag.shape[1] * mag.shape[2]))
        return torch.cat([self._griffin_lim_rows(m, p, length)
                          for m, p in zip(mag.split(rows_per_pass), phase.split(rows_per_pass))])

    def _griffin_lim_rows(self, mag: torch.Tensor, phase: torch.Tensor, length: int) -> torch.Tensor:
        angles = torch.polar(torch.ones_like(mag), phase)
        window, n_fft, hop = self.window.to(mag.device), self.cfg.n_fft, self.stft_hop
        momentum = 0.99 / (1 + 0.99)
        previous = torch.zeros_like(angles)
        for _ in range(self.cfg.griffin_lim_iters):
            wave = torch.istft(mag * angles, n_fft, hop, window=window, length=length)
            rebuilt = torch.stft(wave, n_fft, hop, window=window, return_complex=True)
            angles = rebuilt - momentum * previous
            angles = angles / angles.abs().clamp_min(1e-16)
            previous = rebuilt
        return torch.istft(mag * angles, n_fft, hop, window=window, length=length)

    # --- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "components": self.components, "scale": self.scale,
                "fitted": torch.tensor(int(self.fitted))}

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        expected = {"mean": self.mean.shape, "components": self.components.shape, "scale": self.scale.shape}
        for key, shape in expected.items():
            if key not in sd or tuple(sd[key].shape) != tuple(shape):
                got = tuple(sd[key].shape) if key in sd else "missing"
                raise UsageError(f"stft-pca state does not match its config: {key} is {got}, expected {tuple(shape)}")
        device = self.window.device
        self.mean, self.components, self.scale = (sd[k].float().to(device) for k in ("mean", "components", "scale"))
        self.fitted = bool(int(sd.get("fitted", torch.tensor(1))))

    def to(self, device: str | torch.device) -> StftPcaAutoencoder:
        self.window, self.mean, self.components, self.scale = (
            x.to(device) for x in (self.window, self.mean, self.components, self.scale))
        return self


class OobleckAutoencoder:
    """Stable Audio Open's VAE behind the 25 Hz, 48 kHz interface.

    The model runs at ``model_rate = prod(downsampling_ratios) * frame_rate``, so its latents are exactly 25 Hz:
    a random-weight config whose ratios multiply to 1920 runs at 48 kHz (no resampling). The pretrained VAE has
    hop 2048 (native 44.1 kHz, 21.5 Hz latents); rather than interpolating latents, we resample 48 kHz -> 51.2 kHz
    before encoding and back after decoding, so one latent frame is still exactly 1920 samples at 48 kHz. The VAE
    then sees music 16 % higher-rate than it was trained on (content shifted down by 2.5 semitones, still within
    its band: 24 kHz maps to 20.7 kHz equivalent); the decoder undoes the shift.
    Encoding takes the posterior mean (deterministic); ``fit`` only measures per-dimension mean/std of the latents.
    """

    def __init__(self, cfg: AutoencoderConfig) -> None:
        from diffusers import AutoencoderOobleck

        self.cfg = cfg
        self.sample_rate, self.channels, self.hop = cfg.sample_rate, cfg.channels, cfg.hop
        self.latent_dim = cfg.latent_dim
        self.frame_rate = cfg.frame_rate
        if cfg.pretrained:
            self.model = _load_pretrained_oobleck(cfg.pretrained, cfg.subfolder)
            got = (self.model.config.decoder_input_channels, self.model.config.audio_channels)
            if got != (cfg.latent_dim, cfg.channels):
                raise UsageError(f"{cfg.pretrained} has latent_dim {got[0]} and {got[1]} channels; the config asks "
                                 f"for {cfg.latent_dim} and {cfg.channels}")
        else:
            model_hop = int(np.prod(cfg.downsampling_ratios))
            if len(cfg.channel_multiples) != len(cfg.downsampling_ratios):
                raise UsageError("oobleck channel_multiples and downsampling_ratios must have the same length")
            if any(r % 2 for r in cfg.downsampling_ratios):
                raise UsageError(f"oobleck downsampling_ratios must be even (odd strides lose a sample per "
                                 f"transposed conv): {cfg.downsampling_ratios}")
            self.model = AutoencoderOobleck(
                encoder_hidden_size=cfg.encoder_width or 2 * cfg.latent_dim,
                downsampling_ratios=list(cfg.downsampling_ratios), channel_multiples=list(cfg.channel_multiples),
                decoder_channels=cfg.decoder_channels, decoder_input_channels=cfg.latent_dim,
                audio_channels=cfg.channels, sampling_rate=round(model_hop * cfg.frame_rate))
        self.model.eval().requires_grad_(False)
        if cfg.tiled:
            self.model.enable_tiling()
        self.model_hop = int(self.model.hop_length)
        model_rate = self.model_hop * cfg.sample_rate / cfg.hop
        if model_rate != int(model_rate):
            raise UsageError(f"oobleck hop {self.model_hop} gives a non-integer model rate {model_rate} Hz")
        self.model_rate = int(model_rate)
        self.latent_mean = torch.zeros(cfg.latent_dim)
        self.latent_std = torch.ones(cfg.latent_dim)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _raw_encode(self, wave: torch.Tensor) -> torch.Tensor:
        _check_wave(wave, self.channels)
        frames = num_frames(wave.shape[-1], self.hop)
        x = _pad_to_frames(wave, self.hop).to(self.device, next(self.model.parameters()).dtype)
        if self.model_rate != self.sample_rate:
            x = AF.resample(x, self.sample_rate, self.model_rate)
        z = self.model.encode(x).latent_dist.mode()
        return z[..., :frames].float()

    def fit(self, waves: list[np.ndarray]) -> None:
        """Measure the latents' per-dimension mean and std on ``waves`` (the weights are never changed)."""
        if not waves:
            raise UsageError("oobleck fit needs at least one waveform")
        total, s1, s2 = 0, torch.zeros(self.latent_dim, dtype=torch.float64), torch.zeros(self.latent_dim,
                                                                                           dtype=torch.float64)
        with torch.no_grad():
            for w in waves:
                z = self._raw_encode(_as_batch(w, self.channels))[0].double().cpu()
                total, s1, s2 = total + z.shape[-1], s1 + z.sum(-1), s2 + (z * z).sum(-1)
        mean = s1 / total
        self.latent_mean = mean.float().to(self.device)
        self.latent_std = (s2 / total - mean * mean).clamp_min(1e-8).sqrt().float().to(self.device)

    @torch.no_grad()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, C, N] -> [B, latent_dim, ceil(N / hop)], normalised by the fitted mean/std."""
        z = self._raw_encode(wave)
        return (z - self.latent_mean[:, None]) / self.latent_std[:, None]

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """[B, latent_dim, T] -> [B, C, T * hop] at the config's sample rate."""
        _check_latents(latents, self.latent_dim)
        z = latents.float().to(self.device) * self.latent_std[:, None] + self.latent_mean[:, None]
        wave = self.model.decode(z.to(next(self.model.parameters()).dtype)).sample.float()
        if self.model_rate != self.sample_rate:
            wave = AF.resample(wave, self.model_rate, self.sample_rate)
        return wave[..., :latents.shape[-1] * self.hop]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Latent statistics, plus the VAE weights unless they come from ``pretrained`` (reloaded from there)."""
        sd = {"latent_mean": self.latent_mean, "latent_std": self.latent_std}
        if not self.cfg.pretrained:
            sd |= {f"model.{k}": v for k, v in self.model.state_dict().items()}
        return sd

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        for key in ("latent_mean", "latent_std"):
            if key not in sd or tuple(sd[key].shape) != (self.latent_dim,):
                raise UsageError(f"oobleck state lacks {key} of shape ({self.latent_dim},)")
        self.latent_mean = sd["latent_mean"].float().to(self.device)
        self.latent_std = sd["latent_std"].float().to(self.device)
        weights = {k.removeprefix("model."): v for k, v in sd.items() if k.startswith("model.")}
        if weights:
            self.model.load_state_dict(weights)
        elif not self.cfg.pretrained:
            raise UsageError("oobleck state has no weights, and the config names no pretrained model to load them from")

    def to(self, device: str | torch.device) -> OobleckAutoencoder:
        self.model.to(device)
        self.latent_mean, self.latent_std = self.latent_mean.to(device), self.latent_std.to(device)
        return self


def _load_pretrained_oobleck(name: str, subfolder: str) -> Any:
    """A local directory (with or without the ``vae`` subfolder) or a hub id; a missing model is one line."""
    from diffusers import AutoencoderOobleck

    from songprep.models.base import offline

    how = (f"accept the licence at https://huggingface.co/{STABLE_AUDIO_OPEN}, run `hf auth login`, or pass a local "
           f"copy of its '{subfolder}' folder (config.json + diffusion_pytorch_model.safetensors)")
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        local = path / subfolder if (path / subfolder / "config.json").exists() else path
        if not (local / "config.json").exists():
            raise ModelNotFoundError(f"oobleck autoencoder: no config.json in {local}; {how}")
        try:
            return AutoencoderOobleck.from_pretrained(local)
        except Exception as err:  # truncated or mismatched weights
            raise ModelNotFoundError(f"oobleck autoencoder at {local} cannot be loaded "
                                     f"({' '.join(str(err).split())[:160]}); {how}") from None
    try:
        return AutoencoderOobleck.from_pretrained(name, subfolder=subfolder, local_files_only=offline())
    except Exception as err:  # gated repo, no network, not in the cache
        reason = " ".join(str(err).split())[:160]
        if offline():
            reason = f"offline mode (SONGPREP_OFFLINE / HF_HUB_OFFLINE) and not in the hub cache: {reason}"
        raise ModelNotFoundError(f"oobleck autoencoder {name} not available ({reason}); {how}") from None


__all__ = ["AudioAutoencoder", "AutoencoderConfig", "OobleckAutoencoder", "StftPcaAutoencoder",
           "build_autoencoder", "log_spectral_distance", "num_frames",
           "STABLE_AUDIO_OPEN"]
