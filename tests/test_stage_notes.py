"""The notes stage: sung notes inside the song and on their words, the MIDI file, prep --notes, config, errors.

Ground truth: an English test song sung exactly on known notes, given its true stems, words and sections
(what separate, align and structure would hand on), so these tests check the notes stage itself, fast.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from click.testing import CliRunner

from songprep.audio import Audio, decode, standardise
from songprep.cli import cli
from songprep.config import DEFAULT_STAGES, PrepConfig
from songprep.daw.midi import read_midi
from songprep.errors import SongprepError, UsageError
from songprep.inputs import SourceFile
from songprep.pipeline import resolve_config
from songprep.records import table_to_songs
from songprep.stages import SongItem, StageContext
from songprep.stages.notes import ACCOMPANIMENT_NOTES_KEY, NotesStage
from songprep.testing.corpus import build_corpus, load_corpus

RATE = 44100
#: Intro, verse and chorus of the short test song (sections end on whole bars there).
CUT_S = 18.0


@pytest.fixture(scope="module")
def sung_root(tmp_path_factory) -> Path:
    """One short English song sung (WORLD) exactly on known MIDI notes, which the truth records."""
    root = tmp_path_factory.mktemp("sung")
    build_corpus(root, n_songs=1, seed=0, voicing="sung")
    return root


@pytest.fixture(scope="module")
def english(sung_root: Path):
    return next(s for s in load_corpus(sung_root) if s.language == "en")


@pytest.fixture(scope="module")
def noted(sung_root: Path, english, tmp_path_factory) -> tuple[SongItem, Path]:
    """The stage run once on the English song's first CUT_S with its true stems, words and sections."""
    out = tmp_path_factory.mktemp("notes-out")
    path = sung_root / english.paths.mix
    item = SongItem.start(SourceFile("song-000-en", path, "song-000-en.flac"))

    def cut(rel: str) -> Audio:
        audio = standardise(decode(sung_root / rel), RATE, 2)
        return Audio(audio.samples[:, : round(CUT_S * RATE)], RATE)

    item.audio = cut(english.paths.mix)
    item.song.duration_s, item.song.sample_rate, item.song.channels = CUT_S, RATE, 2
    item.stems = {"vocals": cut(english.paths.vocals), "accompaniment": cut(english.paths.accompaniment)}
    item.song.words = [copy.deepcopy(w) for w in english.words if w.end_s <= CUT_S]
    item.song.sections = [copy.deepcopy(s) for s in english.sections if s.end_s <= CUT_S]
    config = resolve_config(PrepConfig(stages=("decode", "separate", "notes")))
    stage = NotesStage(config)
    stage.setup(StageContext(out, "cpu"))
    item = stage.process(item)
    item.features["provenance"] = stage.provenance()
    return item, out


def test_vocal_notes_lie_inside_the_song_and_where_it_is_sung(noted, english):
    song = noted[0].song
    assert len(song.vocal_notes) >= len(song.words) // 2
    assert song.sections and song.sections[-1].end_s == CUT_S
    for note in song.vocal_notes:
        assert 0.0 <= note.start_s < note.end_s <= song.duration_s + 1e-6
        assert 36 <= note.pitch <= 96 and 1 <= note.velocity <= 127
    # Sung notes sit in the sung stretches: nearly all of them overlap some true word.
    spans = np.array([(w.start_s, w.end_s) for w in english.words if w.start_s < CUT_S])
    on_words = [np.any((n.start_s < spans[:, 1] + 0.05) & (n.end_s > spans[:, 0] - 0.05)) for n in song.vocal_notes]
    assert np.mean(on_words) >= 0.9


def test_words_are_linked_to_the_notes_that_sing_them(noted, english):
    song = noted[0].song
    truth = [n for n in english.notes if n.end_s <= CUT_S]  # the notes the vocal was synthesised on
    linked = [n for n in song.vocal_notes if n.word >= 0]
    assert {n.word for n in linked} >= {n.word for n in truth}  # every sung word carries a note
    for note in linked:
        word = song.words[note.word]
        assert note.start_s < word.end_s and note.end_s > word.start_s
    # Each transcribed note has the true pitch and the true word where it sounds (a sung song is exact).
    right = 0
    for note in song.vocal_notes:
        mid = (note.start_s + note.end_s) / 2
        sounding = [t for t in truth if t.start_s <= mid <= t.end_s]
        right += bool(sounding) and (sounding[0].pitch, sounding[0].word) == (note.pitch, note.word)
    assert right >= 0.9 * len(song.vocal_notes)
    for w, word in enumerate(song.words):
        sung = [t.pitch for t in truth if t.word == w]
        if sung:
            assert word.pitch is not None and abs(word.pitch - np.mean(sung)) <= 1.0
        elif not any(n.word == w for n in linked):
            assert word.pitch is None


def test_midi_file_holds_the_notes_markers_lyrics_and_beats(noted, english):
    item, out = noted
    song = item.song
    assert song.midi_path == "midi/song-000-en.mid" and (out / song.midi_path).is_file()
    midi = read_midi(out / song.midi_path)
    expected = sorted(song.vocal_notes, key=lambda n: (n.start_s, n.pitch))
    assert [n.pitch for n in midi.notes["vocals"]] == [n.pitch for n in expected]
    np.testing.assert_allclose([n.start_s for n in midi.notes["vocals"]], [n.start_s for n in expected], atol=1e-3)
    assert len(midi.notes.get("accompaniment", [])) == len(item.features[ACCOMPANIMENT_NOTES_KEY]) > 0
    assert [m.text for m in midi.markers] == [s.tag for s in song.sections] == ["intro-short", "verse", "chorus"]
    linked_words = sorted({n.word for n in song.vocal_notes if n.word >= 0})
    assert [lyric.text for lyric in midi.lyrics] == [song.words[w].word for w in linked_words]
    # The tempo map follows the beats of a steady-tempo song: about its tempo throughout.
    bpms = [bpm for _, bpm in midi.tempo_changes()[1:]]
    assert abs(float(np.median(bpms)) - english.tempo_bpm) < 0.1 * english.tempo_bpm
    prov = item.features["provenance"]
    assert prov.stage == "notes" and prov.model == "pyin,basic-pitch" and all(prov.version.split(","))


def test_prep_with_notes_round_trips_vocal_notes_through_the_dataset(english, sung_root, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    x, sr = sf.read(sung_root / english.paths.mix, always_2d=True)
    sf.write(corpus / "song.flac", x[: 12 * sr], sr, subtype="PCM_24")  # 12 s: intro and a verse
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prep", str(corpus), "-o", str(out), "-q", "--stages",
                                      "decode,lyrics,separate", "--separator", "spleeter:2stems", "--notes",
                                      "--accompaniment-notes", "none"], catch_exceptions=False)
    assert result.output.startswith("1 written, 0 rejected"), result.output
    (song,) = table_to_songs(pq.read_table(out / "songs"))
    assert song.vocal_notes and song.midi_path == f"midi/{song.id}.mid"
    assert all(0 <= n.start_s < n.end_s <= song.duration_s + 1e-6 for n in song.vocal_notes)
    midi = read_midi(out / song.midi_path)
    np.testing.assert_allclose([n.start_s for n in midi.notes["vocals"]],
                               sorted(n.start_s for n in song.vocal_notes), atol=1e-3)
    assert "accompaniment" not in midi.notes
    assert song.provenance.stages[-1].model == "pyin"


def test_notes_is_off_by_default_and_its_options_hash_only_when_it_runs():
    assert "notes" not in DEFAULT_STAGES
    light = PrepConfig(stages=("decode", "lyrics"))
    with_options = PrepConfig(stages=("decode", "lyrics"), stage_options={"notes": {"vocal": "pyin"}})
    assert resolve_config(light).config_hash() == resolve_config(with_options).config_hash()
    chain = ("decode", "separate", "notes")
    a = resolve_config(PrepConfig(stages=chain, stage_options={"notes": {"accompaniment": "none"}}))
    b = resolve_config(PrepConfig(stages=chain))
    assert a.stage_options["notes"] == {"vocal": "pyin", "accompaniment": "none"}
    assert a.config_hash() != b.config_hash()


def test_bad_options_and_a_chain_without_stems_are_refused_up_front():
    with pytest.raises(UsageError, match="unknown vocal backend"):
        resolve_config(PrepConfig(stages=("decode", "separate", "notes"), stage_options={"notes": {"vocal": "x"}}))
    with pytest.raises(UsageError, match="unknown option"):
        resolve_config(PrepConfig(stages=("decode", "separate", "notes"), stage_options={"notes": {"model": "x"}}))
    with pytest.raises(UsageError, match="reads stems"):
        resolve_config(PrepConfig(stages=("decode", "notes")))


def test_missing_basic_pitch_is_one_line_before_any_song_is_touched(tmp_path, monkeypatch, audio_file):
    monkeypatch.setitem(sys.modules, "basic_pitch", None)  # `import basic_pitch` now fails as if not installed
    audio_file("corpus/a.wav")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prep", str(tmp_path / "corpus"), "-o", str(out), "-q", "--stages",
                                      "decode,lyrics,separate", "--separator", "spleeter:2stems", "--notes"])
    assert result.exit_code != 0 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("songprep: error:") and "basic-pitch" in result.output
    assert "--no-deps" in result.output
    assert not (out / "songs").exists() or not any((out / "songs").iterdir())
    with pytest.raises(SongprepError):
        resolve_config(PrepConfig(stages=("decode", "separate", "notes")))


def test_notes_command_separates_aligns_and_writes_midi_and_json(truth_corpus, tmp_path):
    """Speech-voiced song: the guide aligner is tuned on those (it flags the WORLD-sung ones as a mismatch)."""
    import json

    english = next(s for s in load_corpus(truth_corpus) if s.language == "en")
    x, sr = sf.read(truth_corpus / english.paths.mix, always_2d=True)
    sf.write(tmp_path / "song.flac", x[: 12 * sr], sr, subtype="PCM_24")
    inside = {english.word_lines[i] for i, w in enumerate(english.words) if w.end_s < 11.5}
    outside = {english.word_lines[i] for i, w in enumerate(english.words) if w.end_s >= 11.5}
    lines = [english.lines[i] for i in sorted(inside - outside)]
    (tmp_path / "song.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["notes", str(tmp_path / "song.flac"), "-o", str(out), "--lyrics",
                                      str(tmp_path / "song.txt"), "--separator", "spleeter:2stems"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("song.flac: ") and f"-> {out / 'midi' / 'song.mid'}" in result.output
    data = json.loads((out / "notes" / "song.json").read_text(encoding="utf-8"))
    assert data["midi"] == "midi/song.mid" and data["vocal_notes"] and data["accompaniment_notes"]
    assert len(data["beats_s"]) > 10 and np.all(np.diff(data["beats_s"]) > 0)
    assert set(data["downbeats_s"]) <= set(data["beats_s"])
    n_words = sum(len(line.split()) for line in lines)
    assert len(data["words"]) == n_words
    assert all(0 <= w["start_s"] < w["end_s"] <= 12.0 for w in data["words"])  # aligned in the clip
    linked = [n for n in data["vocal_notes"] if n["word"] >= 0]
    assert linked and "warning" not in result.output
    for note in linked:
        word = data["words"][note["word"]]
        assert note["start_s"] < word["end_s"] and note["end_s"] > word["start_s"]
    midi = read_midi(out / "midi" / "song.mid")
    assert len(midi.notes["vocals"]) == len(data["vocal_notes"]) and midi.markers
    linked_words = sorted({n["word"] for n in linked})
    assert [lyric.text for lyric in midi.lyrics] == [data["words"][w]["word"] for w in linked_words]
    both = CliRunner().invoke(cli, ["notes", str(tmp_path / "song.flac"), str(tmp_path / "song.txt"), "-o",
                                    str(out), "--lyrics", str(tmp_path / "song.txt")])
    assert both.exit_code == 2 and "one AUDIO" in both.output


def test_notes_command_takes_given_stems_without_separating(english, sung_root, tmp_path):
    for name, rel in (("mix", english.paths.mix), ("vocals", english.paths.vocals),
                      ("accompaniment", english.paths.accompaniment)):
        x, sr = sf.read(sung_root / rel, always_2d=True)
        sf.write(tmp_path / f"{name}.flac", x[: 6 * sr], sr, subtype="PCM_24")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["notes", str(tmp_path / "mix.flac"), "-o", str(out), "--vocals",
                                      str(tmp_path / "vocals.flac"), "--accompaniment",
                                      str(tmp_path / "accompaniment.flac"), "--accompaniment-notes", "none",
                                      "--separator", "no-such-separator"], catch_exceptions=False)
    assert result.exit_code == 0, result.output  # the separator is never loaded: the stems are given
    assert "0 accompaniment notes" in result.output
    midi = read_midi(out / "midi" / "mix.mid")
    assert midi.notes["vocals"] and "accompaniment" not in midi.notes
    half = CliRunner().invoke(cli, ["notes", str(tmp_path / "mix.flac"), "-o", str(out), "--vocals",
                                    str(tmp_path / "vocals.flac")])
    assert half.exit_code == 2 and "give both --vocals and --accompaniment" in half.output
