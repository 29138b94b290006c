"""``songprep structure AUDIO``: print a song's labelled sections."""

from __future__ import annotations

import json
from pathlib import Path

import click

from songprep.records import Word


def read_words(path: Path) -> list[Word]:
    """Timed words from JSON: a list of ``{"word", "start_s", "end_s"}`` objects, or ``{"words": [...]}``
    (a song record's ``words`` column has this shape); ``start``/``end`` are accepted for the times.
    """
    from songprep.errors import UsageError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["words"] if isinstance(data, dict) else data
        return [Word(str(r["word"]), float(r.get("start_s", r.get("start"))), float(r.get("end_s", r.get("end"))))
                for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UsageError(f"cannot read words from {path.name}: {err}") from err


@click.command()
@click.argument("audio_path", metavar="AUDIO", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--vocals", "vocals_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The song's vocal stem: singing tells verses and choruses from intro, inst and outro.")
@click.option("--words", "words_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Timed words (JSON list of {word, start_s, end_s}): lyric repetition marks the chorus.")
@click.option("--json", "as_json", is_flag=True, help="Print {\"sections\": [{label, start, end, tag}, ...]}.")
def structure(audio_path: Path, vocals_path: Path | None, words_path: Path | None, as_json: bool) -> None:
    """Cut AUDIO into labelled sections (intro, verse, chorus, bridge, inst, outro, silence)."""
    from songprep.audio import decode
    from songprep.features import song_features
    from songprep.structure import segment

    feats = song_features(decode(audio_path), vocals=decode(vocals_path) if vocals_path else None)
    sections = segment(feats, words=read_words(words_path) if words_path else None)
    if as_json:
        rows = [{"label": s.label, "start": s.start_s, "end": s.end_s, "tag": s.tag} for s in sections]
        click.echo(json.dumps({"sections": rows}, indent=1))
        return
    for s in sections:
        click.echo(f"{s.start_s:8.2f} {s.end_s:8.2f}  {s.tag}")
