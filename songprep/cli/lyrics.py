"""``songprep lyrics lint|fix|convert``: lyric markup checked, repaired and converted between dialects.

FILE may be ``-`` for stdin. For LeVo, a JSONL prompt file (one ``{"gt_lyric": ...}`` per line) is
linted or fixed record by record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from songprep.errors import UsageError
from songprep.lyrics.convert import DIALECTS, convert
from songprep.lyrics.lint import LintReport, fix, fix_jsonl, lint, lint_jsonl, looks_like_jsonl
from songprep.lyrics.reference import read_text
from songprep.lyrics.tokens import LEVO_MAX_TOKENS, TOKENIZER_ENV

_DIALECT = click.Choice(list(DIALECTS))


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    if not Path(file).is_file():
        raise UsageError(f"lyrics file not found: {file}")
    return read_text(Path(file))


def _write(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        out.write_text(text, encoding="utf-8")


@click.group()
def lyrics() -> None:
    """Lint, fix and convert lyric markup (levo, songprep, songbloom, yue, lrc)."""


@lyrics.command("lint")
@click.argument("file")
@click.option("--dialect", type=_DIALECT, default="levo", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.option("--max-tokens", default=LEVO_MAX_TOKENS, show_default=True,
              help="LeVo lyric length limit in Qwen2 tokens (the conditioner's max_len).")
@click.option("--tokenizer", type=click.Path(file_okay=False, path_type=Path),
              help=f"Local Qwen2 tokenizer directory for exact counts (default: ${TOKENIZER_ENV}; else estimated).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def lint_command(file: str, dialect: str, as_json: bool, max_tokens: int, tokenizer: Path | None,
                 strict: bool) -> None:
    """Report every problem as LINE:COL CODE MESSAGE (fix: ...); exit 1 if there are errors.

    In a JSONL file LINE is the record's line and COL counts characters of its gt_lyric.
    """
    text = _read(file)
    if dialect == "levo" and looks_like_jsonl(text):
        named = [(f"{r.idx} (line {r.line})", r.report) for r in lint_jsonl(text, max_tokens, tokenizer)]
    else:
        named = [("", lint(text, dialect, max_tokens, tokenizer))]
    reports = [report for _, report in named]
    if as_json:
        click.echo(json.dumps([{"name": name, **report.to_dict()} for name, report in named], ensure_ascii=False,
                              indent=2))
    else:
        for name, report in named:
            _print_report(name, report)
        errors = sum(len(r.errors) for r in reports)
        warnings = sum(len(r.warnings) for r in reports)
        click.echo(f"{errors} error(s), {warnings} warning(s) in {len(reports)} lyric(s)")
    failed = any(r.errors or (strict and r.warnings) for r in reports)
    sys.exit(1 if failed else 0)


def _print_report(name: str, report: LintReport) -> None:
    for problem in report.problems:
        click.echo(problem.format())
    if report.length is not None:
        click.echo(f"{name + ': ' if name else ''}length {report.length.describe(report.max_tokens)}")


@lyrics.command("fix")
@click.argument("file")
@click.option("--dialect", type=_DIALECT, default="levo", show_default=True)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
def fix_command(file: str, dialect: str, out: Path | None) -> None:
    """Print (or write) FILE in canonical form: every fixable problem fixed, no lyric word changed.

    Exits 1 when errors remain that only other words could fix (too long, no lyrics).
    """
    text = _read(file)
    jsonl = dialect == "levo" and looks_like_jsonl(text)
    fixed = fix_jsonl(text) if jsonl else fix(text, dialect)
    _write(fixed, out)
    left = [r.report for r in lint_jsonl(fixed)] if jsonl else [lint(fixed, dialect)]
    remaining = [p for r in left for p in r.errors]
    for problem in remaining:
        click.echo(f"songprep: not fixable: {problem.format()}", err=True)
    sys.exit(1 if remaining else 0)


@lyrics.command("convert")
@click.argument("file")
@click.option("--from", "source", type=_DIALECT, required=True, help="Dialect of FILE.")
@click.option("--to", "target", type=_DIALECT, required=True, help="Dialect to write.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
def convert_command(file: str, source: str, target: str, out: Path | None) -> None:
    """Convert FILE between dialects; words and section order are kept (times where both carry them)."""
    result = convert(_read(file), source, target)
    _write(result.text, out)
    for note in result.notes:
        click.echo(f"songprep: note: {note}", err=True)
