"""PER/WER/CER text side: normalisation, g2p per language (phones written out by hand), edit counts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from songprep.evaluation.g2p import G2P, g2p_choices
from songprep.evaluation.inputs import reference_lyrics
from songprep.evaluation.normalise import normalise_text, spell_number
from songprep.evaluation.per import ErrorCounts, TextScorer, corpus_rate, edit_counts, mean_rate


@pytest.fixture(scope="module")
def scorer() -> TextScorer:
    return TextScorer()


@pytest.mark.parametrize("text, language, expected", [
    ("Don't STOP, it's 42!", "en", "don't stop it's forty two"),
    ("¿Qué tal? Tengo 21 años.", "es", "qué tal tengo veintiuno años"),
    ("我爱你，中国！", "zh", "我 爱 你 中 国"),
    ("第101次", "zh", "第 一 百 零 一 次"),
    ("こんにちは、世界。", "ja", "こ ん に ち は 世 界"),
    ("  rock\u2019n roll -- yeah...  ", "en", "rock'n roll yeah"),
])
def test_normalise_rules(text: str, language: str, expected: str) -> None:
    assert normalise_text(text, language) == expected


@pytest.mark.parametrize("number, expected", [("10", "十"), ("15", "十五"), ("2024", "二千零二十四"),
                                              ("10005", "一万零五"), ("120000", "十二万")])
def test_mandarin_numbers(number: str, expected: str) -> None:
    assert spell_number(number, "zh") == expected


# Phone sequences written out by hand (IPA from the espeak-ng voices; pinyin initials + toned finals).
@pytest.mark.parametrize("text, language, phones", [
    ("hello world", "en", "h ə l oʊ w ɜː l d"),
    ("I can't stop", "en", "aɪ k æ n t s t ɑː p"),
    ("hola mundo", "es", "o l a m u n d o"),
    ("mi corazón", "es", "m i k o ɾ a θ o n"),
    ("我爱你", "zh", "uo3 ai4 n i3"),
    ("中国", "zh", "zh ong1 g uo2"),
    ("长大", "zh", "zh ang3 d a4"),  # polyphone 长 read zhang3 (grow), not chang2, from the phrase
    ("こんにちは", "ja", "k o̞ n n i tɕ i h ä"),
    ("世界", "ja", "s e̞ k ä i"),  # kanji via pykakasi -> せかい, not "Chinese letter"
])
def test_phonemes_by_hand(text: str, language: str, phones: str) -> None:
    assert G2P().phonemize([normalise_text(text, language)], language) == [phones.split()]


def test_mandarin_avoids_espeak_letter_names() -> None:
    choice = g2p_choices(("zh", "ja"))
    assert choice["zh"]["backend"].startswith("pypinyin")
    assert "pykakasi" in choice["ja"]["backend"]
    tokens = G2P().phonemize([normalise_text("我爱你中国", "zh")], "zh")[0]
    assert not any(t.startswith("(") or "ɪ" in t for t in tokens)  # no (en)...(cmn) letter readings


@pytest.mark.parametrize("ref, hyp, language, counts", [
    ("I can't stop", "I can stop", "en", (0, 1, 0, 9)),            # t of can't deleted
    ("hola mundo", "hola mando", "es", (1, 0, 0, 8)),              # u -> a
    ("我爱你", "我爱他", "zh", (2, 0, 0, 4)),                        # n i3 -> t a1
    ("我爱你", "我爱你们", "zh", (0, 0, 2, 4)),                      # + m en5
    ("こんにちは", "こんにちわ", "ja", (1, 0, 0, 9)),                 # h ä -> w ä
])
def test_per_by_hand(scorer: TextScorer, ref: str, hyp: str, language: str, counts: tuple) -> None:
    per = scorer.score(ref, hyp, language).per
    assert (per.substitutions, per.deletions, per.insertions, per.reference_length) == counts


def test_reference_against_itself_is_zero(scorer: TextScorer, truth_corpus) -> None:
    from songprep.testing.corpus import load_corpus

    for truth in load_corpus(truth_corpus):
        lyrics = reference_lyrics(truth.levo_lyric)
        pair = scorer.score(lyrics, lyrics, truth.language)
        assert pair.per.errors == pair.wer.errors == pair.cer.errors == 0, truth.name
        assert pair.per.reference_length > len(truth.words)


def test_wer_and_cer_counts(scorer: TextScorer) -> None:
    pair = scorer.score("the cat sat", "the cat sat down", "en")
    assert (pair.wer.insertions, pair.wer.reference_length) == (1, 3)
    assert (pair.cer.insertions, pair.cer.reference_length) == (4, 9)
    assert scorer.score("我爱你", "我爱他", "zh").wer.substitutions == 1  # one character = one zh "word"


def test_empty_sides() -> None:
    assert edit_counts([], ["a", "b"]) == ErrorCounts(0, 0, 2, 0)
    assert edit_counts(["a", "b"], []) == ErrorCounts(0, 2, 0, 2)
    assert edit_counts([], []).reference_length == 0


def test_corpus_rate_and_mean_rate_differ_as_defined() -> None:
    long_good, short_bad = ErrorCounts(1, 0, 0, 100), ErrorCounts(1, 0, 0, 2)
    assert corpus_rate([long_good, short_bad]) == pytest.approx(2 / 102)
    assert mean_rate([long_good, short_bad]) == pytest.approx((0.01 + 0.5) / 2)


tokens = st.lists(st.sampled_from(["a", "b", "c", "ŋ", "uo3"]), max_size=12)


@settings(max_examples=60, deadline=None)
@given(tokens, tokens)
def test_edit_counts_are_consistent(ref: list[str], hyp: list[str]) -> None:
    c = edit_counts(ref, hyp)
    assert c.substitutions + c.deletions <= len(ref)
    assert len(hyp) - len(ref) == c.insertions - c.deletions
    assert edit_counts(ref, ref).errors == 0
    assert c.errors >= abs(len(hyp) - len(ref))


def test_cli_per_json() -> None:
    from songprep.cli import cli

    result = CliRunner().invoke(cli, ["eval", "per", "--ref", "[verse] hola mundo ; [outro-short]", "--hyp",
                                      "hola mando", "--language", "es", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["per"]["substitutions"] == 1 and data["per"]["reference_length"] == 8
    assert data["g2p"]["backend"].startswith("espeak-ng")


def test_a_lyric_whose_language_cannot_be_told_is_refused_not_scored_as_english(tmp_path):
    from songprep.errors import UsageError
    from songprep.evaluation.inputs import load_prompts

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"idx": "a", "gt_lyric": "[verse] Je ne regrette rien. Non, rien de rien, je ne regrette '
                       'rien"}\n{"idx": "b", "gt_lyric": "[verse] la la la"}\n{"idx": "c", "gt_lyric": "[verse] baby '
                       'baby"}\n', encoding="utf-8")
    french, lala, baby = load_prompts(prompts)
    assert (french.language, french.refused) == ("fr", "")
    for refused in (lala, baby):  # "la la la" reads as Occitan at p=0.53, "baby baby" as Turkmen at 0.98
        assert refused.language == "" and refused.refused.startswith("the language of this lyric cannot be told")
        assert '"language" field' in refused.refused
    prompts.write_text('{"idx": "b", "gt_lyric": "[verse] la la la", "language": "es"}\n', encoding="utf-8")
    assert [(p.language, p.refused) for p in load_prompts(prompts)] == [("es", "")]
    prompts.write_text('{"idx": "b", "gt_lyric": "[verse] la la la", "language": "tlh"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"p.jsonl line 1: language 'tlh' not one of"):
        load_prompts(prompts)


def test_languages_espeak_knows_get_their_own_phonemes():
    assert g2p_choices(("fr", "de", "it", "pt", "ko"))["fr"]["backend"] == "espeak-ng (fr-fr)"
    g2p = G2P()
    assert g2p.phonemize(["bonjour"], "fr") != g2p.phonemize(["bonjour"], "en")
    assert g2p.phonemize(["ich"], "de")[0]


WORDS = {"fr": "amour", "de": "liebe", "it": "amore", "pt": "coração", "ko": "사랑", "nl": "liefde", "sv": "kärlek",
         "da": "kærlighed", "fi": "rakkaus", "pl": "miłość", "cs": "láska", "ro": "dragoste", "hu": "szerelem",
         "ru": "любовь", "uk": "кохання", "tr": "aşk", "id": "cinta", "ca": "amor", "el": "αγάπη"}


def test_every_language_but_zh_and_ja_has_its_own_espeak_voice_and_phones():
    import subprocess

    from songprep.evaluation.g2p import ESPEAK_DIRECT, ESPEAK_VOICES
    from songprep.evaluation.normalise import LANGUAGES

    voices = set(subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True).stdout.split())
    assert set(ESPEAK_DIRECT) == set(LANGUAGES) - {"zh", "ja"} and set(WORDS) == set(ESPEAK_DIRECT) - {"en", "es"}
    g2p = G2P()
    for language, word in WORDS.items():
        assert ESPEAK_VOICES[language] in voices, language
        choice = g2p_choices((language,))[language]
        assert choice["backend"] == f"espeak-ng ({ESPEAK_VOICES[language]})"
        phones = g2p.phonemize([normalise_text(word, language)], language)[0]
        english = g2p.phonemize([normalise_text(word, language)], "en")[0]
        assert phones and (phones != english or language == "ko"), (language, phones)  # en-us reads hangul as ko
    assert normalise_text("42", "el") == "42"  # num2words has no Greek: espeak-ng reads the digits


def test_the_protocol_says_whether_gating_and_loop_removal_ran_and_its_hash_follows():
    from songprep.evaluation.run import EvalConfig, _Components, build_protocol
    from songprep.transcription import load_transcriber

    def per_part(**switches):
        transcriber = load_transcriber("faster-whisper:tiny.en", beam_size=1, **switches)
        return build_protocol(EvalConfig(), _Components(transcriber=transcriber), {"en"})

    default, ungated, looped = per_part(), per_part(gate=False), per_part(loops=False)
    described = default.parts["per"]["transcription"]
    assert described["model"] == "faster-whisper:tiny.en" and described["version"].startswith("faster-whisper")
    assert described["voice_activity_gating"].startswith("silero-vad")
    assert described["loop_removal"].startswith("on (") and "max_repeats" in described["loop_removal"]
    assert "temperature 0" in described["decoding"] and described["beam_size"] == 1
    assert described["device"] == "cpu" and described["compute_type"].startswith("int8")
    assert ungated.parts["per"]["transcription"]["voice_activity_gating"] == "off"
    assert looped.parts["per"]["transcription"]["loop_removal"].startswith("off")
    hashes = {p.part_hash("per") for p in (default, ungated, looped)}
    assert len(hashes) == 3
    assert {"normaliser", "g2p"} <= set(default.parts["per"])
