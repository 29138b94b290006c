"""The stage contract: what a stage reads and writes, what it needs, and how it is called.

A stage is set up once per worker (heavy imports, model loading) and then called on batches of
:class:`SongItem`. Runners (local process pool, Ray Data) only ever use this contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from songprep.audio import Audio
from songprep.config import PrepConfig
from songprep.inputs import SourceFile
from songprep.records import Song, StageProvenance

#: Item fields present before any stage runs.
INITIAL_FIELDS = ("id", "source_path", "source")


@dataclass(frozen=True)
class Resources:
    """What a stage asks of a worker. ``gpu`` means: use one when there is one."""

    gpu: bool = False
    cpus: float = 1.0


@dataclass
class SongItem:
    """A song in flight: the record plus what stages pass on without writing (decoded audio, features).

    Audio is decoded once (by ``decode``) and handed on at the working rate; stems made by
    ``separate`` travel the same way in ``stems`` ("vocals", "accompaniment"). Features several stages
    need (beats, chroma, vocal activity) are computed once and kept in ``features`` by name.
    """

    source: SourceFile
    song: Song
    audio: Audio | None = None
    stems: dict[str, Audio] = field(default_factory=dict)
    reference_lines: list[str] | None = None
    features: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, source: SourceFile) -> SongItem:
        return cls(source, Song(id=source.id, source_path=source.rel_path, duration_s=0.0, sample_rate=0, channels=0))


@dataclass
class StageContext:
    """What a stage learns at setup: where the dataset goes and which device to use."""

    out_dir: Path
    device: str

    @property
    def stems_dir(self) -> Path:
        return self.out_dir / "stems"


class Stage:
    """Base of every stage. Subclasses set the class attributes and implement :meth:`process`."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    resources: ClassVar[Resources] = Resources()

    def __init__(self, config: PrepConfig) -> None:
        self.config = config
        self.options: dict[str, Any] = dict(config.stage_options.get(self.name, {}))
        self.ctx: StageContext | None = None

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Make choices like ``model="auto"`` concrete before the config is hashed.

        The hash (and so resume and provenance) must name the model that actually runs: "auto"
        on a machine with demucs weights and "auto" on one without are different configs.
        """
        return options

    def setup(self, ctx: StageContext) -> None:
        """Once per worker, before any batch: import heavy libraries and load models here.

        Compute threads are pinned first (``songprep.device.fix_threads``), so rows never depend on ``-j``.
        """
        from songprep.device import fix_threads

        fix_threads()
        self.ctx = ctx

    def process_batch(self, items: list[SongItem]) -> list[SongItem]:
        """Process a batch. The default calls :meth:`process` per item; GPU stages batch for real."""
        return [self.process(item) for item in items]

    def process(self, item: SongItem) -> SongItem:
        raise NotImplementedError(f"stage {self.name} implements neither process nor process_batch")

    def provenance(self) -> StageProvenance:
        """The model and version this stage used (empty for model-free stages)."""
        return StageProvenance(self.name)
