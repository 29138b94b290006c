"""Section tags: LeVo's 13-tag vocabulary, and reading the tags people actually write.

Song models turn each known tag into one structure token; a tag written any other way
(``[Verse]``, ``[verse 2]``, ``[intro]``, ``[prechorus]``) is read as plain lyric text and the
section loses its structure. :func:`resolve_tag` says what a written tag most likely means and
how far it is from a known form, so each dialect can report it and fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from songprep.records import INSTRUMENTAL_LABELS, LENGTH_SUFFIX_LIMITS_S, SECTION_LABELS

#: Labels that carry lyrics.
VOCAL_LABELS = ("verse", "chorus", "bridge")
#: SongPrep's extra label for a stretch it leaves unlabelled; LeVo writes it as ``[silence]``.
BLANK = "blank"
#: Every label the intermediate representation knows.
LYRIC_LABELS = (*SECTION_LABELS, BLANK)
LENGTH_SUFFIXES = tuple(name for name, _ in LENGTH_SUFFIX_LIMITS_S) + ("long",)

#: The vocabulary of LeVo / SongGeneration (its ``conf/vocab.yaml``), 13 structure tokens.
LEVO_TAGS = (
    "verse", "chorus", "bridge",
    *(f"{label}-{suffix}" for label in ("intro", "outro", "inst") for suffix in LENGTH_SUFFIXES),
    "silence",
)

#: Section names people write that no model here knows, and the label each is closest to.
TAG_ALIASES = {
    "prechorus": "verse", "pre-chorus": "verse", "build": "verse", "build-up": "verse", "buildup": "verse",
    "lift": "verse", "rap": "verse", "spoken": "verse", "postchorus": "chorus", "post-chorus": "chorus",
    "hook": "chorus", "refrain": "chorus", "interlude": "inst", "instrumental": "inst", "instrument": "inst",
    "solo": "inst", "break": "inst", "breakdown": "inst", "drop": "inst", "coda": "outro", "ending": "outro",
    "end": "outro", "fade": "outro", "fadeout": "outro", "fade-out": "outro", "prelude": "intro",
    "opening": "intro", "start": "intro", "silent": "silence", "pause": "silence", BLANK: BLANK,
}

#: Seconds assumed for an instrumental section whose length is known only by its suffix.
NOMINAL_DURATION_S = {"short": 5.0, "medium": 15.0, "long": 25.0}

_SEPARATORS = re.compile(r"[\s_]*-[\s_]*|[\s_]+")
_NUMBERING = re.compile(r"(?:-?(?:x\s*)?\d+|-(?:i|ii|iii|iv|v))$")


@dataclass(frozen=True)
class TagMatch:
    """What a written tag means: its label (None when unknown), length suffix, and how it was written.

    ``form`` is ``exact`` (already canonical), ``variant`` (a known tag written differently: case,
    spaces, numbering), ``alias`` (a name mapped to the nearest label) or ``unknown``.
    """

    label: str | None
    suffix: str | None
    form: str

    @property
    def known(self) -> bool:
        return self.label is not None


def resolve_tag(raw: str) -> TagMatch:
    """Read the text between a tag's brackets. ``resolve_tag("Verse 2") == TagMatch("verse", None, "variant")``."""
    key = _SEPARATORS.sub("-", raw.strip().rstrip(":").strip().lower()).strip("-")
    key = _NUMBERING.sub("", key).strip("-") or key
    label, _, suffix = key.partition("-")
    if suffix not in LENGTH_SUFFIXES:
        label, suffix = key, ""
    exact = raw == (f"{label}-{suffix}" if suffix else label)
    if label in LYRIC_LABELS:
        if suffix and label not in INSTRUMENTAL_LABELS:
            return TagMatch(label, None, "variant")
        return TagMatch(label, suffix or None, "exact" if exact else "variant")
    if key in TAG_ALIASES:
        return TagMatch(TAG_ALIASES[key], None, "alias")
    if label in TAG_ALIASES:
        return TagMatch(TAG_ALIASES[label], suffix or None, "alias")
    return TagMatch(None, None, "unknown")


def suffix_for(duration_s: float | None) -> str:
    """LeVo's length suffix for a duration; ``short`` when the duration is unknown (as LeVo's own app does)."""
    if duration_s is None:
        return "short"
    for name, limit in LENGTH_SUFFIX_LIMITS_S:
        if duration_s <= limit:
            return name
    return "long"


def levo_tag_for(label: str, suffix: str | None = None, duration_s: float | None = None) -> str:
    """The LeVo tag of a section: ``blank`` becomes ``silence``; instrumental labels get a suffix."""
    if label == BLANK:
        return "silence"
    if label in INSTRUMENTAL_LABELS:
        return f"{label}-{suffix or suffix_for(duration_s)}"
    return label


def nominal_duration_s(tag: str) -> float | None:
    """Seconds an instrumental LeVo tag stands for when no time is known (the middle of its band)."""
    _, _, suffix = tag.partition("-")
    return NOMINAL_DURATION_S.get(suffix)
