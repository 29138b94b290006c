"""Song-form rules: the label sequences real songs have, applied after the evidence labelled each segment.

The prior is SongGeneration's own example prompts (``tests/data/songgeneration_examples.jsonl``, 15
prompts from tencent-ailab/SongGeneration): in all of them no label follows itself, a bridge occurs
at most once and is followed by a chorus, and verse and chorus alternate. LeVo's vocabulary has no
pre-chorus, so a pre-chorus is part of its verse. The rules, in order:

1. A bridge is a sung segment that repeats nothing, after the first chorus, that leads into a chorus
   (the next sung segment is one; the evidence names candidates); only the last candidate of the song
   stays a bridge (:data:`MAX_BRIDGES`), the others are verses.
2. Neighbours with the same label merge into one section (a verse cut in two by a new groove, a
   pre-chorus folded into its verse, an intro in two halves), except back-to-back choruses whose
   lyrics repeat each other: a doubled chorus is what the lyrics show, and it stays two.

:func:`form_problems` reports the departures from these rules, so tests can hold any labelling to them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Protocol

#: Bridges a song may have (SongGeneration's prompts: 0 or 1).
MAX_BRIDGES = 1
#: Two neighbouring choruses stay apart when the second sings this much of the first's words again.
DOUBLED_CHORUS_RATIO = 0.6
SUNG_LABELS = ("verse", "chorus", "bridge")


class Labelled(Protocol):
    label: str
    words: list[str]


def doubled(a: Labelled, b: Labelled) -> bool:
    """Whether ``b`` sings ``a``'s words again (a chorus sung twice in a row)."""
    if not a.words or not b.words:
        return False
    return difflib.SequenceMatcher(None, a.words, b.words, autojunk=False).ratio() >= DOUBLED_CHORUS_RATIO


def limit_bridges(segments: Sequence[Labelled]) -> None:
    """Rule 1: bridges only after a chorus and into one, at most :data:`MAX_BRIDGES` of them (the last ones)."""
    chorus = [i for i, s in enumerate(segments) if s.label == "chorus"]
    candidates = [i for i, s in enumerate(segments) if s.label == "bridge"
                  and chorus and chorus[0] < i and _next_sung(segments, i) == "chorus"]
    keep = set(candidates[-MAX_BRIDGES:]) if MAX_BRIDGES else set()
    for i, s in enumerate(segments):
        if s.label == "bridge" and i not in keep:
            s.label = "verse"


def _next_sung(segments: Sequence[Labelled], i: int) -> str | None:
    return next((s.label for s in segments[i + 1:] if s.label in SUNG_LABELS), None)


def merge_groups(segments: Sequence[Labelled]) -> list[list[int]]:
    """Rule 2: runs of segment indices that become one section each."""
    groups: list[list[int]] = []
    for i, s in enumerate(segments):
        if groups:
            prev = segments[groups[-1][-1]]
            same = prev.label == s.label and s.label != "silence"
            if same and not (s.label == "chorus" and doubled(prev, s)):
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


def form_problems(labels: Sequence[str], doubled_choruses: Sequence[int] = ()) -> list[str]:
    """Departures from the rules above; ``doubled_choruses`` lists indices of choruses the lyrics double."""
    problems = []
    for i in range(1, len(labels)):
        if labels[i] == labels[i - 1] and not (labels[i] == "chorus" and i in doubled_choruses):
            problems.append(f"{labels[i]} follows itself at section {i}")
    bridges = [i for i, label in enumerate(labels) if label == "bridge"]
    if len(bridges) > MAX_BRIDGES:
        problems.append(f"{len(bridges)} bridges (at most {MAX_BRIDGES})")
    chorus = [i for i, label in enumerate(labels) if label == "chorus"]
    for i in bridges:
        following = next((label for label in labels[i + 1:] if label in SUNG_LABELS), None)
        if following != "chorus" or not any(c < i for c in chorus):
            problems.append(f"bridge at section {i} not between choruses")
    return problems
