"""A DAW bundle for one prepared song: stems, mix, MIDI, section markers and lyric, ready to drag in.

Every audio file is a 48 kHz 24-bit WAV of exactly the song's length, starting at the song's first
sample, so dropped at 0:00 on a DAW's timeline the stems line up with the mix and with the MIDI file
(whose tempo map follows the song's beats, see :mod:`songprep.daw.midi`). The mix is the source file
the dataset was made from (checked against the row's ``content_sha256``); the dataset does not copy
sources, so the caller says where they are when they have moved.

Bundle layout::

    DIR/mix.wav  DIR/vocals.wav  DIR/accompaniment.wav   48 kHz, 24-bit, equal length, aligned at sample 0
    DIR/notes.mid                                        vocals (+ lyrics), accompaniment, section markers
    DIR/markers.csv                                      section (LeVo tag), start_s, end_s
    DIR/lyrics.txt                                       the LeVo lyric (or the plain lyrics)
    DIR/README.txt                                       what is here and where it came from
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

from songprep import audio as audio_io
from songprep.audio import Audio
from songprep.errors import UsageError
from songprep.records import Song, table_to_songs
from songprep.writer import MANIFEST, dataset_shards

#: What DAWs open by default and video post expects.
BUNDLE_RATE = 48000
BUNDLE_SUBTYPE = "PCM_24"
STEM_FILES = {"vocals": "vocals.wav", "accompaniment": "accompaniment.wav"}
MIX_FILE, MIDI_FILE, MARKERS_FILE, LYRICS_FILE, README_FILE = (
    "mix.wav", "notes.mid", "markers.csv", "lyrics.txt", "README.txt")
_LIST_IDS = "python -c \"import pandas; print('\\n'.join(pandas.read_parquet('{songs}', columns=['id']).id))\""


@dataclass
class ExportResult:
    """Where the bundle went, what is in it, and whether its MIDI file was made here (no ``notes`` stage row)."""

    out_dir: Path
    files: list[Path]
    frames: int
    sample_rate: int = BUNDLE_RATE
    midi_created: bool = False
    warnings: list[str] = field(default_factory=list)  # what the bundle lacks and why, one line each


def read_song(dataset_dir: str | Path, song_id: str) -> Song:
    """One row of a dataset by id; an unknown id says which ids are close and how to list them all."""
    shards = dataset_shards(dataset_dir)
    songs_dir = shards[0].parent
    dataset = ds.dataset(shards, format="parquet")
    table = dataset.to_table(filter=ds.field("id") == song_id)
    if table.num_rows == 0:
        ids = dataset.to_table(columns=["id"]).column("id").to_pylist()
        close = difflib.get_close_matches(song_id, ids, n=3, cutoff=0.5)
        hint = f" did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no song {song_id!r} in {dataset_dir} ({len(ids)} songs);{hint} list the ids with: "
                         + _LIST_IDS.format(songs=songs_dir))
    return table_to_songs(table)[0]


def recorded_input_dir(dataset_dir: Path) -> Path | None:
    """The ``IN_DIR`` that ``songprep prep`` read, as its manifest records it (None for older datasets)."""
    try:
        value = json.loads((dataset_dir / MANIFEST).read_text(encoding="utf-8")).get("input_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(value) if isinstance(value, str) and value else None


def find_source(song: Song, dataset_dir: Path, source_dir: str | Path | None) -> Path:
    """The song's source file: under ``source_dir``, else under the input directory the manifest records
    (the one given to ``prep``), else as recorded."""
    candidates = [Path(source_dir) / song.source_path] if source_dir is not None else []
    recorded = recorded_input_dir(dataset_dir)
    if recorded is not None:
        candidates.append(recorded / song.source_path)
    candidates += [Path(song.source_path), dataset_dir / song.source_path]
    for path in candidates:
        if path.is_file():
            if song.content_sha256:
                from songprep.stages.decode import file_sha256

                if file_sha256(path) != song.content_sha256:
                    raise UsageError(f"{path} is not the file {song.id} was made from (its sha256 differs); "
                                     "pass the corpus directory given to `songprep prep` (--source DIR)")
            return path
    raise UsageError(f"source file {song.source_path!r} of {song.id} not found; pass the corpus directory "
                     "given to `songprep prep` (--source DIR)")


def fit(audio: Audio, frames: int) -> Audio:
    """At the bundle rate and exactly ``frames`` long (resampling may add or drop a sample at the end)."""
    x = audio_io.resample(audio, BUNDLE_RATE).samples
    x = np.pad(x, ((0, 0), (0, max(0, frames - x.shape[1]))))[:, :frames]
    return Audio(np.ascontiguousarray(x), BUNDLE_RATE)


def markers_csv(song: Song) -> str:
    """``section,start_s,end_s`` per section; times as Python writes floats, so they read back exactly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["section", "start_s", "end_s"])
    writer.writerows([s.tag, repr(s.start_s), repr(s.end_s)] for s in song.sections)
    return buf.getvalue()


def export_bundle(dataset_dir: str | Path, song_id: str, out_dir: str | Path,
                  source_dir: str | Path | None = None) -> ExportResult:
    """Write the DAW bundle of ``song_id`` into ``out_dir`` (created; files already there are replaced)."""
    dataset = Path(dataset_dir)
    song = read_song(dataset, song_id)
    if not song.vocals_path or not song.accompaniment_path:
        raise UsageError(f"{song_id} has no stems: prepare the dataset with the separate stage to export it")
    stems = {"vocals": dataset / song.vocals_path, "accompaniment": dataset / song.accompaniment_path}
    for path in stems.values():
        if not path.is_file():
            raise UsageError(f"stem {path} of {song_id} is missing")
    source = find_source(song, dataset, source_dir)  # everything is checked before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = round(song.duration_s * BUNDLE_RATE)
    mix = audio_io.decode(source)
    audio_io.write_audio(out / MIX_FILE, fit(audio_io.to_channels(mix, min(mix.channels, 2)), frames),
                         BUNDLE_SUBTYPE)
    files = [out / MIX_FILE]
    for stem, path in stems.items():
        files.append(audio_io.write_audio(out / STEM_FILES[stem], fit(audio_io.decode(path), frames), BUNDLE_SUBTYPE))
    result = ExportResult(out, files, frames)
    files.append(_write_midi(song, dataset, mix, out / MIDI_FILE, result))
    (out / MARKERS_FILE).write_text(markers_csv(song), encoding="utf-8")
    files.append(out / MARKERS_FILE)
    lyric = song.levo_lyric or song.lyrics
    if lyric:
        (out / LYRICS_FILE).write_text(lyric.rstrip("\n") + "\n", encoding="utf-8")
        files.append(out / LYRICS_FILE)
    else:
        result.warnings.append("no lyrics: the song has neither reference lyrics nor a transcript")
    (out / README_FILE).write_text(_readme(song, result), encoding="utf-8")
    files.append(out / README_FILE)
    return result


def _write_midi(song: Song, dataset: Path, mix: Audio, path: Path, result: ExportResult) -> Path:
    """Copy the notes stage's MIDI file; without one, build it from the row (sections, any vocal notes, beats)."""
    if song.midi_path and (dataset / song.midi_path).is_file():
        shutil.copyfile(dataset / song.midi_path, path)
        return path
    from songprep.daw.midi import BeatGrid, song_midi, write_midi
    from songprep.features import song_features

    result.midi_created = True
    result.warnings.append("no notes stage ran: notes.mid holds the tempo map, section markers and any vocal notes "
                        "of the row; run `songprep prep --notes` for vocal and accompaniment notes")
    return write_midi(path, song_midi(song, BeatGrid.from_features(song_features(mix))))


def _readme(song: Song, result: ExportResult) -> str:
    seconds = result.frames / result.sample_rate
    lines = [
        f"songprep DAW bundle: {song.id} (from {song.source_path})",
        "",
        f"Audio: {MIX_FILE}, {STEM_FILES['vocals']}, {STEM_FILES['accompaniment']}: {result.sample_rate} Hz, 24-bit "
        f"WAV, {result.frames} samples ({seconds:.3f} s) each.",
        "All start at the song's first sample: place every file at 0:00 and they line up.",
        f"MIDI: {MIDI_FILE} (place at 0:00): a 'vocals' track with a lyric event on each word's first note and,",
        "when it was transcribed, an 'accompaniment' track; its tempo map follows the song's detected beats,",
        "so the DAW's bars and beats are the song's.",
        f"Sections: {MARKERS_FILE} (LeVo tags, seconds) and as markers in {MIDI_FILE}.",
    ]
    if (result.out_dir / LYRICS_FILE).is_file():
        lines.append(f"Lyrics: {LYRICS_FILE} ({'LeVo markup' if song.levo_lyric else 'plain text'}).")
    lines += [f"Note: {warning}" for warning in result.warnings]
    if song.provenance is not None:
        stages = ", ".join(f"{s.stage}" + (f" ({s.model})" if s.model else "") for s in song.provenance.stages)
        lines += ["", f"Made by songprep {song.provenance.songprep_version} "
                      f"(config {song.provenance.config_hash}): {stages}."]
    return "\n".join(lines) + "\n"
