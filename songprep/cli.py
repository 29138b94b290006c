"""The ``songprep`` command line: parses options, calls library functions, maps errors to exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from songprep import __version__
from songprep.config import DEFAULT_STAGES, PrepConfig
from songprep.device import DEVICES
from songprep.errors import SongprepError


class SongprepGroup(click.Group):
    """Turns every :class:`SongprepError` into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SongprepError as err:
            click.echo(f"songprep: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except ValueError as err:  # bad option values caught by the config's own checks
            click.echo(f"songprep: error: {err}", err=True)
            ctx.exit(2)


@click.group(cls=SongprepGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="songprep")
def cli() -> None:
    """songprep: turn raw songs into training corpora, score song models, generate songs."""


def _print_summary(summary) -> None:
    rate = f", {summary.realtime_factor:.1f}x realtime" if summary.audio_seconds else ""
    click.echo(
        f"{summary.written} written, {summary.rejected} rejected, {summary.skipped} already done "
        f"(of {summary.found} found) -> {summary.out_dir} in {summary.seconds:.1f} s{rate}"
    )
    for path, reason in sorted(summary.reject_reasons.items()):
        click.echo(f"  rejected {path}: {reason}")


def run_options(jobs: int, device: str, batch_size: int, rows_per_shard: int, overwrite: bool,
                retry_rejects: bool, quiet: bool):
    from songprep.runner import RunOptions

    return RunOptions(jobs=jobs, device=device, batch_size=batch_size, rows_per_shard=rows_per_shard,
                      overwrite=overwrite, retry_rejects=retry_rejects, progress=not quiet and sys.stderr.isatty())


@cli.command()
@click.argument("in_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset directory (created; rerunning resumes).")
@click.option("--lyrics", "lyrics_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of reference lyrics (NAME.txt / NAME.lrc); default: beside each audio file.")
@click.option("--language", help="Force the language (ISO 639-1, e.g. en, zh, es) instead of detecting it.")
@click.option("--stages", default=",".join(DEFAULT_STAGES), show_default=True,
              help="Comma-separated stage chain.")
@click.option("--sample-rate", default=44100, show_default=True, help="Working sample rate of the stages.")
@click.option("--mono", is_flag=True, help="Work in mono (default: stereo).")
@click.option("--max-duration", default=1800.0, show_default=True, help="Reject files longer than this (s).")
@click.option("--min-duration", default=1.0, show_default=True, help="Reject files shorter than this (s).")
@click.option("-j", "--jobs", default=1, show_default=True, help="Worker processes.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--batch-size", default=1, show_default=True, help="Songs per stage call.")
@click.option("--rows-per-shard", default=256, show_default=True, help="Rows per Parquet shard.")
@click.option("--overwrite", is_flag=True, help="Delete a dataset already in OUT and start again.")
@click.option("--retry-rejects", is_flag=True, help="Try the songs an earlier run rejected again.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def prep(in_dir: Path, out_dir: Path, lyrics_dir: Path | None, language: str | None, stages: str,
         sample_rate: int, mono: bool, max_duration: float, min_duration: float, jobs: int, device: str,
         batch_size: int, rows_per_shard: int, overwrite: bool, retry_rejects: bool, quiet: bool) -> None:
    """Prepare a corpus: every audio file under IN_DIR becomes a row in OUT/songs or OUT/rejects."""
    from songprep.runner import prepare_corpus

    config = PrepConfig(
        stages=tuple(s.strip() for s in stages.split(",") if s.strip()),
        sample_rate=sample_rate,
        channels=1 if mono else 2,
        min_duration_s=min_duration,
        max_duration_s=max_duration,
        language=language,
        lyrics_dir=str(lyrics_dir.resolve()) if lyrics_dir else None,
    )
    options = run_options(jobs, device, batch_size, rows_per_shard, overwrite, retry_rejects, quiet)
    _print_summary(prepare_corpus(in_dir, out_dir, config, options))


@cli.group()
def models() -> None:
    """Model weights: what is on this machine, and fetching them."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_list(as_json: bool) -> None:
    """Every known model and whether its weights are available locally."""
    from songprep.models import list_models

    statuses = list_models()
    if as_json:
        rows = [{"name": s.name, "available": s.available, "path": str(s.path) if s.path else None,
                 "licence": s.licence} for s in statuses]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(s.name) for s in statuses)
    for s in statuses:
        where = str(s.path) if s.path else "missing"
        click.echo(f"{s.name:<{width}}  {'yes' if s.available else 'no ':<3}  {s.licence:<6}  {where}")


@models.command("fetch")
@click.argument("name")
def models_fetch(name: str) -> None:
    """Download NAME into its library's cache (needs internet; refused with SONGPREP_OFFLINE=1)."""
    from songprep.errors import ModelNotFoundError
    from songprep.models import load, locate, offline

    if offline():
        raise ModelNotFoundError(f"{name}: offline mode is on (SONGPREP_OFFLINE / HF_HUB_OFFLINE); unset it to fetch")
    load(name, device="cpu")
    click.echo(f"{name}: {locate(name)}")


@cli.command()
@click.option("-o", "--out", "out_dir", default="songprep-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where the songs and the dataset go.")
@click.option("-n", "--songs", "n_songs", default=3, show_default=True, help="How many test songs to build.")
@click.option("--form", type=click.Choice(["short", "full"]), default="short", show_default=True)
@click.option("-j", "--jobs", default=1, show_default=True)
@click.option("-q", "--quiet", is_flag=True)
def demo(out_dir: Path, n_songs: int, form: str, jobs: int, quiet: bool) -> None:
    """Build ground-truth test songs and run `songprep prep` on them (the bundled default job)."""
    from songprep.pipelines.demo import run_demo

    result = run_demo(out_dir, n_songs=n_songs, form=form, options=run_options(jobs, "auto", 1, 256, False, False,
                                                                               quiet))
    _print_summary(result.summary)
    click.echo(result.table)


def main() -> None:
    cli(prog_name="songprep")


if __name__ == "__main__":
    main()
