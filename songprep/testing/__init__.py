"""Ground-truth test songs: generated music whose sections, lyrics, word times and stems are known.

Tests and benchmarks of every stage (separation, alignment, structure, ASR) score against these.
``build_corpus(out_dir)`` writes the songs; ``load_corpus(out_dir)`` reads their truth back.
Names are imported lazily, so ``python -m songprep.testing.corpus`` and reading truth files stay light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "GENERATOR_VERSION": "songprep.testing.corpus",
    "build_corpus": "songprep.testing.corpus",
    "build_song": "songprep.testing.corpus",
    "load_corpus": "songprep.testing.corpus",
    "TruthSong": "songprep.testing.truth",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'songprep.testing' has no attribute {name!r}")
