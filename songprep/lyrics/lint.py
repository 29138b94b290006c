"""``lint`` and ``fix`` for every dialect, and for LeVo's JSONL prompt files.

lint = the dialect's parser's problems (+ LeVo's length check); fix = render(parse(text)) in the
same dialect, which changes punctuation, spacing and tags but never a lyric word. The only
problems ``fix`` cannot remove are the ones that would need other words: too long, no lyrics.

>>> report = lint("[Verse] hello there ; [intro] ; [chorus] la la.")
>>> [p.code for p in report.problems]
['E102', 'W203', 'E103']
>>> fix("[Verse] hello there ; [intro] ; [chorus] la la.")
'[verse] hello there. ; [intro-short] ; [chorus] la la.'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songprep.errors import LyricsError
from songprep.lyrics.convert import get_dialect
from songprep.lyrics.problems import ERROR, WARNING, Problem, Problems, locate
from songprep.lyrics.tokens import EXACT, LEVO_MAX_TOKENS, TokenCount, count_tokens, cut_offset

#: An estimate this far over the limit is reported as an error; closer, as a warning (W215).
ESTIMATE_MARGIN = 0.15
LYRIC_FIELD = "gt_lyric"


@dataclass
class LintReport:
    """Problems of one lyric, sorted by position, and (LeVo) its length in tokens."""

    dialect: str
    problems: list[Problem] = field(default_factory=list)
    length: TokenCount | None = None
    max_tokens: int | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """No errors (warnings are departures the model's own examples also make)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        length = None
        if self.length is not None:
            length = {"tokens": self.length.tokens, "max_tokens": self.max_tokens, "method": self.length.method,
                      "source": self.length.source}
        return {"dialect": self.dialect, "ok": self.ok, "problems": [p.to_dict() for p in self.problems],
                "length": length}


def lint(text: str, dialect: str = "levo", max_tokens: int = LEVO_MAX_TOKENS,
         tokenizer: str | Path | None = None) -> LintReport:
    """Every problem of ``text`` in ``dialect``, with line:col; LeVo lyrics are also measured in tokens."""
    _, problems = get_dialect(dialect).scan(text)
    length = None
    if dialect == "levo" and text.strip():
        length = count_tokens(text, tokenizer)
        _check_length(text, length, max_tokens, tokenizer, problems)
    return LintReport(dialect, locate(problems.items, text), length, max_tokens if length else None)


def fix(text: str, dialect: str = "levo") -> str:
    """``text`` rewritten in the dialect's canonical form: every fixable problem fixed, no word changed."""
    d = get_dialect(dialect)
    return d.render(d.parse(text))


def _check_length(text: str, length: TokenCount, max_tokens: int, tokenizer: str | Path | None,
                  problems: Problems) -> None:
    if length.tokens <= max_tokens:
        return
    cut = cut_offset(text, max_tokens, tokenizer)
    cut = len(text) - 1 if cut is None else min(cut, len(text) - 1)
    described = length.describe(max_tokens)
    if length.method == EXACT or length.tokens > max_tokens * (1 + ESTIMATE_MARGIN):
        problems.add("too-long", f"{described}: the model cuts the lyric here", cut, len(text),
                     fix="shorten the lyric (or raise the model's max_len)")
    else:
        problems.add("maybe-too-long", f"{described}: the model may cut the lyric near here", cut, len(text),
                     fix="count with the Qwen2 tokenizer (--tokenizer) or shorten the lyric")


# --- LeVo JSONL prompt files (one {"idx": ..., "gt_lyric": ...} per line) -----------------------------------


def looks_like_jsonl(text: str) -> bool:
    """Whether ``text`` is a JSONL file of prompts (every non-empty line a JSON object with ``gt_lyric``)."""
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows or not rows[0].lstrip().startswith("{"):
        return False
    try:
        return all(isinstance(r := json.loads(line), dict) and LYRIC_FIELD in r for line in rows)
    except json.JSONDecodeError:
        return False


@dataclass
class RecordReport:
    """The lint report of one JSONL record: its line number and ``idx``."""

    line: int
    idx: str
    report: LintReport


def lint_jsonl(text: str, max_tokens: int = LEVO_MAX_TOKENS, tokenizer: str | Path | None = None) -> list[RecordReport]:
    """Lint the ``gt_lyric`` of every record; problem lines are the JSONL line, columns count lyric characters."""
    out = []
    for number, record in _records(text):
        lyric = record[LYRIC_FIELD]
        report = lint(lyric, "levo", max_tokens, tokenizer)
        report.problems = [Problem(p.code, p.message, p.start, p.end, p.fix, number, p.start + 1)
                           for p in report.problems]
        out.append(RecordReport(number, str(record.get("idx", number)), report))
    return out


def fix_jsonl(text: str) -> str:
    """The JSONL with every ``gt_lyric`` fixed; other fields and their order are kept."""
    rows = []
    for _, record in _records(text):
        record[LYRIC_FIELD] = fix(record[LYRIC_FIELD], "levo")
        rows.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(rows) + "\n"


def _records(text: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record.get(LYRIC_FIELD), str):
            raise LyricsError(f"line {number}: {LYRIC_FIELD} is not a string")
        out.append((number, record))
    return out
