"""Stages of ``songprep prep``, registered by name. Each module holds one stage."""

from __future__ import annotations

from songprep.errors import UsageError
from songprep.stages.align import AlignStage
from songprep.stages.base import INITIAL_FIELDS, Resources, SongItem, Stage, StageContext
from songprep.stages.decode import DecodeStage
from songprep.stages.describe import DescribeStage
from songprep.stages.lyrics import ReferenceLyricsStage
from songprep.stages.markup import MarkupStage
from songprep.stages.notes import NotesStage
from songprep.stages.separate import SeparateStage
from songprep.stages.structure import StructureStage
from songprep.stages.transcribe import TranscribeStage

STAGES: dict[str, type[Stage]] = {cls.name: cls for cls in (DecodeStage, ReferenceLyricsStage, MarkupStage,
                                                                SeparateStage, AlignStage, StructureStage,
                                                                TranscribeStage, NotesStage, DescribeStage)}


def stage_class(name: str) -> type[Stage]:
    try:
        return STAGES[name]
    except KeyError:
        raise UsageError(f"unknown stage {name!r}; known stages: {', '.join(STAGES)}") from None


def check_chain(names: tuple[str, ...]) -> None:
    """Refuse a chain where a stage reads a field no earlier stage writes (e.g. markup before structure)."""
    available = set(INITIAL_FIELDS)
    for name in names:
        cls = stage_class(name)
        missing = [f for f in cls.reads if f not in available]
        if missing:
            raise UsageError(f"stage {name!r} reads {', '.join(missing)}, which no earlier stage writes")
        available.update(cls.writes)


__all__ = ["STAGES", "Resources", "SongItem", "Stage", "StageContext", "check_chain", "stage_class"]
