"""notes: the sung melody and the accompaniment's notes, tied to the lyric words, as a MIDI file per song.

Reads the stems ``separate`` handed on, the timed words (``align``/``transcribe``) and the sections
(``structure``) when those ran before; the beats come from the shared features
(:func:`songprep.features.song_features`, computed here if no earlier stage did). Writes
``vocal_notes`` (each note's ``word`` index), every word's ``pitch`` (mean sung MIDI pitch) and
``OUT/midi/<id>.mid`` (``midi_path``; tempo map from the beats, section markers, lyric events).

Options (``PrepConfig.stage_options["notes"]``): ``vocal`` (a vocal backend, default ``pyin``) and
``accompaniment`` (``basic-pitch``, the default, or ``none`` to leave the accompaniment out). A
backend that cannot load here (basic-pitch not installed) fails when the config is resolved, before
any song is touched, with the one-line fix. Off by default: ``songprep prep --notes`` appends it.
"""

from __future__ import annotations

from typing import Any

from songprep.daw.midi import BeatGrid, song_midi, write_midi
from songprep.errors import RejectError, UsageError
from songprep.features import song_features
from songprep.notes import (
    ACCOMPANIMENT_BACKENDS,
    DEFAULT_VOCAL_BACKEND,
    VOCAL_BACKENDS,
    NoteTranscriber,
    link_words,
    load_note_transcriber,
)
from songprep.records import Note, StageProvenance
from songprep.stages.base import SongItem, Stage, StageContext

DEFAULT_ACCOMPANIMENT_BACKEND = ACCOMPANIMENT_BACKENDS[0]
NO_BACKEND = "none"
KNOWN_OPTIONS = ("vocal", "accompaniment")
#: ``item.features`` key of the accompaniment notes (the record keeps only the vocal ones; the MIDI file has both).
ACCOMPANIMENT_NOTES_KEY = "accompaniment_notes"


def midi_path(song_id: str) -> str:
    """Where a song's MIDI file goes, relative to the dataset directory (what the record stores)."""
    return f"midi/{song_id}.mid"


def resolve_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The options with defaults filled in and every backend checked (and loaded once) on this machine."""
    resolved = dict(options or {})
    unknown = sorted(set(resolved) - set(KNOWN_OPTIONS))
    if unknown:
        raise UsageError(f"unknown option(s) for stage notes: {', '.join(unknown)}; known: {', '.join(KNOWN_OPTIONS)}")
    resolved.setdefault("vocal", DEFAULT_VOCAL_BACKEND)
    resolved.setdefault("accompaniment", DEFAULT_ACCOMPANIMENT_BACKEND)
    if resolved["vocal"] not in VOCAL_BACKENDS:
        raise UsageError(f"notes: unknown vocal backend {resolved['vocal']!r}; known: {', '.join(VOCAL_BACKENDS)}")
    if resolved["accompaniment"] not in (*ACCOMPANIMENT_BACKENDS, NO_BACKEND):
        raise UsageError(f"notes: unknown accompaniment backend {resolved['accompaniment']!r}; known: "
                         f"{', '.join((*ACCOMPANIMENT_BACKENDS, NO_BACKEND))}")
    load_backends(resolved)  # a missing package fails here, in one line, not in the middle of a run
    return resolved


def load_backends(options: dict[str, Any]) -> tuple[NoteTranscriber, NoteTranscriber | None]:
    """The (vocal, accompaniment or None) transcribers the options name."""
    vocal = load_note_transcriber(options.get("vocal", DEFAULT_VOCAL_BACKEND), polyphonic=False)
    name = options.get("accompaniment", DEFAULT_ACCOMPANIMENT_BACKEND)
    accompaniment = None if name == NO_BACKEND else load_note_transcriber(name, polyphonic=True)
    return vocal, accompaniment


class NotesStage(Stage):
    """Writes ``vocal_notes``, ``midi_path`` and ``Word.pitch``; CPU only (pyin, basic-pitch's ONNX model)."""

    name = "notes"
    reads = ("audio", "stems")
    writes = ("vocal_notes", "midi_path")

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        return resolve_options(options)

    def __init__(self, config) -> None:
        super().__init__(config)
        self.vocal: NoteTranscriber | None = None
        self.accompaniment: NoteTranscriber | None = None

    def setup(self, ctx: StageContext) -> None:
        super().setup(ctx)
        self.vocal, self.accompaniment = load_backends(self.options)

    def process(self, item: SongItem) -> SongItem:
        if self.vocal is None or self.ctx is None:
            raise RuntimeError("stage notes used before setup()")
        vocals = item.stems.get("vocals")
        if vocals is None:
            raise RejectError("no vocal stem to transcribe (the separate stage must run before notes)")
        song = item.song
        notes = self.vocal.transcribe(vocals.mono(), vocals.sample_rate)
        song.vocal_notes, song.words = link_words(notes, song.words)
        accompaniment: list[Note] = []
        if self.accompaniment is not None and "accompaniment" in item.stems:
            stem = item.stems["accompaniment"]
            accompaniment = self.accompaniment.transcribe(stem.mono(), stem.sample_rate)
        item.features[ACCOMPANIMENT_NOTES_KEY] = accompaniment
        grid = BeatGrid.from_features(song_features(item))
        rel = midi_path(song.id)
        write_midi(self.ctx.out_dir / rel, song_midi(song, grid, accompaniment))
        song.midi_path = rel
        return item

    def provenance(self) -> StageProvenance:
        used = [t for t in (self.vocal, self.accompaniment) if t is not None]
        if not used:
            return StageProvenance(self.name)
        return StageProvenance(self.name, ",".join(t.name for t in used), ",".join(t.version for t in used))
