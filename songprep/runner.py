"""The local runner: the stage chain over a corpus, in-process or on a pool of worker processes.

Workers are started with ``spawn`` (safe beside torch and CUDA), set the pipeline up once (one model
load per worker) and receive small batches of songs. Results stream back to the one writer in the
main process, so shards and the manifest have a single author. Resume is by id: whatever the
dataset already holds for this config is skipped.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
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
_WORKER_SETUP_ERROR: Exception | None = None


#: How often a worker checks that the process that started it is still there.
PARENT_CHECK_S = 1.0


def _exit_with_parent(parent_pid: int) -> None:
    """A worker whose prep process was killed (kill -9, OOM) exits too: a spawn worker otherwise lives on
    with its models loaded (measured: 10 orphans, 6 GB, left by a test that kill -9s prep five times)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _init_worker(config: PrepConfig, out_dir: Path, device: str, parent_pid: int) -> None:
    """Set the pipeline up once per worker. A failure is kept and raised by the first batch, so the driver
    gets the error itself (a missing model: one line) rather than a pool broken by its initializer."""
    global _WORKER_PIPELINE, _WORKER_SETUP_ERROR
    # the driver's pid comes from the driver: it may be gone before this runs, and getppid() would then be 1
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True, name="exit-with-parent").start()
    try:
        pipeline = Pipeline(config)
        pipeline.setup(StageContext(out_dir, device))
    except Exception as err:
        _WORKER_SETUP_ERROR = err
        return
    _WORKER_PIPELINE = pipeline


Outcomes = tuple[list[Song | Reject], dict[str, float]]  # a batch's results and its per-stage seconds


def _run_in_worker(batch: list[SourceFile]) -> Outcomes:
    if _WORKER_SETUP_ERROR is not None:
        raise _WORKER_SETUP_ERROR
    assert _WORKER_PIPELINE is not None, "worker was not initialised"
    return _WORKER_PIPELINE.run(batch), _WORKER_PIPELINE.take_timings()


def _in_process(pipeline: Pipeline, work: list[list[SourceFile]]) -> Iterator[Outcomes]:
    for batch in work:
        yield pipeline.run(batch), pipeline.take_timings()


def _worker_died(batch: list[SourceFile], config: PrepConfig, err: BaseException, why: str) -> Outcomes:
    """A batch whose worker process died (killed, out of memory): internal failures, retried next run."""
    reason = f"worker process died ({type(err).__name__}) {why}: out of memory, or killed"
    detail = "".join(traceback.format_exception(err))
    return [Reject(s.id, s.rel_path, "worker", reason, config.config_hash(), kind="internal", detail=detail)
            for s in batch], {}


#: The start method of worker processes: ``spawn`` is safe beside torch and CUDA threads.
START_METHOD = "spawn"
#: Worker deaths with no batch finished between them after which no new pool is started (the machine is
#: killing every worker): the batches left are internal failures, retried by the next run.
MAX_DEATHS_IN_A_ROW = 5


@dataclass
class _Batch:
    sources: list[SourceFile]
    #: In flight when a worker died. A suspect runs alone in the pool, so a death then names it.
    suspect: bool = False
    #: Finished before its pool broke; handed on in its turn.
    outcomes: Outcomes | None = None


def _in_pool(config: PrepConfig, out_dir: Path, device: str, jobs: int,
             work: list[list[SourceFile]]) -> Iterator[Outcomes]:
    """Results in input order (so runs are reproducible); at most two batches per worker in flight.

    A worker that dies (killed, out of memory, a crash in native code) breaks the pool and fails every
    batch in flight with it. A fresh pool takes over: the batches that were in flight run again one at a
    time, so a batch that kills its worker again is the one to blame; its songs become internal failures
    (retried by the next run) and the rest of the corpus goes on.
    """
    context = multiprocessing.get_context(START_METHOD)
    todo = deque(_Batch(batch) for batch in work)
    deaths, died = 0, None
    while todo:
        if died is not None and deaths >= MAX_DEATHS_IN_A_ROW:
            for batch in todo:
                yield _worker_died(batch.sources, config, died, f"{deaths} times in a row, this batch not tried")
            return
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(config, out_dir, device, os.getpid())) as pool:
            in_flight: deque[tuple[_Batch, Future]] = deque()
            died = None
            while (todo or in_flight) and died is None:
                while todo and len(in_flight) < 2 * jobs and died is None:
                    head = todo[0]
                    if head.outcomes is not None:  # finished in a pool that broke: its turn once nothing is ahead
                        if in_flight:
                            break
                        yield todo.popleft().outcomes
                        continue
                    if in_flight and (head.suspect or in_flight[-1][0].suspect):
                        break  # a suspect runs alone
                    try:
                        in_flight.append((head, pool.submit(_run_in_worker, head.sources)))
                    except BrokenProcessPool as err:
                        died = err
                        break
                    todo.popleft()
                if not in_flight:
                    continue
                batch, future = in_flight[0]
                try:
                    outcomes = future.result()
                except BrokenProcessPool as err:
                    died = err
                    continue
                in_flight.popleft()
                deaths = 0
                yield outcomes
            if died is None:
                break
            deaths += 1
            if in_flight and in_flight[0][0].suspect:  # it was alone: it is the one
                yield _worker_died(in_flight.popleft()[0].sources, config, died, "on this batch, twice")
            for batch, future in reversed(in_flight):  # back to the front, in order
                if future.done() and not future.cancelled() and future.exception() is None:
                    batch.outcomes = future.result()
                else:
                    batch.suspect = True
                todo.appendleft(batch)


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
    outcomes: Iterator[Outcomes] | None = None
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
        # close the pool (or Ray's stream) now, also when the writer raised: a generator left suspended
        # keeps its worker processes alive, and they outlive this process (seen: 16 orphans, 6 GB, in tests)
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        writer.close()  # whatever finished is kept, also on Ctrl-C
        progress.close()
    summary.seconds = time.perf_counter() - started
    return summary
