"""Song structure: the song cut into labelled sections (intro, verse, chorus, bridge, inst, outro, silence).

    from songprep.features import song_features
    from songprep.structure import segment
    sections = segment(song_features(audio, vocals=vocal_stem), words=song.words)

Boundaries come from the audio on a bar grid (:mod:`.bars`, :mod:`.boundaries`) and, when words
are known, from where the lyrics start or stop repeating (:mod:`.repetition`); labels from
singing, lyric and audio repetition and energy (:mod:`.labels`), then the song-form rules
(:mod:`.form`). Sections are whole bars, contiguous, and
cover the song from 0 to its end. Model-free and CPU-only; :mod:`.baseline` holds the plain
baselines the benchmark compares against, :mod:`.metrics` the scores.
"""

from __future__ import annotations

from songprep.features import SongFeatures
from songprep.records import Section, Word
from songprep.structure.bars import BarFeatures, bar_features
from songprep.structure.boundaries import (
    DEFAULT_CONFIG,
    BoundaryConfig,
    choose_boundaries_around_silence,
    combined_novelty,
    lyric_novelty,
    split_on_level,
)
from songprep.structure.labels import label_segments
from songprep.structure.repetition import word_repetition


def segment(features: SongFeatures, words: list[Word] | None = None,
            config: BoundaryConfig = DEFAULT_CONFIG, words_complete: bool = True) -> list[Section]:
    """Labelled sections covering the song (see the module docstring).

    ``words_complete``: False when ``words`` are a transcript that may have dropped sung passages
    (see :func:`~songprep.structure.labels.label_segments`); aligned lyrics are complete.
    """
    bars = bar_features(features)
    return sections_from_bars(bars, words, config, words_complete)


def sections_from_bars(bars: BarFeatures, words: list[Word] | None = None,
                       config: BoundaryConfig = DEFAULT_CONFIG, words_complete: bool = True) -> list[Section]:
    novelty = combined_novelty(bars, config)
    repeated = word_repetition(words) if words else None
    if words and repeated is not None:
        novelty = novelty + lyric_novelty(bars, words, repeated, config)
    starts = choose_boundaries_around_silence(novelty, bars.silent(), config)
    starts = split_on_level(starts, bars.rms_db, config)
    segments = label_segments(bars, starts, words, repeated, words_complete)
    edges = bars.starts_s
    return [Section(seg.label, round(float(edges[seg.start_bar]), 4), round(float(edges[seg.end_bar]), 4))
            for seg in segments]


def assign_word_sections(words: list[Word], sections: list[Section]) -> None:
    """Set every word's ``section`` to the index of the section holding its midpoint (-1 outside all)."""
    for w in words:
        mid = (w.start_s + w.end_s) / 2
        w.section = next((i for i, s in enumerate(sections) if s.start_s <= mid < s.end_s),
                         len(sections) - 1 if sections and mid >= sections[-1].end_s else -1)


__all__ = ["BoundaryConfig", "assign_word_sections", "segment", "sections_from_bars"]
