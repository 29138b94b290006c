"""Finding a corpus's songs and their lyric sidecars, and naming them with stable ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from songprep.audio import AUDIO_EXTENSIONS
from songprep.errors import UsageError

LYRICS_EXTENSIONS = (".lrc", ".txt")


@dataclass(frozen=True)
class SourceFile:
    """One input song: where it is, its id, and its reference lyrics file if any."""

    id: str
    path: Path
    rel_path: str
    lyrics_path: Path | None = None


def song_id(rel_path: str) -> str:
    """A readable id that is stable across reruns: slug of the file name + hash of the relative path.

    >>> song_id("Album 1/Mi Canción.flac")
    'mi-cancion-5a1938fd47'
    """
    stem = Path(rel_path).stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")[:48] or "song"
    digest = hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}"


def find_lyrics(audio_path: Path, rel_path: str, lyrics_dir: Path | None) -> Path | None:
    """``NAME.lrc`` / ``NAME.txt`` beside the audio, or under ``lyrics_dir`` (same relative path, then flat)."""
    candidates = [audio_path.with_suffix(ext) for ext in LYRICS_EXTENSIONS]
    if lyrics_dir is not None:
        rel = Path(rel_path)
        candidates = [lyrics_dir / rel.with_suffix(ext) for ext in LYRICS_EXTENSIONS] + [
            lyrics_dir / (rel.stem + ext) for ext in LYRICS_EXTENSIONS
        ]
    return next((c for c in candidates if c.is_file()), None)


def discover(in_dir: str | Path, lyrics_dir: str | Path | None = None) -> list[SourceFile]:
    """Every audio file under ``in_dir`` (recursively, hidden entries skipped), sorted by path."""
    root = Path(in_dir)
    if not root.is_dir():
        raise UsageError(f"input directory not found: {root}")
    lyr = Path(lyrics_dir) if lyrics_dir is not None else None
    if lyr is not None and not lyr.is_dir():
        raise UsageError(f"lyrics directory not found: {lyr}")
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        if not path.is_file():
            continue
        rel_path = rel.as_posix()
        found.append(SourceFile(song_id(rel_path), path.resolve(), rel_path, find_lyrics(path, rel_path, lyr)))
    return found
