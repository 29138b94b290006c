"""separate: vocals and accompaniment stems, written as FLAC at the source rate and handed on in memory.

Options (``PrepConfig.stage_options["separate"]``): ``model`` (``auto``, ``demucs:htdemucs``,
``demucs:htdemucs_ft``, ``spleeter:2stems``, ...), and the runtime knobs ``chunk_s``, ``overlap_s``,
``batch_size`` (chunks per model call), ``local_path`` (explicit weights). ``auto`` depends on the
machine, so the runner resolves it with :func:`resolve_options` *before* the config is hashed: the
dataset's hash and provenance then name the separator that really made the stems.
"""

from __future__ import annotations

from typing import Any

from songprep import audio as audio_io
from songprep.audio import Audio
from songprep.errors import RejectError, UsageError
from songprep.records import StageProvenance
from songprep.separation import STEMS, load_separator, resolve_separator_name
from songprep.stages.base import Resources, SongItem, Stage, StageContext

#: Options that tune speed and memory; they go to :func:`load_separator`.
TUNING_OPTIONS = ("chunk_s", "overlap_s", "batch_size")
KNOWN_OPTIONS = ("model", "local_path", *TUNING_OPTIONS)


def resolve_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The stage's options with ``model`` resolved ("auto" -> the separator this machine will use).

    >>> resolve_options({"model": "spleeter:2stems"})
    {'model': 'spleeter:2stems'}
    """
    resolved = dict(options or {})
    resolved["model"] = resolve_separator_name(resolved.get("model", "auto"))
    return resolved


def stem_path(song_id: str, stem: str) -> str:
    """Where a stem goes, relative to the dataset directory (what the record stores)."""
    return f"stems/{song_id}/{stem}.flac"


class SeparateStage(Stage):
    """Separate each song once per worker-loaded model; chunks of all songs in a batch share model calls."""

    name = "separate"
    reads = ("audio",)
    writes = ("stems", "vocals_path", "accompaniment_path")
    resources = Resources(gpu=True)

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        return resolve_options(options)

    def __init__(self, config) -> None:
        super().__init__(config)
        unknown = sorted(set(self.options) - set(KNOWN_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option(s) for stage separate: {', '.join(unknown)}; "
                             f"known: {', '.join(KNOWN_OPTIONS)}")
        self.model_name = resolve_separator_name(self.options.get("model", "auto"))
        self.separator = None

    def setup(self, ctx: StageContext) -> None:
        super().setup(ctx)
        tuning = {k: self.options[k] for k in TUNING_OPTIONS if k in self.options}
        self.separator = load_separator(self.model_name, ctx.device, self.options.get("local_path"), **tuning)

    def process_batch(self, items: list[SongItem]) -> list[SongItem]:
        if self.separator is None or self.ctx is None:
            raise RuntimeError("stage separate used before setup()")
        for item in items:
            if item.audio is None:
                raise RejectError("no decoded audio to separate (the decode stage must run first)")
        if hasattr(self.separator, "separate_batch"):
            separated = self.separator.separate_batch([item.audio for item in items])
        else:
            separated = [self.separator.separate(item.audio) for item in items]
        for item, stems in zip(items, separated):
            self._write(item, stems)
        return items

    def _write(self, item: SongItem, stems: dict[str, Audio]) -> None:
        song = item.song
        source_rate = song.sample_rate or stems["vocals"].sample_rate
        for stem in STEMS:
            rel = stem_path(song.id, stem)
            audio_io.write_audio(self.ctx.out_dir / rel, audio_io.resample(stems[stem], source_rate))
            item.stems[stem] = stems[stem]
        song.vocals_path = stem_path(song.id, "vocals")
        song.accompaniment_path = stem_path(song.id, "accompaniment")

    def provenance(self) -> StageProvenance:
        version = self.separator.version if self.separator is not None else ""
        return StageProvenance(self.name, self.model_name, version)
