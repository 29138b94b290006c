"""Sung test songs: the vocal line is sung exactly on MIDI notes, and those notes are the truth.

The default (speech) songs stay what every other test and benchmark was tuned on: same plan, same
cache, no notes. A sung song shares its plan with the speech song of the same seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from songprep.testing.compose import SCALES
from songprep.testing.corpus import build_corpus, build_song, generator_version, main
from songprep.testing.sing import note_pitches, octave_shift, scale_step
from songprep.testing.truth import TruthNote, TruthSong

needs_tools = pytest.mark.needs_tools  # fails under CI when the tools are missing (conftest.require_tool)


def sung_corpus_dir(factory: pytest.TempPathFactory) -> Path:
    """One directory per test session for sung songs, so test files share (cached) builds."""
    return factory.getbasetemp() / "sung-corpus"


@pytest.fixture(scope="session")
def sung(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TruthSong]:
    root = sung_corpus_dir(tmp_path_factory)
    return root, build_corpus(root, n_songs=1, seed=0, voicing="sung")[0]


def _read(root: Path, rel: str) -> np.ndarray:
    audio, _ = sf.read(root / rel, dtype="float64", always_2d=True)
    return audio.T


# --- melody helpers (no external tools) --------------------------------------------------------


def test_melisma_steps_to_the_next_note_inside_the_key() -> None:
    # C major: E (64) rising towards G steps to F; falling (or line end) steps to D.
    assert note_pitches(64, 1, 67, 0, "major") == (64,)
    assert note_pitches(64, 2, 67, 0, "major") == (64, 65)
    assert note_pitches(64, 2, 60, 0, "major") == (64, 62)
    assert note_pitches(64, 2, None, 0, "major") == (64, 62)
    # A minor from G#? never: steps land on the scale (A minor has G, not G#).
    assert scale_step(69, -1, 9, "minor") == 67
    for tonic in range(12):
        for mode, scale in SCALES.items():
            for p in range(48, 72):
                for d in (1, -1):
                    q = scale_step(p, d, tonic, mode)
                    assert (q - tonic) % 12 in scale and 1 <= (q - p) * d <= 2


def test_octave_shift_moves_whole_octaves_towards_the_singing_range() -> None:
    assert octave_shift([33, 36, 40], 42.5) == 12
    assert octave_shift([64, 66], 55.0) == 0
    assert octave_shift([64, 66], 42.5) == -12


# --- built songs ---------------------------------------------------------------------------------


@needs_tools
def test_sung_pitch_is_the_truth_note(sung: tuple[Path, TruthSong]) -> None:
    root, song = sung
    y = _read(root, song.paths.vocals).mean(axis=0)
    sr, hop = song.sample_rate, 441
    f0 = librosa.yin(y, fmin=60, fmax=1000, sr=sr, frame_length=2048, hop_length=hop)
    times = librosa.times_like(f0, sr=sr, hop_length=hop)
    deviations = []
    for n in song.notes:
        inner = (times >= n.start_s + 0.03) & (times <= n.end_s - 0.03)
        assert inner.any(), n
        deviations.append(np.median(1200 * np.log2(f0[inner] / librosa.midi_to_hz(n.pitch))))
    deviations = np.abs(deviations)
    assert np.median(deviations) < 10
    assert np.mean(deviations < 25) > 0.95, np.sort(deviations)[-5:]


@needs_tools
def test_sung_notes_sit_in_their_words_and_carry_melismas(sung: tuple[Path, TruthSong]) -> None:
    _, song = sung
    notes = song.notes
    assert len(notes) >= len(song.words)
    starts = [n.start_s for n in notes]
    assert starts == sorted(starts)
    for a, b in zip(notes, notes[1:]):
        assert a.end_s <= b.start_s
    for n in notes:
        w = song.words[n.word]
        assert w.start_s <= n.start_s < n.end_s <= w.end_s
        assert n.end_s - n.start_s >= 0.05
        for t in (n.start_s, n.end_s):  # on exact samples, like the word times
            assert abs(t * song.sample_rate - round(t * song.sample_rate)) < 1e-6
    assert len({n.word for n in notes}) >= 0.95 * len(song.words)
    by_word: dict[int, set[int]] = {}
    for n in notes:
        by_word.setdefault(n.word, set()).add(n.pitch)
    melismas = [p for p in by_word.values() if len(p) == 2]
    assert melismas, "no word is sung on two notes"
    assert all(abs(a - b) <= 2 for a, b in melismas)
    # The sung line is the composed melody (moved by whole octaves into the voice's range).
    first_notes = [n for i, n in enumerate(notes) if i == 0 or notes[i - 1].word != n.word]
    shifts = {n.pitch - song.melody[n.word].pitch for n in first_notes}
    assert len(shifts) == 1 and shifts.pop() % 12 == 0


@needs_tools
def test_sung_mix_is_vocals_plus_accompaniment(sung: tuple[Path, TruthSong]) -> None:
    root, song = sung
    mix, vocals, accompaniment = (_read(root, p) for p in (song.paths.mix, song.paths.vocals,
                                                           song.paths.accompaniment))
    np.testing.assert_allclose(mix, vocals + accompaniment, atol=2.0 ** -22)
    for n in song.notes[:10]:  # a note is sound: its samples are audible in the vocal stem
        seg = vocals[0, round(n.start_s * song.sample_rate): round(n.end_s * song.sample_rate)]
        assert np.sqrt(np.mean(seg ** 2)) > 1e-3


@needs_tools
def test_sung_and_speech_songs_share_the_plan(sung: tuple[Path, TruthSong], truth_corpus: Path) -> None:
    _, song = sung
    speech = TruthSong.load(truth_corpus / "truth" / song.name / "truth.json")
    assert (speech.voicing, speech.notes, speech.generator_version) == ("speech", [], generator_version())
    assert (song.voicing, song.generator_version) == ("sung", generator_version("sung"))
    for field in ("seed", "tempo_bpm", "key", "sections", "lines", "lyrics", "levo_lyric", "beats_s", "melody",
                  "chords", "duration_s"):
        assert getattr(song, field) == getattr(speech, field), field
    assert [w.word for w in song.words] == [w.word for w in speech.words]
    # Both sung onsets and spoken onsets sit on the beat slots the melody gives.
    for w, m in zip(song.words, song.melody):
        assert m.start_s <= w.start_s < m.end_s
    assert (truth_corpus / speech.paths.midi).read_bytes() == (sung[0] / song.paths.midi).read_bytes()


@needs_tools
def test_voicing_is_part_of_the_cache_key(sung: tuple[Path, TruthSong], tmp_path: Path) -> None:
    root, song = sung
    truth_file = root / "truth" / song.name / "truth.json"
    before = truth_file.stat().st_mtime_ns
    assert build_song(root, song.name, song.seed, song.language, voicing="sung") == song  # cached
    assert truth_file.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="voicing"):
        build_song(tmp_path, song.name, song.seed, song.language, voicing="whistled")
    # The command line builds (here: finds cached) sung songs too.
    assert main([str(root), "--n", "1", "--languages", "en", "--voicing", "sung"]) == 0
    assert truth_file.stat().st_mtime_ns == before


@needs_tools
def test_old_speech_truth_without_notes_still_loads_and_caches(truth_corpus: Path, tmp_path: Path) -> None:
    src = truth_corpus / "truth" / "song-000-en" / "truth.json"
    data = json.loads(src.read_text(encoding="utf-8"))
    data.pop("notes")
    data.pop("voicing")
    old = TruthSong.from_dict(data)
    assert (old.voicing, old.notes) == ("speech", [])
    # A corpus written before voicings existed is still recognised as built (no rebuild).
    out = tmp_path / "old"
    for rel in (old.paths.mix, old.paths.vocals, old.paths.accompaniment, old.paths.midi, old.paths.lyrics):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes((truth_corpus / rel).read_bytes())
    (out / "truth" / old.name / "truth.json").write_text(json.dumps(data), encoding="utf-8")
    before = (out / old.paths.vocals).stat().st_mtime_ns
    assert build_song(out, old.name, old.seed, old.language, old.form) == old
    assert (out / old.paths.vocals).stat().st_mtime_ns == before


@needs_tools
def test_truth_json_round_trip_with_notes(sung: tuple[Path, TruthSong]) -> None:
    root, song = sung
    again = TruthSong.from_json(song.to_json())
    assert again == song
    assert again.notes and all(isinstance(n, TruthNote) for n in again.notes)
    assert TruthSong.load(root / "truth" / song.name / "truth.json") == song
    records = song.vocal_notes()
    assert [(r.start_s, r.end_s, r.pitch, r.word) for r in records] == [
        (n.start_s, n.end_s, n.pitch, n.word) for n in song.notes]
