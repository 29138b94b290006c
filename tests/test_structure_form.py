"""Song-form rules, lyric repetition and the real-song structure metrics (fast; the real songs are slow)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from songprep.records import Section, Word
from songprep.structure.form import form_problems, limit_bridges, merge_groups
from songprep.structure.labels import Segment, transposed_harmony
from songprep.structure.metrics import line_evidence, longest_run, repeated_line_mask
from songprep.structure.repetition import bar_repetition, lyric_changes, repeated_words, word_repetition

EXAMPLES = Path(__file__).parent / "data" / "songgeneration_examples.jsonl"


def _segments(labels: str, words: list[list[str]] | None = None) -> list[Segment]:
    """One 4-bar segment per label letter (I V C B N O)."""
    names = {"I": "intro", "V": "verse", "C": "chorus", "B": "bridge", "N": "inst", "O": "outro"}
    out = []
    for i, letter in enumerate(labels):
        seg = Segment(4 * i, 4 * i + 4, label=names[letter])
        seg.words = list(words[i]) if words else []
        out.append(seg)
    return out


def test_songgeneration_prompts_keep_the_form_rules():
    """The prior the rules come from: SongGeneration's own prompts break none of them."""
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        tags = re.findall(r"\[([a-z]+)(?:-[a-z]+)?\]", json.loads(line)["gt_lyric"])
        assert form_problems(tags) == [], tags


def test_form_problems_names_each_departure():
    assert form_problems(["verse", "verse", "chorus"]) == ["verse follows itself at section 1"]
    assert form_problems(["verse", "chorus", "chorus"], doubled_choruses=[2]) == []
    assert "2 bridges (at most 1)" in form_problems(["chorus", "bridge", "chorus", "bridge", "chorus"])
    assert form_problems(["verse", "bridge", "chorus"]) == ["bridge at section 1 not between choruses"]
    assert form_problems(["chorus", "bridge", "outro"]) == ["bridge at section 1 not between choruses"]


def test_only_the_last_bridge_into_a_chorus_stays():
    segs = _segments("IVCBCBVBCO")
    limit_bridges(segs)
    assert "".join(s.label[0].upper() for s in segs) == "IVCVCVVBCO"
    segs = _segments("VBCVB")  # before the first chorus; and one that leads into no chorus
    limit_bridges(segs)
    assert [s.label for s in segs] == ["verse", "verse", "chorus", "verse", "verse"]


def test_same_labels_merge_unless_the_lyrics_double_the_chorus():
    hook = ["de", "bonne", "humeur", "meme", "de", "bonne", "heure"]
    words = [[], ["a", "b"], ["c", "d"], hook, hook + ["ouais"], ["x", "y", "z"], []]
    groups = merge_groups(_segments("IVVCCCO", words))
    assert groups == [[0], [1, 2], [3], [4, 5], [6]]  # verse + pre-chorus; a doubled chorus; new words join


def test_repeated_words_need_a_line_not_a_stutter():
    assert repeated_words("te amo te amo te amo".split()).sum() == 0
    song = "uno dos tres cuatro cinco seis siete ocho nueve diez once doce".split()
    chorus = "la luna sale por la noche".split()
    flags = repeated_words(song[:4] + chorus + song[4:8] + chorus + song[8:])
    assert list(flags) == [0] * 4 + [1] * 6 + [0] * 4 + [1] * 6 + [0] * 4


def test_repetition_survives_a_misheard_word_and_accents():
    first = "la canción que canta el corazón".split()
    again = "la cancion que vanta el corazon".split()  # a transcript: accents lost, one word wrong
    flags = repeated_words(first + "y luego otra cosa distinta".split() + again)
    assert flags[:6].all() and flags[-6:].all() and not flags[6:11].any()


def test_word_repetition_follows_sung_order_not_list_order():
    words = [Word(w, float(i), i + 0.5) for i, w in enumerate("a b c d e f a b c d".split())]
    shuffled = words[::-1]
    assert list(word_repetition(shuffled)) == list(word_repetition(words)[::-1])


def test_lyric_changes_mark_where_a_chorus_starts_and_ends():
    starts = np.arange(0.0, 21.0, 2.0)  # 10 bars of 2 s
    words = [Word("w", t, t + 0.4) for t in np.arange(0.0, 20.0, 0.5)]
    flags = np.array([1.0 if 8.0 <= w.start_s < 14.0 else 0.0 for w in words])
    flags[2] = 1.0  # one stray repeated word in a verse bar is smoothed away
    count, share = bar_repetition(starts, words, flags)
    assert list(count) == [4.0] * 10
    assert lyric_changes(count, share) == [4, 7]


def test_transposed_harmony_finds_a_key_change():
    rng = np.random.default_rng(0)
    bars = rng.random((4, 4, 12)) ** 4
    up_two = np.roll(bars, 2, axis=2)

    def unit(x: np.ndarray) -> np.ndarray:
        flat = x.reshape(4, 48)
        return flat / np.linalg.norm(flat, axis=1, keepdims=True)

    assert transposed_harmony(unit(bars), unit(up_two)) == pytest.approx(1.0)
    assert np.mean(np.sum(unit(bars) * unit(up_two), axis=1)) < 0.9


def test_line_evidence_scores_against_line_timings():
    sections = [Section("intro", 0.0, 4.0), Section("verse", 4.0, 10.0), Section("chorus", 10.0, 16.0),
                Section("chorus", 16.0, 20.0), Section("outro", 20.0, 24.0)]
    lines = [(4.0, 8.0, "a verse line"), (10.0, 12.0, "Hook, hook!"), (12.0, 14.0, "other"),
             (16.0, 18.0, "hook hook"), (19.0, 22.0, "a verse line")]
    e = line_evidence(sections, lines)
    assert e.sung_in_vocal == pytest.approx(11 / 13)  # 2 s of the last line are in the outro
    assert e.inst_clean == pytest.approx(6 / 8)
    assert e.repeated_lines == 4 and e.repeated_in_chorus == pytest.approx(2 / 4)  # the verse line twice, not chorus
    assert e.runs == 2 and longest_run([]) == 0
    assert list(repeated_line_mask(["Él", "el", "x"])) == [True, True, False]


def test_sound_key_merges_what_a_recogniser_confuses():
    from songprep.structure.repetition import sound_key

    assert sound_key("de") == sound_key("Te") and sound_key("gatas") == sound_key("katas")
    assert sound_key("Ahh") == sound_key("a") and sound_key("amor") != sound_key("amo")
    heard = "de amo de amo de amo y otra cosa que no se repite te amo te amo te amo".split()
    assert repeated_words(heard)[:6].all() and repeated_words(heard)[-6:].all()
