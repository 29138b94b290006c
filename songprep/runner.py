"""The local runner: the stage chain over a corpus, in-process or on a pool of worker processes.

Workers are started with ``spawn`` (safe beside torch and CUDA), set the pipeline up once (one model
load per worker) and receive small batches of songs. Results stream back to the one writer in the
main process, so shards and the manifest have a single author. Resume is by id: whatever the
dataset already holds for this config is skipped.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from songprep.config import PrepConfig
from songprep.device import resolve_device
from songprep.errors import UsageError
from songprep.inputs import SourceFile, discover
from songprep.pipeline import Pipeline, resolve_config
from songprep.records import Reject, Song
from songprep.stages import StageContext
from songprep.writer import DatasetWriter

ENGINES = ("local", "ray")


@dataclass
class RunOptions:
    """How to run (never what to write): changing these does not change the dataset's rows.

    ``jobs=0`` (what ``songprep prep`` passes by default) means one worker per CPU core this process
    may use (one on a GPU, which the workers would share): compute threads are pinned to one per
    worker (songprep.device.WORKER_THREADS), so the cores are used through processes. The library
    default, 1, runs in-process.
    """

    jobs: int = 1
    device: str = "auto"
    batch_size: int = 1
    rows_per_shard: int = 256
    flush_interval_s: float = 120.0
    overwrite: bool = False
    retry_rejects: bool = False
    progress: bool = True
    engine: str = "local"
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}")


@dataclass
class RunSummary:
    """What a run did. ``skipped`` counts songs a previous run had already written."""

    out_dir: Path
    found: int
    skipped: int
    written: int
    rejected: int
    seconds: float
    audio_seconds: float = 0.0
    reject_reasons: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: source_path -> "stage: reason" of songs songprep itself failed on (tracebacks in ``error_log``);
    #: they are not done: the next run retries them.
    internal_errors: dict[str, str] = field(default_factory=dict)
    error_log: Path | None = None

    def add_timings(self, timings: dict[str, float]) -> None:
        for name, seconds in timings.items():
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + seconds

    @property
    def realtime_factor(self) -> float:
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """A tqdm bar (or nothing): ``update`` per finished song."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="song", desc="prep", dynamic_ncols=True)

    def update(self, outcome: Song | Reject) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if isinstance(outcome, Reject):
                self._bar.set_postfix_str(f"rejected {outcome.id}: {outcome.reason[:40]}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def default_jobs(device: str) -> int:
    """One worker per usable CPU core; one on a GPU."""
    if device.startswith("cuda"):
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def batches(sources: list[SourceFile], size: int) -> list[list[SourceFile]]:
    return [sources[i : i + size] for i in range(0, len(sources), max(1, size))]


# -- worker side ---------------------------------------------------------------------------------
_WORKER_PIPELINE: Pipeline | None = None


def _init_worker(config: PrepConfig, out_dir: Path, device: str) -> None:
    global _WORKER_PIPELINE
    _WORKER_PIPELINE = Pipeline(config)
    _WORKER_PIPELINE.setup(StageContext(out_dir, device))


Outcomes = tuple[list[Song | Reject], dict[str, float]]  # a batch's results and its per-stage seconds


def _run_in_worker(batch: list[SourceFile]) -> Outcomes:
    assert _WORKER_PIPELINE is not None, "worker was not initialised"
    return _WORKER_PIPELINE.run(batch), _WORKER_PIPELINE.take_timings()


def _in_process(pipeline: Pipeline, work: list[list[SourceFile]]) -> Iterator[Outcomes]:
    for batch in work:
        yield pipeline.run(batch), pipeline.take_timings()


def _worker_died(batch: list[SourceFile], config: PrepConfig, err: BaseException) -> Outcomes:
    """A batch whose worker process died (killed, out of memory): internal failures, retried next run."""
    reason = f"worker process died ({type(err).__name__}): out of memory, or killed"
    return [Reject(s.id, s.rel_path, "worker", reason, config.config_hash(), kind="internal",
                   detail="".join(traceback.format_exception(err))) for s in batch], {}


def _in_pool(config: PrepConfig, out_dir: Path, device: str, jobs: int,
             work: list[list[SourceFile]]) -> Iterator[Outcomes]:
    """Results in input order (so runs are reproducible); at most two batches per worker in flight."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(config, out_dir, device)) as pool:
        in_flight: deque[tuple[list[SourceFile], Future]] = deque()

        def take() -> Outcomes:
            batch, future = in_flight.popleft()
            try:
                return future.result()
            except BrokenProcessPool as err:
                return _worker_died(batch, config, err)

        for batch in work:
            try:
                in_flight.append((batch, pool.submit(_run_in_worker, batch)))
            except BrokenProcessPool as err:  # the pool is gone: what is left is retried next run
                yield _worker_died(batch, config, err)
                continue
            if len(in_flight) >= 2 * jobs:
                yield take()
        while in_flight:
            yield take()


# -- driver --------------------------------------------------------------------------------------
def prepare_corpus(in_dir: str | Path, out_dir: str | Path, config: PrepConfig | None = None,
                   options: RunOptions | None = None) -> RunSummary:
    """Run ``songprep prep``: every audio file under ``in_dir`` ends up as a song row or a reject row.

    Resumable: songs already written to ``out_dir`` with the same config are skipped; an
    interrupted run loses at most the unflushed buffer, never a whole shard, and never duplicates.
    """
    config = resolve_config(config or PrepConfig())
    options = options or RunOptions()
    started = time.perf_counter()
    out = Path(out_dir)
    pipeline = Pipeline(config)  # validates the stage chain before anything is touched
    sources = discover(in_dir, config.lyrics_dir)
    writer = DatasetWriter(out, config, overwrite=options.overwrite, retry_rejects=options.retry_rejects,
                           rows_per_shard=options.rows_per_shard, flush_interval_s=options.flush_interval_s,
                           input_dir=in_dir)
    done = writer.completed_ids()
    pending = [s for s in sources if s.id not in done]
    summary = RunSummary(out, len(sources), len(sources) - len(pending), 0, 0, 0.0)
    device = resolve_device(options.device) if pipeline.wants_gpu else "cpu"
    jobs = options.jobs or default_jobs(device)
    work = batches(pending, options.batch_size)
    progress = Progress(len(sources), summary.skipped, options.progress)
    try:
        if options.engine == "ray":
            from songprep.ray_engine import ray_outcomes

            outcomes = ray_outcomes(config, out, device, jobs, options.batch_size, pending,
                                    address=options.ray_address, progress=options.progress,
                                    gpus_per_actor=1.0 if device.startswith("cuda") else 0.0)
        elif jobs <= 1 or len(work) <= 1:
            pipeline.setup(StageContext(out, device))
            outcomes = _in_process(pipeline, work)
        else:
            outcomes = _in_pool(config, out, device, min(jobs, len(work)), work)
        for batch_outcomes, timings in outcomes:
            summary.add_timings(timings)
            for outcome in batch_outcomes:
                outcome = writer.add(outcome)
                progress.update(outcome)
                if isinstance(outcome, Song):
                    summary.written += 1
                    summary.audio_seconds += outcome.duration_s
                elif outcome.kind == "internal":
                    summary.internal_errors[outcome.source_path] = f"{outcome.stage}: {outcome.reason}"
                    summary.error_log = writer.error_log
                else:
                    summary.rejected += 1
                    summary.reject_reasons[outcome.source_path] = f"{outcome.stage}: {outcome.reason}"
    finally:
        writer.close()  # whatever finished is kept, also on Ctrl-C
        progress.close()
    summary.seconds = time.perf_counter() - started
    return summary
