"""Run every benchmark in bench/ one after another and collect their tables in bench/RESULTS.md.

    .venv/bin/python bench/run_all.py [NAME ...]      # e.g. structure separation; default: all

Serially on purpose: timings from benchmarks sharing the cores would mean nothing.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    sections = [f"# Benchmark results\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        took = time.perf_counter() - started
        print(proc.stdout, flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stderr[-3000:], file=sys.stderr)
        sections.append(f"## {script.stem}\n\n`{script.name}` ({took:.0f} s, exit {proc.returncode})\n\n"
                        f"```\n{proc.stdout.strip()}\n```\n")
    out = HERE / "RESULTS.md" if not argv else HERE / f"RESULTS-{'-'.join(argv)}.md"
    out.write_text("\n".join(sections))
    print(f"wrote {out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
