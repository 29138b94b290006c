"""The Ray Data engine: the same stage chain, on an actor pool that spans a cluster.

Each actor builds the :class:`~songprep.pipeline.Pipeline` once (one model load per actor, a GPU
per actor when a stage asks for one) and runs the whole chain on its batches, so decoded audio
never travels through the object store (a minute of 44.1 kHz stereo float32 is 21 MB; decoding it
again where it is needed is cheaper than shipping it). Only finished records come back to the
driver, in input order, where the one :class:`~songprep.writer.DatasetWriter` writes the same
Parquet layout as the local engine; resume is the writer's, so it works the same on both engines.

An actor that dies (killed, out of memory) is started again and its batch run once more; a batch that
kills its actor twice is dropped by Ray Data, and its songs come back as internal failures (kind
``internal``, stage ``worker``): the rest of the corpus goes on and the next run retries them. A setup
failure in an actor (a missing model) is raised on the driver as itself.

On a cluster, ``OUT`` (stems are written by the actors) and ``IN_DIR`` must be on a filesystem
every node mounts at the same path. ``RAY_ADDRESS`` (or ``--ray-address``) picks the cluster;
without it a local Ray instance is started.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from songprep.config import PrepConfig
from songprep.errors import UsageError
from songprep.inputs import SourceFile
from songprep.pipeline import Pipeline
from songprep.records import Reject, Song
from songprep.stages import StageContext

#: How often Ray runs a batch again on a fresh actor after its actor died (a lost node, an OOM kill).
#: Ray Data's default is forever, which hangs the run on a song that kills every actor it meets.
TASK_RETRIES = 1
#: Input blocks at most: a block is what an actor's death loses, so there is one per batch up to this.
MAX_BLOCKS = 1024


class PipelineActor:
    """One Ray actor: the pipeline set up once, then batches of sources in, pickled outcomes out."""

    def __init__(self, config: PrepConfig, out_dir: str, device: str) -> None:
        self.setup_error: Exception | None = None
        try:
            self.pipeline = Pipeline(config)
            self.pipeline.setup(StageContext(Path(out_dir), device))
        except Exception as err:  # handed to the driver with the first batch, raised there as itself
            self.setup_error = err

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.setup_error is not None:
            return {"outcome": np.array([_pickle_error(self.setup_error)], dtype=object)}
        sources = [
            SourceFile(str(i), Path(p), str(r), Path(lp) if lp else None)
            for i, p, r, lp in zip(batch["id"], batch["path"], batch["rel_path"], batch["lyrics_path"])
        ]
        outcomes = self.pipeline.run(sources)
        return {"outcome": np.array([pickle.dumps((outcomes, self.pipeline.take_timings()))], dtype=object)}


def _pickle_error(err: Exception) -> bytes:
    try:
        return pickle.dumps(err)
    except Exception:  # an exception that does not pickle still reaches the driver, by name and message
        return pickle.dumps(RuntimeError(f"{type(err).__name__}: {err}"))


def _lost(sources: list[SourceFile], config: PrepConfig) -> list[Song | Reject]:
    """Songs Ray Data dropped because their actor died twice on them: internal failures, retried next run."""
    reason = "worker process died (Ray actor, twice on this batch): out of memory, or killed"
    detail = ("Ray Data dropped this song's block after its actor died while running it, and again on the "
              "retry; the Ray logs (/tmp/ray/session_latest/logs) hold what the actor printed")
    return [Reject(s.id, s.rel_path, "worker", reason, config.config_hash(), kind="internal", detail=detail)
            for s in sources]


def init_ray(address: str | None, num_cpus: int | None) -> None:
    try:
        import ray
    except ImportError as err:
        raise UsageError("--engine ray needs Ray Data: pip install 'ray[data]'") from err
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": num_cpus}
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


def ray_outcomes(config: PrepConfig, out_dir: Path, device: str, jobs: int, batch_size: int,
                 sources: list[SourceFile], *, address: str | None = None, progress: bool = False,
                 gpus_per_actor: float = 0.0) -> Iterator[tuple[list[Song | Reject], dict[str, float]]]:
    """Run the chain over ``sources`` on Ray Data; yields (outcomes, per-stage seconds) in input order."""
    if not sources:
        return
    init_ray(address, None if address else max(jobs, 1))
    import ray

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # same order as the local engine
    context.enable_progress_bars = progress
    context.max_errored_blocks = -1  # a block whose actor died twice is dropped, not the run: see _lost
    items = [{"id": s.id, "path": str(s.path), "rel_path": s.rel_path,
              "lyrics_path": str(s.lyrics_path) if s.lyrics_path else ""} for s in sources]
    n_batches = -(-len(items) // max(1, batch_size))
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(n_batches, max(4 * jobs, MAX_BLOCKS))))
    with warnings.catch_warnings():  # Ray 2.60 takes max_task_retries only as a remote arg
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        outcomes = dataset.map_batches(
            PipelineActor,
            fn_constructor_args=(config, str(out_dir), device),
            batch_size=batch_size,
            # one batch per actor at a time: a batch queued behind one that kills the actor would die
            # with it and spend its retry there, so an innocent song could be dropped with a bad one
            compute=ray.data.ActorPoolStrategy(size=max(jobs, 1), max_tasks_in_flight_per_actor=1),
            num_cpus=1,
            num_gpus=gpus_per_actor,
            max_task_retries=TASK_RETRIES,
        )
    seen: set[str] = set()
    for batch in outcomes.iter_batches(batch_size=None, batch_format="numpy"):
        for payload in batch["outcome"]:
            result = pickle.loads(payload)
            if isinstance(result, Exception):
                raise result
            songs, timings = result
            fresh = [o for o in songs if o.id not in seen]  # a batch run again may repeat what came back
            seen.update(o.id for o in fresh)
            yield fresh, timings
    lost = [s for s in sources if s.id not in seen]
    if lost:
        yield _lost(lost, config), {}
