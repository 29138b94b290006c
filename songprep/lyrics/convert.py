"""The dialect registry: one parser and one renderer per dialect, and conversion through the IR.

>>> convert("[intro-short] ; [verse] hello there. ; [outro-short]", "levo", "yue").text
'[intro]\\n\\n[verse]\\nhello there\\n\\n[outro]\\n'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from songprep.errors import UsageError
from songprep.lyrics.levo import render_levo_song, scan_levo
from songprep.lyrics.lrc import render_lrc, scan_lrc
from songprep.lyrics.model import LyricSong
from songprep.lyrics.problems import Problems
from songprep.lyrics.songbloom import SUBSTITUTES as SONGBLOOM_SUBSTITUTES
from songprep.lyrics.songbloom import render_songbloom, scan_songbloom
from songprep.lyrics.songprep_format import render_songprep, scan_songprep
from songprep.lyrics.tags import BLANK
from songprep.lyrics.timing import needs_times
from songprep.lyrics.yue import render_yue, scan_yue


@dataclass(frozen=True)
class Dialect:
    """A lyric markup: how to read it (with problems), how to write it, and what it can carry.

    ``times`` is what timing it holds: ``none``, ``sections`` (start/end), ``lines`` (line starts)
    or ``durations`` (section lengths only). ``substitutes`` maps labels it has no tag for to the
    one it writes instead.
    """

    name: str
    summary: str
    scan: Callable[[str], tuple[LyricSong, Problems]]
    render: Callable[[LyricSong], str]
    times: str = "none"
    substitutes: dict[str, str] = field(default_factory=dict)

    def parse(self, text: str) -> LyricSong:
        return self.scan(text)[0]

    def carried_label(self, label: str) -> str:
        """The label a section comes back with after a round trip through this dialect."""
        return self.substitutes.get(label, label)


DIALECTS: dict[str, Dialect] = {d.name: d for d in (
    Dialect("levo", "LeVo / SongGeneration: [tag] line.line ; [tag] ...", scan_levo, render_levo_song,
            substitutes={BLANK: "silence"}),
    Dialect("songprep", "SongPrep output: [label][start:end]line.line ; ...", scan_songprep, render_songprep,
            times="sections"),
    Dialect("songbloom", "SongBloom: [intro] [intro] , [verse] line. line , ...", scan_songbloom, render_songbloom,
            times="durations", substitutes=SONGBLOOM_SUBSTITUTES),
    Dialect("yue", "YuE: [tag] line, then one lyric line per line; blank line between sections", scan_yue,
            render_yue),
    Dialect("lrc", "LRC for DiffRhythm: [mm:ss.xx]line, [label] lines between sections", scan_lrc, render_lrc,
            times="lines"),
)}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise UsageError(f"unknown lyric dialect {name!r}; known: {', '.join(DIALECTS)}") from None


@dataclass(frozen=True)
class Conversion:
    """Converted text plus notes on what the target could not carry (estimated times, other labels)."""

    text: str
    notes: tuple[str, ...] = ()


def convert(text: str, source: str, target: str) -> Conversion:
    """Parse ``text`` as ``source`` and render it as ``target``; words and section order are kept."""
    src, dst = get_dialect(source), get_dialect(target)
    song = src.parse(text)
    notes = []
    if dst.times in ("sections", "lines") and needs_times(song, lines=dst.times == "lines"):
        notes.append(f"{target} needs times that {source} does not carry: they are estimated")
    changed = sorted({f"{label} -> {dst.carried_label(label)}" for label in song.labels()
                      if dst.carried_label(label) != label})
    if changed:
        notes.append(f"{target} has no tag for: {', '.join(changed)}")
    return Conversion(dst.render(song), tuple(notes))
