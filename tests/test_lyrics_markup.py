"""Lyric markup: round trips through every dialect, lint codes, fix, and SongGeneration's own examples.

tests/data/songgeneration_examples.jsonl holds real prompts from tencent-ailab/SongGeneration's
sample/ files (the ``source`` field of each record names the file and commit); they include the
quirks of those files (``[intro-medium];``, ``[verse]Silhouettes``, ``;`` inside a chorus, a comma
and a curly apostrophe), which must lint without errors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from songprep.errors import UsageError
from songprep.lyrics.convert import DIALECTS, convert, get_dialect
from songprep.lyrics.levo import parse_levo, render_block, render_levo, render_levo_song, scan_levo
from songprep.lyrics.lint import fix, fix_jsonl, lint, lint_jsonl, looks_like_jsonl
from songprep.lyrics.lrc import format_stamp
from songprep.lyrics.model import LyricLine, LyricSection, LyricSong
from songprep.lyrics.problems import CODES
from songprep.lyrics.tags import LEVO_TAGS, resolve_tag
from songprep.lyrics.text import split_sentences, words
from songprep.lyrics.tokens import ESTIMATE, EXACT, count_tokens, estimate_tokens
from songprep.records import SECTION_LABELS, Section

EXAMPLES = Path(__file__).parent / "data" / "songgeneration_examples.jsonl"
TAG = re.compile(r"\[[^\[\]\n]*\]")


def markup_words(text: str) -> list[str]:
    """The lyric words of LeVo-like markup: everything but the tags."""
    return words(TAG.sub(" ", text))


# --- generated songs --------------------------------------------------------------------------------------

EN_WORDS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
TRICKY_EN = st.sampled_from(["can't", "we\u2019re", "singin'", "oh-oh", "caf\u00e9", "ni\u00f1o", "24", "x2"])
ZH_WORDS = st.text("花朵绽放如诗篇随风轻舞动我你的心", min_size=1, max_size=4)
JOINERS = st.sampled_from([" ", " ", " ", ", ", "! ", " (", ") ", " - ", "? ", "\u3001", "\uff0c"])


@st.composite
def lines(draw: st.DrawFn, language: str) -> str:
    pool = ZH_WORDS if language == "zh" else st.one_of(EN_WORDS, TRICKY_EN)
    tokens = draw(st.lists(pool, min_size=1, max_size=6))
    out = tokens[0]
    for token in tokens[1:]:
        out += draw(JOINERS) + token
    return out


@st.composite
def songs(draw: st.DrawFn, times: bool | None = None) -> LyricSong:
    language = draw(st.sampled_from(["en", "zh", "mixed"]))
    labels = draw(st.lists(st.sampled_from([*SECTION_LABELS, "blank"]), min_size=1, max_size=7))
    if not any(label in ("verse", "chorus", "bridge") for label in labels):
        labels.append("verse")
    timed = draw(st.booleans()) if times is None else times
    line_times = timed and draw(st.booleans())
    t = draw(st.integers(0, 500))  # centiseconds
    sections = []
    for label in labels:
        lang = draw(st.sampled_from(["en", "zh"])) if language == "mixed" else language
        texts = draw(st.lists(lines(lang), min_size=1, max_size=4)) if label in ("verse", "chorus", "bridge") else []
        length = draw(st.integers(50, 3000))
        section_lines = []
        for k, text in enumerate(texts):
            start = (t + k * length // max(len(texts), 1)) / 100 if line_times else None
            section_lines.append(LyricLine(text, start))
        start_s, end_s = (t / 100, (t + length) / 100) if timed else (None, None)
        sections.append(LyricSection(label, lines=section_lines, start_s=start_s, end_s=end_s))
        t += length
    return LyricSong(sections)


ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", list(DIALECTS))
@ROUND_TRIP
@given(song=songs())
def test_every_dialect_round_trips_words_and_section_order(name, song):
    dialect = DIALECTS[name]
    rendered = dialect.render(song)
    back, problems = dialect.scan(rendered)
    assert back.words() == song.words()
    assert back.labels() == [dialect.carried_label(label) for label in song.labels()]
    assert problems.items == [], [p.message for p in problems.items]


@ROUND_TRIP
@given(song=songs(), first=st.sampled_from(list(DIALECTS)), second=st.sampled_from(list(DIALECTS)))
def test_conversions_between_dialects_keep_words_and_order(song, first, second):
    a, b = DIALECTS[first], DIALECTS[second]
    text = convert(a.render(song), first, second).text
    back = b.parse(text)
    assert back.words() == song.words()
    assert back.labels() == [b.carried_label(a.carried_label(label)) for label in song.labels()]


@ROUND_TRIP
@given(song=songs(times=True))
def test_songprep_round_trip_keeps_section_times(song):
    back = DIALECTS["songprep"].parse(DIALECTS["songprep"].render(song))
    for before, after in zip(song.sections, back.sections):
        assert after.start_s == pytest.approx(before.start_s, abs=0.006)
        assert after.end_s == pytest.approx(before.end_s, abs=0.006)


@ROUND_TRIP
@given(song=songs(times=True))
def test_lrc_round_trip_keeps_line_times_and_songbloom_keeps_lengths(song):
    back = DIALECTS["lrc"].parse(DIALECTS["lrc"].render(song))
    originals = [line.start_s for s in song.sections for line in s.lines if line.start_s is not None]
    if len(originals) == len(song.lines()):
        assert [line.start_s for s in back.sections for line in s.lines] == pytest.approx(originals, abs=0.006)
    bloom = DIALECTS["songbloom"].parse(DIALECTS["songbloom"].render(song))
    for before, after in zip(song.sections, bloom.sections):
        if not before.vocal:
            assert after.duration_s == max(1, round(before.duration_s))


def test_songprep_and_lrc_estimate_times_a_timeless_source_and_say_so():
    result = convert("[intro-medium] ; [verse] hello there.second line. ; [outro-short]", "levo", "lrc")
    assert result.notes and "estimated" in result.notes[0]
    assert re.search(r"^\[00:15\.00\]hello there$", result.text, re.M)
    sp = convert("[intro-medium] ; [verse] hello there. ; [silence]", "levo", "songprep")
    assert sp.text.startswith("[intro][0.00:15.00] ; [verse][15.00:")


def test_songbloom_repeats_instrumental_tags_once_per_second():
    song = LyricSong([LyricSection("intro", start_s=0, end_s=4.2), LyricSection("verse", lines=["a b, c"]),
                      LyricSection("silence", duration_s=2)])
    text = DIALECTS["songbloom"].render(song)
    assert text == "[intro] [intro] [intro] [intro] , [verse] a b. c , [inst] [inst]"
    back = DIALECTS["songbloom"].parse(text)
    assert back.sections[0].duration_s == 4 and back.sections[0].tag == "intro-short"


# --- the IR and helpers -----------------------------------------------------------------------------------


def test_levo_has_thirteen_tags_and_common_slips_resolve():
    assert len(LEVO_TAGS) == 13
    assert resolve_tag("Verse 2").label == "verse" and resolve_tag("Verse 2").form == "variant"
    assert resolve_tag("prechorus").form == "alias"
    assert resolve_tag("intro-Medium").suffix == "medium"


def test_split_sentences_keeps_words_and_drops_separators():
    assert split_sentences("Oh-oh-oh, we\u2019re (fading) \u2014 echoes!") == ["Oh-oh-oh", "we're fading echoes"]
    assert split_sentences("\u82b1\u6735\u3002\u7efd\u653e\uff0c\u5982") == ["\u82b1\u6735", "\u7efd\u653e", "\u5982"]


def test_lyric_section_derives_tags_and_round_trips_dicts():
    song = LyricSong([LyricSection("intro", start_s=0, end_s=25), LyricSection("blank", duration_s=3.0),
                      LyricSection("chorus", lines=["la la"], start_s=25, end_s=40)])
    assert [s.tag for s in song.sections] == ["intro-long", "silence", "chorus"]
    assert LyricSong.from_dict(json.loads(json.dumps(song.to_dict()))) == song
    with pytest.raises(ValueError, match="does not fit"):
        LyricSection("verse", tag="intro-short")


def test_render_levo_keeps_its_api_and_never_drops_a_word():
    sections = [Section("intro", 0, 8), Section("verse", 8, 30), Section("outro", 30, 45)]
    assert render_levo(sections, [[], ["first line", "second line"], []]) == \
        "[intro-short] ; [verse] first line.second line. ; [outro-medium]"
    assert render_block("chorus", ["雪花舞动", "情缘"]) == "[chorus] 雪花舞动.情缘"
    moved = render_levo(sections, [["sung in the intro"], [], []])
    assert moved == "[intro-short] ; [verse] sung in the intro. ; [inst-long] ; [outro-medium]"


def test_unknown_dialect_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown lyric dialect"):
        get_dialect("suno")


# --- lint: one planted problem per code -------------------------------------------------------------------

GOOD = "[intro-short] ; [verse] hello there.second line. ; [chorus] \u82b1\u6735.\u7efd\u653e ; [outro-short]"
PLANTED = [
    ("E100", "levo", "   "),
    ("E101", "levo", "[intro-short] ; [prechorus] hello there. ; [outro-short]"),
    ("E102", "levo", "[intro-short] ; [Verse] hello there. ; [outro-short]"),
    ("E103", "levo", "[intro] ; [verse] hello there. ; [outro-short]"),
    ("E104", "levo", "[intro-short] hello there. ; [chorus] la la. ; [outro-short]"),
    ("E105", "levo", "[intro-short] ; [verse] ; [chorus] la la. ; [outro-short]"),
    ("E106", "levo", "hello there. [chorus] la la. ; [outro-short]"),
    ("E107", "levo", "[intro-short] ; [verse] hello there. [chorus] la la. ; [outro-short]"),
    ("E108", "levo", "[intro-short] ; [verse] \u82b1\u6735\u3002\u7efd\u653e\uff01 ; [outro-short]"),
    ("E109", "levo", "[intro-short] ; [verse] hello ]there. ; [outro-short]"),
    ("E110", "levo", "[verse] " + "word. " * 400 + "; [outro-short]"),
    ("E120", "songprep", "[intro][0.00:5.00] ; [verse]hello there. ; [outro][20.00:30.00]"),
    ("E121", "lrc", "[00:01.00]first line\nsecond line\n[00:09.00]third line\n"),
    ("E122", "lrc", "[00:01.00]first line\n[00:04.00][01:04.00]again\n"),
    ("W201", "levo", "[intro-short]; [verse] hello there. ; [outro-short]"),
    ("W202", "levo", "[intro-short] ; [verse]hello there. ; [outro-short]"),
    ("W203", "levo", "[intro-short] ; [verse] hello there ; [outro-short]"),
    ("W204", "levo", "[intro-short] ; [verse] \u82b1\u6735.\u7efd\u653e. ; [outro-short]"),
    ("W205", "levo", "[intro-short] ; [chorus] \u82b1\u6735;\u7efd\u653e ; [outro-short]"),
    ("W206", "levo", "[intro-short] ; [verse] hello, there! ; [outro-short]"),
    ("W207", "levo", "[intro-short] ; [verse] we\u2019re here\u2026 ; [outro-short]"),
    ("W208", "levo", "[intro-short] ; [verse] hello..there. ; [outro-short]"),
    ("W209", "levo", "[intro-short] ; [verse] hello   there. ; [outro-short]"),
    ("W210", "levo", "[intro-short] ; [verse] hello there\nsecond line. ; [outro-short]"),
    ("W211", "levo", "; [intro-short] ; [verse] hello there. ; [outro-short] ;"),
    ("W212", "levo", "[intro-short] ; [inst-medium] ; [outro-short]"),
    ("W213", "lrc", "[00:09.00]late line\n[00:01.00]early line\n"),
    ("W214", "lrc", "[00:01.00]first line\n[00:05.00]\n[00:09.00]third line\n"),
    ("W215", "levo", "[verse] " + "word. " * 165 + "; [outro-short]"),
]


@pytest.mark.parametrize(("code", "dialect", "text"), PLANTED, ids=[c for c, _, _ in PLANTED])
def test_lint_finds_each_planted_problem_and_fix_removes_it(code, dialect, text):
    report = lint(text, dialect)
    assert code in {p.code for p in report.problems}, [p.format() for p in report.problems]
    problem = next(p for p in report.problems if p.code == code)
    assert problem.line >= 1 and problem.col >= 1 and problem.fix
    assert report.ok == (CODES[code].severity == "warning" and not report.errors)
    fixed = fix(text, dialect)
    after = lint(fixed, dialect)
    unfixable = {"E100", "E110", "W212", "W215"}
    assert {p.code for p in after.problems} <= unfixable, [p.format() for p in after.problems]
    if code not in unfixable:
        assert after.problems == []
    before, after_fix = words(_strip_markup(text, dialect)), words(_strip_markup(fixed, dialect))
    if dialect == "lrc":  # fixing LRC may put lines in time order: the same words, sung in time order
        before, after_fix = sorted(before), sorted(after_fix)
    assert after_fix == before


def _strip_markup(text: str, dialect: str) -> str:
    if dialect == "lrc":  # every timestamped copy of a line is sung once; section tag lines are not lyrics
        return "\n".join(
            " ".join([re.sub(r"^(\[[\d:.]+\])+", "", line)] * max(1, len(re.findall(r"\[[\d:.]+\]", line))))
            for line in text.splitlines() if not TAG.fullmatch(line.strip()))
    return TAG.sub(" ", re.sub(r"\[[\d\s.:]*\]", " ", text))


def test_every_code_has_a_planted_case():
    assert {code for code, _, _ in PLANTED} == set(CODES)


def test_positions_are_line_and_column_in_the_text():
    text = "[intro-short] ;\n[Verse] hello there. ;\n[outro]"
    report = lint(text)
    found = {p.code: (p.line, p.col) for p in report.problems}
    assert found["E102"] == (2, 1)
    assert found["E103"] == (3, 1)
    assert report.problems[0].format().startswith("1:")


def test_fix_repairs_the_classic_slips():
    text = "[intro] ; [Verse] \u82b1\u6735\u3002\u7efd\u653e\uff01 ; [prechorus]hello, world ; [blank]"
    assert fix(text) == "[intro-short] ; [verse] \u82b1\u6735.\u7efd\u653e ; [verse] hello.world. ; [silence]"


def test_lyrics_under_an_instrumental_tag_move_to_a_verse():
    song, problems = scan_levo("[intro-short] la la ; [chorus] oh.")
    assert song.labels() == ["intro", "verse", "chorus"] and song.words() == ["la", "la", "oh"]
    assert {p.code for p in problems.items} == {"E104", "W203"}


# --- SongGeneration's own examples ------------------------------------------------------------------------


def _examples() -> list[dict]:
    return [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("record", _examples(), ids=lambda r: r["idx"])
def test_songgeneration_examples_lint_without_errors(record):
    lyric = record["gt_lyric"]
    report = lint(lyric)
    assert report.ok, [p.format() for p in report.errors]
    assert report.length is not None and report.length.method == ESTIMATE
    fixed = fix(lyric)
    assert lint(fixed).problems == [] or {p.code for p in lint(fixed).problems} == {"W215"}
    assert parse_levo(fixed).words() == markup_words(lyric)
    assert parse_levo(lyric).labels() == parse_levo(fixed).labels()


def test_known_quirks_of_the_examples_are_warnings():
    by_idx = {r["idx"]: lint(r["gt_lyric"]) for r in _examples()}
    assert "W201" in {p.code for p in by_idx["1"].problems}  # "[intro-medium];"
    assert "W202" in {p.code for p in by_idx["0_en"].problems}  # "[verse]Silhouettes"
    assert "W205" in {p.code for p in by_idx["9"].problems}  # ";" inside a chorus
    assert {"W206", "W207"} <= {p.code for p in by_idx["12_en"].problems}  # "Oh-oh-oh, we’re"
    assert "W204" in {p.code for p in by_idx["17_zh"].problems}
    assert by_idx["29"].problems == [] and by_idx["0_zh"].problems == []


def test_jsonl_prompt_files_lint_and_fix_record_by_record():
    text = EXAMPLES.read_text(encoding="utf-8")
    assert looks_like_jsonl(text) and not looks_like_jsonl(GOOD)
    reports = lint_jsonl(text)
    assert len(reports) == 15 and all(r.report.ok for r in reports)
    assert {p.line for r in reports for p in r.report.problems} <= set(range(1, 16))
    fixed = fix_jsonl(text)
    records = [json.loads(line) for line in fixed.splitlines()]
    assert [r["idx"] for r in records] == [r["idx"] for r in _examples()]
    assert list(records[0]) == ["idx", "gt_lyric", "source"]
    assert all(not r.report.warnings or {p.code for p in r.report.warnings} == {"W215"} for r in lint_jsonl(fixed))


# --- length -----------------------------------------------------------------------------------------------


def test_length_is_estimated_without_a_tokenizer(monkeypatch):
    monkeypatch.delenv("SONGPREP_QWEN2_TOKENIZER", raising=False)
    counted = count_tokens("[verse] These faded memories of us. I can't erase.")
    assert counted.method == ESTIMATE and 11 <= counted.tokens <= 16
    assert "estimated" in counted.describe(300)
    assert estimate_tokens("[verse] " + "\u82b1" * 100) == pytest.approx(1 + 1 + 75, abs=2)


@pytest.fixture(scope="module")
def tiny_qwen2(tmp_path_factory) -> Path:
    """A tiny byte-level BPE tokenizer in Qwen2's file layout (vocab.json + merges.txt), no weights needed."""
    folder = tmp_path_factory.mktemp("qwen2")
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    vocab = {mapping[b]: i for i, b in enumerate(range(256))}
    space = mapping[32]
    merges = [f"{space} h", f"{space}h e", "l a"]
    for merge in merges:
        vocab["".join(merge.split())] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "Qwen2Tokenizer"}))
    return folder


def test_length_is_counted_with_a_local_qwen2_tokenizer(tiny_qwen2, monkeypatch):
    counted = count_tokens("[verse] he la.la", tiny_qwen2)
    assert counted.method == EXACT and str(tiny_qwen2) in counted.describe()
    # <|im_start|> is plain text to this toy vocabulary; [verse] and '.' are one token each, as in LeVo
    assert counted.tokens == len("<|im_start|>") + 1 + 1 + 1 + 1 + 1 + 1
    monkeypatch.setenv("SONGPREP_QWEN2_TOKENIZER", str(tiny_qwen2))
    report = lint("[verse] he la.la. ; [outro-short]", max_tokens=10)
    assert report.length.method == EXACT
    assert [p.code for p in report.problems] == ["E110"]


def test_a_missing_tokenizer_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="tokenizer directory not found"):
        count_tokens("[verse] la.", tmp_path / "nope")


def test_lrc_stamps_are_the_fixed_width_diffrhythm_reads():
    assert format_stamp(75.5) == "[01:15.50]" and format_stamp(59.999) == "[01:00.00]"
    song = LyricSong([LyricSection("verse", lines=[LyricLine("a", 1.0), LyricLine("b", 2.5)])])
    assert DIALECTS["lrc"].render(song) == "[verse]\n[00:01.00]a\n[00:02.50]b\n"


def test_render_levo_song_of_an_empty_vocal_section_is_instrumental():
    song = LyricSong([LyricSection("verse", start_s=0, end_s=15), LyricSection("chorus", lines=["la"])])
    assert render_levo_song(song) == "[inst-medium] ; [chorus] la."
