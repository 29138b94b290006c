"""Learned aesthetic scorers behind one interface: audiobox-aesthetics and SongEval.

>>> sorted(SCORERS)
['audiobox', 'songeval']
>>> SCORERS["songeval"].info.commercial_use
False
"""

from __future__ import annotations

from pathlib import Path

from songprep.errors import UsageError
from songprep.evaluation.aesthetics.audiobox import AudioboxScorer
from songprep.evaluation.aesthetics.base import AestheticScorer, ScorerInfo
from songprep.evaluation.aesthetics.songeval import SongEvalScorer

SCORERS: dict[str, type[AestheticScorer]] = {cls.info.name: cls for cls in (AudioboxScorer, SongEvalScorer)}


def load_scorer(name: str, checkpoint: str | Path | None = None, device: str = "cpu") -> AestheticScorer:
    """Load a scorer's weights (local checkpoint, then the hub cache, then a download unless offline).

    Raises ModelNotFoundError (one line: which weights, where we looked, how to get them).
    """
    if name not in SCORERS:
        raise UsageError(f"unknown aesthetic scorer {name!r}; known: {', '.join(SCORERS)}")
    return SCORERS[name].load(checkpoint, device)


__all__ = ["SCORERS", "AestheticScorer", "AudioboxScorer", "ScorerInfo", "SongEvalScorer", "load_scorer"]
