"""Structure on the real dev songs: the chorus found by lyric repetition, scored on human line timings.

Runs the structure on each song's mix with its annotated words (the human word timings standing in for
an alignment, so no separation or Whisper is needed: about 10 s a song). The songs are read from
``../shared/real`` (never copied into the repository).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from songprep import audio as audio_io
from songprep.features import song_features
from songprep.records import Word
from songprep.structure import segment
from songprep.structure.form import form_problems
from songprep.structure.metrics import line_evidence
from songprep.testing.jamendo import RealSong, load_dataset

pytestmark = pytest.mark.slow
#: Measured on these songs with their annotated words and no vocal stem: 0.889-1.00 (bench/structure.py
#: gives the same on prep's own alignment; Mes Larmes repeats a 4-line hook inside its first verse); before
#: lyric repetition 0.00-0.83. The issue's target is 0.75.
MIN_REPEATED_IN_CHORUS = 0.85
#: Measured 0.96-0.98 here (a sung line's tail that runs into the outro is the loss).
MIN_SUNG_IN_VOCAL = 0.94


def annotated_words(root: Path, song: RealSong) -> list[Word]:
    with open(root / "words" / f"{song.name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    starts = [float(r["word_start"]) for r in rows]
    words = []
    for i, (text, row) in enumerate(zip(song.words, rows)):
        end = float(row["word_end"]) if row["word_end"] not in ("", "nan") else float("nan")
        if end != end:  # not annotated: up to the next word's start
            end = starts[i + 1] if i + 1 < len(starts) else starts[i] + 0.5
        words.append(Word(text, starts[i], max(end, starts[i] + 0.05)))
    return words


def test_repeated_lines_of_real_songs_are_choruses(real_dir: Path) -> None:
    root = real_dir / "jamendolyrics-dev"
    for song in load_dataset(root):
        sections = segment(song_features(audio_io.decode(song.mp3)), words=annotated_words(root, song))
        labels = [s.label for s in sections]
        e = line_evidence(sections, [(x.start_s, x.end_s, x.text) for x in song.timed_lines])
        assert e.repeated_in_chorus >= MIN_REPEATED_IN_CHORUS, (song.name, e, labels)
        assert e.sung_in_vocal >= MIN_SUNG_IN_VOCAL, (song.name, e, labels)
        assert e.runs <= 2, (song.name, labels)
        assert "chorus" in labels and "verse" in labels, (song.name, labels)
        doubled = [i for i in range(1, len(labels)) if labels[i] == labels[i - 1] == "chorus"]
        assert form_problems(labels, doubled) == [], (song.name, labels)
