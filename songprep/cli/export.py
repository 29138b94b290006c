"""``songprep export``: ``export DATASET ID -o DIR`` (a DAW bundle) and ``export levo DATASET -o DIR`` (LeVo's layout).

``export`` was one command before LeVo's layout came; a first argument that is not a subcommand's name still
means the DAW bundle, so ``songprep export DATASET ID`` keeps working.
"""

from __future__ import annotations

from pathlib import Path

import click

from songprep.cli.notes import export as daw_export


class _ExportGroup(click.Group):
    """Subcommands by name; anything else is the DAW bundle's DATASET argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["daw", *args]
        return super().parse_args(ctx, args)


@click.group("export", cls=_ExportGroup)
def export_group() -> None:
    """Export a dataset: `export DATASET ID -o DIR` (a DAW bundle of one song) or `export levo DATASET -o DIR`."""


export_group.add_command(daw_export, "daw")


@export_group.command("levo")
@click.argument("dataset_dir", metavar="DATASET", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Export folder (created): train.jsonl, prompts/, rejects.jsonl, export.json.")
@click.option("--validation", default=0.0, show_default=True, type=click.FloatRange(0.0, 0.99),
              help="Share of songs (by a stable hash of the id) written to validation.jsonl instead.")
@click.option("--min-lyrics-confidence", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Leave out songs whose lyrics_confidence is below this (or unknown, when set).")
@click.option("--min-duration", default=0.0, show_default=True, help="Leave out songs shorter than this (s).")
@click.option("--max-duration", default=float("inf"), help="Leave out songs longer than this (s).")
@click.option("--language", "languages", default="", help="Comma-separated languages to keep (default: all).")
def levo(dataset_dir: Path, out_dir: Path, validation: float, min_lyrics_confidence: float, min_duration: float,
         max_duration: float, languages: str) -> None:
    """Write DATASET in SongGeneration's layout: JSONL prompts with 10 s 48 kHz prompt clips and stems beside."""
    from songprep.levo_export import LevoExportOptions, export_levo

    options = LevoExportOptions(min_lyrics_confidence=min_lyrics_confidence, min_duration_s=min_duration,
                                max_duration_s=max_duration,
                                languages=tuple(x.strip() for x in languages.split(",") if x.strip()),
                                validation=validation)
    result = export_levo(dataset_dir, out_dir, options)
    rows = ", ".join(f"{n} {split}" for split, n in result.rows.items())
    missing = f", {result.without_descriptions} without descriptions (prep --describe)" \
        if result.without_descriptions else ""
    click.echo(f"{rows}, {len(result.rejects)} left out{missing} -> {out_dir}")
    for idx, reason in sorted(result.rejects.items()):
        click.echo(f"  left out {idx}: {reason}")
