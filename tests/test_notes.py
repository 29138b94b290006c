"""Note transcription against known notes: synthetic tone melodies and sung test songs.

The sung songs' truth notes are the notes the vocal was synthesised on (``voicing="sung"``), and the
accompaniment truth is the MIDI file the backing was rendered from, so the F1 floors here are real
measurements with a margin (see bench/notes.py for the full table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songprep.errors import ModelNotFoundError, UsageError
from songprep.notes import (
    ACCOMPANIMENT_BACKENDS,
    VOCAL_BACKENDS,
    NoteTranscriber,
    link_words,
    load_note_transcriber,
    naive_word_notes,
)
from songprep.notes.base import velocity_from_db
from songprep.notes.metrics import note_scores, transcription_f1
from songprep.records import Note, Word
from songprep.testing.corpus import build_corpus
from songprep.testing.truth import TruthSong

needs_tools = pytest.mark.needs_tools  # fails under CI when the tools are missing (conftest.require_tool)
RATE = 44100


def tone_melody(spec: list[tuple[int, float]], gap_s: float = 0.06, amp: float = 0.3,
                rate: int = RATE) -> tuple[np.ndarray, list[Note]]:
    """A harmonic tone per ``(pitch, seconds)`` with short attacks and gaps; returns audio and its notes."""
    out = np.zeros(round(rate * (0.4 + sum(d + gap_s for _, d in spec))))
    notes, t0 = [], 0.2
    for pitch, dur in spec:
        n = round(dur * rate)
        t = np.arange(n) / rate
        f = 440.0 * 2 ** ((pitch - 69) / 12)
        x = sum(0.6 ** k * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(5))
        env = np.minimum(1.0, np.minimum(t / 0.01, (dur - t) / 0.02))
        a = round(t0 * rate)
        out[a: a + n] += amp * x * env / 2
        notes.append(Note(a / rate, (a + n) / rate, pitch, 100))
        t0 += dur + gap_s
    return out.astype(np.float32), notes


MELODY = [(60, 0.3), (62, 0.3), (64, 0.45), (65, 0.25), (67, 0.6), (67, 0.3), (69, 0.2), (57, 0.5), (72, 0.4)]


@pytest.fixture(scope="module")
def pyin() -> NoteTranscriber:
    return load_note_transcriber("pyin", polyphonic=False)


@pytest.fixture(scope="module")
def basic_pitch_vocal() -> NoteTranscriber:
    return load_note_transcriber("basic-pitch", polyphonic=False)


@pytest.fixture(scope="session")
def sung_songs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TruthSong]]:
    """Two sung songs (en, zh); the directory is shared with tests/test_testing_sung.py (cached builds)."""
    root = tmp_path_factory.getbasetemp() / "sung-corpus"
    return root, build_corpus(root, n_songs=2, seed=0, voicing="sung")


def _stem(root: Path, rel: str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(root / rel, dtype="float32", always_2d=True)
    return audio.T, rate


@pytest.fixture(scope="module")
def pyin_on_sung(sung_songs: tuple[Path, list[TruthSong]], pyin: NoteTranscriber) -> list[list[Note]]:
    root, songs = sung_songs
    return [pyin.transcribe(*_stem(root, s.paths.vocals)) for s in songs]


# --- API and errors ------------------------------------------------------------------------------


def test_registry() -> None:
    assert VOCAL_BACKENDS == ("pyin", "basic-pitch")
    assert ACCOMPANIMENT_BACKENDS == ("basic-pitch",)
    with pytest.raises(UsageError, match="unknown note backend 'crepe'"):
        load_note_transcriber("crepe", polyphonic=False)
    with pytest.raises(UsageError, match="monophonic"):
        load_note_transcriber("pyin", polyphonic=True)
    for name in VOCAL_BACKENDS:
        t = load_note_transcriber(name, polyphonic=False)
        assert t.name == name and t.version


def test_missing_basic_pitch_is_one_line_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "basic_pitch", None)  # as if not installed
    with pytest.raises(ModelNotFoundError) as err:
        load_note_transcriber("basic-pitch", polyphonic=True)
    message = str(err.value)
    assert "\n" not in message
    assert "pip install --no-deps basic-pitch==0.4.0" in message and "TensorFlow" in message


def test_missing_onnxruntime_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelNotFoundError) as err:
        load_note_transcriber("basic-pitch", polyphonic=False)
    assert "\n" not in str(err.value) and "pip install onnxruntime" in str(err.value)


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_views() -> None:
    ref = [Note(0.0, 0.5, 60, 90), Note(0.5, 1.0, 62, 90), Note(1.2, 2.0, 64, 90)]
    assert transcription_f1(ref, ref) == {"onset": 1.0, "onset_pitch": 1.0, "onset_pitch_offset": 1.0}
    late = [Note(n.start_s + 0.06, n.end_s, n.pitch, 90) for n in ref]  # beyond the 50 ms tolerance
    assert note_scores(ref, late, pitch=False).f1 == 0.0
    sharp = [Note(n.start_s + 0.02, n.end_s, n.pitch + 1, 90) for n in ref]
    assert transcription_f1(ref, sharp)["onset"] == 1.0 and transcription_f1(ref, sharp)["onset_pitch"] == 0.0
    short = [Note(n.start_s, n.start_s + 0.1, n.pitch, 90) for n in ref]
    assert transcription_f1(ref, short)["onset_pitch"] == 1.0 and transcription_f1(ref, short)[
        "onset_pitch_offset"] == 0.0
    half = note_scores(ref, ref[:1])
    assert (half.precision, round(half.recall, 3), half.n_reference, half.n_estimate) == (1.0, 0.333, 3, 1)
    assert note_scores([], []).f1 == 1.0 and note_scores(ref, []).f1 == 0.0


# --- synthetic melodies --------------------------------------------------------------------------


def test_pyin_recovers_a_tone_melody_exactly(pyin: NoteTranscriber) -> None:
    audio, ref = tone_melody(MELODY)
    est = pyin.transcribe(audio, RATE)
    assert [n.pitch for n in est] == [n.pitch for n in ref]
    for e, r in zip(est, ref):
        assert abs(e.start_s - r.start_s) < 0.03 and abs(e.end_s - r.end_s) < 0.1
    # Stereo (channels, frames) at another rate gives the same notes.
    stereo = np.stack([audio, audio])
    assert [n.pitch for n in pyin.transcribe(stereo, RATE)] == [n.pitch for n in ref]


@pytest.mark.parametrize("backend", ["pyin", "basic-pitch"])
def test_a_note_sung_to_the_last_sample_ends_inside_the_audio(backend: str) -> None:
    audio, _ = tone_melody([(64, 0.5), (67, 0.7)])
    cut = audio[: round(RATE * 1.1) + 37]  # the last note runs off the end, at no frame boundary
    est = load_note_transcriber(backend, polyphonic=False).transcribe(cut, RATE)
    assert est and all(0.0 <= n.start_s < n.end_s <= len(cut) / RATE for n in est)


def test_louder_notes_get_higher_velocity(pyin: NoteTranscriber) -> None:
    quiet, _ = tone_melody([(60, 0.4)], amp=0.03)
    loud, _ = tone_melody([(60, 0.4)], amp=0.5)
    (q,), (lo,) = pyin.transcribe(quiet, RATE), pyin.transcribe(loud, RATE)
    assert 1 <= q.velocity < lo.velocity <= 127
    assert list(velocity_from_db(np.array([-90.0, -60.0, -30.0, 0.0, 6.0]))) == [1, 1, 64, 127, 127]


def test_basic_pitch_monophonic_recovers_a_tone_melody(basic_pitch_vocal: NoteTranscriber) -> None:
    audio, ref = tone_melody(MELODY)
    est = basic_pitch_vocal.transcribe(audio, RATE)
    scores = transcription_f1(ref, est)
    assert scores["onset_pitch"] >= 0.9, scores
    for a, b in zip(est, est[1:]):  # monophonic: no overlaps
        assert a.end_s <= b.start_s + 1e-9


def test_basic_pitch_polyphonic_hears_chords() -> None:
    ref = []
    audio = np.zeros(round(RATE * 2.6), np.float32)
    for i, root in enumerate((60, 65, 67, 60)):
        for p in (root, root + 4, root + 7):
            a, n = round((0.2 + i * 0.55) * RATE), round(0.45 * RATE)
            t = np.arange(n) / RATE
            f = 440.0 * 2 ** ((p - 69) / 12)
            x = (np.sin(2 * np.pi * f * t) + 0.2 * np.sin(4 * np.pi * f * t)) * np.minimum(
                1, np.minimum(t / 0.01, (0.45 - t) / 0.02))
            audio[a: a + n] += 0.15 * x
            ref.append(Note(a / RATE, (a + n) / RATE, p, 100))
    est = load_note_transcriber("basic-pitch", polyphonic=True).transcribe(audio, RATE)
    assert max(sum(1 for n in est if n.start_s <= t < n.end_s) for t in (0.4, 0.95, 1.5, 2.05)) >= 3
    assert note_scores(ref, est).recall >= 0.9


# --- sung test songs -----------------------------------------------------------------------------


@needs_tools
def test_pyin_on_sung_vocals(sung_songs: tuple[Path, list[TruthSong]], pyin_on_sung: list[list[Note]]) -> None:
    _, songs = sung_songs
    for song, est in zip(songs, pyin_on_sung):
        scores = transcription_f1(song.vocal_notes(), est)
        assert scores["onset_pitch"] >= 0.8, (song.name, scores)  # measured 0.91 (en), 0.89 (zh)
        assert scores["onset_pitch_offset"] >= 0.6, (song.name, scores)  # measured 0.89, 0.77


@needs_tools
def test_basic_pitch_on_sung_vocals(sung_songs: tuple[Path, list[TruthSong]],
                                    basic_pitch_vocal: NoteTranscriber) -> None:
    root, songs = sung_songs
    for song in songs:
        est = basic_pitch_vocal.transcribe(*_stem(root, song.paths.vocals))
        scores = transcription_f1(song.vocal_notes(), est)
        assert scores["onset_pitch"] >= 0.5, (song.name, scores)  # measured 0.61 (en), 0.82 (zh)


@needs_tools
def test_notes_lie_inside_the_song_and_link_to_their_words(sung_songs: tuple[Path, list[TruthSong]],
                                                           pyin_on_sung: list[list[Note]]) -> None:
    _, songs = sung_songs
    for song, est in zip(songs, pyin_on_sung):
        assert est
        assert all(0.0 <= n.start_s < n.end_s <= song.duration_s for n in est)
        assert all(0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 for n in est)
        linked, words = link_words(est, song.words)
        assert [w.word for w in words] == [w.word for w in song.words]
        for n in linked:
            inside = [i for i, w in enumerate(song.words) if w.start_s <= n.start_s and n.end_s <= w.end_s]
            if inside:
                assert n.word == inside[0]
        assert sum(n.word >= 0 for n in linked) >= 0.9 * len(linked)
        # Linking the truth notes to the truth words gives back the truth's own links and pitches.
        bare = [Note(n.start_s, n.end_s, n.pitch, 100) for n in song.notes]
        relinked, pitched = link_words(bare, song.words)
        assert [n.word for n in relinked] == [n.word for n in song.notes]
        for i, w in enumerate(pitched):
            mine = [n for n in song.notes if n.word == i]
            if len({n.pitch for n in mine}) == 1:
                assert w.pitch == mine[0].pitch


@needs_tools
def test_naive_word_baseline(sung_songs: tuple[Path, list[TruthSong]]) -> None:
    root, songs = sung_songs
    song = songs[0]
    est = naive_word_notes(*_stem(root, song.paths.vocals), song.words)
    assert len(est) <= len(song.words)
    assert all(song.words[n.word].start_s == n.start_s for n in est)
    # Right pitch for most words, but it cannot see melismas, so it misses notes.
    assert note_scores(song.vocal_notes(), est).recall < 0.9
    assert transcription_f1(song.vocal_notes(), est)["onset_pitch"] >= 0.5


@needs_tools
def test_basic_pitch_accompaniment_against_the_truth_midi(sung_songs: tuple[Path, list[TruthSong]]) -> None:
    root, songs = sung_songs
    poly = load_note_transcriber("basic-pitch", polyphonic=True)
    f1 = []
    for song in songs:
        ref = song.accompaniment_notes(root)
        assert ref and all(n.pitch >= 24 for n in ref)  # drums (GM channel 10) are not in the truth
        est = poly.transcribe(*_stem(root, song.paths.accompaniment))
        assert all(0.0 <= n.start_s < n.end_s <= song.duration_s for n in est)
        f1.append(transcription_f1(ref, est))
    assert np.mean([s["onset"] for s in f1]) >= 0.5, f1  # measured 0.55 (en), 0.72 (zh)
    assert np.mean([s["onset_pitch"] for s in f1]) >= 0.38, f1  # measured 0.36, 0.62


# --- link_words ----------------------------------------------------------------------------------


def test_link_words_by_largest_overlap() -> None:
    words = [Word("a", 0.0, 1.0), Word("b", 1.0, 2.0), Word("c", 3.0, 4.0)]
    notes = [Note(0.1, 0.5, 60), Note(0.5, 0.9, 62), Note(0.8, 1.5, 64), Note(2.2, 2.8, 65), Note(3.0, 4.0, 67)]
    linked, out = link_words(notes, words)
    assert [n.word for n in linked] == [0, 0, 1, -1, 2]
    assert out[0].pitch == pytest.approx((60 * 0.4 + 62 * 0.4) / 0.8)
    assert (out[1].pitch, out[2].pitch) == (64, 67)
    assert [w.word for w in out] == ["a", "b", "c"]
    assert notes[0].word == -1 and words[0].pitch is None  # inputs untouched
    assert link_words([], words)[1][0].pitch is None
    assert [n.word for n in link_words(notes, [])[0]] == [-1] * len(notes)
