"""The generator end to end on ground-truth songs: train the tiny config until it reproduces a song, generate,
score with ``songprep eval``, DPO on scored candidates; checkpoints, determinism, layout, resume, rejects.

One tiny model is trained once for the module (about 40 s on one CPU thread) on the first two sections of the
three ``truth_corpus`` songs, written as a songprep dataset with the truth stems (what ``prep`` would write,
without running its models).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from songprep.cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

STEPS = 250
#: tiny, with whole-song crops and a higher learning rate: memorise three 10-14 s songs in STEPS steps.
TEST_CONFIG = {"base": "tiny", "training": {"crop_frames": 400, "batch_size": 3, "lr": 0.006, "renderer_lr": 0.006,
                                            "warmup_steps": 10}}


def write_truth_dataset(corpus: Path, out: Path, sections: int = 2) -> list[dict]:
    """A songprep dataset of the truth songs cut after ``sections`` sections, plus two rows that cannot train."""
    from songprep.testing.generator_data import write_generator_dataset

    return write_generator_dataset(corpus, out, sections, untrainable=True)


def write_prompts(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({k: r[k] for k in ("idx", "gt_lyric", "descriptions")}, ensure_ascii=False)
                            + "\n" for r in rows), encoding="utf-8")
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output




@pytest.fixture(scope="module")
def trained(truth_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("generator")
    rows = write_truth_dataset(truth_corpus, root / "dataset")
    config = root / "tiny-memorise.json"
    config.write_text(json.dumps(TEST_CONFIG), encoding="utf-8")
    output = invoke("train", "--data", root / "dataset", "--config", config, "--steps", STEPS, "-o", root / "ckpt",
                    "--seed", "0", "--device", "cpu", "--log-every", "50")
    return {"root": root, "rows": rows, "ckpt": root / "ckpt", "prompts": write_prompts(root / "prompts.jsonl", rows),
            "train_output": output}


def log_mel(path: Path) -> np.ndarray:
    import librosa

    from songprep.audio import decode, standardise

    y = standardise(decode(path), 22050, 1).samples[0]
    return np.log(librosa.feature.melspectrogram(y=y, sr=22050, n_mels=64) + 1e-5)


def mel_distance(a: np.ndarray, b: np.ndarray, seconds: float) -> float:
    """Mean absolute log-mel difference over the first ``seconds`` (hop 512 at 22.05 kHz)."""
    n = min(a.shape[1], b.shape[1], round(seconds * 22050 / 512))
    return float(np.abs(a[:, :n] - b[:, :n]).mean())


def test_training_writes_a_checkpoint_with_its_loss_curve(trained, truth_corpus):
    ckpt = trained["ckpt"]
    assert "skipped 1 with stem files missing" not in trained["train_output"]
    assert "skipped 1 without a LeVo lyric, 1 without stems" in trained["train_output"]
    for name in ("config.json", "lyric_tokenizer.json", "audio_tokenizers.safetensors", "autoencoder.safetensors",
                 "lelm.safetensors", "renderer.safetensors", "meta.json", "loss.csv"):
        assert (ckpt / name).is_file(), name
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta["steps"] == STEPS and meta["seed"] == 0 and meta["songs"] == 3 and len(meta["data_hash"]) == 16
    assert meta["skipped"] == {"without a LeVo lyric": 1, "without stems": 1}
    model = meta["duration_model"]
    assert 0.1 < model["seconds_per_syllable"] < 1.0 and set(model["instrumental_s"]) == {"intro-short"}
    from songprep.generation.train import predict_duration_s
    from songprep.testing import load_corpus

    for truth in load_corpus(truth_corpus):  # whole songs, three times longer than the training cuts
        assert abs(predict_duration_s(model, truth.levo_lyric) / truth.duration_s - 1) < 0.2, truth.name
    with open(ckpt / "loss.csv", encoding="utf-8") as fh:
        curve = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in curve] == list(range(1, STEPS + 1))
    first, last = curve[0], curve[-1]
    assert float(last["lm_loss"]) < 0.05 < float(first["lm_loss"]) / 20  # ln(64) = 4.16 at the start
    assert float(last["renderer_loss"]) < 0.5 * float(first["renderer_loss"])
    assert {"lm_mixed", "lm_vocal", "lm_bgm"} <= set(first)


def test_refuses_to_overwrite_a_checkpoint(trained):
    result = CliRunner().invoke(cli, ["train", "--data", str(trained["root"] / "dataset"), "--config", "tiny",
                                      "--steps", "1", "-o", str(trained["ckpt"]), "--device", "cpu"])
    assert result.exit_code == 2
    assert "already holds a checkpoint" in result.output and "--overwrite" in result.output


def encoded_songs(ckpt: Path, dataset: Path):
    from songprep.generation.checkpoint import load_checkpoint
    from songprep.generation.data import iter_songs, read_rows
    from songprep.generation.tokenize import encode_song

    generator = load_checkpoint(ckpt)
    cfg = generator.config
    return generator, {s.id: encode_song(generator, s) for s in iter_songs(read_rows(dataset), cfg.sample_rate,
                                                                           cfg.channels)}


def test_reproduces_a_training_song_and_the_evaluator_scores_it(trained):
    from songprep.generation.train import pad_text

    generator, songs = encoded_songs(trained["ckpt"], trained["root"] / "dataset")
    for song in songs.values():  # teacher-forced: every stream of every song memorised
        ids, mask = pad_text([song.text_ids], generator.lyric_tokenizer.pad_id)
        with torch.no_grad():
            logits = generator.lelm(ids, mask, song.tokens[None]).logits
        assert (logits.argmax(-1)[0] == song.tokens).float().mean() > 0.98, song.id
    out = trained["root"] / "generated"
    invoke("generate", trained["prompts"], "-o", out, "--checkpoint", trained["ckpt"], "--top-k", "1",
           "--device", "cpu")
    agreement = {}
    for idx, song in songs.items():
        tokens = np.load(out / "tokens" / f"{idx}.npy")
        n = min(tokens.shape[1], song.frames)
        agreement[idx] = float((tokens[:, :n] == song.tokens[:, :n].numpy()).mean())
        info = sf.info(out / "audios" / f"{idx}.flac")
        assert (info.samplerate, info.channels, info.format) == (48000, 2, "FLAC")
    best = max(agreement, key=agreement.get)
    assert agreement[best] > 0.95, agreement
    mine = log_mel(out / "audios" / f"{best}.flac")
    seconds = min(songs[best].frames / 25, next(r["end_s"] for r in trained["rows"] if r["idx"] == best))
    distances = {r["idx"]: mel_distance(mine, log_mel(r["mix"]), seconds) for r in trained["rows"]}
    others = [d for idx, d in distances.items() if idx != best]
    assert distances[best] < 0.75 * min(others), distances

    report = trained["root"] / "report"
    invoke("eval", "run", "--prompts", trained["prompts"], "--system", f"tiny={out}", "-o", report, "--no-per",
           "--aesthetics", "", "--resamples", "50")
    results = json.loads((report / "results.json").read_text())
    assert "tiny" in json.dumps(results)
    assert (report / "report.md").is_file() and (report / "per_song.parquet").is_file()


def test_checkpoint_round_trip_gives_the_same_outputs(trained, tmp_path):
    from songprep.generation.checkpoint import load_checkpoint, save_checkpoint
    from songprep.generation.generate import render
    from songprep.generation.train import pad_text

    a = load_checkpoint(trained["ckpt"])
    save_checkpoint(tmp_path / "copy", a, a.meta)
    b = load_checkpoint(tmp_path / "copy")
    row = trained["rows"][0]
    ids, mask = pad_text([a.lyric_tokenizer.encode(row["gt_lyric"], row["descriptions"])], 0)
    outs = []
    for gen in (a, b):
        tokens = gen.lelm.generate(ids, mask, 30, generator=torch.Generator().manual_seed(3))
        wave = render(gen, tokens, 0, generator=torch.Generator().manual_seed(3))
        mix, _ = sf.read(row["mix"], dtype="float32", always_2d=True)
        outs.append((tokens, wave, gen.audio_tokenizers["mixed"].encode(mix.T, 44100)))
    assert torch.equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    np.testing.assert_array_equal(outs[0][2], outs[1][2])
    assert b.meta == a.meta and b.config == a.config


def generate_args(trained, out: Path, *extra: str) -> list[str]:
    return ["generate", str(trained["prompts"]), "-o", str(out), "--checkpoint", str(trained["ckpt"]),
            "--max-frames", "25", "--device", "cpu", *extra]


def test_same_seed_same_songs_other_seed_other_songs(trained, tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        invoke(*generate_args(trained, tmp_path / name, "--seed", str(seed), "--temperature", "1.5"))
    idx = trained["rows"][1]["idx"]
    a, b, c = (np.load(tmp_path / n / "tokens" / f"{idx}.npy") for n in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    wa, _ = sf.read(tmp_path / "a" / "audios" / f"{idx}.flac")
    wb, _ = sf.read(tmp_path / "b" / "audios" / f"{idx}.flac")
    np.testing.assert_array_equal(wa, wb)


def test_separate_candidates_layout_resume_and_dpo(trained, tmp_path):
    out = tmp_path / "cands"
    args = generate_args(trained, out, "--separate", "--num-candidates", "2", "--temperature", "1.5",
                         "--top-k", "0")
    first = invoke(*args)
    assert "6 generated, 0 already there" in first
    idx = [r["idx"] for r in trained["rows"]]
    for k in (0, 1):
        for i in idx:
            for suffix in ("", "_vocal", "_bgm"):
                info = sf.info(out / "candidates" / f"c{k}" / "audios" / f"{i}{suffix}.flac")
                assert (info.samplerate, info.channels, info.frames) == (48000, 2, 25 * 1920)
    assert "0 generated, 6 already there" in invoke(*args)
    victim = out / "candidates" / "c1" / "audios" / f"{idx[0]}.flac"
    before = sf.read(victim)[0]
    victim.unlink()
    assert "1 generated, 5 already there" in invoke(*args)
    np.testing.assert_array_equal(sf.read(victim)[0], before)  # a prompt's song does not depend on the others

    # the evaluator scores the two candidates; its pairs DPO-tune the model
    report = tmp_path / "report"
    invoke("eval", "run", "--prompts", trained["prompts"], "--system", f"c0={out / 'candidates' / 'c0'}",
           "--system", f"c1={out / 'candidates' / 'c1'}", "-o", report, "--no-per", "--aesthetics", "",
           "--resamples", "20")
    invoke("eval", "dpo", "--scores", report / "per_song.parquet", "-o", tmp_path / "pairs.parquet",
           "--metric", "loudness_lufs")
    dpo_out = tmp_path / "dpo"
    output = invoke("train-dpo", "--checkpoint", trained["ckpt"], "--pairs", tmp_path / "pairs.parquet",
                    "--candidates", out / "candidates", "--prompts", trained["prompts"], "-o", dpo_out,
                    "--steps", "20", "--lr", "3e-4", "--beta", "0.5", "--device", "cpu")
    assert "DPO 20 steps on 3 pairs" in output
    with open(dpo_out / "loss.csv", encoding="utf-8") as fh:
        curve = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    assert abs(curve[0]["loss"] - np.log(2)) < 1e-3  # policy == reference at the start
    assert np.mean([r["loss"] for r in curve[-5:]]) < 0.5 * curve[0]["loss"]

    from songprep.generation.checkpoint import load_checkpoint
    from songprep.generation.dpo import load_pairs, policy_margin

    base, tuned = load_checkpoint(trained["ckpt"]), load_checkpoint(dpo_out)
    pairs = load_pairs(tmp_path / "pairs.parquet", out / "candidates", trained["prompts"], base)
    assert policy_margin(tuned.lelm, pairs) > policy_margin(base.lelm, pairs) + 1.0
    meta = json.loads((dpo_out / "meta.json").read_text())
    assert meta["kind"] == "dpo" and meta["dpo"]["pairs"] == 3 and meta["parent_meta"]["steps"] == STEPS


def test_bad_lyrics_are_rejected_and_the_rest_generated(trained, tmp_path):
    good = trained["rows"][0]
    prompts = tmp_path / "p.jsonl"
    long_lyric = "[verse] " + ".".join(["la la la la la la la la"] * 60) + "."
    prompts.write_text("\n".join(json.dumps(r) for r in (
        {"idx": "ok", "gt_lyric": good["gt_lyric"]},
        {"idx": "long", "gt_lyric": long_lyric},
        {"idx": "broken", "gt_lyric": "[Verse] hello there ; [intro] ; [chorus] la la."},
    )) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    output = invoke("generate", prompts, "-o", out, "--checkpoint", trained["ckpt"], "--max-frames", "10",
                    "--device", "cpu")
    assert "1 generated, 0 already there, 2 rejected" in output
    assert "this model reads at most 1024" in output and "nothing is truncated" in output
    assert "E103" in output
    assert (out / "audios" / "ok.flac").is_file()
    assert not (out / "audios" / "long.flac").exists() and not (out / "audios" / "broken.flac").exists()
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["idx"], r["line"]) for r in rejects] == [("long", 2), ("broken", 3)]


def test_a_length_past_the_model_is_an_error(trained, tmp_path):
    result = CliRunner().invoke(cli, generate_args(trained, tmp_path / "o")[:-4] + ["--duration", "600",
                                                                                    "--device", "cpu"])
    assert result.exit_code == 2
    assert "longer than this model makes" in result.output


def test_prompt_audio_is_separated_tokenized_and_recorded(trained, tmp_path):
    row = trained["rows"][0]
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"idx": "pa", "gt_lyric": row["gt_lyric"], "descriptions": row["descriptions"],
                                   "prompt_audio_path": str(row["mix"])}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    invoke("generate", prompts, "-o", out, "--checkpoint", trained["ckpt"], "--max-frames", "10", "--device", "cpu")
    info = sf.info(out / "audios" / "pa.flac")
    assert (info.samplerate, info.channels, info.frames) == (48000, 2, 10 * 1920)
    manifest = json.loads((out / "generation.json").read_text())
    assert manifest["prompts"]["pa"]["prompt_audio"] == str(row["mix"])
    assert manifest["checkpoint_meta"]["steps"] == STEPS


def test_init_continues_from_a_checkpoint(trained, tmp_path):
    out = tmp_path / "more"
    output = invoke("train", "--data", trained["root"] / "dataset", "--init", trained["ckpt"], "--steps", "3",
                    "-o", out, "--device", "cpu", "--lr", "1e-4")
    assert "kept tokenizers and autoencoder" in output
    with open(out / "loss.csv", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert float(first["lm_loss"]) < 0.5  # starts where the checkpoint ended, not at ln(64)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["init"]["steps"] == STEPS and meta["init"]["data_hash"] == meta["data_hash"]
    assert (out / "audio_tokenizers.safetensors").read_bytes() == (trained["ckpt"] / "audio_tokenizers.safetensors"
                                                                   ).read_bytes()
    both = CliRunner().invoke(cli, ["train", "--data", str(trained["root"] / "dataset"), "--init", str(trained["ckpt"]),
                                    "--config", "tiny", "--steps", "1", "-o", str(tmp_path / "x"), "--device", "cpu"])
    assert both.exit_code == 2 and "not both" in both.output
