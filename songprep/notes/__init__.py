"""Note transcription: vocal melody and accompaniment notes from stems, tied to lyric words.

``load_note_transcriber(name, polyphonic=...)`` gives a :class:`NoteTranscriber`: ``"pyin"`` (librosa's
pYIN f0 segmented into notes; monophonic, no weights, the vocal default) or ``"basic-pitch"`` (Spotify's
ONNX model from the ``basic-pitch`` wheel, run with onnxruntime; polyphonic, or monophonic for vocals).
:func:`link_words` ties notes to timed lyric words; :func:`naive_word_notes` is the one-note-per-word
baseline; :mod:`songprep.notes.metrics` scores notes with ``mir_eval.transcription``.
"""

from __future__ import annotations

from songprep.errors import UsageError
from songprep.notes.base import NoteTranscriber
from songprep.notes.words import link_words, naive_word_notes

VOCAL_BACKENDS = ("pyin", "basic-pitch")
ACCOMPANIMENT_BACKENDS = ("basic-pitch",)
DEFAULT_VOCAL_BACKEND = "pyin"

__all__ = ["ACCOMPANIMENT_BACKENDS", "DEFAULT_VOCAL_BACKEND", "VOCAL_BACKENDS", "NoteTranscriber",
           "link_words", "load_note_transcriber", "naive_word_notes"]


def load_note_transcriber(name: str, *, polyphonic: bool) -> NoteTranscriber:
    """A ready transcriber (its model session created once); a missing backend raises ModelNotFoundError."""
    if name == "pyin":
        if polyphonic:
            raise UsageError("the pyin note backend is monophonic (vocals only); use basic-pitch for accompaniment")
        from songprep.notes.pyin import PyinTranscriber

        return PyinTranscriber()
    if name == "basic-pitch":
        from songprep.notes.basic_pitch import BasicPitchTranscriber

        return BasicPitchTranscriber(polyphonic=polyphonic)
    raise UsageError(f"unknown note backend {name!r}; known: {', '.join(VOCAL_BACKENDS)}")
