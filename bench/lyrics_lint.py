"""Benchmark: ``lint`` + ``fix`` of a ~300-token LeVo lyric, beside a naive regex/str.split check.

The lyric is a real SongGeneration prompt (tests/data/songgeneration_examples.jsonl, record 4_en)
with slips planted ([Verse], [intro], a [prechorus], full-width punctuation, a missing separator),
so both passes do real work. The baseline is what a minimal validator does in one regex and a
few str.split calls: find the tags, check them against the vocabulary, split sections and
sentences. Target: lint + fix under 5 ms. Run: ``python bench/lyrics_lint.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from songprep.lyrics.lint import fix, lint
from songprep.lyrics.tags import LEVO_TAGS
from songprep.lyrics.tokens import estimate_tokens

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "songgeneration_examples.jsonl"
_TAGS = re.compile(r"\[([^\]]*)\]")
_VOCAB = frozenset(LEVO_TAGS)


def messy_lyric() -> str:
    record = next(json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()
                  if json.loads(line)["idx"] == "4_en")
    text = record["gt_lyric"]
    text = text.replace("[intro-short]", "[intro]", 1).replace("[verse]", "[Verse]", 1)
    text = text.replace("; [chorus] You. so charming", "[prechorus] You. so charming", 1)
    text = text.replace("far away. choosing", "far away，choosing", 1).replace("oh oh oh.", "oh oh oh。", 1)
    return text


def baseline_check(text: str) -> list[str]:
    """A naive validator: unknown tags, and sections or sentences that are empty. No positions, no fixes."""
    problems = [f"unknown tag [{t}]" for t in _TAGS.findall(text) if t not in _VOCAB]
    for block in text.split(";"):
        body = _TAGS.sub("", block).strip()
        problems += ["empty sentence" for s in body.split(".")[:-1] if not s.strip()]
    return problems


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Mean and median milliseconds of ``fn`` over ``runs`` calls (after a few warm-up calls)."""
    for _ in range(min(20, runs)):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.fmean(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    text = messy_lyric()
    report = lint(text)
    rows = [
        ("baseline: regex + str.split check", lambda: baseline_check(text)),
        ("lint (problems, positions, length)", lambda: lint(text)),
        ("fix (parse + render)", lambda: fix(text)),
        ("lint + fix", lambda: (lint(text), fix(text))),
    ]
    results = [(name, *measure(fn, args.runs)) for name, fn in rows]
    base = results[0][1]
    print(f"lyric: {len(text)} chars, ~{estimate_tokens(text)} Qwen2 tokens (estimated), "
          f"{len(report.errors)} errors + {len(report.warnings)} warnings found; {args.runs} runs each")
    print(f"{'what':<38} {'mean ms':>9} {'median ms':>10} {'x baseline':>11}")
    for name, mean, median in results:
        print(f"{name:<38} {mean:>9.3f} {median:>10.3f} {mean / base:>11.1f}")
    total = results[-1][1]
    print(f"target lint + fix < 5 ms: {'met' if total < 5 else 'NOT met'} ({total:.2f} ms)")


if __name__ == "__main__":
    main()
