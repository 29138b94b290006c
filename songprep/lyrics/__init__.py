"""Lyric markup dialects. LeVo's is the one the prep pipeline writes.

One intermediate representation (:mod:`.model`: ``LyricSong`` / ``LyricSection`` / ``LyricLine``),
one parser and one renderer per dialect (:mod:`.levo`, :mod:`.songprep_format`, :mod:`.songbloom`,
:mod:`.yue`, :mod:`.lrc`), registered in :mod:`.convert`; :mod:`.lint` reports problems and fixes
them; :mod:`.tokens` measures LeVo lyrics in Qwen2 tokens.

>>> from songprep.lyrics import fix, lint
>>> fix("[Verse] hello there ; [intro]")
'[verse] hello there. ; [intro-short]'
>>> lint("[verse] hello there. ; [intro-short]").ok
True
"""

from songprep.lyrics.convert import DIALECTS, Conversion, Dialect, convert, get_dialect
from songprep.lyrics.lint import LintReport, fix, fix_jsonl, lint, lint_jsonl
from songprep.lyrics.model import LyricLine, LyricSection, LyricSong
from songprep.lyrics.problems import CODES, Problem

__all__ = ["CODES", "DIALECTS", "Conversion", "Dialect", "LintReport", "LyricLine", "LyricSection", "LyricSong",
           "Problem", "convert", "fix", "fix_jsonl", "get_dialect", "lint", "lint_jsonl"]
