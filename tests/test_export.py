"""DAW bundle export: files, 48 kHz 24-bit, equal lengths, sample alignment, markers, lyric, MIDI, CLI, errors.

The dataset is written by the real writer from a ground-truth song whose stems sum exactly to its mix,
so the exported stems must still sum to the exported mix: any offset or length slip would show.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from songprep.cli import cli
from songprep.config import PrepConfig
from songprep.daw.export import BUNDLE_RATE, export_bundle
from songprep.daw.midi import BeatGrid, read_midi, song_midi, write_midi
from songprep.inputs import song_id
from songprep.records import Note, Song
from songprep.stages.decode import file_sha256
from songprep.testing.corpus import load_corpus
from songprep.writer import DatasetWriter


def make_dataset(truth_corpus: Path, out: Path, with_midi: bool) -> tuple[Song, Path]:
    """A one-song dataset from the English truth song: its truth stems, sections, words, LeVo lyric."""
    truth = next(s for s in load_corpus(truth_corpus) if s.language == "en")
    rel = Path(truth.paths.mix).relative_to("songs").as_posix()
    sid = song_id(rel)
    for stem, src in (("vocals", truth.paths.vocals), ("accompaniment", truth.paths.accompaniment)):
        (out / "stems" / sid).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(truth_corpus / src, out / "stems" / sid / f"{stem}.flac")
    info = sf.info(truth_corpus / truth.paths.mix)
    song = Song(id=sid, source_path=rel, duration_s=info.frames / info.samplerate, sample_rate=info.samplerate,
                channels=info.channels, content_sha256=file_sha256(truth_corpus / truth.paths.mix), language="en",
                lyrics=truth.lyrics, levo_lyric=truth.levo_lyric, sections=truth.sections, words=truth.words,
                vocals_path=f"stems/{sid}/vocals.flac", accompaniment_path=f"stems/{sid}/accompaniment.flac")
    if with_midi:
        song.vocal_notes = [Note(m.start_s, m.end_s, m.pitch, 90, word=i) for i, m in enumerate(truth.melody)]
        song.midi_path = f"midi/{sid}.mid"
        write_midi(out / song.midi_path, song_midi(song, BeatGrid(tuple(truth.beats_s), tuple(truth.downbeats_s))))
    writer = DatasetWriter(out, PrepConfig(stages=("decode", "lyrics")))
    writer.add(song)
    writer.close()
    return song, truth_corpus / "songs"


def read_wav(path: Path) -> np.ndarray:
    info = sf.info(path)
    assert (info.format, info.subtype, info.samplerate) == ("WAV", "PCM_24", BUNDLE_RATE)
    return sf.read(path, dtype="float64", always_2d=True)[0]


def test_bundle_is_aligned_48k_24bit_with_markers_lyric_and_the_rows_midi(truth_corpus, tmp_path):
    song, sources = make_dataset(truth_corpus, tmp_path / "ds", with_midi=True)
    result = export_bundle(tmp_path / "ds", song.id, tmp_path / "bundle", source_dir=sources)
    names = sorted(p.name for p in result.files)
    assert names == ["README.txt", "accompaniment.wav", "lyrics.txt", "markers.csv", "mix.wav", "notes.mid",
                     "vocals.wav"]
    assert all(p.is_file() for p in result.files) and not result.midi_created
    mix, vocals, acc = (read_wav(tmp_path / "bundle" / f) for f in ("mix.wav", "vocals.wav", "accompaniment.wav"))
    frames = round(song.duration_s * BUNDLE_RATE)
    assert mix.shape[0] == vocals.shape[0] == acc.shape[0] == frames == result.frames
    # The truth's stems sum to its mix; resampling is linear, so the bundle's must too (24-bit grid aside).
    residual = np.abs(vocals + acc - mix).max()
    assert residual < 1e-5
    shifted = np.abs(vocals[1:] + acc[1:] - mix[:-1]).max()  # one sample off is clearly wrong
    assert shifted > 50 * residual
    with (tmp_path / "bundle" / "markers.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["section"], float(r["start_s"]), float(r["end_s"])) for r in rows] == [
        (s.tag, s.start_s, s.end_s) for s in song.sections]
    assert (tmp_path / "bundle" / "lyrics.txt").read_text(encoding="utf-8") == song.levo_lyric.rstrip("\n") + "\n"
    assert (tmp_path / "bundle" / "notes.mid").read_bytes() == (tmp_path / "ds" / song.midi_path).read_bytes()
    assert "place every file at 0:00" in (tmp_path / "bundle" / "README.txt").read_text(encoding="utf-8")


def test_without_a_notes_stage_the_bundle_midi_is_made_from_the_row(truth_corpus, tmp_path):
    song, sources = make_dataset(truth_corpus, tmp_path / "ds", with_midi=False)
    result = export_bundle(tmp_path / "ds", song.id, tmp_path / "bundle", source_dir=sources)
    assert result.midi_created and any("--notes" in warning for warning in result.warnings)
    midi = read_midi(tmp_path / "bundle" / "notes.mid")
    assert [m.text for m in midi.markers] == [s.tag for s in song.sections]
    assert all(abs(m.time_s - s.start_s) < 1e-3 for m, s in zip(midi.markers, song.sections))
    assert midi.tempo_changes()  # a tempo map from the beats detected in the mix


def test_cli_export_and_its_one_line_errors(truth_corpus, tmp_path):
    song, sources = make_dataset(truth_corpus, tmp_path / "ds", with_midi=True)
    runner = CliRunner()
    ok = runner.invoke(cli, ["export", str(tmp_path / "ds"), song.id, "-o", str(tmp_path / "b"),
                             "--source", str(sources)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"{song.id}: mix.wav, vocals.wav, accompaniment.wav, notes.mid")
    unknown = runner.invoke(cli, ["export", str(tmp_path / "ds"), song.id[:-1] + "x", "-o", str(tmp_path / "c")])
    assert unknown.exit_code == 2 and unknown.output.count("\n") == 1
    assert f"did you mean {song.id}?" in unknown.output and "list the ids with" in unknown.output
    no_source = runner.invoke(cli, ["export", str(tmp_path / "ds"), song.id, "-o", str(tmp_path / "d")])
    assert no_source.exit_code == 2 and "--source DIR" in no_source.output
    assert not (tmp_path / "d").exists()  # checked before anything is written: no half bundle
    recorded = DatasetWriter(tmp_path / "ds", PrepConfig(stages=("decode", "lyrics")), input_dir=sources)
    recorded.close()  # a dataset `prep` wrote records its IN_DIR: export then needs no --source
    found = runner.invoke(cli, ["export", str(tmp_path / "ds"), song.id, "-o", str(tmp_path / "d")])
    assert found.exit_code == 0, found.output
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(sources / "song-001-zh.flac", other / song.source_path)  # same name, another song
    wrong = runner.invoke(cli, ["export", str(tmp_path / "ds"), song.id, "-o", str(tmp_path / "e"),
                                "--source", str(other)])
    assert wrong.exit_code == 2 and "sha256 differs" in wrong.output


@pytest.mark.parametrize("layout", ["empty", "no-stems"])
def test_export_refuses_what_it_cannot_bundle(truth_corpus, tmp_path, layout):
    from songprep.errors import UsageError

    if layout == "empty":
        with pytest.raises(UsageError, match="no dataset in"):
            export_bundle(tmp_path, "x", tmp_path / "b")
        return
    writer = DatasetWriter(tmp_path / "ds", PrepConfig(stages=("decode", "lyrics")))
    writer.add(Song(id="bare", source_path="bare.flac", duration_s=1.0, sample_rate=44100, channels=2))
    writer.close()
    with pytest.raises(UsageError, match="has no stems"):
        export_bundle(tmp_path / "ds", "bare", tmp_path / "b")
