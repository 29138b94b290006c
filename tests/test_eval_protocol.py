"""The evaluator's cache never hides a difference: whatever changes a number (the protocol, the prompt, a
library version) re-scores, and only that; a prompt whose language cannot be told is refused, with its reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import require_tool, tone, write_audio_file
from songprep.evaluation.inputs import System, load_prompts
from songprep.evaluation.run import EvalConfig, evaluate

LYRICS = {"a": "hold on to the night we are young tonight", "b": "take me home to the place where I belong"}


@dataclass
class Heard:
    text: str


@dataclass
class FakeWhisper:
    """A transcriber that hears a fixed text and says how it ran, like songprep's own (gate, loops, beam)."""

    heard: dict[str, str]
    gate: object = True
    loops: bool = True
    beam_size: int = 5
    name: str = "fake-whisper:test"
    version: str = "fake 1"
    calls: list[str] = field(default_factory=list)

    heard_audio: list = field(default_factory=list)

    def transcribe(self, audio, language=None, gate_on=None):
        self.calls.append(language)
        self.heard_audio.append((audio, gate_on))
        return Heard(self.heard[language])


@dataclass
class FakeSeparator:
    """Vocals that are the mix at half level: told apart from the mix by value, as a real stem would be."""

    name: str = "fake-separator:test"
    version: str = "fake 1"

    def separate(self, audio):
        from songprep.audio import Audio

        return {"vocals": Audio(audio.samples * 0.5, audio.sample_rate)}


@pytest.fixture
def setup(tmp_path: Path):
    require_tool("espeak-ng")  # phonemes for PER
    system = tmp_path / "sys"
    for k, idx in enumerate(LYRICS):
        write_audio_file(system / "audios" / f"{idx}.flac", tone(1.0, seed=k))
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"idx": idx, "gt_lyric": f"[verse] {text}", "language": "en"}) + "\n"
                               for idx, text in LYRICS.items()))
    return prompts, [System("s", system)], tmp_path / "report"


CONFIG = EvalConfig(separate=False, aesthetics=(), resamples=50)


def run(prompts, systems, out, transcriber, config=CONFIG):
    return evaluate(load_prompts(prompts), systems, out, config, transcriber=transcriber)


def test_a_changed_protocol_rescores_and_an_unchanged_one_does_not(setup):
    prompts, systems, out = setup
    asr = FakeWhisper({"en": "hold on to the night"})
    first = run(prompts, systems, out, asr)
    assert first.scored == 2 and len(asr.calls) == 2
    numbers = json.loads((out / "results.json").read_text())["systems"]
    again = run(prompts, systems, out, asr)
    assert again.scored == 0 and again.from_cache == 2 and len(asr.calls) == 2
    assert json.loads((out / "results.json").read_text())["systems"] == numbers

    ungated = FakeWhisper(asr.heard, gate=None)  # voice-activity gating off: another protocol
    result = run(prompts, systems, out, ungated)
    assert result.scored == 2 and len(ungated.calls) == 2
    assert result.part_seconds["signal"] == 0.0  # loudness does not depend on the ASR: still cached
    assert result.protocol.part_hash("per") != first.protocol.part_hash("per")
    assert result.protocol.config_hash != first.protocol.config_hash

    unlooped = FakeWhisper(asr.heard, loops=False)
    assert run(prompts, systems, out, unlooped).scored == 2 and len(unlooped.calls) == 2
    narrow = FakeWhisper(asr.heard, beam_size=1)
    assert run(prompts, systems, out, narrow).scored == 2 and len(narrow.calls) == 2
    assert run(prompts, systems, out, asr).scored == 0  # the first protocol's scores are still there


def test_an_edited_prompt_rescores_that_prompt_only(setup):
    prompts, systems, out = setup
    asr = FakeWhisper({"en": "hold on to the night"})
    first = run(prompts, systems, out, asr)
    per_a = first.per_song.set_index("idx").loc["a", "per"]
    prompts.write_text(prompts.read_text().replace("we are young tonight", "we are forever young"))
    edited = run(prompts, systems, out, asr)
    assert edited.scored == 1 and len(asr.calls) == 3  # same file, same idx, another reference: PER again
    assert edited.per_song.set_index("idx").loc["a", "per"] != per_a


def test_a_new_library_version_rescores_everything(setup, monkeypatch):
    from songprep.evaluation import protocol

    prompts, systems, out = setup
    asr = FakeWhisper({"en": "hold on to the night"})
    run(prompts, systems, out, asr)
    real = protocol.package_version
    monkeypatch.setattr(protocol, "package_version", lambda name: "9.9" if name == "torch" else real(name))
    result = run(prompts, systems, out, asr)
    assert result.scored == 2 and result.part_seconds["signal"] > 0 and len(asr.calls) == 4


def test_a_prompt_whose_language_cannot_be_told_is_a_refused_row_never_english(setup):
    prompts, systems, out = setup
    prompts.write_text(prompts.read_text() + json.dumps({"idx": "c", "gt_lyric": "[verse] la la la"}) + "\n")
    write_audio_file(systems[0].directory / "audios" / "c.flac", tone(1.0, seed=5))
    asr = FakeWhisper({"en": "hold on to the night"})
    result = run(prompts, systems, out, asr)
    rows = result.per_song.set_index("idx")
    assert rows.loc["c", "status"] == "refused" and "cannot be told" in rows.loc["c", "reason"]
    assert len(asr.calls) == 2 and set(asr.calls) == {"en"}  # never transcribed, in English or otherwise
    entry = result.results["systems"]["s"]
    assert entry["prompts"] == 3 and entry["scored"] == 2
    assert [p["status"] for p in entry["problems"]] == ["refused"]
    assert result.results["languages"] == ["en"]
    md = (out / "report.md").read_text()
    assert "refused" in md and "cannot be told from its text" in md


def test_the_report_says_how_per_was_measured(setup):
    prompts, systems, out = setup
    run(prompts, systems, out, FakeWhisper({"en": "hold on"}, gate=None, loops=False, beam_size=1))
    md = (out / "report.md").read_text()
    assert "ASR fake-whisper:test (fake 1)" in md and "beam 1" in md
    assert "voice-activity gating off" in md and "loop removal off" in md
    assert "normaliser v1" in md and "en: espeak-ng (en-us)" in md
    per = json.loads((out / "results.json").read_text())["protocol"]["parts"]["per"]
    assert per["transcription"]["voice_activity_gating"] == "off" and per["g2p"]["en"]["backend"]


def test_cli_switches_reach_the_transcriber(setup, monkeypatch):
    from click.testing import CliRunner

    import songprep.transcription
    from songprep.cli import cli

    prompts, systems, out = setup
    seen = {}

    def load_transcriber(name, device, **options):
        seen.update(options)
        return FakeWhisper({"en": "hold on"}, gate=options["gate"] or None, loops=options["loops"])

    monkeypatch.setattr(songprep.transcription, "load_transcriber", load_transcriber)
    result = CliRunner().invoke(cli, ["eval", "run", "-p", str(prompts), "-s", f"s={systems[0].directory}", "-o",
                                      str(out), "--no-separation", "--aesthetics", "", "--no-gating",
                                      "--no-loop-removal", "--resamples", "50"])
    assert result.exit_code == 0, result.output
    assert seen == {"gate": False, "loops": False}
    per = json.loads((out / "results.json").read_text())["protocol"]["parts"]["per"]["transcription"]
    assert per["voice_activity_gating"] == "off" and per["loop_removal"].startswith("off")


@pytest.mark.parametrize("hear", ["mix", "stem"])
def test_with_separation_whisper_hears_what_the_config_says_and_the_protocol_records_it(setup, hear):
    """Default: the mix, gated on the separated vocals (a lower PER floor on real songs); or the vocals."""
    import numpy as np

    from songprep.evaluation.run import HEARD

    prompts, systems, out = setup
    asr = FakeWhisper({"en": "hold on to the night"})
    config = EvalConfig(aesthetics=(), resamples=50, hear=hear)
    result = evaluate(load_prompts(prompts), systems, out, config, transcriber=asr, separator=FakeSeparator())
    assert result.scored == 2 and len(asr.heard_audio) == 2
    for audio, gate_on in asr.heard_audio:
        if hear == "mix":
            assert np.allclose(gate_on.samples, 0.5 * audio.samples) and np.abs(audio.samples).max() > 0
        else:
            assert gate_on is None
    assert result.protocol.parts["per"]["heard"] == HEARD[hear]
    assert f"hearing {HEARD[hear]}" in (out / "report.md").read_text()
    other = EvalConfig(aesthetics=(), resamples=50, hear="stem" if hear == "mix" else "mix")
    again = evaluate(load_prompts(prompts), systems, out, other, transcriber=asr, separator=FakeSeparator())
    assert again.scored == 2  # another thing heard, other numbers: scored again, never served from the cache


def test_what_whisper_hears_is_mix_or_stem_and_the_cli_passes_it(setup, monkeypatch):
    from click.testing import CliRunner

    import songprep.evaluation.run as run_module
    from songprep.cli import cli
    from songprep.errors import UsageError

    prompts, systems, out = setup
    with pytest.raises(UsageError, match="hear must be one of mix, stem"):
        run(prompts, systems, out, FakeWhisper({"en": "hold on"}), EvalConfig(aesthetics=(), hear="both"))
    seen = []
    real = run_module.evaluate
    monkeypatch.setattr(run_module, "evaluate", lambda *a, **k: seen.append(a[3]) or real(
        *a[:3], EvalConfig(separate=False, aesthetics=(), resamples=50), transcriber=FakeWhisper({"en": "x"})))
    args = ["eval", "run", "-p", str(prompts), "-s", f"s={systems[0].directory}", "-o", str(out), "--aesthetics", ""]
    result = CliRunner().invoke(cli, args + ["--asr-hears", "stem"])
    assert result.exit_code == 0, result.output
    assert seen[0].hear == "stem"
    assert CliRunner().invoke(cli, args + ["--asr-hears", "both"]).exit_code == 2
