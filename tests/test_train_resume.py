"""Training that survives real runs: tokenize once (resumable, -j), stream, checkpoint, resume exactly,
validate on a stable split, and data-parallel over 2 gloo processes equal to one process.

The data: the three ground-truth songs cut to their first section, tokenized once per module with the tiny
config; the runs use short crops so each step takes a few tens of milliseconds.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from songprep.cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

#: tiny with short crops and no prompt excerpts longer than a crop: fast steps, same code paths.
FAST = {"base": "tiny", "training": {"crop_frames": 48, "batch_size": 2, "warmup_steps": 5}, "prompt_audio_s": 1.0}
LOSSES = ("loss", "lm_loss", "renderer_loss", "lm_mixed", "lm_vocal", "lm_bgm", "val_loss")


@pytest.fixture(scope="module")
def tokens(truth_corpus, tmp_path_factory) -> dict[str, Path]:
    from songprep.generation.configs import load_config
    from songprep.generation.tokenize import tokenize_dataset
    from songprep.testing.generator_data import write_generator_dataset

    root = tmp_path_factory.mktemp("train17")
    write_generator_dataset(truth_corpus, root / "dataset", sections=1, untrainable=True)
    (root / "fast.json").write_text(json.dumps(FAST), encoding="utf-8")
    config = load_config(root / "fast.json")
    tokenize_dataset(root / "dataset", root / "tokens", config, seed=0, songs_per_shard=2)
    return {"root": root, "dataset": root / "dataset", "tokens": root / "tokens", "config": root / "fast.json"}


def curve(out: Path) -> list[dict[str, str]]:
    with open(out / "loss.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def train(tokens: dict[str, Path], out: Path, steps: int, **options):
    from songprep.generation.train import train_sft

    return train_sft(None, None, steps, out, tokens_dir=tokens["tokens"], device="cpu", **options)


class Killed(Exception):
    pass


def kill_at(step: int):
    def hook(done: int) -> None:
        if done == step:
            raise Killed(step)
    return hook


def test_tokenize_resumes_and_is_the_same_with_two_workers(tokens, tmp_path):
    from songprep.generation.token_store import TokenStore
    from songprep.generation.tokenize import tokenize_dataset

    store = TokenStore(tokens["tokens"])
    assert [r.id for r in store.records] == ["song-000-en", "song-001-zh", "song-002-es"]
    assert store.manifest["skipped_rows"] == {"without a LeVo lyric": 1, "without stems": 1}
    assert all(r.descriptions for r in store.records) and {r.shard for r in store.records} == {
        "part-00000.safetensors", "part-00001.safetensors"}
    # each song's prompt clip starts where `songprep export levo` cuts it (prompt_audio_s 1 s in FAST)
    from songprep.generation.data import read_rows
    from songprep.levo_export import clip_start_s, prompt_section

    rows = {s.id: s for s in read_rows(tokens["dataset"]).songs}
    for r in store.records:
        row = rows[r.id]
        assert r.prompt_start_s == clip_start_s(prompt_section(row.sections), row.duration_s, 1.0), r.id
    # a second folder with the same codec, encoded by two spawn workers, holds the same tensors
    other = tmp_path / "tokens"
    (other / "codec").mkdir(parents=True)
    for f in (tokens["tokens"] / "codec").iterdir():
        (other / "codec" / f.name).write_bytes(f.read_bytes())
    (other / "tokens.json").write_text((tokens["tokens"] / "tokens.json").read_text(), encoding="utf-8")
    first = tokenize_dataset(tokens["dataset"], other, jobs=2, songs_per_shard=2)
    assert (first.written, first.skipped, first.fitted) == (3, 0, False)
    again = TokenStore(other)
    for a, b in zip(store, again):
        assert a.id == b.id and a.text_ids == b.text_ids
        assert torch.equal(a.tokens, b.tokens) and torch.equal(a.latents, b.latents)
    # a lost shard: the rerun encodes only its songs
    (other / "shards" / "part-00001.safetensors").unlink()
    rerun = tokenize_dataset(tokens["dataset"], other, songs_per_shard=2)
    assert (rerun.written, rerun.skipped) == (1, 2)
    assert [r.id for r in TokenStore(other).records] == [r.id for r in store.records]


def test_the_prompt_audio_condition_is_the_clip_of_the_song():
    from songprep.generation.configs import load_config
    from songprep.generation.lyric_tokenizer import LyricTokenizer
    from songprep.generation.token_store import EncodedSong
    from songprep.generation.train import make_batch

    cfg = load_config("tiny")
    cfg.training.prompt_audio_prob, cfg.prompt_audio_s = 1.0, 2.0
    holder = type("G", (), {"config": cfg, "lyric_tokenizer": LyricTokenizer()})()
    tokens = torch.arange(3 * 300).reshape(3, 300) % 64
    clip = EncodedSong("a", [1, 2], tokens, torch.zeros(3, 16, 300), "pop", prompt_start_s=4.0)
    tail = EncodedSong("b", [1, 2], tokens, torch.zeros(3, 16, 300), "pop", prompt_start_s=11.5)
    batch = make_batch(holder, [clip, tail], torch.Generator().manual_seed(0))
    assert torch.equal(batch["prompt_audio"][0], tokens[:, 100:150])  # 4 s at 25 Hz, 2 s long
    assert torch.equal(batch["prompt_audio"][1], tokens[:, 250:300])  # moved back to end inside the song
    assert batch["descriptions"] == ["pop", "pop"]


def test_validation_split_is_stable_and_recorded(tokens, tmp_path):
    from songprep.generation.token_store import is_validation

    ids = [f"song-{i}" for i in range(2000)]
    held = {i for i in ids if is_validation(i, 0.1)}
    assert 150 < len(held) < 250  # about a tenth
    assert held == {i for i in reversed(ids) if is_validation(i, 0.1)}  # order does not matter
    assert {i for i in ids if is_validation(i, 0.05)} <= held  # growing the fraction only adds songs
    result = train(tokens, tmp_path / "run", 4, val_fraction=0.5, val_every=2, seed=1)
    val = [i for i in ("song-000-en", "song-001-zh", "song-002-es") if is_validation(i, 0.5)]
    assert result.val_songs == len(val) >= 1
    rows = curve(tmp_path / "run")
    assert [bool(r["val_loss"]) for r in rows] == [False, True, False, True]
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["val_song_ids"] == val and meta["train_songs"] == 3 - len(val)


def test_resume_after_a_kill_equals_the_uninterrupted_run(tokens, tmp_path):
    options = {"checkpoint_every": 20, "keep_checkpoints": 2, "grad_accum": 2, "val_fraction": 0.34, "val_every": 10,
               "batch_size": 2, "seed": 3}
    steps = 80
    whole = tmp_path / "whole"
    train(tokens, whole, steps, **options)
    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        train(tokens, killed, steps, on_step=kill_at(63), **options)
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["step-0000040", "step-0000060"]
    assert len(curve(killed)) == 63 and not (killed / "meta.json").exists()
    train(tokens, killed, steps, resume=True, **options)
    a, b = curve(whole), curve(killed)
    assert [r["step"] for r in b] == [str(i) for i in range(1, steps + 1)]
    for ra, rb in zip(a, b):
        assert {k: ra[k] for k in LOSSES} == {k: rb[k] for k in LOSSES}, ra["step"]  # exactly, as text
    assert float(a[-1]["lm_loss"]) < float(a[0]["lm_loss"])
    from safetensors.torch import load_file

    for name in ("lelm.safetensors", "renderer.safetensors"):
        wa, wb = load_file(str(whole / name)), load_file(str(killed / name))
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name
    # the step checkpoint is a generator checkpoint generate can read
    meta = json.loads((killed / "checkpoints" / "step-0000060" / "meta.json").read_text())
    assert meta["steps"] == 60 and meta["partial_of_steps"] == steps


def test_resume_refuses_another_plan_and_a_damaged_checkpoint_is_one_line(tokens, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Killed):
        train(tokens, out, 10, checkpoint_every=4, on_step=kill_at(5), val_fraction=0.0)
    args = ["train", "--tokens", str(tokens["tokens"]), "--steps", "10", "-o", str(out), "--device", "cpu",
            "--checkpoint-every", "4", "--val-fraction", "0", "--resume"]
    other = CliRunner().invoke(cli, args[:4] + ["12"] + args[5:])
    assert other.exit_code == 2 and "steps (10 there, 12 now)" in other.output
    (out / "checkpoints" / "step-0000004" / "trainer.safetensors").write_bytes(b"not a safetensors file")
    damaged = CliRunner().invoke(cli, args)
    assert damaged.exit_code == 3, damaged.output
    message = damaged.output.strip().splitlines()[-1]
    assert message.startswith("songprep: error: step checkpoint") and "damaged" in message


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tokens, tmp_path):
    """DDP, 2 processes x 1 micro-batch of 2 songs == 1 process x 2 accumulated micro-batches of 2 songs."""
    steps = 6
    single = tmp_path / "single"
    train(tokens, single, steps, batch_size=4, grad_accum=2, val_fraction=0.0, seed=5)
    ddp = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "songprep",
           "train", "--tokens", str(tokens["tokens"]), "--steps", str(steps), "--batch-size", "4", "-o", str(ddp),
           "--device", "cpu", "--val-fraction", "0", "--seed", "5"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    a, b = curve(single), curve(ddp)
    assert len(a) == len(b) == steps
    for ra, rb in zip(a, b):
        for key in ("loss", "lm_loss", "renderer_loss"):
            assert abs(float(ra[key]) - float(rb[key])) < 1e-5, (ra["step"], key, ra[key], rb[key])
    from safetensors.torch import load_file

    worst = 0.0
    for name in ("lelm.safetensors", "renderer.safetensors"):
        wa, wb = load_file(str(single / name)), load_file(str(ddp / name))
        worst = max(worst, max(float((wa[k] - wb[k]).abs().max()) for k in wa))
    assert worst < 1e-5, worst
    meta = json.loads((ddp / "meta.json").read_text())
    assert meta["plan"]["world_size"] == 2 and meta["plan"]["batch_size"] == 4
    print(f"DDP vs single-process: max weight difference {worst:.2e}")
