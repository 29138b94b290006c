"""``songprep notes AUDIO... -o OUT``: songs to MIDI files; ``songprep export DATASET ID -o DIR``: a DAW bundle.

``notes`` runs the prep chain's own ``notes`` stage on each file (one way to make a song's notes and
MIDI file), after separating the mix (or taking the stems given) and, with ``--lyrics``, aligning the
lyric so each word is tied to its notes.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from songprep.device import DEVICES

_EXISTING_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
WORKING_RATE = 44100


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
    from songprep import audio as audio_io
    from songprep.config import PrepConfig
    from songprep.errors import UsageError
    from songprep.features import song_features
    from songprep.inputs import SourceFile
    from songprep.stages.base import SongItem, StageContext
    from songprep.stages.notes import ACCOMPANIMENT_NOTES_KEY, NotesStage, resolve_options
    from songprep.structure import assign_word_sections, segment

    if (vocals_path is None) != (accompaniment_path is None):
        raise UsageError("give both --vocals and --accompaniment, or neither (the mix is then separated)")
    if (vocals_path is not None or lyrics_path is not None) and len(audio_paths) > 1:
        raise UsageError("--vocals/--accompaniment/--lyrics belong to one song: give one AUDIO with them")
    names = [p.stem for p in audio_paths]
    if len(set(names)) < len(names):
        raise UsageError("two inputs share a file name; outputs are named after it: run them separately")
    options = resolve_options({"vocal": vocal_notes, "accompaniment": accompaniment_notes})
    stage = NotesStage(PrepConfig(stages=("decode", "separate", "notes"), stage_options={"notes": options}))
    stage.setup(StageContext(out_dir, "cpu"))
    separating = None
    for path, name in zip(audio_paths, names):
        mix = audio_io.decode(path)
        item = SongItem.start(SourceFile(name, path, path.name))
        item.song.duration_s, item.song.sample_rate, item.song.channels = mix.duration_s, mix.sample_rate, mix.channels
        item.audio = audio_io.standardise(mix, WORKING_RATE, 2)  # what prep's stages see
        if vocals_path is not None and accompaniment_path is not None:
            item.stems = {"vocals": audio_io.decode(vocals_path), "accompaniment": audio_io.decode(accompaniment_path)}
        else:
            if separating is None:  # once, for all inputs
                from songprep.device import resolve_device
                from songprep.separation import load_separator

                separating = load_separator(separator, resolve_device(device))
            item.stems = separating.separate(mix)
        song = item.song
        if lyrics_path is not None:
            song.words = _aligned_words(lyrics_path, item.stems["vocals"], language)
        song.sections = segment(song_features(item), words=song.words or None)
        if song.words:
            assign_word_sections(song.words, song.sections)
        stage.process(item)
        accompaniment = item.features.get(ACCOMPANIMENT_NOTES_KEY, [])
        feats = song_features(item)
        _write_json(out_dir / "notes" / f"{name}.json", {
            "source": str(path), "midi": song.midi_path, "beats_s": feats.beats_s.round(4).tolist(),
            "downbeats_s": feats.downbeats_s.round(4).tolist(),
            "sections": [asdict(s) for s in song.sections], "words": [asdict(w) for w in song.words],
            "vocal_notes": [asdict(n) for n in song.vocal_notes],
            "accompaniment_notes": [asdict(n) for n in accompaniment]})
        linked = len({n.word for n in song.vocal_notes if n.word >= 0})
        words = f" ({linked} of {len(song.words)} words on notes)" if song.words else ""
        click.echo(f"{path.name}: {len(song.vocal_notes)} vocal notes{words}, {len(accompaniment)} accompaniment "
                   f"notes, {len(song.sections)} sections -> {out_dir / song.midi_path}")


def _aligned_words(lyrics_path: Path, vocals, language: str) -> list:
    """The lyric's words timed in the vocal stem, or none (with a warning) when the text does not fit it."""
    from songprep.alignment import align_lyrics
    from songprep.lyrics.reference import read_reference_lyrics

    alignment = align_lyrics(read_reference_lyrics(lyrics_path), vocals, language, method="guide")
    if alignment.flagged:
        click.echo(f"songprep: warning: {lyrics_path.name} does not match the vocal ({alignment.reason}); "
                   "notes are written without words", err=True)
        return []
    return alignment.words


def _write_json(path: Path, data: dict) -> None:
    from songprep.writer import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


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
