"""A songprep dataset as generator training examples: lyric, descriptions, and three 48 kHz stereo tracks.

Reads what ``songprep prep`` wrote (``songs/*.parquet`` rows and ``stems/<id>/*.flac``, paths relative
to the dataset folder). The mix track is ``vocals + accompaniment``: every songprep separator writes
accompaniment = mix − vocals, so the sum is the source exactly (at the stems' rate, without needing
the input folder, which the dataset does not have to travel with). Rows that cannot train the
generator (no LeVo lyric, no stems) are skipped and counted, never silently.

>>> ex = TrainingSong("s1", "[verse] hi.", "", {t: np.zeros((2, 1920), np.float32) for t in ("mix", "vocal", "bgm")})
>>> ex.frames
1920
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songprep.audio import decode, standardise
from songprep.errors import AudioDecodeError, UsageError
from songprep.records import Song
from songprep.writer import dataset_shards


@dataclass
class TrainingSong:
    """One song ready for training: waves are float32 ``(channels, frames)`` at the generator's rate."""

    id: str
    levo_lyric: str
    descriptions: str
    waves: dict[str, np.ndarray]

    @property
    def frames(self) -> int:
        return int(self.waves["mix"].shape[1])


@dataclass
class DatasetRows:
    """The usable rows of a dataset and the count of skipped ones by reason."""

    songs: list[Song]
    root: Path
    skipped: Counter = field(default_factory=Counter)

    def describe_skipped(self) -> str:
        return ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"


def read_rows(data_dir: str | Path) -> DatasetRows:
    """The song rows of a songprep dataset that have a LeVo lyric and both stems on disk."""
    import pyarrow.parquet as pq

    from songprep.records import table_to_songs

    root = Path(data_dir)
    shards = dataset_shards(root)
    songs: list[Song] = []
    skipped: Counter = Counter()
    for shard in shards:
        for song in table_to_songs(pq.read_table(shard)):
            if not (song.levo_lyric or "").strip():
                skipped["without a LeVo lyric"] += 1
            elif not song.vocals_path or not song.accompaniment_path:
                skipped["without stems"] += 1
            elif not (root / song.vocals_path).is_file() or not (root / song.accompaniment_path).is_file():
                skipped["with stem files missing"] += 1
            else:
                songs.append(song)
    songs.sort(key=lambda s: s.id)
    return DatasetRows(songs, root, skipped)


def descriptions_of(song: Song) -> str:
    """The row's LeVo description (the describe stage's ``descriptions``); rows made without describe fall back
    to their language, the one free tag such a row supports."""
    return song.descriptions or song.language or ""


def load_song(rows: DatasetRows, song: Song, sample_rate: int, channels: int) -> TrainingSong:
    """Decode one row's stems at the generator's rate and channel count; the mix is their sum."""
    tracks = {}
    for name, rel in (("vocal", song.vocals_path), ("bgm", song.accompaniment_path)):
        try:
            audio = standardise(decode(rows.root / str(rel)), sample_rate, channels)
        except AudioDecodeError as err:
            raise UsageError(f"{song.id}: cannot read {rel}: {err}") from None
        tracks[name] = audio.samples
    n = min(tracks["vocal"].shape[1], tracks["bgm"].shape[1])
    vocal, bgm = tracks["vocal"][:, :n], tracks["bgm"][:, :n]
    waves = {"mix": np.clip(vocal + bgm, -1.0, 1.0).astype(np.float32), "vocal": vocal, "bgm": bgm}
    return TrainingSong(song.id, str(song.levo_lyric), descriptions_of(song), waves)


def iter_songs(rows: DatasetRows, sample_rate: int, channels: int) -> Iterator[TrainingSong]:
    for song in rows.songs:
        yield load_song(rows, song, sample_rate, channels)


def dataset_hash(rows: DatasetRows) -> str:
    """What the model was trained on: ids, lyrics and stem file sizes (cheap, changes when data does)."""
    h = hashlib.sha256()
    for song in rows.songs:
        sizes = [(rows.root / str(p)).stat().st_size for p in (song.vocals_path, song.accompaniment_path)]
        h.update(f"{song.id}\0{song.levo_lyric}\0{song.content_sha256}\0{sizes}\n".encode())
    return h.hexdigest()[:16]


def pad_to_hop(wave: np.ndarray, hop: int) -> np.ndarray:
    """Zero-pad ``(channels, frames)`` to a whole number of token frames, so every stream has equal T."""
    rest = (-wave.shape[1]) % hop
    return np.pad(wave, ((0, 0), (0, rest))) if rest else wave
