"""A songprep dataset in SongGeneration's (LeVo's) layout: JSONL prompts, 10 s prompt clips, stems beside.

``songprep export levo DATASET -o DIR`` writes::

    DIR/train.jsonl        one row per song: idx, gt_lyric, descriptions, prompt_audio_path (LeVo's four keys),
                           plus language, audio_path (the source mix, when found), vocals_path, accompaniment_path
    DIR/validation.jsonl   the rows whose stable id hash falls in --validation (only when asked)
    DIR/prompts/ID.flac    10 s exactly, 48 kHz stereo: the first chorus, else the most repeated section
    DIR/rejects.jsonl      every row left out, with its reason
    DIR/export.json        counts, options, the dataset it came from

The JSONL is read as is by ``songprep generate`` and ``songprep eval run`` (their reader is
:func:`songprep.lyrics.prompts.read_levo_prompts`); paths are relative to DIR, where that reader resolves them.
The prompt clip is cut from vocals + accompaniment, which every songprep separator makes sum to the source,
so the dataset need not travel with its input folder. A row is left out, with its reason, when it has no
LeVo lyric, its lyric has lint errors or is past LeVo's token limit, it has no stems, it is shorter than the
clip, or a filter (lyrics confidence, duration, language) excludes it.

>>> split_of("song-1", 0.0)
'train'
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from songprep import audio as audio_io
from songprep.audio import Audio
from songprep.errors import AudioDecodeError, UsageError
from songprep.records import Section, Song

PROMPT_SECONDS = 10.0
PROMPT_RATE = 48000
PROMPT_CHANNELS = 2
VOCAL_SECTIONS = ("chorus", "verse", "bridge")


@dataclass(frozen=True)
class LevoExportOptions:
    """Filters and the split. ``validation`` is the share of ids (by stable hash) that go to validation.jsonl."""

    min_lyrics_confidence: float = 0.0
    min_duration_s: float = 0.0
    max_duration_s: float = float("inf")
    languages: tuple[str, ...] = ()
    validation: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation < 1.0:
            raise UsageError(f"--validation must be in [0, 1), got {self.validation}")
        if self.min_duration_s > self.max_duration_s:
            raise UsageError("--min-duration must not exceed --max-duration")


@dataclass
class LevoExport:
    """What an export wrote: rows per split, the rejects (id -> reason), and where."""

    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, str] = field(default_factory=dict)
    without_descriptions: int = 0


def split_of(song_id: str, validation: float) -> str:
    """``train`` or ``validation`` from the first 8 bytes of sha256(id): the same id always lands the same way."""
    h = int.from_bytes(hashlib.sha256(song_id.encode("utf-8")).digest()[:8], "big") / 2**64
    return "validation" if h < validation else "train"


def prompt_section(sections: list[Section]) -> Section | None:
    """The first chorus; else the first occurrence of the most repeated sung label; else the longest section."""
    if not sections:
        return None
    for s in sections:
        if s.label == "chorus":
            return s
    counts = Counter(s.label for s in sections if s.label in VOCAL_SECTIONS)
    if counts:
        label = max(counts, key=lambda lab: (counts[lab], -VOCAL_SECTIONS.index(lab)))
        return next(s for s in sections if s.label == label)
    return max(sections, key=lambda s: s.duration_s)


def clip_start_s(section: Section | None, duration_s: float, seconds: float = PROMPT_SECONDS) -> float:
    """Where the clip starts: at its section, moved back so the clip ends inside the song."""
    start = section.start_s if section is not None else 0.0
    return max(0.0, min(start, duration_s - seconds))


def cut_clip(mix: Audio, start_s: float, seconds: float = PROMPT_SECONDS) -> Audio:
    """Exactly ``seconds`` at 48 kHz stereo from ``start_s`` (resampled once, then cut by sample count)."""
    audio = audio_io.standardise(mix, PROMPT_RATE, PROMPT_CHANNELS)
    first = int(round(start_s * PROMPT_RATE))
    n = int(round(seconds * PROMPT_RATE))
    x = audio.samples[:, first:first + n]
    x = np.pad(x, ((0, 0), (0, n - x.shape[1])))
    return Audio(np.ascontiguousarray(x, dtype=np.float32), PROMPT_RATE)


def _why_not(song: Song, root: Path, options: LevoExportOptions) -> str | None:
    """The reason a row cannot be exported, or None."""
    from songprep.lyrics import lint

    if options.languages and song.language not in options.languages:
        return f"language {song.language or 'unknown'} not in --language {','.join(options.languages)}"
    if song.duration_s < options.min_duration_s or song.duration_s > options.max_duration_s:
        return f"duration {song.duration_s:.1f} s outside [{options.min_duration_s:g}, {options.max_duration_s:g}] s"
    if options.min_lyrics_confidence > 0:
        if song.lyrics_confidence is None:
            return "no lyrics confidence (no model judged the lyrics); --min-lyrics-confidence asks for one"
        if song.lyrics_confidence < options.min_lyrics_confidence:
            return f"lyrics confidence {song.lyrics_confidence:.2f} below --min-lyrics-confidence " \
                   f"{options.min_lyrics_confidence:g}"
    if not (song.levo_lyric or "").strip():
        return "no LeVo lyric (no sections or no markup stage)"
    report = lint(song.levo_lyric, "levo")
    if report.errors:
        return "lyric lint errors: " + "; ".join(p.format() for p in report.errors[:3])
    if not song.vocals_path or not song.accompaniment_path:
        return "no stems (run prep with the separate stage)"
    for rel in (song.vocals_path, song.accompaniment_path):
        if not (root / rel).is_file():
            return f"stem file missing: {rel}"
    if song.duration_s < PROMPT_SECONDS:
        return f"shorter ({song.duration_s:.1f} s) than the {PROMPT_SECONDS:g} s prompt clip"
    return None


def _mix(root: Path, song: Song) -> Audio:
    vocals = audio_io.decode(root / str(song.vocals_path))
    accompaniment = audio_io.standardise(audio_io.decode(root / str(song.accompaniment_path)), vocals.sample_rate,
                                         vocals.channels)
    n = min(vocals.samples.shape[1], accompaniment.samples.shape[1])
    return Audio(np.clip(vocals.samples[:, :n] + accompaniment.samples[:, :n], -1.0, 1.0), vocals.sample_rate)


def export_levo(dataset_dir: str | Path, out_dir: str | Path,
                options: LevoExportOptions = LevoExportOptions()) -> LevoExport:
    """Write DATASET's exportable rows in LeVo's layout under ``out_dir`` (see the module docstring)."""
    import pyarrow.parquet as pq

    from songprep.atomic import write_text_atomic
    from songprep.daw.export import recorded_input_dir
    from songprep.records import table_to_songs
    from songprep.writer import dataset_shards

    root = Path(dataset_dir)
    out = Path(out_dir)
    songs = sorted((s for shard in dataset_shards(root) for s in table_to_songs(pq.read_table(shard))),
                   key=lambda s: s.id)
    (out / "prompts").mkdir(parents=True, exist_ok=True)
    source_root = recorded_input_dir(root)
    result = LevoExport(out)
    lines: dict[str, list[str]] = {"train": [], "validation": []}
    for song in songs:
        reason = _why_not(song, root, options)
        if reason is None:
            try:
                mix = _mix(root, song)
            except AudioDecodeError as err:
                reason = f"stems cannot be read: {err}"
        if reason is not None:
            result.rejects[song.id] = reason
            continue
        clip = cut_clip(mix, clip_start_s(prompt_section(song.sections), song.duration_s))
        clip_rel = f"prompts/{song.id}.flac"
        audio_io.write_audio(out / clip_rel, clip)
        source = source_root / song.source_path if source_root is not None else None
        row = {"idx": song.id, "gt_lyric": song.levo_lyric, "descriptions": song.descriptions or "",
               "prompt_audio_path": clip_rel, "language": song.language,
               "audio_path": str(source.resolve()) if source is not None and source.is_file() else None,
               "vocals_path": str((root / str(song.vocals_path)).resolve()),
               "accompaniment_path": str((root / str(song.accompaniment_path)).resolve())}
        result.without_descriptions += not song.descriptions
        lines[split_of(song.id, options.validation)].append(json.dumps(row, ensure_ascii=False))
    if not any(lines.values()):
        raise UsageError(f"no row of {root} can be exported ({len(result.rejects)} rejected: "
                         f"{next(iter(result.rejects.values()), 'no rows')})")
    for split, rows in lines.items():
        if split == "train" or options.validation > 0:
            write_text_atomic(out / f"{split}.jsonl", "".join(r + "\n" for r in rows))
            result.rows[split] = len(rows)
    write_text_atomic(out / "rejects.jsonl", "".join(json.dumps({"idx": i, "reason": r}, ensure_ascii=False) + "\n"
                                                     for i, r in result.rejects.items()))
    meta = {"dataset": str(root.resolve()), "rows": result.rows, "rejected": len(result.rejects),
            "without_descriptions": result.without_descriptions, "prompt_seconds": PROMPT_SECONDS,
            "prompt_rate": PROMPT_RATE, "options": {k: v for k, v in asdict(options).items() if v != float("inf")}}
    write_text_atomic(out / "export.json", json.dumps(meta, indent=2) + "\n")
    return result
