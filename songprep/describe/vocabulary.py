"""musicnn's tags mapped onto LeVo's description vocabulary: the one table, and how a description is written.

LeVo (SongGeneration) describes a song with free tags in a fixed order; its README's form is
"female, dark, pop, sad, piano and drums, the bpm is 125." (gender, timbre, genre, emotion, instruments,
tempo). songprep writes the same order without timbre, which neither musicnn model tags.
Each row of :data:`MAPPING` sends one musicnn label (MagnaTagATune ``MTT``, Million Song Dataset ``MSD``)
to a LeVo tag and its category; a LeVo tag's score is the largest probability of the labels sent to it.
Labels not in the table (decades, "beautiful", "weird", ...) describe nothing LeVo uses and are dropped.

>>> levo_tags({("MSD", "Hip-Hop"): 0.3, ("MTT", "drums"): 0.2})["hip-hop"]
('genre', 0.3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: (model, musicnn label) -> (LeVo tag, category).
MAPPING: dict[tuple[str, str], tuple[str, str]] = {
    # genres
    ("MSD", "rock"): ("rock", "genre"), ("MSD", "alternative rock"): ("rock", "genre"),
    ("MSD", "classic rock"): ("rock", "genre"), ("MSD", "hard rock"): ("rock", "genre"),
    ("MSD", "indie rock"): ("rock", "genre"), ("MSD", "Progressive rock"): ("rock", "genre"),
    ("MSD", "alternative"): ("rock", "genre"), ("MTT", "rock"): ("rock", "genre"),
    ("MSD", "pop"): ("pop", "genre"), ("MSD", "indie pop"): ("pop", "genre"), ("MTT", "pop"): ("pop", "genre"),
    ("MSD", "electronic"): ("electronic", "genre"), ("MSD", "electronica"): ("electronic", "genre"),
    ("MSD", "electro"): ("electronic", "genre"), ("MSD", "House"): ("electronic", "genre"),
    ("MTT", "electronic"): ("electronic", "genre"), ("MTT", "techno"): ("electronic", "genre"),
    ("MSD", "dance"): ("dance", "genre"), ("MTT", "dance"): ("dance", "genre"),
    ("MSD", "Hip-Hop"): ("hip-hop", "genre"),
    ("MSD", "jazz"): ("jazz", "genre"),
    ("MSD", "soul"): ("r&b", "genre"), ("MSD", "rnb"): ("r&b", "genre"), ("MSD", "funk"): ("funk", "genre"),
    ("MSD", "folk"): ("folk", "genre"),
    ("MSD", "country"): ("country", "genre"), ("MTT", "country"): ("country", "genre"),
    ("MSD", "metal"): ("metal", "genre"), ("MSD", "heavy metal"): ("metal", "genre"),
    ("MTT", "metal"): ("metal", "genre"),
    ("MSD", "punk"): ("punk", "genre"), ("MSD", "blues"): ("blues", "genre"),
    ("MSD", "ambient"): ("ambient", "genre"), ("MTT", "ambient"): ("ambient", "genre"),
    ("MTT", "new age"): ("ambient", "genre"),
    ("MTT", "classical"): ("classical", "genre"), ("MTT", "classic"): ("classical", "genre"),
    ("MTT", "opera"): ("classical", "genre"),
    # moods
    ("MSD", "sad"): ("sad", "mood"), ("MSD", "happy"): ("happy", "mood"),
    ("MSD", "Mellow"): ("calm", "mood"), ("MSD", "chill"): ("calm", "mood"), ("MSD", "chillout"): ("calm", "mood"),
    ("MSD", "easy listening"): ("calm", "mood"), ("MTT", "soft"): ("calm", "mood"),
    ("MTT", "quiet"): ("calm", "mood"), ("MTT", "slow"): ("calm", "mood"),
    ("MSD", "party"): ("energetic", "mood"), ("MTT", "fast"): ("energetic", "mood"),
    ("MTT", "loud"): ("energetic", "mood"),
    ("MSD", "sexy"): ("romantic", "mood"),
    # instruments
    ("MTT", "guitar"): ("guitar", "instrument"), ("MSD", "guitar"): ("guitar", "instrument"),
    ("MTT", "piano"): ("piano", "instrument"),
    ("MTT", "drums"): ("drums", "instrument"), ("MTT", "beat"): ("drums", "instrument"),
    ("MTT", "beats"): ("drums", "instrument"),
    ("MTT", "strings"): ("strings", "instrument"), ("MTT", "violin"): ("violin", "instrument"),
    ("MTT", "cello"): ("cello", "instrument"),
    ("MTT", "synth"): ("synthesizer", "instrument"),
    ("MTT", "flute"): ("flute", "instrument"), ("MTT", "harp"): ("harp", "instrument"),
    ("MTT", "harpsichord"): ("harpsichord", "instrument"), ("MTT", "sitar"): ("sitar", "instrument"),
    ("MTT", "choir"): ("choir", "instrument"), ("MTT", "choral"): ("choir", "instrument"),
    # vocal gender and presence
    ("MTT", "female"): ("female", "gender"), ("MTT", "woman"): ("female", "gender"),
    ("MTT", "female vocal"): ("female", "gender"), ("MTT", "female voice"): ("female", "gender"),
    ("MSD", "female vocalists"): ("female", "gender"), ("MSD", "female vocalist"): ("female", "gender"),
    ("MTT", "male"): ("male", "gender"), ("MTT", "man"): ("male", "gender"),
    ("MTT", "male vocal"): ("male", "gender"), ("MTT", "male voice"): ("male", "gender"),
    ("MSD", "male vocalists"): ("male", "gender"),
    ("MTT", "vocal"): ("vocal", "vocal"), ("MTT", "vocals"): ("vocal", "vocal"),
    ("MTT", "singing"): ("vocal", "vocal"), ("MTT", "voice"): ("vocal", "vocal"),
    ("MTT", "no vocals"): ("instrumental", "vocal"), ("MTT", "no vocal"): ("instrumental", "vocal"),
    ("MTT", "no voice"): ("instrumental", "vocal"), ("MSD", "instrumental"): ("instrumental", "vocal"),
}

@dataclass(frozen=True)
class Thresholds:
    """The score a tag needs to enter the description (genre and mood: only the best of its category).

    musicnn's probabilities are low in absolute terms (a song's best label is 0.1-0.6); measured on the
    synthetic calibration songs (seed 0, bench/describe.py): drums scored 0.043-0.086 on every song (all have
    drums), piano 0.040-0.054 where played and 0.015-0.030 where not, so instruments need 0.035. Genres: the
    best genre of the real dev songs scored 0.13-0.26, so 0.10 keeps one there and drops it where nothing fits.
    """

    genre: float = 0.10
    mood: float = 0.10
    instrument: float = 0.035
    max_instruments: int = 3


def levo_tags(probs: Mapping[tuple[str, str], float]) -> dict[str, tuple[str, float]]:
    """LeVo tag -> (category, score) from musicnn probabilities keyed by (model, label)."""
    out: dict[str, tuple[str, float]] = {}
    for key, p in probs.items():
        if key not in MAPPING:
            continue
        tag, category = MAPPING[key]
        if tag not in out or p > out[tag][1]:
            out[tag] = (category, float(p))
    return out


def best(tags: Mapping[str, tuple[str, float]], category: str) -> list[tuple[str, float]]:
    """The tags of one category, best first (ties by name, so the order is stable)."""
    return sorted(((t, s) for t, (c, s) in tags.items() if c == category), key=lambda ts: (-ts[1], ts[0]))


def join_instruments(names: Sequence[str]) -> str:
    """LeVo's way: "piano", "piano and drums", "piano, guitar and drums"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def description_text(gender: str | None, genre: str | None, mood: str | None, instruments: Sequence[str],
                     bpm: float | None) -> str:
    """The LeVo description string; parts that are unknown are left out.

    >>> description_text("female", "pop", "sad", ["piano", "drums"], 125.2)
    'female, pop, sad, piano and drums, the bpm is 125.'
    """
    parts = [p for p in (gender, genre, mood) if p]
    if instruments:
        parts.append(join_instruments(list(instruments)))
    if bpm:
        parts.append(f"the bpm is {round(bpm)}")
    return ", ".join(parts) + "." if parts else ""
