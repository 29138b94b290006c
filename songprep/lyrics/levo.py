"""LeVo / SongGeneration lyric markup: ``[tag] line.line ; [tag] ...``.

Sections are joined by `` ; ``, sentences by ``.``; instrumental sections carry only their tag.
An English (space-delimited) block ends with ``.``; a CJK block does not (as in LeVo's examples).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from songprep.records import INSTRUMENTAL_LABELS, Section

SECTION_SEPARATOR = " ; "
SENTENCE_SEPARATOR = "."
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_cjk_text(text: str) -> bool:
    """True when CJK characters make up most of the letters (so words are not space-delimited)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(_CJK.match(c)) for c in letters) * 2 >= len(letters)


def render_block(tag: str, lines: Sequence[str]) -> str:
    """One section: ``[verse] first line.second line.`` (no trailing ``.`` for CJK lyrics)."""
    clean = [line.strip().strip(".").strip() for line in lines if line.strip().strip(".").strip()]
    if not clean:
        return f"[{tag}]"
    body = SENTENCE_SEPARATOR.join(clean)
    if not is_cjk_text(body):
        body += SENTENCE_SEPARATOR
    return f"[{tag}] {body}"


def render_levo(sections: Sequence[Section], lines_per_section: Sequence[Sequence[str]]) -> str:
    """The LeVo markup of a song from its sections and the lyric lines sung in each.

    Instrumental sections (intro / inst / outro / silence) never carry lyrics, whatever is passed.
    """
    if len(sections) != len(lines_per_section):
        raise ValueError(f"{len(sections)} sections but {len(lines_per_section)} line groups")
    blocks = []
    for section, lines in zip(sections, lines_per_section):
        instrumental = section.label in INSTRUMENTAL_LABELS or section.label == "silence"
        blocks.append(render_block(section.tag, () if instrumental else lines))
    return SECTION_SEPARATOR.join(blocks)
