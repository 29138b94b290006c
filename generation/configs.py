"""Generator configs: every size and setting of one model in one JSON-able record, and the named ones.

``tiny`` trains and samples on a laptop CPU in seconds (tests, smoke runs); ``small`` is a
single-GPU model for a few hundred hours of songs; ``v2-large`` is sized like LeVo 2's large model
(a 36-layer, 2048-wide LM plus a 12-layer dual-track sub-model, about 4B parameters; an Oobleck VAE
as the autoencoder; a large flow-matching renderer). No weights ship with songprep: every config
trains from a dataset ``songprep prep`` wrote.

A config file (JSON or YAML) is either a full config (``songprep train`` writes one into every
checkpoint) or overrides of a named one::

    {"base": "tiny", "lm": {"layers": 4}, "max_lyric_tokens": 768}

>>> cfg = load_config("tiny")
>>> GeneratorConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songprep.errors import UsageError
from songprep.generation.audio_tokenizer import AudioTokenizerConfig
from songprep.generation.autoencoder import STABLE_AUDIO_OPEN, AutoencoderConfig
from songprep.generation.config_dict import config_from_dict, config_to_dict
from songprep.generation.lelm import LMConfig
from songprep.generation.renderer import RendererConfig


@dataclass
class TrainingConfig:
    """Optimisation defaults of a config (the CLI can override lr, batch size, seed)."""

    lr: float = 1e-3
    renderer_lr: float = 1e-3
    weight_decay: float = 0.01
    batch_size: int = 4
    warmup_steps: int = 20
    grad_clip: float = 1.0
    #: Training crops: a song longer than this many token frames is cut at a random start.
    crop_frames: int = 256
    #: Chance that a training example gets a prompt-audio segment (its own first seconds), so the model
    #: learns both the lyric-only and the prompt-audio conditions.
    prompt_audio_prob: float = 0.3
    #: Songs used to fit the audio tokenizers and the autoencoder (closed-form fits; a sample is enough).
    fit_songs: int = 64
    #: Seconds of each fit song the fit reads at most (a seeded excerpt): the fit holds at most
    #: fit_songs x fit_excerpt_s x 3 tracks of audio, whatever the corpus.
    fit_excerpt_s: float = 30.0


@dataclass
class GeneratorConfig:
    """One generator: tokenizers, LeLM, renderer, autoencoder, the limits generation enforces."""

    name: str
    audio_tokenizer: AudioTokenizerConfig
    lm: LMConfig
    renderer: RendererConfig
    autoencoder: AutoencoderConfig
    training: TrainingConfig = field(default_factory=TrainingConfig)
    #: Longest lyric (+ descriptions) in this model's tokens; longer prompts are refused, never cut.
    max_lyric_tokens: int = 1024
    #: Prompt audio is cut to this many seconds (LeVo: 10 s).
    prompt_audio_s: float = 10.0
    sample_rate: int = 48000
    channels: int = 2
    frame_rate: float = 25.0

    @property
    def hop(self) -> int:
        """Audio samples per token frame (1920 at 48 kHz, 25 Hz)."""
        return round(self.sample_rate / self.frame_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "audio_tokenizer": config_to_dict(self.audio_tokenizer),
            "lm": config_to_dict(self.lm),
            "renderer": config_to_dict(self.renderer),
            "autoencoder": config_to_dict(self.autoencoder),
            "training": config_to_dict(self.training),
            "max_lyric_tokens": self.max_lyric_tokens,
            "prompt_audio_s": self.prompt_audio_s,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "frame_rate": self.frame_rate,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UsageError(f"unknown generator config keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        missing = [k for k in ("name", "audio_tokenizer", "lm", "renderer", "autoencoder") if k not in d]
        if missing:
            raise UsageError(f"generator config lacks {', '.join(missing)}")
        data = dict(d)
        data["audio_tokenizer"] = config_from_dict(AudioTokenizerConfig, d["audio_tokenizer"], "audio_tokenizer")
        data["lm"] = config_from_dict(LMConfig, d["lm"], "lm")
        data["renderer"] = config_from_dict(RendererConfig, d["renderer"], "renderer")
        data["autoencoder"] = config_from_dict(AutoencoderConfig, d["autoencoder"], "autoencoder")
        data["training"] = config_from_dict(TrainingConfig, d.get("training") or {}, "training")
        config = cls(**data)
        config.check()
        return config

    def check(self) -> None:
        if self.sample_rate % round(self.frame_rate) or self.hop <= 0:
            raise UsageError(f"sample_rate {self.sample_rate} is not a whole number of {self.frame_rate} Hz frames")
        if getattr(self.autoencoder, "hop", self.hop) != self.hop:
            raise UsageError(f"autoencoder hop {self.autoencoder.hop} must equal the token hop {self.hop}")
        if self.max_lyric_tokens <= 0:
            raise UsageError("max_lyric_tokens must be positive")


def _tiny() -> GeneratorConfig:
    return GeneratorConfig(
        name="tiny",
        audio_tokenizer=AudioTokenizerConfig(codebook_size=64),
        lm=LMConfig.tiny(),
        renderer=RendererConfig(layers=2, width=64, heads=4, steps=8, window_frames=256, overlap_frames=32),
        autoencoder=AutoencoderConfig(kind="stft-pca", latent_dim=16),
        training=TrainingConfig(lr=3e-3, renderer_lr=2e-3, batch_size=4, warmup_steps=10, crop_frames=256,
                                fit_songs=16),
        max_lyric_tokens=1024,
    )


def _small() -> GeneratorConfig:
    return GeneratorConfig(
        name="small",
        audio_tokenizer=AudioTokenizerConfig(codebook_size=1024),
        lm=LMConfig.small(),
        renderer=RendererConfig(layers=8, width=512, heads=8, steps=16, window_frames=500, overlap_frames=50),
        autoencoder=AutoencoderConfig(kind="stft-pca", latent_dim=64),
        training=TrainingConfig(lr=3e-4, renderer_lr=3e-4, batch_size=8, warmup_steps=1000, crop_frames=1500,
                                fit_songs=256),
        max_lyric_tokens=2048,
    )


def _v2_large() -> GeneratorConfig:
    return GeneratorConfig(
        name="v2-large",
        audio_tokenizer=AudioTokenizerConfig(codebook_size=16384),
        lm=LMConfig.v2_large(),
        renderer=RendererConfig(layers=16, width=1024, heads=16, steps=10, window_frames=750, overlap_frames=75),
        autoencoder=AutoencoderConfig(kind="oobleck", latent_dim=64, pretrained=STABLE_AUDIO_OPEN),
        training=TrainingConfig(lr=1e-4, renderer_lr=1e-4, batch_size=8, warmup_steps=2000, crop_frames=3000,
                                fit_songs=512),
        max_lyric_tokens=2048,
    )


_BUILDERS = {"tiny": _tiny, "small": _small, "v2-large": _v2_large}
NAMED_CONFIGS: dict[str, GeneratorConfig] = {}  # filled lazily by named_config (building is cheap; keeps imports light)


def named_config(name: str) -> GeneratorConfig:
    if name not in _BUILDERS:
        raise UsageError(f"unknown generator config {name!r}; named configs: {', '.join(_BUILDERS)} "
                         "(or give a .json/.yaml file)")
    if name not in NAMED_CONFIGS:
        NAMED_CONFIGS[name] = _BUILDERS[name]()
    return copy.deepcopy(NAMED_CONFIGS[name])


def config_names() -> tuple[str, ...]:
    return tuple(_BUILDERS)


def load_config(name_or_path: str | Path) -> GeneratorConfig:
    """A named config, or a JSON/YAML file (a full config, or ``{"base": NAME, ...overrides}``)."""
    text = str(name_or_path)
    if text in _BUILDERS:
        return named_config(text)
    path = Path(text)
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        return named_config(text)  # raises with the list of names
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as err:  # json and yaml each raise their own error types
        raise UsageError(f"{path}: not a readable config ({' '.join(str(err).split())[:200]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a config file must hold a mapping")
    base = data.pop("base", None)
    if base is not None:
        name = data.pop("name", f"{base}+{path.stem}")
        data = {**_merge(named_config(str(base)).to_dict(), data), "name": name}
    return GeneratorConfig.from_dict(data)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
