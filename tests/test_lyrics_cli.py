"""``songprep lyrics lint|fix|convert``: output format, exit codes, stdin, JSONL, files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from songprep.cli import cli

EXAMPLES = Path(__file__).parent / "data" / "songgeneration_examples.jsonl"
BROKEN = "[Verse] hello there ; [intro] ; [prechorus] \u82b1\u6735\u3002\u7efd\u653e"
PROBLEM_LINE = re.compile(r"^\d+:\d+ [EW]\d{3} .+ \(fix: .+\)$")


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["lyrics", *args], input=stdin)


def test_lint_prints_line_col_code_message_fix_and_exits_1_on_errors():
    result = run("lint", "-", stdin=BROKEN)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if PROBLEM_LINE.match(line)]
    assert [p.split()[1] for p in problems] == ["E102", "W203", "E103", "E101", "E108"]
    assert problems[0] == "1:1 E102 [Verse] is written differently from [verse] (fix: [verse])"
    assert "tokens (estimated; no Qwen2 tokenizer given)" in result.output
    assert result.output.rstrip().endswith("4 error(s), 1 warning(s) in 1 lyric(s)")


def test_lint_exits_0_on_clean_markup_and_warnings_fail_only_with_strict(tmp_path):
    clean = tmp_path / "clean.txt"
    clean.write_text("[intro-short] ; [verse] hello there.second line. ; [outro-short]\n", encoding="utf-8")
    assert run("lint", str(clean)).exit_code == 0
    warned = tmp_path / "warned.txt"
    warned.write_text("[intro-short]; [verse] hello there ; [outro-short]", encoding="utf-8")
    assert run("lint", str(warned)).exit_code == 0
    assert run("lint", str(warned), "--strict").exit_code == 1


def test_lint_json_and_other_dialects():
    result = run("lint", "-", "--json", stdin=BROKEN)
    assert result.exit_code == 1
    [report] = json.loads(result.output)
    assert report["ok"] is False and report["length"]["method"] == "estimate"
    assert {"code", "name", "severity", "line", "col", "fix", "message"} <= set(report["problems"][0])
    lrc = run("lint", "-", "--dialect", "lrc", stdin="[00:01.00]first\nsecond\n")
    assert lrc.exit_code == 1 and "2:1 E121" in lrc.output


def test_lint_reads_songgeneration_jsonl_record_by_record():
    result = run("lint", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output and "in 15 lyric(s)" in result.output
    assert re.search(r"^12:\d+ W205 ", result.output, re.M)  # record "10" is line 12: ';' inside a chorus
    assert "0_en (line 1): length" in result.output


def test_fix_prints_canonical_markup_or_writes_it(tmp_path):
    result = run("fix", "-", stdin=BROKEN)
    assert result.exit_code == 0
    assert result.output == "[verse] hello there. ; [intro-short] ; [verse] \u82b1\u6735.\u7efd\u653e\n"
    out = tmp_path / "fixed.txt"
    assert run("fix", "-", "-o", str(out), stdin=BROKEN).exit_code == 0
    assert out.read_text(encoding="utf-8") == "[verse] hello there. ; [intro-short] ; [verse] \u82b1\u6735.\u7efd\u653e"
    assert run("lint", str(out)).exit_code == 0


def test_fix_exits_1_when_only_other_words_could_fix_it():
    result = run("fix", "-", stdin="[intro-short] ; [inst-long] ; [outro-short]")
    assert result.exit_code == 0  # no vocal section is only a warning
    long = run("fix", "-", stdin="[verse] " + "word. " * 400)
    assert long.exit_code == 1 and "not fixable" in long.output and "E110" in long.output


def test_fix_jsonl_keeps_the_other_fields(tmp_path):
    out = tmp_path / "fixed.jsonl"
    assert run("fix", str(EXAMPLES), "-o", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 15 and all(set(r) == {"idx", "gt_lyric", "source"} for r in rows)
    assert rows[0]["gt_lyric"].startswith("[intro-short] ; [verse] These faded memories of us.I can't erase")
    assert run("lint", str(out), "--strict").exit_code in (0, 1)  # only W215 (estimated length) may remain


def test_convert_between_dialects_with_notes_on_stderr(tmp_path):
    levo = "[intro-short] ; [verse] hello there.second line. ; [chorus] la la. ; [outro-short]"
    yue = run("convert", "-", "--from", "levo", "--to", "yue", stdin=levo)
    assert yue.exit_code == 0
    assert yue.output.startswith("[intro]\n\n[verse]\nhello there\nsecond line\n\n[chorus]\nla la\n")
    back = run("convert", "-", "--from", "yue", "--to", "levo", stdin=yue.output)
    assert back.output.strip() == levo
    out = tmp_path / "song.lrc"
    lrc = CliRunner().invoke(cli, ["lyrics", "convert", "-", "--from", "levo", "--to", "lrc", "-o", str(out)],
                             input=levo)
    assert lrc.exit_code == 0 and "estimated" in lrc.output
    assert re.search(r"^\[\d\d:\d\d\.\d\d\]hello there$", out.read_text(encoding="utf-8"), re.M)


def test_bad_arguments_are_usage_errors():
    assert run("convert", "-", "--from", "levo", "--to", "suno", stdin="x").exit_code == 2
    missing = run("lint", "-", "--tokenizer", "/nonexistent/qwen2", stdin="[verse] la.")
    assert missing.exit_code == 2 and "tokenizer directory not found" in missing.output
    nofile = run("lint", "/nonexistent/lyrics.txt")
    assert nofile.exit_code == 2 and "lyrics file not found" in nofile.output


def test_help_lists_lyrics():
    assert "lyrics" in CliRunner().invoke(cli, ["--help"]).output
