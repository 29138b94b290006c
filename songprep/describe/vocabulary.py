"""musicnn's tags mapped onto LeVo's description vocabulary: the one table, and how a description is written.

LeVo (SongGeneration) describes a song with free tags in a fixed order; its README's form is
"female, dark, pop, sad, piano and drums, the bpm is 125." (gender, timbre, genre, emotion, instruments,
tempo). songprep writes the same order without timbre, which neither musicnn model tags.
Each row of :data:`MAPPING` sends one musicnn label (MagnaTagATune ``MTT``, Million Song Dataset ``MSD``)
to a LeVo tag and its category; a LeVo tag's score is the largest probability of the labels sent to it,
except a genre's (:func:`genre_scores`: judged against how often the model says it, :data:`GENRE_PRIORS`).
Labels not in the table (decades, "beautiful", "weird", ...) describe nothing LeVo uses and are dropped.

>>> levo_tags({("MSD", "Hip-Hop"): 0.05, ("MSD", "rock"): 0.2, ("MTT", "drums"): 0.2})["hip-hop"]
('genre', 0.9275)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: (model, musicnn label) -> (LeVo tag, category). Genres come from the MSD model alone: with MagnaTagATune's
#: genre labels added (its classical-heavy corpus has no hip-hop or folk, and its country, classical and dance
#: are rare there, so they stand far above their priors on any pop song), the real dev songs agreed with
#: meta.csv on 0/4 instead of 2/4 (bench/describe.py, bench/RESULTS.md). The wheel's other MSD model, MSD_vgg,
#: agreed on 0/4 alone and 1/4 averaged with MSD_musicnn (bench/genre_models.py), so it is not ported.
MAPPING: dict[tuple[str, str], tuple[str, str]] = {
    # genres
    ("MSD", "rock"): ("rock", "genre"), ("MSD", "alternative rock"): ("rock", "genre"),
    ("MSD", "classic rock"): ("rock", "genre"), ("MSD", "hard rock"): ("rock", "genre"),
    ("MSD", "indie rock"): ("rock", "genre"), ("MSD", "Progressive rock"): ("rock", "genre"),
    ("MSD", "alternative"): ("rock", "genre"),
    ("MSD", "pop"): ("pop", "genre"), ("MSD", "indie pop"): ("pop", "genre"),
    ("MSD", "electronic"): ("electronic", "genre"), ("MSD", "electronica"): ("electronic", "genre"),
    ("MSD", "electro"): ("electronic", "genre"), ("MSD", "House"): ("electronic", "genre"),
    ("MSD", "dance"): ("dance", "genre"),
    ("MSD", "Hip-Hop"): ("hip-hop", "genre"),
    ("MSD", "jazz"): ("jazz", "genre"),
    ("MSD", "soul"): ("r&b", "genre"), ("MSD", "rnb"): ("r&b", "genre"), ("MSD", "funk"): ("funk", "genre"),
    ("MSD", "folk"): ("folk", "genre"),
    ("MSD", "country"): ("country", "genre"),
    ("MSD", "metal"): ("metal", "genre"), ("MSD", "heavy metal"): ("metal", "genre"),
    ("MSD", "punk"): ("punk", "genre"), ("MSD", "blues"): ("blues", "genre"),
    ("MSD", "ambient"): ("ambient", "genre"),
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

#: The MSD model's prior for each genre label: sigmoid(beta . W + b), the output for the average training song,
#: where beta is the shift of the batch norm that feeds the output layer (W, b), i.e. that layer's input
#: averaged over the training set (``dense_bn`` in :class:`songprep.describe.tagger.Musicnn`). It is the logit
#: of the average song, not the average probability, so it is lower than the tags' frequency; what matters is
#: their ratio. Its ranking of all 50 labels follows the order musicnn lists them in (the Last.fm top-50 by
#: frequency: rock, pop, alternative, indie, ...), Spearman 0.81. Read from ``MSD_musicnn`` (musicnn 0.1.0) by
#: :meth:`songprep.describe.tagger.MusicnnTagger.priors`; tests check this table against the checkpoint.
GENRE_PRIORS: dict[str, float] = {
    "rock": 0.132, "alternative rock": 0.0144, "classic rock": 0.015, "hard rock": 0.0064, "indie rock": 0.0123,
    "Progressive rock": 0.0108, "alternative": 0.0443, "pop": 0.0636, "indie pop": 0.0056, "electronic": 0.0193,
    "electronica": 0.00524, "electro": 0.00201, "House": 0.0011, "dance": 0.00766, "Hip-Hop": 0.00258,
    "jazz": 0.0133, "soul": 0.0121, "rnb": 0.00256, "funk": 0.00564, "folk": 0.0141, "country": 0.00568,
    "metal": 0.00443, "heavy metal": 0.00214, "punk": 0.0069, "blues": 0.00944, "ambient": 0.00376,
}


@dataclass(frozen=True)
class Thresholds:
    """The score a tag needs to enter the description (mood: only the best of its category).

    musicnn's probabilities are low in absolute terms (a song's best label is 0.1-0.6); measured on the
    synthetic calibration songs (seed 0, bench/describe.py): drums scored 0.043-0.086 on every song (all have
    drums), piano 0.040-0.054 where played and 0.015-0.030 where not, so instruments need 0.035.
    The best genre (:func:`genre_scores`) is always written: no share threshold told songs from non-music in
    measurement (silence's best share 0.25, a real song's 0.17; white noise 0.48 "dance", a sine 0.84 "ambient").
    """

    mood: float = 0.10
    instrument: float = 0.035
    max_instruments: int = 3


def genre_scores(probs: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """LeVo genre -> its share once every genre is made equally likely a priori (the shares sum to 1).

    A genre's lift is its labels' summed probability over their summed :data:`GENRE_PRIORS`: how much more
    the model says it of this song than of its average training song. The shares are the lifts normalised,
    Bayes' rule with the training priors swapped for flat ones. Raw probabilities favour the frequent tags
    (rock is by far MSD's most frequent): on the real dev songs the raw argmax agreed with meta.csv on 0/4,
    the lift on 2/4 (bench/RESULTS.md).

    >>> {g: round(s, 2) for g, s in genre_scores({("MSD", "rock"): 0.2, ("MSD", "Hip-Hop"): 0.05}).items()}
    {'rock': 0.07, 'hip-hop': 0.93}
    """
    mass: dict[str, float] = {}
    prior: dict[str, float] = {}
    for key, p in probs.items():
        tag, category = MAPPING.get(key, ("", ""))
        if category != "genre":
            continue
        mass[tag] = mass.get(tag, 0.0) + float(p)
        prior[tag] = prior.get(tag, 0.0) + GENRE_PRIORS[key[1]]
    lift = {tag: mass[tag] / prior[tag] for tag in mass}
    total = sum(lift.values())
    return {tag: (v / total if total > 0 else 1 / len(lift)) for tag, v in lift.items()}


def levo_tags(probs: Mapping[tuple[str, str], float]) -> dict[str, tuple[str, float]]:
    """LeVo tag -> (category, score) from musicnn probabilities keyed by (model, label); genres scored by
    :func:`genre_scores`, every other tag by the best probability of its labels."""
    out: dict[str, tuple[str, float]] = {}
    for key, p in probs.items():
        if key not in MAPPING or MAPPING[key][1] == "genre":
            continue
        tag, category = MAPPING[key]
        if tag not in out or p > out[tag][1]:
            out[tag] = (category, float(p))
    out.update({tag: ("genre", round(share, 4)) for tag, share in genre_scores(probs).items()})
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
