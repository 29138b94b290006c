"""Model registry: ``family:variant`` names -> where the weights are and how to load them.

Lookup order for every model: an explicit local path, ``$SONGPREP_MODEL_DIR/<family>/<variant>``
(default ``~/.cache/songprep/models``), then the family's own cache (whisper's
``~/.cache/whisper``, torch hub's ``checkpoints/`` for demucs). With ``SONGPREP_OFFLINE=1`` (or
``HF_HUB_OFFLINE=1``) nothing is downloaded; otherwise a missing model is fetched by the family's
own library on first load. Whatever happens, a missing model is one line: which model, where we
looked, how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from songprep.errors import ModelNotFoundError, UsageError


def offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("SONGPREP_OFFLINE", "HF_HUB_OFFLINE"))


def songprep_model_dir() -> Path:
    return Path(os.environ.get("SONGPREP_MODEL_DIR") or Path.home() / ".cache" / "songprep" / "models")


def _xdg_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class ModelStatus:
    name: str
    available: bool
    path: Path | None
    licence: str
    description: str


class ModelFamily:
    """One kind of model (whisper, demucs, ...). Subclasses say where weights live and how to load them."""

    family: ClassVar[str]
    variants: ClassVar[tuple[str, ...]]
    licence: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, variant: str) -> None:
        if variant not in self.variants:
            raise UsageError(f"unknown {self.family} model {variant!r}; known: {', '.join(self.variants)}")
        self.variant = variant

    @property
    def name(self) -> str:
        return f"{self.family}:{self.variant}"

    def candidates(self) -> list[Path]:
        """Places the weights may be, best first (beyond an explicit path)."""
        return [songprep_model_dir() / self.family / self.variant]

    def complete(self, path: Path) -> bool:
        """Whether ``path`` holds the whole model."""
        return path.exists()

    def how_to_get(self) -> str:
        raise NotImplementedError

    def load_local(self, path: Path, device: str) -> Any:
        raise NotImplementedError

    def load_remote(self, device: str) -> Any:
        """Let the family's library download into its own cache (only when not offline)."""
        raise NotImplementedError


class WhisperFamily(ModelFamily):
    """openai-whisper checkpoints (``.pt`` with ``dims`` and ``model_state_dict``)."""

    family = "whisper"
    variants = ("tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
                "large-v1", "large-v2", "large-v3", "large-v3-turbo", "turbo")
    licence = "MIT"
    description = "OpenAI Whisper speech recognition (openai-whisper)"

    def candidates(self) -> list[Path]:
        own = songprep_model_dir() / self.family
        return [own / f"{self.variant}.pt", own / self.variant / f"{self.variant}.pt",
                _xdg_cache() / "whisper" / f"{self.variant}.pt"]

    def complete(self, path: Path) -> bool:
        return path.is_file() and path.stat().st_size > 0

    def how_to_get(self) -> str:
        return (f"with internet run `songprep models fetch {self.name}`, or put {self.variant}.pt "
                f"into {songprep_model_dir() / self.family}")

    def load_local(self, path: Path, device: str) -> Any:
        import whisper

        return whisper.load_model(str(path), device=device)

    def load_remote(self, device: str) -> Any:
        import whisper

        return whisper.load_model(self.variant, device=device, download_root=str(_xdg_cache() / "whisper"))


class DemucsFamily(ModelFamily):
    """Demucs separators; a named model is a bag of one or more ``<sig>-<checksum>.th`` files."""

    family = "demucs"
    variants = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi", "mdx_extra")
    licence = "MIT"
    description = "Demucs music source separation (demucs)"

    def signatures(self) -> list[str]:
        import yaml
        from demucs import pretrained

        bag = Path(pretrained.__file__).parent / "remote" / f"{self.variant}.yaml"
        return list(yaml.safe_load(bag.read_text())["models"])

    def candidates(self) -> list[Path]:
        import torch

        return [songprep_model_dir() / self.family, Path(torch.hub.get_dir()) / "checkpoints"]

    def complete(self, path: Path) -> bool:
        return path.is_dir() and all(any(path.glob(f"{sig}-*.th")) for sig in self.signatures())

    def how_to_get(self) -> str:
        return (f"with internet run `songprep models fetch {self.name}`, or copy its .th files "
                f"({', '.join(self.signatures())}) into {songprep_model_dir() / self.family}")

    def load_local(self, path: Path, device: str) -> Any:
        import shutil
        import tempfile

        from demucs import pretrained

        bag = Path(pretrained.__file__).parent / "remote" / f"{self.variant}.yaml"
        with tempfile.TemporaryDirectory() as repo:  # demucs wants the bag's yaml beside the weights
            shutil.copy(bag, repo)
            for sig in self.signatures():
                weights = next(path.glob(f"{sig}-*.th"))
                os.symlink(weights.resolve(), Path(repo) / weights.name)
            model = pretrained.get_model(self.variant, repo=Path(repo))
        return model.to(device).eval()

    def load_remote(self, device: str) -> Any:
        from demucs import pretrained

        return pretrained.get_model(self.variant).to(device).eval()


FAMILIES: dict[str, type[ModelFamily]] = {cls.family: cls for cls in (WhisperFamily, DemucsFamily)}


def resolve(name: str) -> ModelFamily:
    """``"whisper:base"`` -> its family object; a bare family name means its first variant."""
    family, _, variant = name.partition(":")
    cls = FAMILIES.get(family)
    if cls is None:
        raise UsageError(f"unknown model family {family!r} in {name!r}; known: {', '.join(FAMILIES)}")
    return cls(variant or cls.variants[0])


def locate(name: str, local_path: str | Path | None = None) -> Path:
    """Where the weights of ``name`` are; ModelNotFoundError (one line) if nowhere."""
    model = resolve(name)
    looked: list[Path] = []
    if local_path is not None:
        path = Path(local_path).expanduser()
        if model.complete(path):
            return path
        raise ModelNotFoundError(f"{model.name}: no complete model at {path}; {model.how_to_get()}")
    for path in model.candidates():
        looked.append(path)
        if model.complete(path):
            return path
    where = ", ".join(str(p) for p in looked)
    raise ModelNotFoundError(f"{model.name} not found (looked in {where}); {model.how_to_get()}")


def load(name: str, device: str = "cpu", local_path: str | Path | None = None) -> Any:
    """Load a model: from disk when present, else downloaded by its library unless offline."""
    model = resolve(name)
    try:
        return model.load_local(locate(name, local_path), device)
    except ModelNotFoundError as err:
        if local_path is not None or offline():
            raise
        missing = err
    try:
        return model.load_remote(device)
    except Exception as err:  # network refused, hub down, ...: say it in one line
        reason = " ".join(str(err).split())[:160]
        raise ModelNotFoundError(f"{missing} (download failed: {reason})") from None


def list_models(names: Iterable[str] | None = None) -> list[ModelStatus]:
    """Every registered model (or the given ones) and whether its weights are on this machine."""
    if names is None:
        names = [f"{fam}:{v}" for fam, cls in FAMILIES.items() for v in cls.variants]
    statuses = []
    for name in names:
        model = resolve(name)
        try:
            path: Path | None = locate(name)
        except ModelNotFoundError:
            path = None
        statuses.append(ModelStatus(model.name, path is not None, path, model.licence, model.description))
    return statuses
