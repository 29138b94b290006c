"""``songprep demo``: the bundled default job, from nothing to a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from songprep.cli.common import print_summary, run_options


@click.command()
@click.option("-o", "--out", "out_dir", default="songprep-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where the songs and the dataset go.")
@click.option("-n", "--songs", "n_songs", default=3, show_default=True, help="How many test songs to build.")
@click.option("--form", type=click.Choice(["short", "full"]), default="short", show_default=True)
@click.option("-j", "--jobs", default=1, show_default=True)
@click.option("-q", "--quiet", is_flag=True)
def demo(out_dir: Path, n_songs: int, form: str, jobs: int, quiet: bool) -> None:
    """Build ground-truth test songs and run `songprep prep` on them (the bundled default job)."""
    from songprep.pipelines.demo import run_demo

    result = run_demo(out_dir, n_songs=n_songs, form=form, options=run_options(jobs=jobs, quiet=quiet))
    print_summary(result.summary)
    click.echo(result.table)
