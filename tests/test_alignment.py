"""Aligning known lyrics: text handling, ASR anchors, and the guide aligner on ground-truth songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from songprep.alignment import Alignment, align_lyrics, shuffled_words
from songprep.alignment.anchors import find_anchors, interpolate, match_keys
from songprep.alignment.normalise import reference_words, tokens
from songprep.audio import Audio, decode, standardise
from songprep.config import PrepConfig
from songprep.errors import RejectError, UsageError
from songprep.inputs import SourceFile
from songprep.records import INSTRUMENTAL_LABELS, Song, Word
from songprep.stages import SongItem, StageContext, check_chain, stage_class
from songprep.testing.corpus import load_corpus
from songprep.testing.truth import TruthSong

#: Stated bound for the clean ground-truth vocal stem (the bench measures ~0.01 s; target 0.10 s).
CLEAN_MEDIAN_BOUND_S = 0.05


@pytest.fixture(scope="module")
def songs(truth_corpus: Path) -> dict[str, TruthSong]:
    return {s.language: s for s in load_corpus(truth_corpus)}


@pytest.fixture(scope="module")
def vocals(truth_corpus: Path, songs: dict[str, TruthSong]) -> dict[str, Audio]:
    return {lang: decode(truth_corpus / s.paths.vocals) for lang, s in songs.items()}


@pytest.fixture(scope="module")
def aligned(songs, vocals) -> dict[str, Alignment]:
    return {lang: align_lyrics(songs[lang].lines, vocals[lang], lang) for lang in songs}


def noisy_asr(truth: TruthSong, seed: int = 0, keep: float = 0.3, jitter_s: float = 0.15) -> list[Word]:
    """A poor transcript simulated from the truth: most words dropped, times jittered, some misheard."""
    rng = np.random.default_rng(seed)
    out = []
    for w in truth.words:
        if rng.random() < keep:
            shift = rng.uniform(-jitter_s, jitter_s)
            out.append(Word(w.word if rng.random() > 0.15 else "la", max(0.0, w.start_s + shift), w.end_s + shift))
    return out


# --- text --------------------------------------------------------------------------------------


def test_tokens_split_chinese_per_character_and_strip_punctuation():
    assert tokens("我们 走，") == ["我", "们", "走"]
    assert tokens("Hold on, tonight!  don't") == ["Hold", "on", "tonight", "don't"]
    words = reference_words(["Canción del mar", "你好"], "es")
    assert [w.key for w in words] == ["cancion", "del", "mar", "ni", "hao"]
    assert [w.line for w in words] == [0, 0, 0, 1, 1]


def test_reference_words_match_the_truth_word_count(songs):
    for lang, song in songs.items():
        assert [w.text for w in reference_words(song.lines, lang)] == [w.word for w in song.words]


def test_shuffled_words_is_a_fixed_permutation():
    ref = reference_words(["a b c", "d e f g"], "en")
    once, again = shuffled_words(ref), shuffled_words(ref)
    assert once == again and sorted(w.text for w in once) == sorted(w.text for w in ref) and once != ref


# --- anchors -----------------------------------------------------------------------------------


@given(st.lists(st.sampled_from("abcde"), max_size=12), st.lists(st.sampled_from("abcdx"), max_size=12))
def test_matched_pairs_are_increasing_and_equal(ref, hyp):
    pairs = match_keys(ref, hyp)
    assert all(ref[r] == hyp[h] for r, h in pairs)
    assert all(r1 < r2 and h1 < h2 for (r1, h1), (r2, h2) in zip(pairs, pairs[1:]))


def test_anchors_keep_repeated_choruses_apart():
    lines = ["we rise tonight", "a verse here", "we rise tonight", "second verse", "we rise tonight"]
    ref = reference_words(lines, "en")
    # ASR heard only the second and third choruses' "tonight", and "rise" of the first.
    asr = [Word("rise", 1.0, 1.3), Word("tonight", 21.0, 21.4), Word("tonight", 41.0, 41.5)]
    anchors = find_anchors(ref, asr)
    assert [(a.ref, a.start_s) for a in anchors] == [(1, 1.0), (8, 21.0), (13, 41.0)]


def test_interpolation_spreads_words_between_anchors():
    ref = reference_words(["a b c d"], "en")
    anchors = find_anchors(ref, [Word("a", 1.0, 1.5), Word("d", 4.0, 4.5)])
    times = interpolate(len(ref), anchors, (0.0, 10.0))
    assert times[0] == (1.0, 1.5) and times[3] == (4.0, 4.5)
    assert times[1][0] == pytest.approx(1.5) and times[2][0] == pytest.approx(2.75)


def test_unknown_method_is_a_usage_error(vocals):
    with pytest.raises(UsageError, match="unknown alignment method"):
        align_lyrics(["la"], vocals["en"], "en", method="magic")


# --- the guide aligner on ground-truth songs ----------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh", "es"])
def test_one_word_per_reference_word_in_order_inside_its_line(songs, aligned, lang):
    truth, result = songs[lang], aligned[lang]
    assert not result.flagged, result.reason
    assert [w.word for w in result.words] == [w.word for w in truth.words]
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts)
    assert all(w.end_s >= w.start_s for w in result.words)
    line_span: dict[int, tuple[float, float]] = {}
    for w, line in zip(truth.words, truth.word_lines):
        a, b = line_span.get(line, (w.start_s, w.end_s))
        line_span[line] = (min(a, w.start_s), max(b, w.end_s))
    for w, line in zip(result.words, truth.word_lines):
        a, b = line_span[line]
        assert a - 0.2 <= w.start_s <= b + 0.2, (w, line_span[line])


@pytest.mark.parametrize("lang", ["en", "zh", "es"])
def test_median_start_error_on_the_clean_vocal(songs, aligned, lang):
    errors = [abs(w.start_s - t.start_s) for w, t in zip(aligned[lang].words, songs[lang].words)]
    assert np.median(errors) <= CLEAN_MEDIAN_BOUND_S
    assert aligned[lang].coverage >= 0.5


def test_no_words_in_instrumental_sections(songs, aligned):
    for lang, truth in songs.items():
        quiet = [s for s in truth.sections if s.label in INSTRUMENTAL_LABELS]
        for w in aligned[lang].words:
            middle = (w.start_s + w.end_s) / 2
            assert not any(s.start_s + 0.1 < middle < s.end_s - 0.1 for s in quiet), (lang, w)


def test_repeated_choruses_land_on_their_own_occurrence(songs, vocals):
    truth = songs["en"]
    chorus_lines = [line for line in truth.lines if truth.lines.count(line) > 1]
    assert chorus_lines, "the test song has a repeated chorus"
    result = align_lyrics(truth.lines, vocals["en"], "en", asr_words=noisy_asr(truth, seed=3))
    assert not result.flagged
    for got, want, line in zip(result.words, truth.words, truth.word_lines):
        if truth.lines[line] in chorus_lines:
            assert abs(got.start_s - want.start_s) < 0.5, (got, want)


def test_misleading_asr_anchors_do_not_drag_words_to_the_other_chorus(songs, vocals):
    """ASR times of the first chorus given to the second: the text and the audio still win."""
    truth = songs["en"]
    shifted = [Word(w.word, w.start_s + 1.0, w.end_s + 1.0) for w in noisy_asr(truth, seed=5)]
    result = align_lyrics(truth.lines, vocals["en"], "en", asr_words=shifted)
    errors = [abs(w.start_s - t.start_s) for w, t in zip(result.words, truth.words)]
    assert np.median(errors) <= 0.1


def test_wrong_lyrics_are_flagged(songs, vocals):
    swapped = align_lyrics(songs["es"].lines, vocals["en"], "en")
    assert swapped.flagged and swapped.reason
    rng = np.random.default_rng(1)
    vocab = ["river", "paper", "machine", "yellow", "bright", "garden", "number", "sudden"]
    random_text = [" ".join(rng.choice(vocab, 6)) for _ in range(len(songs["en"].lines))]
    assert align_lyrics(random_text, vocals["en"], "en").flagged


# --- the stage ---------------------------------------------------------------------------------


def _item(truth_corpus: Path, truth: TruthSong, lines: list[str] | None) -> SongItem:
    path = truth_corpus / truth.paths.mix
    source = SourceFile(id=truth.name, path=path, rel_path=truth.paths.mix)
    item = SongItem(source, Song(id=truth.name, source_path=truth.paths.mix, duration_s=truth.duration_s,
                                 sample_rate=44100, channels=2, language=truth.language))
    item.audio = standardise(decode(path), 44100, 2)
    item.stems["vocals"] = standardise(decode(truth_corpus / truth.paths.vocals), 44100, 2)
    item.reference_lines = lines
    return item


def _stage():
    config = PrepConfig(stages=("decode", "lyrics", "align"))
    stage = stage_class("align")(config)
    stage.setup(StageContext(Path("."), "cpu"))
    return stage


def test_align_stage_writes_words_and_coverage(truth_corpus, songs):
    check_chain(("decode", "lyrics", "align"))
    truth = songs["es"]
    item = _stage().process(_item(truth_corpus, truth, truth.lines))
    song = item.song
    assert [w.word for w in song.words] == [w.word for w in truth.words]
    assert all(w.section == -1 for w in song.words)
    errors = np.array([abs(w.start_s - t.start_s) for w, t in zip(song.words, truth.words)])
    assert np.median(errors) <= CLEAN_MEDIAN_BOUND_S  # Whisper placement, sharpened by the guide
    assert 0.0 < song.alignment_coverage <= 1.0
    from songprep.alignment import MIN_MEDIAN_PROBABILITY

    assert MIN_MEDIAN_PROBABILITY < song.lyrics_confidence <= 1.0
    assert song.lyrics_source == "reference" and song.language == "es"


def test_align_stage_rejects_wrong_lyrics_and_skips_songs_without_text(truth_corpus, songs):
    stage = _stage()
    with pytest.raises(RejectError, match="lyrics do not match the audio"):
        stage.process(_item(truth_corpus, songs["en"], songs["zh"].lines))
    untouched = stage.process(_item(truth_corpus, songs["en"], None))
    assert untouched.song.words == [] and untouched.song.alignment_coverage is None


def test_align_stage_refuses_an_unknown_method():
    with pytest.raises(UsageError, match="unknown method"):
        stage_class("align").resolve_options({"method": "magic"})
    resolved = stage_class("align").resolve_options({})
    assert resolved == {"method": "whisper", "model": "whisper:base"}  # the shipped multilingual model
    assert stage_class("align").resolve_options({"method": "guide", "model": "auto"}) == {"method": "guide"}
    with pytest.raises(UsageError, match="not an openai-whisper model"):
        stage_class("align").resolve_options({"method": "whisper", "model": "faster-whisper:base"})


def test_align_stage_language_from_text_and_voice_else_reject(truth_corpus, songs):
    stage = _stage()
    for lang in ("zh", "en", "es"):
        item = _item(truth_corpus, songs[lang], songs[lang].lines)
        item.song.language = None
        assert stage.process(item).song.language == lang  # never a silent default
    nothing = _item(truth_corpus, songs["en"], ["1 2 3 ... 4"])
    nothing.song.language = None
    nothing.stems["vocals"] = Audio(np.zeros_like(nothing.stems["vocals"].samples), 44100)
    with pytest.raises(RejectError, match="language unknown"):
        stage.process(nothing)


def _refine(monkeypatch, whisper_starts, free_starts, fitted_starts, fitted_share=0.9):
    """refine_with_guide on Whisper starts, with the guide's three DTWs (anchored, free, shuffled) given."""
    import songprep.alignment as alignment
    import songprep.alignment.guide as guide
    from songprep.alignment.guide import DtwResult

    n = len(whisper_starts)
    runs = iter([DtwResult(np.array(fitted_starts), np.array(fitted_starts) + 0.2, np.full(n, fitted_share)),
                 DtwResult(np.array(free_starts), np.array(free_starts) + 0.2, np.full(n, 0.5)),
                 DtwResult(np.zeros(n), np.zeros(n), np.ones(n))])
    monkeypatch.setattr(guide, "align_guide", lambda *a, **k: next(runs))
    ref = reference_words([" ".join(f"w{i}" for i in range(n))], "en")
    a = Alignment([Word(f"w{i}", s, s + 0.2, 0.9) for i, s in enumerate(whisper_starts)], 1.0, "whisper", False)
    alignment.refine_with_guide(a, ref, np.zeros(16000, np.float32), "en")
    return [w.start_s for w in a.words]


def test_guide_takes_a_word_whisper_misplaced_when_it_is_sure_and_on_track(monkeypatch):
    # word 2: Whisper 0.4 s late; the free and the anchored guide agree on it, and its neighbours agree with Whisper
    starts = _refine(monkeypatch, [1.0, 2.0, 3.4, 4.0], [1.02, 2.01, 3.0, 4.01], [1.02, 2.01, 3.01, 4.01])
    assert starts == [1.02, 2.01, 3.0, 4.01]


def test_whisper_keeps_a_word_where_the_guide_is_unsure_or_has_drifted(monkeypatch):
    # unsure: Whisper's pull moved the anchored guide (3.3 vs the free 3.0); the song fits too poorly to anchor
    assert _refine(monkeypatch, [1.0, 2.0, 3.4, 4.0], [1.02, 2.01, 3.0, 4.01],
                   [1.02, 2.01, 3.3, 4.01], fitted_share=1.0)[2] == 3.4
    # drifted: the guide disagrees with Whisper on every word, so no neighbour vouches for it
    assert _refine(monkeypatch, [1.0, 2.0, 3.4, 4.0], [1.5, 2.5, 3.0, 4.5], [1.5, 2.5, 3.0, 4.5],
                   fitted_share=1.0) == [1.0, 2.0, 3.4, 4.0]
