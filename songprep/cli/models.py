"""``songprep models``: which weights are on this machine, and fetching them."""

from __future__ import annotations

import json

import click


@click.group()
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
