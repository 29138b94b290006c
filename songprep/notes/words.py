"""Tie notes to lyric words, and the naive word-level baseline the note backends are measured against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from songprep.notes.base import velocity_from_db
from songprep.records import Note, Word


def link_words(notes: Sequence[Note], words: Sequence[Word]) -> tuple[list[Note], list[Word]]:
    """Each note gets the index of the word it overlaps most (-1 if none); each word the mean pitch of its notes.

    A word's ``pitch`` is the duration-weighted mean MIDI pitch of the notes linked to it (None when it
    has none). Inputs are not modified and words keep their order.
    """
    if not notes:
        return [], [replace(w, pitch=None) for w in words]
    starts = np.array([w.start_s for w in words], dtype=np.float64)
    ends = np.array([w.end_s for w in words], dtype=np.float64)
    linked: list[Note] = []
    weight = np.zeros(len(words))
    pitch_sum = np.zeros(len(words))
    for n in notes:
        index = -1
        if len(words):
            overlap = np.minimum(ends, n.end_s) - np.maximum(starts, n.start_s)
            best = int(np.argmax(overlap))
            if overlap[best] > 0:
                index = best
                weight[best] += n.duration_s
                pitch_sum[best] += n.duration_s * n.pitch
        linked.append(replace(n, word=index))
    out_words = [replace(w, pitch=round(float(pitch_sum[i] / weight[i]), 3) if weight[i] > 0 else None)
                 for i, w in enumerate(words)]
    return linked, out_words


def naive_word_notes(audio: np.ndarray, sample_rate: int, words: Sequence[Word]) -> list[Note]:
    """Baseline: one note per word, spanning the word, at the rounded median pYIN f0 of its voiced frames.

    Words with no voiced frame get no note. This is what "notes" would be without a note transcriber:
    it cannot see melismas, and its onsets are only as good as the word times it is given.
    """
    from songprep.notes.pyin import pitch_track

    track = pitch_track(audio, sample_rate)
    notes = []
    for index, w in enumerate(words):
        a, b = track.frame_of(w.start_s), max(track.frame_of(w.end_s), track.frame_of(w.start_s) + 1)
        midi = track.midi[a:b]
        midi = midi[np.isfinite(midi)]
        if not len(midi):
            continue
        level = 10 * np.log10(np.mean(10 ** (track.level_db[a:b] / 10)))
        notes.append(Note(w.start_s, w.end_s, int(np.clip(np.rint(np.median(midi)), 0, 127)),
                          int(velocity_from_db(level)), word=index))
    return notes
