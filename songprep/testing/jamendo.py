"""JamendoLyrics-layout datasets (real songs with human word starts) and the field's word-start scoring.

Layout (JamendoLyrics MultiLang, Durand et al. 2023): ``mp3/NAME.mp3``, ``lyrics/NAME.txt`` (the lyric a
user gives), ``lyrics/NAME.words.txt`` (one annotated word per line), ``words/NAME.csv``
(``word_start,...``), ``lines/NAME.csv`` (``start_time,end_time,lyrics_line``: the human line timings),
``meta.csv``. Scoring: per annotated word, |predicted start - annotated start|;
the share within 0.3 s and the average absolute error (AAE); a word not placed is a miss.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songprep.alignment.normalise import fold

LANGUAGES = {"English": "en", "French": "fr", "Spanish": "es", "German": "de", "Italian": "it",
             "Portuguese": "pt", "Chinese": "zh", "Japanese": "ja", "Korean": "ko"}
WITHIN_S = 0.3


@dataclass(frozen=True)
class AnnotatedLine:
    """One sung line as a human timed it: ``AnnotatedLine(16.24, 18.24, "même si mon réveil ne sonne pas")``."""

    start_s: float
    end_s: float
    text: str


@dataclass
class RealSong:
    """One annotated song: its audio, the lyrics a user gives, the annotated words with their starts and
    the annotated line timings (empty when the dataset has no ``lines/`` folder)."""

    name: str
    mp3: Path
    language: str
    genre: str
    lines: list[str]
    words: list[str]
    starts_s: np.ndarray
    timed_lines: list[AnnotatedLine] = field(default_factory=list)


def load_dataset(root: Path) -> list[RealSong]:
    songs = []
    with open(root / "meta.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = Path(row["Filepath"]).stem
            words = [w for w in (root / "lyrics" / f"{name}.words.txt").read_text(encoding="utf-8").split("\n")
                     if w.strip()]
            with open(root / "words" / f"{name}.csv", newline="") as wf:
                starts = np.array([float(r["word_start"]) for r in csv.DictReader(wf)])
            lines = [ln for ln in (root / "lyrics" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
                     if ln.strip()]
            songs.append(RealSong(name, root / "mp3" / f"{name}.mp3", LANGUAGES.get(row["Language"], "?"),
                                  row["Genre"], lines, words, starts, load_line_times(root / "lines" / f"{name}.csv")))
    return songs


def load_line_times(path: Path) -> list[AnnotatedLine]:
    """``lines/NAME.csv`` rows in order (none when the file is missing)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [AnnotatedLine(float(r["start_time"]), float(r["end_time"]), r["lyrics_line"])
                for r in csv.DictReader(f)]


@dataclass
class Score:
    words: int
    placed: int
    within: float
    aae: float
    median: float
    errors: np.ndarray


def score(song: RealSong, predicted: list[tuple[str, float]]) -> Score:
    """Predicted (word, start) matched to the annotation by an order-keeping match of folded words."""
    ref = [fold(w) for w in song.words]
    hyp = [fold(w) for w, _ in predicted]
    errors = np.full(len(ref), np.nan)
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            errors[block.a + k] = abs(predicted[block.b + k][1] - song.starts_s[block.a + k])
    placed = ~np.isnan(errors)
    within = float(np.mean(placed & (np.nan_to_num(errors, nan=np.inf) <= WITHIN_S)))
    aae = float(np.nanmean(errors)) if placed.any() else float("nan")
    median = float(np.nanmedian(errors)) if placed.any() else float("nan")
    return Score(len(ref), int(placed.sum()), within, aae, median, errors)


def pooled(scores: list[Score]) -> Score:
    errors = np.concatenate([s.errors for s in scores])
    n = sum(s.words for s in scores)
    placed = ~np.isnan(errors)
    return Score(n, int(placed.sum()), sum(s.within * s.words for s in scores) / n,
                 float(np.nanmean(errors)) if placed.any() else float("nan"),
                 float(np.nanmedian(errors)) if placed.any() else float("nan"), errors)
