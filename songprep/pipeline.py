"""Running a chain of stages over a batch of songs in one process, with per-song failure isolation.

Both runners (the local process pool and Ray Data) call :class:`Pipeline`; a stage that raises on a
batch is retried song by song, so one bad song becomes one reject and the rest go on. A
:class:`~songprep.errors.RejectError` is the song's own problem (kind ``input``); any other exception
is songprep's (kind ``internal``): it keeps its traceback, is logged, and the song is retried next run.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import replace

from songprep import __version__
from songprep.config import PrepConfig
from songprep.errors import RejectError
from songprep.inputs import SourceFile
from songprep.jit_cache import warm_jit_caches
from songprep.records import Provenance, Reject, Song
from songprep.stages import SongItem, Stage, StageContext, check_chain, stage_class


def reason_of(err: BaseException) -> str:
    """A reject reason: our own errors speak for themselves; anything else is named by its type."""
    text = " ".join(str(err).split())
    if isinstance(err, RejectError):
        return text[:500]
    return f"{type(err).__name__}: {text}"[:500] if text else type(err).__name__


def resolve_config(config: PrepConfig) -> PrepConfig:
    """The config with every stage's options made concrete (see :meth:`Stage.resolve_options`)."""
    check_chain(config.stages)
    resolved = {}
    for name in config.stages:
        options = stage_class(name).resolve_options(dict(config.stage_options.get(name, {})))
        if options:
            resolved[name] = options
    return replace(config, stage_options=resolved)


class Pipeline:
    """The configured stage chain. Call :meth:`setup` once per worker, then :meth:`run` per batch."""

    def __init__(self, config: PrepConfig) -> None:
        check_chain(config.stages)
        self.config = config
        self.config_hash = config.config_hash()
        self.stages: list[Stage] = [stage_class(name)(config) for name in config.stages]
        #: Wall seconds spent in each stage since the last :meth:`take_timings` (for benchmarks and logs).
        self.stage_seconds: dict[str, float] = {}

    @property
    def wants_gpu(self) -> bool:
        return any(stage.resources.gpu for stage in self.stages)

    def setup(self, ctx: StageContext) -> None:
        warm_jit_caches()  # before any stage: numba's cache must not be written by two processes at once
        for stage in self.stages:
            stage.setup(ctx)

    def provenance(self) -> Provenance:
        return Provenance(__version__, self.config_hash, [stage.provenance() for stage in self.stages])

    def run(self, sources: list[SourceFile]) -> list[Song | Reject]:
        """Every source comes back exactly once: as a finished Song or as a Reject with its reason."""
        outcomes: dict[str, Song | Reject] = {}
        items = [SongItem.start(src) for src in sources]
        for stage in self.stages:
            started = time.perf_counter()
            items = self._run_stage(stage, items, outcomes)
            self.stage_seconds[stage.name] = self.stage_seconds.get(stage.name, 0.0) + time.perf_counter() - started
        provenance = self.provenance()
        for item in items:
            item.song.provenance = provenance
            outcomes[item.song.id] = item.song
        return [outcomes[src.id] for src in sources]

    def take_timings(self) -> dict[str, float]:
        """The per-stage seconds accumulated so far, and start again from zero."""
        timings, self.stage_seconds = self.stage_seconds, {}
        return timings

    def _run_stage(self, stage: Stage, items: list[SongItem], outcomes: dict[str, Song | Reject]) -> list[SongItem]:
        if len(items) <= 1:
            return [kept for item in items for kept in self._isolate(stage, item, outcomes)]
        try:
            return stage.process_batch(items)
        except Exception:
            pass  # find the culprit(s): rerun song by song
        survivors: list[SongItem] = []
        for item in items:
            survivors += self._isolate(stage, item, outcomes)
        return survivors

    def _isolate(self, stage: Stage, item: SongItem, outcomes: dict[str, Song | Reject]) -> list[SongItem]:
        try:
            return stage.process_batch([item])
        except RejectError as err:  # the song's own problem: final
            src = item.source
            outcomes[src.id] = Reject(src.id, src.rel_path, stage.name, reason_of(err), self.config_hash)
            return []
        except Exception as err:  # songprep's problem (a bug, memory, a missing model): logged, retried next run
            src = item.source
            outcomes[src.id] = Reject(src.id, src.rel_path, stage.name, reason_of(err), self.config_hash,
                                      kind="internal", detail=traceback.format_exc())
            return []
