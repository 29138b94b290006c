"""Pieces several commands share: run options from flags, the run summary printout."""

from __future__ import annotations

import sys

import click

from songprep.errors import InternalFailures
from songprep.runner import RunOptions, RunSummary


def run_options(jobs: int = 0, device: str = "auto", batch_size: int = 1, rows_per_shard: int = 256,
                overwrite: bool = False, retry_rejects: bool = False, quiet: bool = False) -> RunOptions:
    return RunOptions(jobs=jobs, device=device, batch_size=batch_size, rows_per_shard=rows_per_shard,
                      overwrite=overwrite, retry_rejects=retry_rejects, progress=not quiet and sys.stderr.isatty())


def print_summary(summary: RunSummary) -> None:
    rate = f", {summary.realtime_factor:.1f}x realtime" if summary.audio_seconds else ""
    failed = f", {len(summary.internal_errors)} failed inside songprep" if summary.internal_errors else ""
    click.echo(
        f"{summary.written} written, {summary.rejected} rejected{failed}, {summary.skipped} already done "
        f"(of {summary.found} found) -> {summary.out_dir} in {summary.seconds:.1f} s{rate}"
    )
    if summary.stage_seconds:
        busy = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.stage_seconds.items())
        click.echo(f"  time in stages (summed over workers): {busy}")
    for path, reason in sorted(summary.reject_reasons.items()):
        click.echo(f"  rejected {path}: {reason}")
    for path, reason in sorted(summary.internal_errors.items()):
        click.echo(f"songprep: internal error on {path} in {reason}", err=True)
    if summary.internal_errors:
        raise InternalFailures(f"{len(summary.internal_errors)} song(s) failed inside songprep (a bug, out of "
                               f"memory or a missing model), not because of their input; tracebacks in "
                               f"{summary.error_log}; rerun the same command to retry them")
