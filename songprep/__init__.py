"""songprep: raw songs in, song-model training corpora out; evaluation and generation beside."""

__version__ = "0.1.0"
