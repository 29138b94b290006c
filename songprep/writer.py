"""The dataset on disk: atomic Parquet shards of songs and rejects, a manifest, and what is done.

Layout::

    OUT/songs/part-00000.parquet     one row per song (SONG_SCHEMA)
    OUT/rejects/part-00000.parquet   id, source_path, stage, reason, kind (REJECT_SCHEMA)
    OUT/logs/errors.log              tracebacks of internal failures (kind "internal": retried next run)
    OUT/stems/<id>/*.flac            written by the stages that make stems
    OUT/manifest.json                schema version, config, counts, tool versions

Shards are written to a hidden temp name and renamed, so a reader (or a resumed run) only ever sees
whole shards. An id is written at most once: the ids already in shards are the resume state.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from songprep import __version__
from songprep.atomic import atomic_path, write_text_atomic
from songprep.config import PrepConfig
from songprep.errors import DatasetMismatchError, UsageError
from songprep.records import (
    REJECT_SCHEMA,
    SCHEMA_VERSION,
    SONG_SCHEMA,
    Reject,
    Song,
    rejects_to_table,
    schema_version_of,
    songs_to_table,
)

CONFIG_HASH_KEY = b"songprep.config_hash"
MANIFEST = "manifest.json"
TOOL_PACKAGES = ("numpy", "pyarrow", "soundfile", "soxr", "pyloudnorm", "torch", "torchaudio", "demucs",
                 "openai-whisper", "librosa")


def tool_versions() -> dict[str, str]:
    """Versions of the libraries that can change a row, for the manifest."""
    versions = {"python": platform.python_version(), "songprep": __version__}
    for name in TOOL_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def shard_paths(directory: Path) -> list[Path]:
    return sorted(directory.glob("part-*.parquet"))


def dataset_shards(dataset_dir: str | Path) -> list[Path]:
    """The song shards of a dataset ``songprep prep`` wrote; a folder without any is an error saying so."""
    songs_dir = Path(dataset_dir) / "songs"
    shards = shard_paths(songs_dir)
    if not shards:
        raise UsageError(f"no dataset in {dataset_dir}: not a songprep dataset ({songs_dir} holds no "
                         "part-*.parquet shards); make one with `songprep prep IN -o DATASET`")
    return shards


def read_ids(directory: Path, columns: tuple[str, ...] = ("id",)) -> pa.Table:
    """The given columns of every whole shard in ``directory`` (empty table if there are none)."""
    tables = [pq.read_table(p, columns=list(columns)) for p in shard_paths(directory)]
    if not tables:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.concat_tables(tables)


@dataclass
class DatasetState:
    """What a dataset directory already holds, read once when a run starts."""

    song_ids: set[str]
    reject_ids: set[str]
    reject_stages: Counter
    content: dict[str, str]  # content_sha256 -> source_path of the song that holds it
    #: Rejects of kind ``internal`` written by this run (those of earlier runs were dropped, to be retried).
    internal_ids: set[str] = field(default_factory=set)


class DatasetWriter:
    """Appends songs and rejects to a dataset directory; one instance per run, in the main process.

    ``add`` buffers; a shard is written every ``rows_per_shard`` rows or ``flush_interval_s`` seconds
    and at ``close``. The writer refuses a directory written with a different config (mixing configs
    in one dataset would make its rows incomparable) unless ``overwrite`` is set.
    """

    def __init__(self, out_dir: str | Path, config: PrepConfig, *, overwrite: bool = False,
                 retry_rejects: bool = False, rows_per_shard: int = 256, flush_interval_s: float = 120.0,
                 input_dir: str | Path | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.config = config
        #: Where the sources are (rows keep paths relative to it): ``export`` finds the mix through it.
        self.input_dir = str(Path(input_dir).resolve()) if input_dir is not None else None
        self.config_hash = config.config_hash()
        self.rows_per_shard = rows_per_shard
        self.flush_interval_s = flush_interval_s
        self.songs_dir = self.out_dir / "songs"
        self.rejects_dir = self.out_dir / "rejects"
        if overwrite:
            self._clear()
        self._check_compatible()
        self.songs_dir.mkdir(parents=True, exist_ok=True)
        self.rejects_dir.mkdir(parents=True, exist_ok=True)
        self._remove_temp_files()
        if retry_rejects:  # rejects are derived from inputs that are still there: dropping them loses nothing
            for path in shard_paths(self.rejects_dir):
                path.unlink()
        self._drop_internal_rejects()
        self.state = self._read_state()
        self._songs: list[Song] = []
        self._rejects: list[Reject] = []
        self._last_flush = time.monotonic()
        self.created_at = self._existing_manifest().get("created_at") or _now()

    # -- resume state -------------------------------------------------------------------------
    def completed_ids(self) -> set[str]:
        """Ids already written as songs or input rejects: a rerun skips them (internal failures of earlier
        runs were dropped when this writer opened the dataset, so they are tried again)."""
        return self.state.song_ids | self.state.reject_ids

    def _drop_internal_rejects(self) -> None:
        """Internal failures of an earlier run are not final: their rows go, so this run retries those songs.

        Each shard holding such rows is rewritten without them (atomically); their tracebacks stay in
        ``logs/errors.log``.
        """
        for path in shard_paths(self.rejects_dir):
            table = pq.read_table(path)
            if "kind" not in table.column_names:
                continue
            keep = pc.not_equal(table.column("kind"), "internal")
            if pc.all(keep).as_py():
                continue
            kept = table.filter(keep)
            if kept.num_rows == 0:
                path.unlink()
                continue
            with atomic_path(path) as tmp:
                pq.write_table(kept, tmp, compression="zstd")

    def _read_state(self) -> DatasetState:
        songs = read_ids(self.songs_dir, ("id", "source_path", "content_sha256"))
        rejects = read_ids(self.rejects_dir, ("id", "stage"))
        return DatasetState(
            set(songs.column("id").to_pylist()),
            set(rejects.column("id").to_pylist()),
            Counter(rejects.column("stage").to_pylist()),
            dict(zip(songs.column("content_sha256").to_pylist(), songs.column("source_path").to_pylist())),
        )

    def _existing_manifest(self) -> dict[str, Any]:
        path = self.out_dir / MANIFEST
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DatasetMismatchError(f"{path} is unreadable ({err}); move it away or use --overwrite") from err

    def _check_compatible(self) -> None:
        manifest = self._existing_manifest()
        found_hash = manifest.get("config_hash")
        found_version = manifest.get("schema_version")
        if found_hash is None:  # no manifest yet (e.g. killed before the first one): ask the shards
            for directory in (self.songs_dir, self.rejects_dir):
                shards = shard_paths(directory)
                if shards:
                    schema = pq.read_schema(shards[0])
                    found_hash = (schema.metadata or {}).get(CONFIG_HASH_KEY, b"").decode() or None
                    found_version = schema_version_of(schema)
                    break
        if found_version is not None and found_version != SCHEMA_VERSION:
            raise DatasetMismatchError(
                f"{self.out_dir} holds schema {found_version}, this songprep writes {SCHEMA_VERSION}; "
                "use a new output directory or --overwrite"
            )
        if found_hash is not None and found_hash != self.config_hash:
            raise DatasetMismatchError(
                f"{self.out_dir} was written with config {found_hash}, this run's config is {self.config_hash}; "
                "use a new output directory, the same options, or --overwrite"
            )

    def _clear(self) -> None:
        looks_like_dataset = (self.out_dir / MANIFEST).is_file() or self.songs_dir.is_dir()
        if not self.out_dir.exists():
            return
        if not looks_like_dataset and any(self.out_dir.iterdir()):
            raise UsageError(f"refusing to overwrite {self.out_dir}: it is not empty and not a songprep dataset")
        for name in ("songs", "rejects", "stems"):
            shutil.rmtree(self.out_dir / name, ignore_errors=True)
        (self.out_dir / MANIFEST).unlink(missing_ok=True)

    def _remove_temp_files(self) -> None:
        for directory in (self.songs_dir, self.rejects_dir):
            for tmp in directory.glob(".part-*"):
                tmp.unlink(missing_ok=True)

    # -- writing ------------------------------------------------------------------------------
    def add(self, outcome: Song | Reject) -> Song | Reject:
        """Buffer one outcome and return what was recorded.

        Ids already written or buffered are refused (never a duplicate row). A song whose file
        content is already in the dataset under another name becomes a ``dedupe`` reject: a
        corpus should not train twice on one recording, nor leak it across splits.
        """
        if outcome.id in self.state.song_ids or outcome.id in self.state.reject_ids:
            raise ValueError(f"song {outcome.id} is already in the dataset")
        if isinstance(outcome, Song) and outcome.content_sha256:
            first = self.state.content.setdefault(outcome.content_sha256, outcome.source_path)
            if first != outcome.source_path:
                shutil.rmtree(self.out_dir / "stems" / outcome.id, ignore_errors=True)
                outcome = Reject(outcome.id, outcome.source_path, "dedupe", f"same content as {first}",
                                 self.config_hash)
        if isinstance(outcome, Song):
            self._songs.append(outcome)
            self.state.song_ids.add(outcome.id)
        else:
            if outcome.kind == "internal":
                self.log_internal(outcome)
                self.state.internal_ids.add(outcome.id)
            self._rejects.append(outcome)
            self.state.reject_ids.add(outcome.id)
            self.state.reject_stages[outcome.stage] += 1
        pending = len(self._songs) + len(self._rejects)
        if pending >= self.rows_per_shard or time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()
        return outcome

    @property
    def error_log(self) -> Path:
        return self.out_dir / "logs" / "errors.log"

    def log_internal(self, reject: Reject) -> None:
        """Append an internal failure with its traceback to ``logs/errors.log`` (the rejects row says where)."""
        self.error_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.error_log, "a", encoding="utf-8") as log:
            log.write(f"=== {_now()} {reject.id} ({reject.source_path}), stage {reject.stage}: {reject.reason}\n")
            log.write((reject.detail or "(no traceback)").rstrip() + "\n\n")

    def flush(self) -> None:
        """Write buffered rows as new shards (songs first, then rejects) and refresh the manifest."""
        if self._songs:
            self._write_shard(self.songs_dir, songs_to_table(sorted(self._songs, key=lambda s: s.id)), SONG_SCHEMA)
            self._songs = []
        if self._rejects:
            self._write_shard(self.rejects_dir, rejects_to_table(sorted(self._rejects, key=lambda r: r.id)),
                              REJECT_SCHEMA)
            self._rejects = []
        self._last_flush = time.monotonic()
        self.write_manifest()

    def close(self) -> None:
        self.flush()

    def _write_shard(self, directory: Path, table: pa.Table, schema: pa.Schema) -> Path:
        metadata = {**(schema.metadata or {}), CONFIG_HASH_KEY: self.config_hash.encode()}
        table = table.replace_schema_metadata(metadata)
        existing = shard_paths(directory)
        index = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        final = directory / f"part-{index:05d}.parquet"
        with atomic_path(final) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return final

    def write_manifest(self) -> None:
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "songprep_version": __version__,
            "config_hash": self.config_hash,
            "config": self.config.to_dict(),
            "input_dir": self.input_dir or self._existing_manifest().get("input_dir"),
            "counts": {
                "songs": len(self.state.song_ids),
                "rejects": len(self.state.reject_ids),
                "rejects_by_stage": dict(sorted(self.state.reject_stages.items())),
                "internal": len(self.state.internal_ids),  # of the rejects: songprep's failures, retried next run
            },
            "tool_versions": tool_versions(),
            "created_at": self.created_at,
            "updated_at": _now(),
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out_dir / MANIFEST, manifest)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
