"""Song structure on ground-truth songs: boundaries on bars, labels from evidence, the stage and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from songprep import audio as audio_io
from songprep.cli import cli
from songprep.config import PrepConfig
from songprep.features import song_features
from songprep.inputs import SourceFile
from songprep.records import Section, Word
from songprep.stages import STAGES, SongItem
from songprep.structure import assign_word_sections, baseline, segment
from songprep.structure.bars import BarFeatures, bar_lines
from songprep.structure.boundaries import BoundaryConfig, choose_boundaries, split_on_level
from songprep.structure.labels import Segment, label_segments, merge_repeated_neighbours
from songprep.structure.metrics import label_accuracy, score
from songprep.testing.corpus import build_corpus, load_corpus


def _analyse(root: Path, truth, with_vocals: bool = True):
    mix = audio_io.decode(root / truth.paths.mix)
    vocals = audio_io.decode(root / truth.paths.vocals) if with_vocals else None
    return song_features(mix, vocals=vocals)


@pytest.fixture(scope="module")
def short_songs(truth_corpus: Path):
    return [(truth, _analyse(truth_corpus, truth)) for truth in load_corpus(truth_corpus)]


def _assert_well_formed(sections: list[Section], duration_s: float) -> None:
    assert sections[0].start_s == 0.0 and sections[-1].end_s == pytest.approx(duration_s, abs=1e-3)
    for a, b in zip(sections, sections[1:]):
        assert a.end_s == b.start_s and a.end_s > a.start_s


def test_short_songs_get_their_true_sections(short_songs):
    for truth, feats in short_songs:
        sections = segment(feats)
        _assert_well_formed(sections, feats.duration_s)
        s = score(truth.sections, sections)
        assert s.hr3_f >= 0.9 and s.hr05_f >= 0.8 and s.accuracy >= 0.9, (truth.name, s, sections)


def test_boundaries_sit_on_bar_lines(short_songs):
    for truth, feats in short_songs:
        downbeats = np.array(truth.downbeats_s + [truth.duration_s])
        for sec in segment(feats)[1:]:
            assert np.min(np.abs(downbeats - sec.start_s)) < 0.1, (truth.name, sec)


def _bars(plan: list[tuple[str, int, float, float]], seed: int = 0) -> BarFeatures:
    """Synthetic bar features: per run (harmony pattern name, bars, level dB, singing share)."""
    rng = np.random.default_rng(seed)
    patterns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    chroma, timbre, level, vocal = [], [], [], []
    for name, n, db, sung in plan:
        harmony, colour = patterns.setdefault(name, (rng.random((1, 48)) ** 4, rng.normal(0, 1, (1, 19))))
        chroma.append(np.repeat(harmony, n, axis=0) + 0.01 * rng.random((n, 48)))
        timbre.append(np.repeat(colour, n, axis=0) + 0.05 * rng.normal(0, 1, (n, 19)))
        level += [db] * n
        vocal += [sung] * n
    n_bars = len(level)
    return BarFeatures(np.linspace(0.0, 2.0 * n_bars, n_bars + 1), np.vstack(chroma), np.vstack(timbre),
                       np.array(level), np.array(vocal))


def test_labels_come_from_evidence_not_position():
    """A song that opens with its chorus: repetition and level find it, not the order of sections."""
    plan = [("i", 2, -30.0, 0.0), ("A", 4, -18.0, 0.6), ("B", 4, -22.0, 0.5), ("A", 4, -18.0, 0.6),
            ("B", 4, -22.0, 0.5), ("C", 4, -22.0, 0.5), ("A", 4, -18.0, 0.6), ("o", 2, -28.0, 0.0)]
    bars = _bars(plan)
    starts = [0, 2, 6, 10, 14, 18, 22, 26]
    labels = [s.label for s in label_segments(bars, starts)]
    assert labels == ["intro", "chorus", "verse", "chorus", "verse", "bridge", "chorus", "outro"]


def test_instrumental_between_vocals_is_inst_and_quiet_bars_are_silence():
    plan = [("s", 1, -90.0, 0.0), ("B", 4, -22.0, 0.5), ("A", 4, -18.0, 0.6), ("A2", 2, -18.0, 0.0),
            ("A", 4, -18.0, 0.6), ("o", 2, -28.0, 0.0)]
    labels = [s.label for s in label_segments(_bars(plan), [0, 1, 5, 9, 11, 15])]
    assert labels == ["silence", "verse", "chorus", "inst", "chorus", "outro"]


def test_leading_and_trailing_silence_are_sections(truth_corpus: Path):
    truth = load_corpus(truth_corpus)[0]

    def padded(path: str) -> audio_io.Audio:
        a = audio_io.decode(truth_corpus / path)
        zeros = np.zeros((a.channels, 5 * a.sample_rate), np.float32)
        return audio_io.Audio(np.concatenate([zeros, a.samples, zeros[:, : 3 * a.sample_rate]], axis=1), a.sample_rate)

    sections = segment(song_features(padded(truth.paths.mix), vocals=padded(truth.paths.vocals)))
    assert [s.label for s in sections] == ["silence", *(s.label for s in truth.sections), "silence"]
    assert sections[1].start_s == pytest.approx(5.0, abs=0.1)
    assert sections[-1].start_s == pytest.approx(5.0 + truth.duration_s, abs=0.6)


def test_words_without_a_vocal_stem_still_find_the_chorus(truth_corpus: Path):
    truth = load_corpus(truth_corpus)[1]
    feats = _analyse(truth_corpus, truth, with_vocals=False)
    words = [Word(w.word, w.start_s, w.end_s) for w in truth.words]
    s = score(truth.sections, segment(feats, words=words))
    assert s.hr3_f >= 0.9 and s.accuracy >= 0.85, s


def test_mix_alone_beats_the_positional_baseline(short_songs, truth_corpus: Path):
    ours, base = [], []
    for truth in load_corpus(truth_corpus):
        plain = _analyse(truth_corpus, truth, with_vocals=False)
        ours.append(score(truth.sections, segment(plain)).accuracy)
        base.append(score(truth.sections, baseline.agglomerative(plain)).accuracy)
    assert np.mean(ours) > np.mean(base)


def test_stage_fills_sections_and_word_indices(truth_corpus: Path):
    truth = load_corpus(truth_corpus)[2]
    stage = STAGES["structure"](PrepConfig())
    item = SongItem.start(SourceFile(truth_corpus / truth.paths.mix, truth.paths.mix, "song"))
    item.audio = audio_io.decode(truth_corpus / truth.paths.mix)
    item.stems["vocals"] = audio_io.decode(truth_corpus / truth.paths.vocals)
    item.song.words = [Word(w.word, w.start_s, w.end_s) for w in truth.words]
    stage.process(item)
    assert label_accuracy(truth.sections, item.song.sections) >= 0.9
    agree = np.mean([w.section == t.section for w, t in zip(item.song.words, truth.words)])
    assert agree >= 0.95
    assert all(s.tag == s.label or s.tag.startswith(s.label + "-") for s in item.song.sections)


def test_cli_prints_sections_as_json(truth_corpus: Path, tmp_path: Path):
    truth = load_corpus(truth_corpus)[0]
    words = tmp_path / "words.json"
    words.write_text(json.dumps([{"word": w.word, "start_s": w.start_s, "end_s": w.end_s} for w in truth.words]))
    result = CliRunner().invoke(cli, ["structure", str(truth_corpus / truth.paths.mix), "--vocals",
                                      str(truth_corpus / truth.paths.vocals), "--words", str(words), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["sections"]
    assert [r["label"] for r in rows] == [s.label for s in truth.sections]
    assert set(rows[0]) == {"label", "start", "end", "tag"} and rows[0]["tag"].startswith("intro-")


def test_cli_refuses_unreadable_words(truth_corpus: Path, tmp_path: Path):
    truth = load_corpus(truth_corpus)[0]
    bad = tmp_path / "words.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(cli, ["structure", str(truth_corpus / truth.paths.mix), "--words", str(bad)])
    assert result.exit_code == 2 and "cannot read words" in result.output


def test_bar_lines_cover_the_song():
    lines = bar_lines(np.array([3.0, 5.0, 7.0]), 12.2, 2.0)
    assert lines[0] == 0.0 and lines[-1] == 12.2
    assert np.allclose(lines, [0.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 12.2])
    assert list(bar_lines(np.zeros(0), 0.5, 2.0)) == [0.0, 0.5]


def test_dynamic_programming_prefers_phrase_lines():
    novelty = np.zeros(17)
    novelty[[7, 8, 12]] = [0.6, 0.5, 0.8]  # a drum fill pulls the 8-bar line one bar early
    assert choose_boundaries(novelty, BoundaryConfig()) == [0, 8, 12]


def test_a_level_step_inside_a_section_splits_it():
    quiet_then_loud = np.r_[np.full(4, -24.0), np.full(4, -20.0)] + np.tile([0.3, -0.3], 4)
    assert split_on_level([0], quiet_then_loud) == [0, 4]
    assert split_on_level([0], np.r_[np.full(4, -24.0), np.full(4, -23.0)]) == [0]
    assert split_on_level([0], np.full(8, -20.0)) == [0]


def test_identical_neighbours_merge_only_while_they_still_repeat():
    halves = [Segment(0, 4, True, group=0), Segment(4, 8, True, group=0), Segment(8, 12, True, group=1),
              Segment(12, 16, True, group=0), Segment(16, 20, True, group=0)]
    merged = merge_repeated_neighbours(halves)
    assert [(s.start_bar, s.end_bar) for s in merged] == [(0, 8), (8, 12), (12, 20)]
    once = [Segment(0, 4, True, group=0), Segment(4, 8, True, group=0)]
    assert len(merge_repeated_neighbours(once)) == 2


def test_label_accuracy_counts_frames():
    ref = [Section("verse", 0.0, 10.0), Section("chorus", 10.0, 20.0)]
    assert label_accuracy(ref, ref) == 1.0
    assert label_accuracy(ref, [Section("verse", 0.0, 20.0)]) == pytest.approx(0.5)


def test_word_sections_follow_their_midpoints():
    sections = [Section("verse", 0.0, 4.0), Section("chorus", 4.0, 8.0)]
    words = [Word("a", 3.5, 4.2), Word("b", 3.9, 4.9), Word("c", 9.0, 9.5)]
    assign_word_sections(words, sections)
    assert [w.section for w in words] == [0, 1, 1]


@pytest.mark.slow
def test_full_form_songs(tmp_path: Path):
    for truth in build_corpus(tmp_path, n_songs=2, seed=5, form="full"):
        sections = segment(_analyse(tmp_path, truth))
        s = score(truth.sections, sections)
        assert {"intro", "verse", "chorus", "inst", "bridge", "outro"} <= {x.label for x in sections}
        assert s.hr3_f >= 0.9 and s.hr05_f >= 0.85 and s.accuracy >= 0.9, (truth.name, s, sections)


def test_stem_bleed_without_any_heard_word_is_an_instrumental(truth_corpus: Path):
    """Melodic accompaniment bled into a 'vocal' stem is not singing when no word was heard in it."""
    truth = load_corpus(truth_corpus)[0]
    backing = audio_io.decode(truth_corpus / truth.paths.accompaniment)
    bleed = audio_io.Audio(backing.samples * 0.3, backing.sample_rate)  # the stem a separator leaves
    feats = song_features(backing, vocals=bleed)
    sections = segment(feats, words=[])  # a transcript that heard nothing
    assert {s.label for s in sections} <= {"intro", "inst", "outro", "silence"}
    assert any(s.label not in ("intro", "inst", "outro", "silence") for s in segment(feats, words=None))


def test_a_key_shifted_varied_chorus_is_still_the_chorus():
    """The last chorus sung and played a tone higher, over new drums, with its lines' last words changed
    (songprep.testing.compose.vary_last_chorus): harmony compared in every key still finds it."""
    from songprep.testing.compose import compose, vary_last_chorus
    from songprep.testing.corpus import make_truth
    from songprep.testing.render import render

    plan = vary_last_chorus(compose(4, "en", "short"), semitones=2)
    assert plan.sections[-2].part_key == "chorus+2" and plan.parts["chorus+2"].transpose == 2
    rendered = render(plan)
    truth = make_truth("varied", plan, rendered)
    feats = song_features(audio_io.Audio(rendered.mix, rendered.sample_rate),
                          vocals=audio_io.Audio(rendered.vocals, rendered.sample_rate))
    last = truth.sections[-2]
    for words in (None, truth.words):
        sections = segment(feats, words=words)
        middle = [s.label for s in sections if s.start_s <= (last.start_s + last.end_s) / 2 < s.end_s]
        assert middle == ["chorus"], [(s.label, s.start_s) for s in sections]
        assert score(truth.sections, sections).accuracy >= 0.9, sections
