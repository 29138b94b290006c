"""Model registry: ``family:variant`` names -> where the weights are and how to load them.

Lookup order for every model: an explicit local path, ``$SONGPREP_MODEL_DIR/<family>/<variant>``
(default ``~/.cache/songprep/models``), weights that a Python package ships, then the family's own
cache (whisper's ``~/.cache/whisper``, torch hub's ``checkpoints/`` for demucs). With
``SONGPREP_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) nothing is downloaded; otherwise a missing model is
fetched by the family's own library on first load. Whatever happens, a missing model is one line:
which model, where we looked, how to get it.

One module per family (``whisper.py``, ``demucs.py``, ...); each is listed in :data:`FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from songprep.errors import ModelNotFoundError, UsageError
from songprep.models.base import ModelFamily, ModelStatus, offline, songprep_model_dir
from songprep.models.demucs import DemucsFamily
from songprep.models.faster_whisper import FasterWhisperFamily
from songprep.models.spleeter import SpleeterFamily
from songprep.models.whisper import WhisperFamily

FAMILIES: dict[str, type[ModelFamily]] = {cls.family: cls for cls in (WhisperFamily, DemucsFamily, SpleeterFamily,
                                                                        FasterWhisperFamily)}


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


__all__ = ["FAMILIES", "ModelFamily", "ModelStatus", "list_models", "load", "locate", "offline", "resolve",
           "songprep_model_dir"]
