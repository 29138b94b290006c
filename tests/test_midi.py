"""MIDI files: tempo map from beats, round trips of notes/markers/lyrics, and what pretty_midi sees."""

from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest

from songprep.daw.midi import (
    PPQ,
    TEMPO_TOLERANCE_S,
    BeatGrid,
    MidiPart,
    TempoChange,
    TempoMap,
    TimeSignature,
    build_midi,
    grid_times,
    read_midi,
    song_midi,
    write_midi,
)
from songprep.records import Note, Section, Song, Word


def rubato_beats(n: int = 64, first_s: float = 0.37, seed: int = 0) -> np.ndarray:
    """Beats whose interval drifts from 0.5 s to 0.6 s with jitter: a tempo map must follow each one."""
    rng = np.random.default_rng(seed)
    intervals = np.linspace(0.5, 0.6, n - 1) + rng.uniform(-0.02, 0.02, n - 1)
    return first_s + np.r_[0.0, np.cumsum(intervals)]


def tick_s(tempo_map: TempoMap, time_s: float) -> float:
    """The length of one tick at ``time_s``."""
    tick = tempo_map.seconds_to_ticks(time_s)
    return tempo_map.ticks_to_seconds(tick + 1) - tempo_map.ticks_to_seconds(tick)


def make_song(beats: np.ndarray) -> tuple[Song, list[Note]]:
    words = [Word(w, 0.0, 0.0) for w in ("hold", "on", "to", "me")]
    starts = beats[4:12:2]
    vocal = []
    for i, start in enumerate(starts):  # word 1 spans two notes; word 3 has none
        if i == 3:
            continue
        vocal.append(Note(float(start), float(start) + 0.3, 60 + i, 90, word=i))
        words[i].start_s, words[i].end_s = float(start), float(start) + 0.55
    vocal.append(Note(float(starts[1]) + 0.3, float(starts[1]) + 0.55, 65, 70, word=1))
    sections = [Section("intro", 0.0, float(beats[4])), Section("verse", float(beats[4]), float(beats[20])),
                Section("outro", float(beats[20]), float(beats[-1]) + 0.5)]
    song = Song(id="song-1", source_path="song.flac", duration_s=float(beats[-1]) + 0.5, sample_rate=44100,
                channels=2, sections=sections, words=words, vocal_notes=vocal)
    rng = np.random.default_rng(1)
    chords = [Note(float(b), float(b) + float(rng.uniform(0.1, 0.45)), int(p), int(rng.integers(30, 120)))
              for b in beats[:40] for p in (48, 55, 64)]
    return song, chords


def test_seconds_ticks_round_trip_is_exact_to_a_tick_through_tempo_changes():
    tm = TempoMap.from_beats(rubato_beats())
    assert len(tm.changes) > 10  # the rubato needs tempo changes
    for t in np.random.default_rng(2).uniform(0, 40, 500):
        back = tm.ticks_to_seconds(tm.seconds_to_ticks(t))
        assert abs(back - t) <= tick_s(tm, t) / 2 + 1e-9
    assert TempoMap([TempoChange(0, 500_000)], ppq=480).seconds_to_ticks(1.0) == 960


def test_tempo_map_puts_audio_beat_k_on_midi_beat_k_after_the_pickup():
    beats = rubato_beats()
    grid = BeatGrid(tuple(beats))
    pickup = grid.pickup_beats()
    assert pickup == 1  # 0.37 s before the first beat, first interval ~0.5 s
    for tolerance in (TEMPO_TOLERANCE_S, 0.001):
        tm = TempoMap.from_beats(beats, pickup, tolerance_s=tolerance)
        midi_beats = np.array([tm.ticks_to_seconds((pickup + k) * PPQ) for k in range(beats.size)])
        np.testing.assert_allclose(midi_beats, beats, atol=tolerance + 1e-6)
    assert len(TempoMap.from_beats(beats, tolerance_s=0.001).changes) > len(grid.tempo_map().changes) > 3
    with pytest.raises(ValueError, match="strictly increasing"):
        TempoMap.from_beats([1.0, 0.5, 2.0])


def test_a_steady_song_tracked_on_a_frame_grid_gets_one_tempo_and_a_first_beat_near_0_is_at_0():
    hop_s = 512 / 22050  # the beat tracker's frame grid: beats alternate between 21 and 22 frames apart
    beats = np.round((0.046 + 0.5 * np.arange(80)) / hop_s) * hop_s
    tm = TempoMap.from_beats(beats)
    assert len(tm.changes) <= 2 and abs(60e6 / tm.changes[-1].tempo_us - 120) < 0.5
    assert tm.changes[0].tick == 0 and BeatGrid(tuple(beats)).pickup_beats() == 0
    midi_beats = np.array([tm.ticks_to_seconds(k * PPQ) for k in range(1, beats.size)])
    np.testing.assert_allclose(midi_beats, beats[1:], atol=TEMPO_TOLERANCE_S)
    steady = np.arange(40) * 0.5 + 1.0  # steady 120 BPM from 1 s: two pickup beats, one tempo
    steady_map = TempoMap.from_beats(steady)
    assert [c.tempo_us for c in steady_map.changes] == [500_000]
    assert steady_map.ticks_to_seconds(2 * PPQ) == 1.0


def test_round_trip_of_notes_markers_lyrics_and_metre(tmp_path):
    beats = rubato_beats()
    downbeats = beats[1::4]  # the first beat is the bar's last: pickup of 2 MIDI beats
    grid = BeatGrid(tuple(beats), tuple(downbeats), 4)
    song, chords = make_song(beats)
    path = write_midi(tmp_path / "midi" / "song-1.mid", song_midi(song, grid, chords))
    got = read_midi(path)
    assert got.ticks_per_beat == PPQ and got.title == "song-1"
    assert list(got.notes) == ["vocals", "accompaniment"]
    for name, expected in (("vocals", song.vocal_notes), ("accompaniment", chords)):
        expected = sorted(expected, key=lambda n: (n.start_s, n.pitch))
        assert len(got.notes[name]) == len(expected)
        for g, e in zip(got.notes[name], expected):
            assert (g.pitch, g.velocity) == (e.pitch, e.velocity)
            assert abs(g.start_s - e.start_s) <= tick_s(got.tempo_map, e.start_s)
            assert abs(g.end_s - e.end_s) <= tick_s(got.tempo_map, e.end_s)
    assert [m.text for m in got.markers] == [s.tag for s in song.sections] == ["intro-short", "verse", "outro-long"]
    for marker, section in zip(got.markers, song.sections):
        assert abs(marker.time_s - section.start_s) <= tick_s(got.tempo_map, section.start_s)
    # One lyric per word that has notes, on the onset of the word's first note; "me" has no note.
    assert [lyric.text for lyric in got.lyrics] == ["hold", "on", "to"]
    firsts = {n.word: n.start_s for n in sorted(song.vocal_notes, key=lambda n: n.start_s, reverse=True)}
    for w, lyric in enumerate(got.lyrics):
        assert abs(lyric.time_s - firsts[w]) <= tick_s(got.tempo_map, firsts[w])
    # Bars: a 2-beat pickup bar, then 4/4 from the first downbeat, which lands on MIDI beat 2.
    assert [(ts.tick, ts.numerator) for ts in got.time_signatures] == [(0, 2), (2 * PPQ, 4)]
    assert abs(got.tempo_map.ticks_to_seconds(2 * PPQ) - downbeats[0]) <= TEMPO_TOLERANCE_S
    assert got.tempo_changes()[0][0] == 0.0 and len(got.tempo_changes()) == len(got.tempo_map.changes)


def test_pretty_midi_sees_the_same_notes_beats_downbeats_and_lyrics(tmp_path):
    beats = rubato_beats(seed=3)
    grid = BeatGrid(tuple(beats), tuple(beats[1::4]), 4)
    song, chords = make_song(beats)
    path = write_midi(tmp_path / "song.mid", song_midi(song, grid, chords))
    pm = pretty_midi.PrettyMIDI(str(path))
    by_name = {inst.name: inst for inst in pm.instruments}
    assert set(by_name) == {"vocals", "accompaniment"} and by_name["vocals"].program == 53
    ours = read_midi(path)
    for name, notes in ours.notes.items():
        theirs = sorted(by_name[name].notes, key=lambda n: (n.start, n.pitch))
        np.testing.assert_allclose([n.start for n in theirs], [n.start_s for n in notes], atol=1e-6)
        np.testing.assert_allclose([n.end for n in theirs], [n.end_s for n in notes], atol=1e-6)
    # pretty_midi's beat grid (from our tempo map and metre) is the audio's, pickup beats included.
    pm_beats = pm.get_beats()
    pickup = grid.pickup_beats()
    n = min(beats.size, pm_beats.size - pickup)  # pretty_midi's grid stops at the last note
    assert n > 40
    np.testing.assert_allclose(pm_beats[pickup:pickup + n], beats[:n], atol=TEMPO_TOLERANCE_S + 1e-6)
    np.testing.assert_allclose(pm.get_downbeats()[1:1 + 10], beats[1::4][:10], atol=TEMPO_TOLERANCE_S + 1e-6)
    assert [lyric.text for lyric in pm.lyrics] == ["hold", "on", "to"]
    # Our own reading of the grid a DAW draws agrees with pretty_midi's.
    end = pm.get_end_time() - 0.01  # pretty_midi's lines stop near its end time; compare well before it
    beat_lines, bar_lines = grid_times(ours.tempo_map, ours.time_signatures, end)
    np.testing.assert_allclose(beat_lines, pm_beats[pm_beats <= end], atol=1e-6)
    downbeats = pm.get_downbeats()
    np.testing.assert_allclose(bar_lines, downbeats[downbeats <= end], atol=1e-6)
    assert beat_lines.size > 40 and bar_lines.size > 10


def test_overlapping_same_pitch_notes_are_cut_and_tiny_notes_last_a_tick(tmp_path):
    tm = TempoMap.constant(120)
    notes = [Note(0.0, 1.0, 60, 80), Note(0.5, 1.5, 60, 80), Note(2.0, 2.0, 62, 0)]
    path = write_midi(tmp_path / "x.mid", build_midi(tm, [MidiPart("keys", notes)]))
    got = read_midi(path).notes["keys"]
    assert [(n.start_s, n.end_s, n.pitch) for n in got[:2]] == [(0.0, 0.5, 60), (0.5, 1.5, 60)]
    assert got[2].end_s - got[2].start_s == pytest.approx(tm.ticks_to_seconds(1))
    assert got[2].velocity == 1  # velocity 0 would be a note-off


def test_reads_foreign_type_0_files_and_defaults_to_120_bpm(tmp_path):
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.Message("note_on", note=64, velocity=100, time=480),
                            mido.Message("note_on", note=64, velocity=0, time=480),
                            mido.MetaMessage("set_tempo", tempo=1_000_000, time=0),
                            mido.Message("note_on", note=67, velocity=90, time=0),
                            mido.Message("note_off", note=67, time=480),
                            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
                            mido.Message("note_off", channel=9, note=36, time=240)])
    midi.tracks.append(track)
    midi.save(tmp_path / "foreign.mid")
    got = read_midi(tmp_path / "foreign.mid")
    assert [(n.start_s, n.end_s, n.pitch) for n in got.notes["track0"]] == [
        (0.5, 1.0, 64), (1.0, 2.0, 67), (2.0, 2.5, 36)]
    pitched = read_midi(tmp_path / "foreign.mid", skip_channels=(9,))  # General MIDI drums left out
    assert [n.pitch for n in pitched.notes["track0"]] == [64, 67]
    assert BeatGrid((), beats_per_bar=3).time_signatures() == [TimeSignature(0, 3)]
    assert TempoMap.from_beats([]).changes == [TempoChange(0, 500_000)]


def test_the_test_song_renderer_writes_through_the_same_writer(tmp_path):
    from songprep.testing.compose import BEATS_PER_BAR, compose
    from songprep.testing.render import song_midi as plan_midi

    plan = compose(0, "en", "short")
    path = write_midi(tmp_path / "plan.mid", plan_midi(plan))
    got = read_midi(path)
    beat_s = 60.0 / plan.tempo_bpm
    assert [m.text for m in got.markers] == [s.label for s in plan.sections]
    np.testing.assert_allclose([m.time_s for m in got.markers],
                               [s.start_bar * BEATS_PER_BAR * beat_s for s in plan.sections], atol=1e-4)
    assert set(got.notes) <= {i.name for i in plan.instruments} and got.time_signatures[0].numerator == BEATS_PER_BAR
    n_notes = sum(len(plan.parts[s.label].notes) for s in plan.sections)
    assert sum(len(notes) for notes in got.notes.values()) == n_notes
