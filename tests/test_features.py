"""Shared song features on ground-truth songs: beats, downbeats, vocal activity, caching."""

from __future__ import annotations

from pathlib import Path

import mir_eval
import numpy as np
import pytest

from songprep import audio as audio_io
from songprep.features import FEATURES_KEY, decode_bar_positions, song_features
from songprep.inputs import SourceFile
from songprep.stages.base import SongItem
from songprep.testing.corpus import load_corpus


@pytest.fixture(scope="module")
def analysed(truth_corpus: Path):
    out = []
    for truth in load_corpus(truth_corpus):
        mix = audio_io.decode(truth_corpus / truth.paths.mix)
        vocals = audio_io.decode(truth_corpus / truth.paths.vocals)
        out.append((truth, song_features(mix, vocals=vocals)))
    return out


def test_beats_and_downbeats_match_the_truth(analysed):
    for truth, feats in analysed:
        assert feats.beats_per_bar == 4
        assert mir_eval.beat.f_measure(np.array(truth.beats_s), feats.beats_s) >= 0.95, truth.name
        assert mir_eval.beat.f_measure(np.array(truth.downbeats_s), feats.downbeats_s) >= 0.95, truth.name
        assert abs(feats.tempo_bpm - truth.tempo_bpm) / truth.tempo_bpm < 0.05


def test_vocal_activity_follows_the_sung_words(analysed):
    for truth, feats in analysed:
        times = feats.frame_times_s
        sung = np.zeros(times.shape, bool)
        for w in truth.words:
            sung |= (times >= w.start_s) & (times < w.end_s)
        assert feats.vocal_activity is not None
        assert np.mean(feats.vocal_activity.astype(bool) == sung) >= 0.85, truth.name
        # per-beat shares: high inside sung sections, ~0 in intros and outros
        intro = truth.sections[0]
        in_intro = feats.beat_ends_s() < intro.end_s - 0.1
        assert feats.beat_vocal[in_intro].max() < 0.05
        in_sung = np.zeros(feats.beats_s.shape, bool)
        for sec in truth.sections:
            if sec.label in ("verse", "chorus", "bridge"):
                in_sung |= (feats.beats_s >= sec.start_s) & (feats.beats_s < sec.end_s)
        assert feats.beat_vocal[in_sung].mean() > 0.3


def test_beat_arrays_line_up(analysed):
    _, feats = analysed[0]
    n = feats.beats_s.shape[0]
    assert feats.beat_chroma.shape == (12, n) and feats.beat_mfcc.shape[1] == n and feats.beat_rms_db.shape == (n,)
    assert feats.chroma.shape[1] == feats.mfcc.shape[1] == feats.n_frames
    assert np.all(np.diff(feats.beats_s) > 0) and feats.beats_s[-1] < feats.duration_s
    assert set(feats.downbeats_s) <= set(feats.beats_s)


def test_features_are_computed_once_per_item_and_gain_vocals_later(truth_corpus: Path):
    truth = load_corpus(truth_corpus)[0]
    item = SongItem.start(SourceFile(truth_corpus / truth.paths.mix, truth.paths.mix, "x"))
    item.audio = audio_io.decode(truth_corpus / truth.paths.mix)
    first = song_features(item)
    assert item.features[FEATURES_KEY] is first and not first.has_vocals
    item.stems["vocals"] = audio_io.decode(truth_corpus / truth.paths.vocals)
    again = song_features(item)
    assert again is first and again.has_vocals


def test_metre_three_is_found_when_the_evidence_says_so():
    rng = np.random.default_rng(0)
    waltz = rng.normal(0, 0.3, 120)
    waltz[1::3] += 2.0  # bar lines every third beat, first one on beat 1
    metre, position = decode_bar_positions(waltz)
    assert metre == 3 and np.all(np.flatnonzero(position == 0) % 3 == 1)
    four = rng.normal(0, 0.3, 120)
    four[2::4] += 2.0
    metre, position = decode_bar_positions(four)
    assert metre == 4 and np.all(np.flatnonzero(position == 0) % 4 == 2)


def test_no_evidence_keeps_four_four():
    metre, _ = decode_bar_positions(np.zeros(64))
    assert metre == 4


def test_short_and_beatless_audio_does_not_break():
    sr = 44100
    noise = audio_io.Audio((0.1 * np.random.default_rng(1).standard_normal((2, sr))).astype(np.float32), sr)
    feats = song_features(noise)
    assert feats.duration_s == pytest.approx(1.0, abs=0.01)
    assert feats.beat_chroma.shape[1] == feats.beats_s.shape[0]
