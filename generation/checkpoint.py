"""Generator checkpoints: one folder, safetensors weights beside the JSON that rebuilds the modules.

Layout::

    CKPT/config.json                 GeneratorConfig (every size and setting; rebuilds the modules)
    CKPT/lyric_tokenizer.json        the lyric tokenizer's vocabulary
    CKPT/audio_tokenizers.safetensors  the three streams' tokenizer states, keys "<stream>.<name>"
    CKPT/autoencoder.safetensors     the audio autoencoder (fitted or pretrained)
    CKPT/lelm.safetensors            the language model
    CKPT/renderer.safetensors        the flow-matching renderer
    CKPT/meta.json                   steps, seed, data hash, songprep version, duration model, losses
    CKPT/loss.csv                    the training loss curve (written by the trainer)

``meta.json`` is written last, so a folder without it is an unfinished save and is refused on load.
No pickles: weights are safetensors, everything else JSON.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songprep.errors import ModelNotFoundError, UsageError
from songprep.generation.configs import GeneratorConfig
from songprep.generation.data import pad_to_hop
from songprep.generation.delay import STREAMS
from songprep.generation.renderer import TRACKS

CONFIG_FILE = "config.json"
META_FILE = "meta.json"
LYRIC_TOKENIZER_FILE = "lyric_tokenizer.json"
AUDIO_TOKENIZERS_FILE = "audio_tokenizers.safetensors"
AUTOENCODER_FILE = "autoencoder.safetensors"
LELM_FILE = "lelm.safetensors"
RENDERER_FILE = "renderer.safetensors"
LOSS_FILE = "loss.csv"
WEIGHT_FILES = (AUDIO_TOKENIZERS_FILE, AUTOENCODER_FILE, LELM_FILE, RENDERER_FILE)
_FIX = "train one with `songprep train --data DATASET --config tiny -o DIR` or point --checkpoint at a finished one"


@dataclass
class Generator:
    """Everything generation needs, built from one config: tokenizers, LM, renderer, autoencoder.

    ``meta`` holds what training recorded (steps, seed, data hash, the lyric-length duration model).
    """

    config: GeneratorConfig
    lyric_tokenizer: Any
    audio_tokenizers: dict[str, Any]
    autoencoder: Any
    lelm: torch.nn.Module
    renderer: torch.nn.Module
    meta: dict[str, Any] = field(default_factory=dict)

    def audio_tokens(self, waves: dict[str, np.ndarray]) -> torch.Tensor:
        """(3, T) token streams of one song's tracks (``TRACKS`` -> ``(channels, frames)`` at the config's rate),
        each through its stream's tokenizer, cut to their common frame count."""
        cfg = self.config
        streams = [torch.as_tensor(self.audio_tokenizers[s].encode(pad_to_hop(waves[t], cfg.hop), cfg.sample_rate))
                   for s, t in zip(STREAMS, TRACKS)]
        frames = min(int(t.shape[0]) for t in streams)
        return torch.stack([t[:frames].long() for t in streams])

    @classmethod
    def build(cls, config: GeneratorConfig, device: str | torch.device = "cpu") -> Generator:
        """Fresh (untrained) modules of ``config`` on ``device`` (built there: a 4B LM never passes through CPU
        memory); tokenizers and autoencoder still need ``fit``."""
        return cls.around(Codec.build(config, device), device)

    @classmethod
    def around(cls, codec: Codec, device: str | torch.device = "cpu") -> Generator:
        """Fresh LeLM and renderer of the codec's config, built on ``device`` around its (fitted) tokenizers."""
        from songprep.generation.lelm import LeLM
        from songprep.generation.renderer import FlowRenderer

        config = codec.config
        vocab = config.audio_tokenizer.codebook_size
        lelm = LeLM.create(config.lm, codec.lyric_tokenizer.vocab_size, vocab, device=device)
        with torch.device(device):
            renderer = FlowRenderer(config.renderer, vocab, config.autoencoder.latent_dim)
        return cls(config, codec.lyric_tokenizer, codec.audio_tokenizers, codec.autoencoder.to(device), lelm, renderer)

    def to(self, device: str | torch.device) -> Generator:
        self.lelm.to(device)
        self.renderer.to(device)
        if hasattr(self.autoencoder, "to"):
            self.autoencoder.to(device)
        return self


def is_checkpoint(directory: str | Path) -> bool:
    return (Path(directory) / META_FILE).is_file()


def save_checkpoint(directory: str | Path, generator: Generator, meta: dict[str, Any]) -> Path:
    """Write ``generator`` and ``meta`` to ``directory`` (created); meta.json last, as the completion mark."""
    from safetensors.torch import save_model

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)
    save_codec(out, generator)
    save_model(generator.lelm, str(out / LELM_FILE))
    save_model(generator.renderer, str(out / RENDERER_FILE))
    generator.meta = dict(meta)
    _write_json(out / META_FILE, generator.meta)
    return out


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Generator:
    """The generator saved in ``directory``; a missing or damaged folder raises one line saying what to do."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    root = Path(directory)
    if not root.is_dir():
        raise ModelNotFoundError(f"no generator checkpoint at {root}; {_FIX}")
    missing = [name for name in (CONFIG_FILE, LYRIC_TOKENIZER_FILE, *WEIGHT_FILES) if not (root / name).is_file()]
    if missing:
        raise ModelNotFoundError(f"{root} is not a generator checkpoint (missing {', '.join(missing)}); {_FIX}")
    if not (root / META_FILE).is_file():
        raise ModelNotFoundError(f"{root} is an unfinished checkpoint (no {META_FILE}: the save was interrupted); "
                                 f"{_FIX}")
    try:
        config = GeneratorConfig.from_dict(_read_json(root / CONFIG_FILE))
        generator = Generator.build(config, device)
        _load_codec_into(root, generator)
        load_model(generator.lelm, str(root / LELM_FILE), strict=True, device=str(device))
        load_model(generator.renderer, str(root / RENDERER_FILE), strict=True, device=str(device))
        generator.meta = _read_json(root / META_FILE)
    except (UsageError, SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        detail = " ".join(str(err).split())[:200]
        raise ModelNotFoundError(f"generator checkpoint {root} is damaged or from another version ({detail}); "
                                 f"{_FIX}") from None
    generator.lelm.eval()
    generator.renderer.eval()
    return generator.to(device)


CODEC_FILES = (CONFIG_FILE, LYRIC_TOKENIZER_FILE, AUDIO_TOKENIZERS_FILE, AUTOENCODER_FILE)


@dataclass
class Codec:
    """The fitted, non-learned-by-SGD half of a generator: what turns songs into token streams and latents.

    ``songprep tokenize`` fits and saves one (without a LeLM or renderer: a 4 B LM need not be built to
    encode a corpus); training builds the models around it. ``audio_tokens`` is Generator's own.
    """

    config: GeneratorConfig
    lyric_tokenizer: Any
    audio_tokenizers: dict[str, Any]
    autoencoder: Any

    audio_tokens = Generator.audio_tokens

    @classmethod
    def build(cls, config: GeneratorConfig, device: str | torch.device = "cpu") -> Codec:
        from songprep.generation.audio_tokenizer import build_audio_tokenizer
        from songprep.generation.autoencoder import build_autoencoder
        from songprep.generation.lyric_tokenizer import LyricTokenizer

        return cls(config, LyricTokenizer(), {s: build_audio_tokenizer(config.audio_tokenizer) for s in STREAMS},
                   build_autoencoder(config.autoencoder).to(device))


def save_codec(directory: str | Path, codec: Codec | Generator) -> Path:
    """Config, lyric tokenizer, the three audio tokenizers and the autoencoder (a checkpoint's first four files)."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / CONFIG_FILE, codec.config.to_dict())
    _write_json(out / LYRIC_TOKENIZER_FILE, codec.lyric_tokenizer.to_dict())
    states = {f"{stream}.{k}": _cpu(v) for stream in STREAMS
              for k, v in codec.audio_tokenizers[stream].state_dict().items()}
    save_file(states, str(out / AUDIO_TOKENIZERS_FILE))
    save_file({k: _cpu(v) for k, v in codec.autoencoder.state_dict().items()}, str(out / AUTOENCODER_FILE))
    return out


def load_codec(directory: str | Path, device: str | torch.device = "cpu") -> Codec:
    """The codec saved by :func:`save_codec` (or a checkpoint's); a missing or damaged one raises one line."""
    from safetensors import SafetensorError

    root = Path(directory)
    missing = [name for name in CODEC_FILES if not (root / name).is_file()]
    if missing:
        raise ModelNotFoundError(f"{root} holds no fitted tokenizers (missing {', '.join(missing)}); make them "
                                 "with `songprep tokenize DATASET -o TOKENS --config tiny`")
    try:
        codec = Codec.build(GeneratorConfig.from_dict(_read_json(root / CONFIG_FILE)), device)
        _load_codec_into(root, codec)
    except (UsageError, SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        detail = " ".join(str(err).split())[:200]
        raise ModelNotFoundError(f"tokenizers in {root} are damaged or from another version ({detail})") from None
    return codec


def _load_codec_into(root: Path, target: Codec | Generator) -> None:
    from safetensors.torch import load_file

    from songprep.generation.lyric_tokenizer import LyricTokenizer

    target.lyric_tokenizer = LyricTokenizer.from_dict(_read_json(root / LYRIC_TOKENIZER_FILE))
    states = load_file(str(root / AUDIO_TOKENIZERS_FILE))
    for stream in STREAMS:
        prefix = f"{stream}."
        target.audio_tokenizers[stream].load_state_dict(
            {k[len(prefix):]: v for k, v in states.items() if k.startswith(prefix)})
    target.autoencoder.load_state_dict(load_file(str(root / AUTOENCODER_FILE)))


def prepare_output_dir(directory: str | Path, overwrite: bool) -> Path:
    """Refuse to write over a checkpoint (or a non-empty folder) unless ``overwrite``."""
    out = Path(directory)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            what = "a checkpoint" if is_checkpoint(out) else "files"
            raise UsageError(f"{out} already holds {what}; choose another -o or pass --overwrite")
        if not is_checkpoint(out) and not (out / CONFIG_FILE).is_file():
            raise UsageError(f"refusing to overwrite {out}: it is not empty and not a generator checkpoint")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous()


def _write_json(path: Path, data: Any) -> None:
    from songprep.writer import write_json_atomic

    write_json_atomic(path, data)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
