"""Tokenized songs on disk: sharded safetensors files a training run streams from with bounded memory.

Layout (what ``songprep tokenize`` writes)::

    TOKENS/codec/                    config, lyric tokenizer, audio tokenizers, autoencoder (checkpoint.save_codec)
    TOKENS/shards/part-00000.safetensors   up to ``songs_per_shard`` songs: per song ``{n}.tokens`` (3, T) int32,
                                     ``{n}.latents`` (3, D, T) float32, ``{n}.text`` int32 lyric ids; the songs'
                                     records (:class:`TokenizedSong`) as JSON in the file's metadata
    TOKENS/tokens.json               what was encoded with what: dataset, config, fit sample, counts, versions

A shard is written to a temp name and renamed (the resume primitive): the ids in whole shards are done,
a rerun encodes the rest. Reading opens one shard per song read and maps only that song's tensors, so
memory holds one batch, whatever the corpus size; the records of all songs (a few hundred bytes each)
are the only per-song cost.

>>> rec = TokenizedSong("s1", 250, "part-00000.safetensors", 0, descriptions="female, pop, en", prompt_start_s=42.0)
>>> TokenizedSong.from_dict(rec.to_dict()) == rec
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from songprep.atomic import atomic_path
from songprep.errors import ModelNotFoundError, UsageError

SHARDS_DIR = "shards"
CODEC_DIR = "codec"
MANIFEST = "tokens.json"
#: Bumped when the shard layout changes; a store of another version is refused, not misread.
TOKENS_VERSION = 1
_RECORDS_KEY = "songprep.songs"


@dataclass
class EncodedSong:
    """A training song as the models see it: text ids, token streams ``(3, T)``, latents ``(3, D, T)``.

    ``descriptions`` (the tags the text ids were built with) and ``prompt_start_s`` (where the song's prompt clip
    starts: the clip ``songprep export levo`` cuts, the first chorus; training feeds its tokens as the prompt
    audio) travel with it.
    """

    id: str
    text_ids: list[int]
    tokens: torch.Tensor
    latents: torch.Tensor
    descriptions: str = ""
    prompt_start_s: float | None = None

    @property
    def frames(self) -> int:
        return int(self.tokens.shape[1])


@dataclass
class TokenizedSong:
    """Where one encoded song lies (shard file, row in it) and what conditions it has."""

    id: str
    frames: int
    shard: str
    row: int
    descriptions: str = ""
    prompt_start_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TokenizedSong:
        return cls(**d)


def is_validation(song_id: str, fraction: float) -> bool:
    """A stable split: a song is held out when its id's hash falls in the first ``fraction`` of the range,
    so the split never moves when songs are added, removed, reordered or re-tokenized.

    >>> is_validation("song-1", 0.0), is_validation("song-1", 1.0)
    (False, True)
    """
    bucket = int.from_bytes(hashlib.sha256(song_id.encode()).digest()[:8], "big") / 2**64
    return bucket < fraction


class ShardWriter:
    """Buffers encoded songs and writes a shard every ``songs_per_shard`` songs and at ``close``."""

    def __init__(self, root: str | Path, songs_per_shard: int = 64) -> None:
        if songs_per_shard < 1:
            raise UsageError("--songs-per-shard must be at least 1")
        self.dir = Path(root) / SHARDS_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.songs_per_shard = songs_per_shard
        existing = sorted(self.dir.glob("part-*.safetensors"))
        self._next = max((int(p.stem.split("-")[1]) for p in existing), default=-1) + 1
        self._buffer: list[EncodedSong] = []
        self.written = 0

    def add(self, song: EncodedSong) -> None:
        self._buffer.append(song)
        if len(self._buffer) >= self.songs_per_shard:
            self.flush()

    def flush(self) -> None:
        from safetensors.torch import save_file

        if not self._buffer:
            return
        name = f"part-{self._next:05d}.safetensors"
        tensors: dict[str, torch.Tensor] = {}
        records = []
        for row, song in enumerate(self._buffer):
            tensors[f"{row}.tokens"] = song.tokens.to(torch.int32).contiguous()
            tensors[f"{row}.latents"] = song.latents.float().contiguous()
            tensors[f"{row}.text"] = torch.tensor(song.text_ids, dtype=torch.int32)
            records.append(TokenizedSong(song.id, song.frames, name, row, song.descriptions,
                                         song.prompt_start_s).to_dict())
        with atomic_path(self.dir / name) as tmp:
            save_file(tensors, str(tmp), metadata={_RECORDS_KEY: json.dumps(records, ensure_ascii=False),
                                                   "songprep.tokens_version": str(TOKENS_VERSION)})
        self.written += len(self._buffer)
        self._next += 1
        self._buffer = []

    def close(self) -> None:
        self.flush()


def read_records(root: str | Path) -> list[TokenizedSong]:
    """The records of every whole shard under ``root`` (sorted by id); a damaged shard is one line."""
    from safetensors import SafetensorError, safe_open

    records: list[TokenizedSong] = []
    for path in sorted((Path(root) / SHARDS_DIR).glob("part-*.safetensors")):
        try:
            with safe_open(str(path), "pt") as fh:
                meta = fh.metadata() or {}
            if meta.get("songprep.tokens_version") != str(TOKENS_VERSION):
                raise UsageError(f"{path}: tokens version {meta.get('songprep.tokens_version')!r}, this songprep "
                                 f"reads {TOKENS_VERSION}; tokenize again into a new folder")
            records.extend(TokenizedSong.from_dict(d) for d in json.loads(meta[_RECORDS_KEY]))
        except (SafetensorError, OSError, KeyError, ValueError, TypeError) as err:
            raise UsageError(f"{path} is damaged ({' '.join(str(err).split())[:160]}); delete it and rerun "
                             "`songprep tokenize` to encode its songs again") from None
    return sorted(records, key=lambda r: r.id)


class TokenStore:
    """Read side: the song records, and one song's tensors on demand (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not (self.root / MANIFEST).is_file():
            raise ModelNotFoundError(f"no tokenized dataset at {self.root} (no {MANIFEST}); make one with "
                                     "`songprep tokenize DATASET -o TOKENS`")
        self.manifest = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        self.records = read_records(self.root)
        if not self.records:
            raise UsageError(f"{self.root}: no tokenized songs (every shard is missing); rerun `songprep tokenize`")

    @property
    def codec_dir(self) -> Path:
        return self.root / CODEC_DIR

    def split(self, val_fraction: float) -> tuple[list[TokenizedSong], list[TokenizedSong]]:
        """(train, validation) records by :func:`is_validation`; validation is never the whole corpus."""
        val = [r for r in self.records if is_validation(r.id, val_fraction)]
        train = [r for r in self.records if not is_validation(r.id, val_fraction)]
        if not train:
            raise UsageError(f"--val-fraction {val_fraction} holds out every song of {self.root}; lower it")
        return train, val

    def load(self, record: TokenizedSong) -> EncodedSong:
        from safetensors import SafetensorError, safe_open

        path = self.root / SHARDS_DIR / record.shard
        try:
            with safe_open(str(path), "pt") as fh:
                tokens = fh.get_tensor(f"{record.row}.tokens").long()
                latents = fh.get_tensor(f"{record.row}.latents")
                text = fh.get_tensor(f"{record.row}.text").tolist()
        except (SafetensorError, OSError) as err:
            raise UsageError(f"{path}: cannot read song {record.id} ({' '.join(str(err).split())[:160]})") from None
        return EncodedSong(record.id, text, tokens, latents, record.descriptions, record.prompt_start_s)

    def load_many(self, records: Sequence[TokenizedSong]) -> list[EncodedSong]:
        return [self.load(r) for r in records]

    def __iter__(self) -> Iterator[EncodedSong]:
        for record in self.records:
            yield self.load(record)

    def __len__(self) -> int:
        return len(self.records)
