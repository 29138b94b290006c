"""The generated test songs keep their promises: exact, deterministic, musically structured truth.

Every later benchmark trusts these songs, so each invariant of the truth is checked on real
builds (short forms, built once per session) against the audio actually written.
"""

from __future__ import annotations

import re
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from songprep.records import INSTRUMENTAL_LABELS, levo_tag
from songprep.testing.compose import FORMS, compose, swing, vary_last_chorus
from songprep.testing.corpus import build_corpus, build_song, load_corpus
from songprep.testing.render import clear_synth_cache
from songprep.testing.truth import TruthSong

needs_tools = pytest.mark.needs_tools  # fails under CI when the tools are missing (conftest.require_tool)


def _read(corpus_dir: Path, rel: str) -> np.ndarray:
    audio, _ = sf.read(corpus_dir / rel, dtype="float64", always_2d=True)
    return audio.T


def _span(song: TruthSong, start_s: float, end_s: float) -> slice:
    return slice(round(start_s * song.sample_rate), round(end_s * song.sample_rate))


def _tune(song: TruthSong, index: int) -> list[tuple[float, int]]:
    """The melody of one section, relative to its start."""
    start = song.sections[index].start_s
    return [(round(m.start_s - start, 6), m.pitch) for m, w in zip(song.melody, song.words) if w.section == index]


def _window(song: TruthSong, audio: np.ndarray, start_s: float, length_s: float) -> np.ndarray:
    start = round(start_s * song.sample_rate)
    return audio[:, start: start + round(length_s * song.sample_rate)]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TruthSong]]:
    out = tmp_path_factory.mktemp("corpus")
    return out, build_corpus(out, n_songs=3, seed=0)


@pytest.fixture(scope="session")
def full_song(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TruthSong]:
    out = tmp_path_factory.mktemp("full")
    return out, build_corpus(out, n_songs=1, seed=7, languages=("en",), form="full")[0]


# --- plans (no external tools needed) ----------------------------------------------------------


def test_compose_is_deterministic_and_seed_dependent() -> None:
    assert compose(3, "en") == compose(3, "en")
    assert compose(3, "en") != compose(4, "en")


@pytest.mark.parametrize("form, low_s, high_s", [("short", 30, 50), ("full", 90, 160)])
def test_forms_have_expected_shape(form: str, low_s: float, high_s: float) -> None:
    for seed in range(8):
        plan = compose(seed, ("en", "zh", "es")[seed % 3], form)
        labels = [s.label for s in plan.sections]
        assert labels == [label for label, _ in FORMS[form]]
        assert low_s <= plan.total_bars * 4 * plan.beat_s <= high_s
        for s in plan.sections:
            for line in s.lines:
                assert 4 <= len(line) <= 8
                assert line[-1].start_beat + line[-1].dur_beats < s.bars * 4  # a rest closes the section


def test_plans_vary_over_seeds() -> None:
    plans = [compose(seed, "en", "full") for seed in range(12)]
    assert len({p.tempo_bpm for p in plans}) >= 3
    assert len({p.key for p in plans}) >= 3
    assert len({p.mode for p in plans}) == 2
    assert len({tuple(i.program for i in p.instruments) for p in plans}) >= 6


# --- built songs -------------------------------------------------------------------------------


@needs_tools
def test_layout_languages_and_roundtrip(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    assert [s.name for s in songs] == ["song-000-en", "song-001-zh", "song-002-es"]
    assert {s.language for s in songs} == {"en", "zh", "es"}
    assert load_corpus(out) == songs
    for s in songs:
        assert (out / "truth" / s.name / "truth.json").is_file()
        assert TruthSong.from_json(s.to_json()) == s
        for rel in (s.paths.mix, s.paths.vocals, s.paths.accompaniment):
            info = sf.info(out / rel)
            assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_24")
            assert info.frames == round(s.duration_s * s.sample_rate)


@needs_tools
def test_cached_songs_are_not_rebuilt(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert build_corpus(out, n_songs=3, seed=0) == songs
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


@needs_tools
def test_same_seed_same_song_other_seed_other_song(corpus: tuple[Path, list[TruthSong]], tmp_path: Path) -> None:
    out, songs = corpus
    first = songs[0]
    clear_synth_cache()  # make espeak-ng synthesise again, not replay the cache
    again = build_song(tmp_path / "again", first.name, first.seed, first.language, first.form)
    assert again.to_json() == first.to_json()
    for rel in (first.paths.mix, first.paths.vocals, first.paths.accompaniment):
        assert np.array_equal(_read(out, rel), _read(tmp_path / "again", rel))
    assert (tmp_path / "again" / first.paths.midi).read_bytes() == (out / first.paths.midi).read_bytes()

    other = build_song(tmp_path / "other", first.name, first.seed + 1, first.language, first.form)
    assert other.to_json() != first.to_json()
    a, b = _read(out, first.paths.mix), _read(tmp_path / "other", other.paths.mix)
    n = min(a.shape[1], b.shape[1])
    assert not np.array_equal(a[:, :n], b[:, :n])


@needs_tools
def test_mix_is_vocals_plus_accompaniment_and_levels(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    for s in songs:
        mix, vocals, acc = (_read(out, rel) for rel in (s.paths.mix, s.paths.vocals, s.paths.accompaniment))
        assert np.abs(mix - (vocals + acc)).max() < 1e-4
        assert np.array_equal(vocals[0], vocals[1])  # mono vocal, duplicated
        assert 20 * np.log10(np.abs(mix).max()) <= -1.0
        sung = [sec for sec in s.sections if sec.label not in INSTRUMENTAL_LABELS]
        v = np.concatenate([vocals[:, _span(s, x.start_s, x.end_s)] for x in sung], axis=1)
        a = np.concatenate([acc[:, _span(s, x.start_s, x.end_s)] for x in sung], axis=1)
        ratio_db = 20 * np.log10(_rms(v) / _rms(a))
        assert -3.2 <= ratio_db <= 0.2
        assert ratio_db == pytest.approx(s.vocal_to_accompaniment_db, abs=0.1)


@needs_tools
def test_sections_tile_the_song_in_whole_bars(corpus: tuple[Path, list[TruthSong]]) -> None:
    _, songs = corpus
    for s in songs:
        assert s.sections[0].start_s == 0.0
        assert s.sections[-1].end_s == pytest.approx(s.duration_s, abs=1e-9)
        for prev, nxt in zip(s.sections, s.sections[1:]):
            assert prev.end_s == nxt.start_s
        downbeats = np.array(s.downbeats_s)
        for sec in s.sections:
            assert np.min(np.abs(downbeats - sec.start_s)) < 1e-9
        beat = 60.0 / s.tempo_bpm
        assert np.allclose(np.diff(s.beats_s), beat, atol=1e-4)
        assert s.downbeats_s == s.beats_s[:: s.time_signature[0]]


@needs_tools
def test_words_are_ordered_inside_sung_sections(corpus: tuple[Path, list[TruthSong]]) -> None:
    _, songs = corpus
    for s in songs:
        assert len(s.words) == len(s.word_lines) == len(s.melody) > 20
        for w, note, line in zip(s.words, s.melody, s.word_lines):
            sec = s.sections[w.section]
            assert sec.label not in INSTRUMENTAL_LABELS
            assert sec.start_s <= w.start_s < w.end_s <= sec.end_s
            assert note.start_s <= w.start_s and w.end_s <= note.end_s  # sung within its beat slot
            assert note.word == w.word and w.score == 1.0
            if s.language == "zh":
                assert len(w.word) == 1
            assert w.word in s.lines[line]
        for a, b in zip(s.words, s.words[1:]):
            assert a.end_s <= b.start_s
        assert s.word_lines == sorted(s.word_lines)
        separator = "" if s.language == "zh" else " "
        for i, line in enumerate(s.lines):
            assert separator.join(w.word for w, j in zip(s.words, s.word_lines) if j == i) == line
        assert s.lyrics == "\n".join(s.lines)


@needs_tools
def test_word_audio_is_where_the_truth_says(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    for s in songs:
        vocals = _read(out, s.paths.vocals)[0]
        quiet = np.concatenate([vocals[_span(s, x.start_s, x.end_s)] for x in s.sections
                                if x.label in INSTRUMENTAL_LABELS])
        floor = max(_rms(quiet), 1e-4)
        outside = np.ones(len(vocals), bool)
        for w in s.words:
            span = _span(s, w.start_s, w.end_s)
            assert _rms(vocals[span]) > 20 * floor, w
            assert abs(vocals[span.start]) > 0  # the first placed sample is non-silent
            outside[span] = False
        # Outside the word spans there is at most a faded, sub-threshold (-40 dB) tail.
        assert np.abs(vocals[outside]).max() < 0.02 * np.abs(vocals).max()


@needs_tools
def test_choruses_repeat_exactly_and_verses_share_the_tune(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    for s in songs:
        acc, vocals = _read(out, s.paths.accompaniment), _read(out, s.paths.vocals)
        lines = s.section_lines()
        bar_s = 4 * 60.0 / s.tempo_bpm
        chorus = [i for i, x in enumerate(s.sections) if x.label == "chorus"]
        verse = [i for i, x in enumerate(s.sections) if x.label == "verse"]
        assert len(chorus) >= 2 and len(verse) >= 2
        first = s.sections[chorus[0]]
        for i in chorus[1:]:
            sec = s.sections[i]
            assert lines[i] == lines[chorus[0]]
            # From the second bar on, no release tail of the previous section remains.
            rest = first.duration_s - bar_s
            assert np.array_equal(_window(s, acc, first.start_s + bar_s, rest),
                                  _window(s, acc, sec.start_s + bar_s, rest))
            length = first.duration_s
            assert np.array_equal(_window(s, vocals, first.start_s, length), _window(s, vocals, sec.start_s, length))

        assert _tune(s, verse[0]) == _tune(s, verse[1])
        assert lines[verse[0]] != lines[verse[1]]
        assert _tune(s, verse[0]) != _tune(s, chorus[0])


@needs_tools
def test_sections_sound_different(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    for s in songs:
        acc = _read(out, s.paths.accompaniment)
        by_label: dict[str, list[float]] = {}
        for sec in s.sections:
            by_label.setdefault(sec.label, []).append(_rms(acc[:, _span(s, sec.start_s, sec.end_s)]))
        assert min(by_label["chorus"]) > 1.2 * max(by_label["verse"])  # choruses are fuller
        first = {sec.label: sec for sec in reversed(s.sections)}
        verse, chorus = ([c.chord for c in s.chords if first[x].start_s <= c.start_s < first[x].end_s]
                         for x in ("verse", "chorus"))
        assert verse != chorus


@needs_tools
def test_levo_lyric_and_sidecar(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    for s in songs:
        blocks = s.levo_lyric.split(" ; ")
        assert [re.match(r"\[([a-z-]+)\]", b).group(1) for b in blocks] == [x.tag for x in s.sections]
        for block, sec, lines in zip(blocks, s.sections, s.section_lines()):
            body = block.split("]", 1)[1].strip().rstrip(".")
            assert [x for x in body.split(".") if x] == lines
            assert not lines or sec.label not in INSTRUMENTAL_LABELS
        assert (out / s.paths.lyrics).read_text(encoding="utf-8").splitlines() == s.lines


@needs_tools
def test_midi_matches_the_truth(corpus: tuple[Path, list[TruthSong]]) -> None:
    out, songs = corpus
    for s in songs:
        midi = mido.MidiFile(out / s.paths.midi)
        markers, now = [], 0.0
        for msg in midi:  # iterating a MidiFile yields seconds
            now += msg.time
            if msg.type == "marker":
                markers.append((msg.text, now))
        assert [m[0] for m in markers] == [x.label for x in s.sections]
        assert np.allclose([m[1] for m in markers], [x.start_s for x in s.sections], atol=1e-3)
        programs = {m.channel: m.program for m in midi if m.type == "program_change"}
        assert programs == {i.channel: i.program for i in s.instruments if i.channel != 9}


@needs_tools
def test_full_form(full_song: tuple[Path, TruthSong]) -> None:
    out, s = full_song
    assert [x.label for x in s.sections] == [label for label, _ in FORMS["full"]]
    assert 90 <= s.duration_s <= 160
    assert all(x.tag == levo_tag(x.label, x.duration_s) for x in s.sections)
    assert not [w for w in s.words if s.sections[w.section].label in INSTRUMENTAL_LABELS]
    assert any(i.role == "lead" for i in s.instruments)
    acc = _read(out, s.paths.accompaniment)
    bar_s = 4 * 60.0 / s.tempo_bpm
    chorus = [x for x in s.sections if x.label == "chorus"]
    assert len(chorus) == 3
    ref = chorus[0]
    for sec in chorus[1:]:
        rest = ref.duration_s - bar_s
        assert np.array_equal(_window(s, acc, ref.start_s + bar_s, rest), _window(s, acc, sec.start_s + bar_s, rest))


def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch):
    import shutil

    from conftest import SONG_TOOLS, require_tool

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "fluidsynth" else real_which(name))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="fluidsynth not installed"):
        require_tool(*SONG_TOOLS)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="fluidsynth not installed"):
        require_tool(*SONG_TOOLS)


def test_swing_moves_only_the_off_beat_eighths():
    plan = compose(21, "en", "full")
    swung = swing(plan)
    for label, part in plan.parts.items():
        before = sorted((n.start_beat, n.channel, n.pitch) for n in part.notes)
        after = sorted((n.start_beat, n.channel, n.pitch) for n in swung.parts[label].notes)
        moved = [(a, b) for a, b in zip(before, after) if a != b]
        assert all(abs(a[0] % 1 - 0.5) < 1e-9 and abs(b[0] % 1 - 2 / 3) < 1e-9 for a, b in moved), label
        assert len(before) == len(after)
    assert any(abs(n.start_beat % 1 - 2 / 3) < 1e-9 for n in swung.parts["chorus"].notes)
    assert swung.sections[1].lines == plan.sections[1].lines  # the voice stays on the beat


def test_varied_last_chorus_changes_only_the_last_chorus():
    plan = compose(4, "en", "short")
    varied = vary_last_chorus(plan, semitones=2)
    choruses = [i for i, s in enumerate(plan.sections) if s.label == "chorus"]
    first, last = varied.sections[choruses[0]], varied.sections[choruses[-1]]
    assert first.part_key == "chorus" and last.part_key == "chorus+2"
    assert first.lines == plan.sections[choruses[0]].lines
    for old, new in zip(plan.sections[choruses[-1]].lines, last.lines):
        assert [n.pitch + 2 for n in old] == [n.pitch for n in new]
        assert [n.word for n in old][:-1] == [n.word for n in new][:-1] and old[-1].word != new[-1].word
