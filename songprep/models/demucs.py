"""Demucs separators (htdemucs, htdemucs_ft, ...)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from songprep.models.base import ModelFamily, songprep_model_dir


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
