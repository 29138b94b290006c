"""Descriptions of a song in LeVo's vocabulary: tags (tagger), bpm (beat grid), key (chroma), vocal gender.

:func:`describe_song` is the pure function; :class:`songprep.stages.describe.DescribeStage` runs it in prep.
Each part has its own module: :mod:`.tagger` (musicnn in torch), :mod:`.vocabulary` (the one musicnn -> LeVo
table and the description text), :mod:`.key`, :mod:`.tempo`, :mod:`.gender`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songprep.describe.gender import GenderEvidence, decide_gender
from songprep.describe.key import estimate_key
from songprep.describe.tempo import bpm_from_beats
from songprep.describe.vocabulary import Thresholds, best, description_text, levo_tags
from songprep.records import Tag


@dataclass
class Description:
    """What describe writes into a row (see :class:`songprep.records.Song`), plus the gender evidence."""

    descriptions: str
    tags: list[Tag] = field(default_factory=list)
    bpm: float | None = None
    key: str | None = None
    vocal_gender: str = "unknown"
    gender: GenderEvidence | None = None


def compose_description(probs: dict[tuple[str, str], float] | None, bpm: float | None, key: str | None,
                        pitch_midi: float | None, sings: bool, thresholds: Thresholds | None = None) -> Description:
    """The row's description from the tagger's probabilities (None: no tagger), bpm, key and sung pitch.

    ``sings`` is False when the song has (almost) no singing: the gender is then "unknown". The tagger can say
    so too: where its "instrumental" score beats its "vocal" score the song is taken to have no singing, since a
    vocal stem separated from an instrumental holds melody bleed whose pitch would pass for a voice (measured:
    the real instrumental track 0.126 vs 0.012; every sung synthetic and real song at least 1.8 times the other
    way round, bench/describe.py).
    """
    thresholds = thresholds or Thresholds()
    tags = levo_tags(probs or {})
    if probs is not None and tags.get("instrumental", ("", 0.0))[1] > tags.get("vocal", ("", 0.0))[1]:
        sings = False
    female = tags.get("female", ("gender", None))[1] if probs is not None else None
    male = tags.get("male", ("gender", None))[1] if probs is not None else None
    evidence = decide_gender(pitch_midi, female, male) if sings else None
    gender = evidence.gender if evidence is not None else "unknown"
    genre = next(iter(best(tags, "genre")), None)
    mood = next(iter(best(tags, "mood")), None)
    instruments = [t for t, s in best(tags, "instrument") if s >= thresholds.instrument][:thresholds.max_instruments]
    text = description_text(gender if gender != "unknown" else None,
                            genre[0] if genre else None,
                            mood[0] if mood and mood[1] >= thresholds.mood else None, instruments, bpm)
    order = sorted(tags.items(), key=lambda kv: (kv[1][0], -kv[1][1], kv[0]))
    tag_rows = [Tag(t, c, round(s, 4)) for t, (c, s) in order]
    return Description(text, tag_rows, bpm, key, gender, evidence)


def key_of(chroma: np.ndarray, frame_db: np.ndarray) -> str:
    """The key name from (12, frames) chroma, frames weighted by their amplitude."""
    return estimate_key(chroma, 10 ** (np.asarray(frame_db) / 20)).name


__all__ = ["Description", "Thresholds", "bpm_from_beats", "compose_description", "key_of"]
