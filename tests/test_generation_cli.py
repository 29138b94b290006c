"""The generator's command line: prompt-file errors, config and checkpoint errors, each one line with the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from songprep.cli import cli

GOOD = {"idx": "a", "gt_lyric": "[verse] hello there. ; [chorus] la la la.", "descriptions": "female, pop"}


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("songprep: error: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("lines, line_no, says", [
    ([json.dumps(GOOD), '{"idx": "b", "gt_lyric": '], 2, "not valid JSON"),
    ([json.dumps(GOOD), "", json.dumps({"gt_lyric": "[verse] hi."})], 3, "missing 'idx'"),
    ([json.dumps({"idx": "x"})], 1, "missing 'gt_lyric'"),
    ([json.dumps(GOOD), json.dumps(GOOD)], 2, "idx 'a' already used on line 1"),
    ([json.dumps({**GOOD, "prompt_audio_path": "nowhere.flac"})], 1, "prompt_audio_path not found"),
    (["[1, 2]"], 1, "expected a JSON object"),
    ([json.dumps({**GOOD, "idx": "../evil"})], 1, "cannot name a file"),
])
def test_generate_reports_prompt_file_errors_with_file_and_line(tmp_path, lines, line_no, says):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", lines)
    result = run("generate", str(prompts), "-o", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "none"),
                 "--device", "cpu")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert f"prompts.jsonl:{line_no}:" in line and says in line
    assert not (tmp_path / "out").exists()  # nothing written before the file is known good


def test_prompt_audio_path_is_relative_to_the_prompts_file(tmp_path):
    from songprep.generation.prompts import read_prompts

    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "ref.flac").write_bytes(b"x")
    prompts = write_jsonl(tmp_path / "p.jsonl", [json.dumps({**GOOD, "prompt_audio_path": "clips/ref.flac"})])
    [prompt] = read_prompts(prompts)
    assert prompt.prompt_audio_path == tmp_path / "clips" / "ref.flac"
    assert prompt.descriptions == "female, pop" and prompt.line == 1


def test_generate_without_a_checkpoint_says_how_to_make_one(tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [json.dumps(GOOD)])
    result = run("generate", str(prompts), "-o", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "none"),
                 "--device", "cpu")
    assert result.exit_code == 3
    line = one_error_line(result)
    assert "no generator checkpoint" in line and "songprep train" in line


def test_generate_refuses_a_damaged_checkpoint(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    for name in ("config.json", "lyric_tokenizer.json", "audio_tokenizers.safetensors", "autoencoder.safetensors",
                 "lelm.safetensors", "renderer.safetensors", "meta.json"):
        (ckpt / name).write_text("{}" if name.endswith(".json") else "not safetensors", encoding="utf-8")
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [json.dumps(GOOD)])
    result = run("generate", str(prompts), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt), "--device", "cpu")
    assert result.exit_code == 3
    line = one_error_line(result)
    assert "damaged" in line or "not a generator checkpoint" in line


def test_generate_refuses_an_unfinished_checkpoint(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    for name in ("config.json", "lyric_tokenizer.json", "audio_tokenizers.safetensors", "autoencoder.safetensors",
                 "lelm.safetensors", "renderer.safetensors"):
        (ckpt / name).write_text("{}", encoding="utf-8")
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [json.dumps(GOOD)])
    result = run("generate", str(prompts), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt), "--device", "cpu")
    assert result.exit_code == 3
    assert "unfinished checkpoint" in one_error_line(result)


def test_train_unknown_config_lists_the_names(tmp_path):
    result = run("train", "--data", str(tmp_path), "--config", "huge", "--steps", "1", "-o", str(tmp_path / "c"),
                 "--device", "cpu")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "unknown generator config 'huge'" in line and "tiny" in line and "v2-large" in line


def test_train_on_a_folder_that_is_not_a_dataset(tmp_path):
    result = run("train", "--data", str(tmp_path), "--config", "tiny", "--steps", "1", "-o", str(tmp_path / "c"),
                 "--device", "cpu")
    assert result.exit_code == 2
    assert "not a songprep dataset" in one_error_line(result)


def test_config_files_override_a_named_config(tmp_path):
    from songprep.generation.configs import GeneratorConfig, load_config

    path = tmp_path / "mine.yaml"
    path.write_text("base: tiny\nlm:\n  layers: 3\nmax_lyric_tokens: 700\n", encoding="utf-8")
    cfg = load_config(path)
    assert (cfg.name, cfg.lm.layers, cfg.max_lyric_tokens) == ("tiny+mine", 3, 700)
    assert cfg.lm.width == load_config("tiny").lm.width
    full = tmp_path / "full.json"
    full.write_text(cfg.to_json(), encoding="utf-8")
    assert load_config(full) == cfg
    assert GeneratorConfig.from_dict(load_config("v2-large").to_dict()) == load_config("v2-large")


def test_config_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"base": "tiny", "lm": {"layerz": 3}}', encoding="utf-8")
    result = run("train", "--data", str(tmp_path), "--config", str(bad), "--steps", "1", "-o", str(tmp_path / "c"),
                 "--device", "cpu")
    assert result.exit_code == 2
    assert "layerz" in one_error_line(result)


def test_check_prompt_rejects_markup_errors_and_over_long_lyrics_without_cutting():
    from songprep.generation.lyric_tokenizer import LyricTokenizer
    from songprep.generation.prompts import check_prompt
    from songprep.lyrics.prompts import LevoPrompt

    tok = LyricTokenizer()
    good = LevoPrompt("a", "[verse] hello there. ; [chorus] la la la.", "pop", line=1)
    n = len(tok.encode(good.lyric, good.descriptions))
    assert check_prompt(good, tok, n) is None
    over = check_prompt(good, tok, n - 1)
    assert over is not None and f"lyric is {n} tokens, this model reads at most {n - 1}" in over.reason
    broken = check_prompt(LevoPrompt("b", "[Verse] hello there ; [intro]", line=4), tok, 1000)
    assert broken is not None and broken.line == 4
    assert "E102" in broken.reason and "E103" in broken.reason and "songprep lyrics fix" in broken.reason


def test_length_comes_from_the_lyric_and_a_request_past_the_model_is_an_error():
    from types import SimpleNamespace

    from songprep.errors import UsageError
    from songprep.generation.configs import load_config
    from songprep.generation.generate import GenerationOptions, frames_for

    cfg = load_config("tiny")
    model = {"seconds_per_syllable": 0.5, "instrumental_s": {"intro-short": 4.0}}
    gen = SimpleNamespace(config=cfg, meta={"duration_model": model})
    lyric = "[intro-short] ; [verse] tonight we fly.明天我等风 ; [outro-medium]"  # 4 + 5 syllables
    assert frames_for(gen, lyric, GenerationOptions()) == round((4.0 + 9 * 0.5 + 15.0) * 25)  # outro: band middle
    long = "[verse] " + ".".join(["la la la la"] * 100) + "."
    assert frames_for(gen, long, GenerationOptions()) == cfg.lm.max_frames - 1  # clamped to what LeLM holds
    assert frames_for(gen, long, GenerationOptions(), prompt_frames=250) == cfg.lm.max_frames - 1 - 250
    assert frames_for(gen, lyric, GenerationOptions(duration_s=2.0)) == 50
    with pytest.raises(UsageError, match="longer than this model makes"):
        frames_for(gen, lyric, GenerationOptions(max_frames=cfg.lm.max_frames))


def test_lyric_sections_count_sung_syllables():
    from songprep.generation.prompts import lyric_sections, syllables

    assert syllables("mi amor cantamos por ti") == 8
    assert syllables("明天我等风 ok") == 6
    sections = lyric_sections("[intro-short] ; [verse] tonight we fly.明天 ; [outro-long]")
    assert [(s.tag, s.syllables) for s in sections] == [("intro-short", 0), ("verse", 6), ("outro-long", 0)]


def test_prompt_seeds_are_stable_and_distinct():
    from songprep.generation.generate import prompt_seed

    assert prompt_seed(0, "a", 0) == prompt_seed(0, "a", 0)
    assert len({prompt_seed(s, i, k) for s in (0, 1) for i in ("a", "b") for k in (0, 1)}) == 8


def test_dpo_loss_prefers_a_larger_chosen_margin():
    import math

    import torch

    from songprep.generation.dpo import dpo_loss

    zero = torch.zeros(2)
    loss0, margin0 = dpo_loss(zero, zero, zero, zero, beta=0.1)
    assert math.isclose(float(loss0), math.log(2), rel_tol=1e-6) and torch.equal(margin0, zero)
    loss1, margin1 = dpo_loss(torch.tensor([5.0, 5.0]), zero, zero, zero, beta=0.1)
    assert float(loss1) < float(loss0) and torch.allclose(margin1, torch.tensor([0.5, 0.5]))
    loss2, _ = dpo_loss(torch.tensor([5.0, 5.0]), zero, torch.tensor([5.0, 5.0]), zero, beta=0.1)
    assert math.isclose(float(loss2), math.log(2), rel_tol=1e-6)  # no change against the reference: no reward


def test_train_dpo_without_pairs_is_one_line(tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [json.dumps(GOOD)])
    result = run("train-dpo", "--checkpoint", str(tmp_path / "none"), "--pairs", str(tmp_path / "pairs.parquet"),
                 "--candidates", str(tmp_path), "--prompts", str(prompts), "-o", str(tmp_path / "o"), "--steps", "1",
                 "--device", "cpu")
    assert result.exit_code == 3  # the checkpoint is checked first
    assert "no generator checkpoint" in one_error_line(result)


def test_untrained_generator_round_trips_through_a_checkpoint(tmp_path):
    import numpy as np
    import torch

    from songprep.generation.checkpoint import Generator, load_checkpoint, save_checkpoint
    from songprep.generation.configs import load_config

    cfg = load_config("tiny")
    gen = Generator.build(cfg)
    rng = np.random.default_rng(0)
    waves = [0.1 * rng.standard_normal((2, 48000 * 4)).astype(np.float32) for _ in range(2)]
    for tokenizer in gen.audio_tokenizers.values():
        tokenizer.fit(waves, 48000)
    gen.autoencoder.fit(waves)
    save_checkpoint(tmp_path / "ck", gen, {"steps": 0})
    back = load_checkpoint(tmp_path / "ck")
    ids = torch.tensor([gen.lyric_tokenizer.encode("[verse] hi.")])
    mask = torch.ones_like(ids, dtype=torch.bool)
    gen.lelm.eval()
    a = gen.lelm.generate(ids, mask, 8, generator=torch.Generator().manual_seed(1))
    b = back.lelm.generate(ids, mask, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    for stream in gen.audio_tokenizers:
        np.testing.assert_array_equal(gen.audio_tokenizers[stream].encode(waves[0], 48000),
                                      back.audio_tokenizers[stream].encode(waves[0], 48000))
    x = torch.from_numpy(waves[1][None])
    assert torch.allclose(gen.autoencoder.encode(x), back.autoencoder.encode(x))
    assert back.meta == {"steps": 0} and back.config == cfg
