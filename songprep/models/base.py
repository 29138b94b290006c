"""What every model family shares: where weights may live, and the interface a family implements."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from songprep.errors import UsageError


def offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("SONGPREP_OFFLINE", "HF_HUB_OFFLINE"))


def songprep_model_dir() -> Path:
    return Path(os.environ.get("SONGPREP_MODEL_DIR") or Path.home() / ".cache" / "songprep" / "models")


def xdg_cache() -> Path:
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


