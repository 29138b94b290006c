"""Encode a songprep dataset once (``songprep tokenize``): token streams and latents of every song, on disk.

Order of work, each step's *why*:

1. Read the rows that can train (a LeVo lyric and both stems); count the rest by reason.
2. Fit the three streams' audio tokenizers and the autoencoder on a bounded, seeded sample: at most
   ``fit_songs`` songs, at most ``fit_excerpt_s`` seconds of each (a seeded excerpt), so the fit's memory
   does not depend on the corpus (``fit_songs x fit_excerpt_s x 3 tracks`` of 48 kHz stereo float32).
   A folder that already holds a codec (a resumed run) or an ``init`` checkpoint's codec is reused.
3. Encode every song not yet in a shard, one at a time (``jobs`` worker processes, each loading the codec
   once), and append it to the shard writer in input order: the run is reproducible for any ``jobs``.

Resume is by id, as for ``prep``: a rerun encodes only the songs no whole shard holds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songprep import __version__
from songprep.errors import UsageError
from songprep.generation.checkpoint import CONFIG_FILE, Codec, load_checkpoint, load_codec, save_codec
from songprep.generation.configs import GeneratorConfig
from songprep.generation.data import (
    DatasetRows,
    TrainingSong,
    dataset_hash,
    descriptions_of,
    load_song,
    pad_to_hop,
    read_rows,
)
from songprep.generation.delay import STREAMS
from songprep.generation.renderer import TRACKS
from songprep.generation.token_store import CODEC_DIR, MANIFEST, TOKENS_VERSION, EncodedSong, ShardWriter, read_records
from songprep.records import Song
from songprep.writer import write_json_atomic

Progress = Callable[[str], None]


@dataclass
class TokenizeSummary:
    out_dir: Path
    found: int
    skipped: int  # already in a shard (resume)
    written: int
    failed: dict[str, str] = field(default_factory=dict)  # id -> reason (retried by the next run)
    fitted: bool = False
    seconds: float = 0.0


def fit_codec(codec: Codec, rows: DatasetRows, seed: int) -> list[str]:
    """Fit each stream's tokenizer on its track and the autoencoder on all tracks of a bounded seeded sample;
    returns the ids fitted on."""
    cfg = codec.config
    tc = cfg.training
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.permutation(len(rows.songs))[: tc.fit_songs].tolist())
    limit = round(tc.fit_excerpt_s * cfg.sample_rate)
    waves: dict[str, list[np.ndarray]] = {t: [] for t in TRACKS}
    for i in chosen:
        song = load_song(rows, rows.songs[i], cfg.sample_rate, cfg.channels)
        start = int(rng.integers(0, max(1, song.frames - limit + 1)))
        for track in TRACKS:
            waves[track].append(pad_to_hop(np.ascontiguousarray(song.waves[track][:, start:start + limit]), cfg.hop))
        del song
    for stream, track in zip(STREAMS, TRACKS):
        codec.audio_tokenizers[stream].fit(waves[track], cfg.sample_rate)
    codec.autoencoder.fit([w for track in TRACKS for w in waves[track]])
    return [rows.songs[i].id for i in chosen]


def encode_song(codec: Any, song: TrainingSong, device: str = "cpu") -> EncodedSong:
    """Token streams and latents of one song (a :class:`Codec` or a Generator), cut to a common frame count."""
    cfg = codec.config
    waves = {t: pad_to_hop(song.waves[t], cfg.hop) for t in TRACKS}
    tokens = codec.audio_tokens(waves)
    with torch.no_grad():
        batch = torch.from_numpy(np.stack([waves[t] for t in TRACKS])).to(device)
        latents = codec.autoencoder.encode(batch).float().cpu()  # (3, D, T)
    frames = min(int(tokens.shape[1]), int(latents.shape[-1]))
    text = codec.lyric_tokenizer.encode(song.levo_lyric, song.descriptions)
    return EncodedSong(song.id, text, tokens[:, :frames].contiguous(), latents[..., :frames].contiguous(),
                       song.descriptions)


def row_conditions(song: Song, prompt_s: float) -> tuple[str, float | None]:
    """(descriptions, prompt clip start) of a row: the describe stage's descriptions (else the language), and
    where ``songprep export levo`` cuts its prompt clip (the first chorus, moved back to end inside the song;
    None for a song shorter than the clip)."""
    from songprep.levo_export import clip_start_s, prompt_section

    start = None if song.duration_s < prompt_s else clip_start_s(prompt_section(song.sections), song.duration_s,
                                                                 prompt_s)
    return descriptions_of(song), start


def _encode_row(codec: Any, root: Path, song: Song, device: str) -> EncodedSong:
    cfg = codec.config
    descriptions, prompt_start = row_conditions(song, cfg.prompt_audio_s)
    loaded = load_song(DatasetRows([song], root), song, cfg.sample_rate, cfg.channels)
    loaded.descriptions = descriptions
    encoded = encode_song(codec, loaded, device)
    encoded.prompt_start_s = prompt_start
    return encoded


# -- worker side ---------------------------------------------------------------------------------
_WORKER_CODEC: Codec | None = None


def _init_worker(codec_dir: str) -> None:
    from songprep.device import fix_threads

    global _WORKER_CODEC
    fix_threads()
    _WORKER_CODEC = load_codec(codec_dir)


def _worker_encode(root: Path, song: Song) -> EncodedSong | str:
    assert _WORKER_CODEC is not None, "worker was not initialised"
    try:
        return _encode_row(_WORKER_CODEC, root, song, "cpu")
    except UsageError as err:
        return str(err)


def _encoded(codec: Codec, root: Path, songs: Sequence[Song], jobs: int, device: str,
             codec_dir: Path) -> Iterator[tuple[Song, EncodedSong | str]]:
    """(row, encoded song or the reason it failed), in input order; ``jobs`` > 1 encodes in spawn workers."""
    if jobs <= 1 or len(songs) <= 1:
        for song in songs:
            try:
                yield song, _encode_row(codec, root, song, device)
            except UsageError as err:
                yield song, str(err)
        return
    import multiprocessing

    from songprep.runner import START_METHOD

    context = multiprocessing.get_context(START_METHOD)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(str(codec_dir),)) as pool:
        in_flight: deque[tuple[Song, Future]] = deque()
        todo = deque(songs)
        while todo or in_flight:
            while todo and len(in_flight) < 2 * jobs:  # bounded: memory holds ~2 songs per worker
                song = todo.popleft()
                in_flight.append((song, pool.submit(_worker_encode, root, song)))
            song, future = in_flight.popleft()
            yield song, future.result()


def tokenize_dataset(data_dir: str | Path, out_dir: str | Path, config: GeneratorConfig | None = None, *,
                     init: str | Path | None = None, jobs: int = 1, seed: int = 0, songs_per_shard: int = 64,
                     device: str = "cpu", progress: Progress | None = None) -> TokenizeSummary:
    """Fit (or reuse) the codec and encode every row of ``data_dir`` not yet in ``out_dir``'s shards.

    ``config``: fit a new codec of this config; ``init``: reuse a checkpoint's codec; neither: the folder must
    already hold one (a resumed run). A folder holding another config's codec is refused.
    """
    from songprep.generation.train import fit_duration_model

    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    rows = read_rows(data_dir)
    if not rows.songs:
        raise UsageError(f"{data_dir}: no rows can train the generator (skipped: {rows.describe_skipped()})")
    out = Path(out_dir)
    codec_dir = out / CODEC_DIR
    manifest_path = out / MANIFEST
    previous = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    fitted = False
    if (codec_dir / CONFIG_FILE).is_file() and previous is not None:
        codec = load_codec(codec_dir, device)
        if config is not None and config.to_dict() != codec.config.to_dict():
            raise UsageError(f"{out} holds tokens of config {codec.config.name!r}, not of {config.name!r}; "
                             "tokenize into another folder")
        fit_ids = previous.get("fit_song_ids", [])
    elif init is not None:
        generator = load_checkpoint(init, device)
        codec = Codec(generator.config, generator.lyric_tokenizer, generator.audio_tokenizers, generator.autoencoder)
        del generator
        save_codec(codec_dir, codec)
        fit_ids = []
    elif config is not None:
        torch.manual_seed(seed)  # a random-weight autoencoder (oobleck without weights) is seeded too
        codec = Codec.build(config, device)
        fit_ids = fit_codec(codec, rows, seed)
        save_codec(codec_dir, codec)
        fitted = True
        say(f"tokenize: fitted tokenizers and autoencoder on {len(fit_ids)} songs "
            f"(at most {config.training.fit_excerpt_s:g} s each)")
    else:
        raise UsageError(f"{out} holds no tokenizers yet: give --config to fit them, or --init CHECKPOINT")
    manifest = {
        "tokens_version": TOKENS_VERSION,
        "songprep_version": __version__,
        "torch_version": torch.__version__,
        "config_name": codec.config.name,
        "config_sha256": hashlib.sha256(json.dumps(codec.config.to_dict(), sort_keys=True).encode()).hexdigest()[:16],
        "data_dir": str(Path(data_dir).resolve()),
        "seed": seed if previous is None else previous.get("seed", seed),
        "init": None if init is None else str(Path(init).resolve()),
        "fit_song_ids": fit_ids,
        "fit_excerpt_s": codec.config.training.fit_excerpt_s,
    }
    write_json_atomic(manifest_path, {**(previous or {}), **manifest})
    done = {r.id for r in read_records(out)}
    pending = [s for s in rows.songs if s.id not in done]
    summary = TokenizeSummary(out, len(rows.songs), len(rows.songs) - len(pending), 0, fitted=fitted)
    writer = ShardWriter(out, songs_per_shard)
    encoded_frames = 0
    try:
        for song, result in _encoded(codec, rows.root, pending, jobs, device, codec_dir):
            if isinstance(result, str):
                summary.failed[song.id] = result
                continue
            writer.add(result)
            summary.written += 1
            encoded_frames += result.frames
            if summary.written % 50 == 0:
                say(f"tokenize: {summary.written}/{len(pending)} songs encoded")
    finally:
        writer.close()  # whatever finished is kept, also on Ctrl-C
    records = read_records(out)
    manifest.update({"songs": len(records), "frames": sum(r.frames for r in records),
                     "skipped_rows": dict(rows.skipped), "failed": summary.failed,
                     "data_hash": dataset_hash(rows), "duration_model": fit_duration_model(rows.songs),
                     "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    write_json_atomic(manifest_path, {**(previous or {}), **manifest})
    summary.seconds = time.perf_counter() - started
    say(f"tokenize: {summary.written} encoded ({encoded_frames} frames), {summary.skipped} already there, "
        f"{len(summary.failed)} failed -> {out}")
    return summary
