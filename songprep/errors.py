"""Typed errors. Library code raises these; the CLI maps them to one-line messages and exit codes."""

from __future__ import annotations


class SongprepError(Exception):
    """Base of every error songprep raises on purpose. ``str(err)`` is a complete one-line message."""

    exit_code = 1


class UsageError(SongprepError):
    """The caller asked for something that cannot be done as asked (bad option, bad path)."""

    exit_code = 2


class RejectError(SongprepError):
    """One song cannot be processed; it goes to the rejects table with this reason, the run goes on."""


class AudioDecodeError(RejectError):
    """A file that cannot be read as audio (corrupt, empty, not audio at all)."""


class AudioRejected(RejectError):
    """Audio that decodes but is unfit for a corpus (silence, too short, too long)."""


class LyricsError(RejectError):
    """A lyrics file that cannot be read (encoding, broken markup)."""


class ModelNotFoundError(SongprepError):
    """Weights for a named model are not available locally; the message says where we looked and how to get them."""

    exit_code = 3


class WeightsMismatchError(SongprepError):
    """A checkpoint that is not the model it was given as (a foreign, corrupt or mismatched file)."""

    exit_code = 3


class DatasetMismatchError(SongprepError):
    """An output directory already holds a dataset written with another config or schema."""

    exit_code = 4


class InternalFailures(SongprepError):
    """A run finished, but songprep itself failed on some songs (they are retried by the next run)."""

    exit_code = 5
