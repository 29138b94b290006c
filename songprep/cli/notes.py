"""``songprep notes AUDIO... -o OUT``: songs to MIDI files; ``songprep export DATASET ID -o DIR``: a DAW bundle.

``notes`` parses options and runs :class:`songprep.pipelines.notes.NotesJob` on each file.
"""

from __future__ import annotations

from pathlib import Path

import click

from songprep.device import DEVICES

_EXISTING_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command("notes")
@click.argument("audio_paths", metavar="AUDIO...", nargs=-1, required=True, type=_EXISTING_FILE)
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: OUT/midi/NAME.mid and OUT/notes/NAME.json per input.")
@click.option("--vocals", "vocals_path", type=_EXISTING_FILE, help="The song's vocal stem (one AUDIO only; "
              "skips separation, with --accompaniment).")
@click.option("--accompaniment", "accompaniment_path", type=_EXISTING_FILE, help="The song's accompaniment stem.")
@click.option("--lyrics", "lyrics_path", type=_EXISTING_FILE,
              help="Reference lyrics (text, LRC or LeVo; one AUDIO only): aligned so each word gets its notes.")
@click.option("--language", default="en", show_default=True, help="Language of --lyrics (ISO 639-1).")
@click.option("--separator", default="auto", show_default=True, help="Separator for a mix (as in prep).")
@click.option("--vocal-notes", default="pyin", show_default=True, help="Vocal melody backend.")
@click.option("--accompaniment-notes", default="basic-pitch", show_default=True,
              help="Accompaniment backend (basic-pitch, or none).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
def notes(audio_paths: tuple[Path, ...], out_dir: Path, vocals_path: Path | None, accompaniment_path: Path | None,
          lyrics_path: Path | None, language: str, separator: str, vocal_notes: str, accompaniment_notes: str,
          device: str) -> None:
    """Transcribe each song's sung melody and accompaniment into a MIDI file with its beats and sections."""
    from songprep.errors import UsageError
    from songprep.pipelines.notes import NotesJob

    if (vocals_path is None) != (accompaniment_path is None):
        raise UsageError("give both --vocals and --accompaniment, or neither (the mix is then separated)")
    if (vocals_path is not None or lyrics_path is not None) and len(audio_paths) > 1:
        raise UsageError("--vocals/--accompaniment/--lyrics belong to one song: give one AUDIO with them")
    names = [p.stem for p in audio_paths]
    if len(set(names)) < len(names):
        raise UsageError("two inputs share a file name; outputs are named after it: run them separately")
    job = NotesJob(out_dir, vocal=vocal_notes, accompaniment=accompaniment_notes, separator=separator, device=device)
    stems = (vocals_path, accompaniment_path) if vocals_path is not None and accompaniment_path is not None else None
    for path, name in zip(audio_paths, names):
        result = job.run(path, name, stems, lyrics_path, language)
        if result.lyrics_mismatch is not None and lyrics_path is not None:
            click.echo(f"songprep: warning: {lyrics_path.name} does not match the vocal ({result.lyrics_mismatch}); "
                       "notes are written without words", err=True)
        song = result.song
        linked = len({n.word for n in song.vocal_notes if n.word >= 0})
        words = f" ({linked} of {len(song.words)} words on notes)" if song.words else ""
        click.echo(f"{path.name}: {len(song.vocal_notes)} vocal notes{words}, {len(result.accompaniment_notes)} "
                   f"accompaniment notes, {len(song.sections)} sections -> {out_dir / song.midi_path}")


@click.command("export")
@click.argument("dataset_dir", metavar="DATASET", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("song_id", metavar="ID")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Bundle directory (created).")
@click.option("--source", "source_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The corpus directory given to `songprep prep` (where the song's mix is), if not the current one.")
def export(dataset_dir: Path, song_id: str, out_dir: Path, source_dir: Path | None) -> None:
    """Write song ID of DATASET as a DAW bundle: 48 kHz 24-bit stems and mix aligned at 0, MIDI, markers, lyric."""
    from songprep.daw.export import export_bundle

    result = export_bundle(dataset_dir, song_id, out_dir, source_dir)
    names = ", ".join(p.name for p in result.files)
    click.echo(f"{song_id}: {names} -> {result.out_dir} ({result.frames / result.sample_rate:.2f} s at "
               f"{result.sample_rate} Hz)")
    for warning in result.warnings:
        click.echo(f"  note: {warning}")
