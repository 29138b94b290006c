"""Direct preference optimisation of LeLM from the evaluator's pairs (``songprep train-dpo``).

Input: ``pairs.parquet`` from ``songprep eval dpo`` (``prompt``, ``chosen``, ``rejected``, margins),
the candidates folder ``songprep generate --num-candidates N`` wrote (``DIR/<candidate>/audios/<idx>.flac``
and the tokens it sampled, ``DIR/<candidate>/tokens/<idx>.npy``), and the prompts JSONL.

The loss (Rafailov et al. 2023) on LeLM's summed log-probability of the three token streams given
the lyric: ``-log σ(β [(π(c) - π_ref(c)) - (π(r) - π_ref(r))])``, the reference being the starting
checkpoint, frozen. Only LeLM changes (LeVo's DPO also tunes only the LM); tokenizers, renderer and
autoencoder are copied unchanged. Candidates without saved tokens are tokenized from their audio
(the mix, and ``{idx}_vocal``/``{idx}_bgm`` renders when present, else the separated mix).
"""

from __future__ import annotations

import copy
import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from songprep import __version__
from songprep.audio import decode, standardise
from songprep.errors import AudioDecodeError, UsageError
from songprep.evaluation.inputs import find_audio_file
from songprep.generation.checkpoint import LOSS_FILE, Generator, load_checkpoint, prepare_output_dir, save_checkpoint
from songprep.generation.prompts import read_prompts
from songprep.generation.train import pad_text

Progress = Callable[[str], None]


@dataclass
class PreferencePair:
    """One pair, as the model sees it: text ids and the chosen / rejected token streams ``(3, T)``."""

    prompt: str
    text_ids: list[int]
    chosen: torch.Tensor
    rejected: torch.Tensor
    ref_chosen: float = 0.0
    ref_rejected: float = 0.0


@dataclass
class DPOResult:
    checkpoint: Path
    pairs: int
    losses: list[dict[str, float]] = field(default_factory=list)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean DPO loss and the per-pair implicit reward margin ``β[(πc - rc) - (πr - rr)]``.

    >>> loss, margin = dpo_loss(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]), 0.1)
    >>> round(float(loss), 4)  # log 2: no preference yet
    0.6931
    """
    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -F.logsigmoid(margin).mean(), margin.detach()


def load_pairs(pairs_path: str | Path, candidates_dir: str | Path, prompts_path: str | Path,
               generator: Generator, separator: str = "auto", device: str = "cpu") -> list[PreferencePair]:
    """Resolve every pair to text ids and token streams; a missing candidate file is one line."""
    import pandas as pd

    path = Path(pairs_path)
    if not path.is_file():
        raise UsageError(f"pairs file not found: {path}; make one with `songprep eval dpo`")
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a non-Parquet file
        raise UsageError(f"{path}: not a Parquet file ({' '.join(str(err).split())[:160]})") from None
    missing = [c for c in ("prompt", "chosen", "rejected") if c not in table]
    if missing:
        raise UsageError(f"{path}: no column {', '.join(missing)} (expected the pairs `songprep eval dpo` writes)")
    if table.empty:
        raise UsageError(f"{path}: no pairs")
    prompts = {p.idx: p for p in read_prompts(prompts_path)}
    root = Path(candidates_dir)
    cache: dict[tuple[str, str], torch.Tensor] = {}
    sep_holder: dict[str, Any] = {}

    def tokens_of(candidate: str, idx: str) -> torch.Tensor:
        key = (candidate, idx)
        if key not in cache:
            cache[key] = candidate_tokens(generator, root / candidate, idx, sep_holder, separator, device)
        return cache[key]

    pairs = []
    for row in table.itertuples(index=False):
        idx = str(row.prompt)
        if idx not in prompts:
            raise UsageError(f"{path}: prompt {idx!r} is not in {prompts_path}")
        p = prompts[idx]
        text = generator.lyric_tokenizer.encode(p.lyric, p.descriptions)
        pairs.append(PreferencePair(idx, text, tokens_of(str(row.chosen), idx), tokens_of(str(row.rejected), idx)))
    return pairs


def candidate_tokens(generator: Generator, directory: Path, idx: str, sep_holder: dict[str, Any],
                     separator: str, device: str) -> torch.Tensor:
    """(3, T) tokens of one candidate's song: the saved sample if there, else tokenized from its audio."""
    saved = directory / "tokens" / f"{idx}.npy"
    if saved.is_file():
        return torch.from_numpy(np.load(saved).astype(np.int64))
    mix_path = find_audio_file(directory, idx)
    if mix_path is None:
        raise UsageError(f"no audio for prompt {idx!r} in {directory} "
                         f"(looked for audios/{idx}.flac and tokens/{idx}.npy)")
    cfg = generator.config
    waves = {"mix": _read(mix_path, cfg.sample_rate, cfg.channels)}
    vocal, bgm = find_audio_file(directory, f"{idx}_vocal"), find_audio_file(directory, f"{idx}_bgm")
    if vocal is not None and bgm is not None:
        waves["vocal"], waves["bgm"] = _read(vocal, cfg.sample_rate, cfg.channels), _read(bgm, cfg.sample_rate,
                                                                                         cfg.channels)
    else:
        from songprep.audio import Audio
        from songprep.separation import load_separator

        if "separator" not in sep_holder:
            sep_holder["separator"] = load_separator(separator, device)
        stems = sep_holder["separator"].separate(Audio(waves["mix"], cfg.sample_rate))
        waves["vocal"], waves["bgm"] = stems["vocals"].samples, stems["accompaniment"].samples
    return generator.audio_tokens(waves)


def _read(path: Path, sample_rate: int, channels: int) -> np.ndarray:
    try:
        return standardise(decode(path), sample_rate, channels).samples
    except AudioDecodeError as err:
        raise UsageError(f"{path}: {err}") from None


def sequence_logprobs(lelm: torch.nn.Module, pairs: list[PreferencePair], which: str, device: str) -> torch.Tensor:
    """Summed log p(tokens | lyric) of the chosen or rejected side of each pair (one forward per pair:
    the two sides of a pair may differ in length, and LeLM takes no audio mask)."""
    out = []
    for p in pairs:
        ids, mask = pad_text([p.text_ids], 0)
        audio = getattr(p, which)[None].to(device)
        out.append(lelm.sequence_logprob(ids.to(device), mask.to(device), audio))
    return torch.cat(out)


def train_dpo(checkpoint_dir: str | Path, pairs_path: str | Path, candidates_dir: str | Path,
              prompts_path: str | Path, out_dir: str | Path, steps: int, *, beta: float = 0.1,
              lr: float | None = None, batch_size: int = 4, seed: int = 0, device: str = "cpu",
              overwrite: bool = False, separator: str = "auto", log_every: int = 10,
              progress: Progress | None = None) -> DPOResult:
    """DPO-tune LeLM of ``checkpoint_dir`` on the pairs and save the result to ``out_dir``."""
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    if beta <= 0:
        raise UsageError("--beta must be positive")
    say = progress or (lambda _msg: None)
    generator = load_checkpoint(checkpoint_dir, device)
    pairs = load_pairs(pairs_path, candidates_dir, prompts_path, generator, separator, device)
    out = prepare_output_dir(out_dir, overwrite)
    policy = generator.lelm
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    with torch.no_grad():
        ref_c, ref_r = sequence_logprobs(reference, pairs, "chosen", device), sequence_logprobs(reference, pairs,
                                                                                                  "rejected", device)
    for p, c, r in zip(pairs, ref_c.tolist(), ref_r.tolist()):
        p.ref_chosen, p.ref_rejected = c, r
    del reference
    # Dropout off: the policy and reference log-probs must differ only by the weights.
    policy.eval()
    lr = lr or generator.config.training.lr * 0.1
    optimiser = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    rows: list[dict[str, float]] = []
    started = time.perf_counter()
    say(f"train-dpo: {len(pairs)} pairs, beta {beta}, lr {lr:.2e}")
    with open(out / LOSS_FILE, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["step", "loss", "reward_margin", "accuracy", "seconds"])
        writer.writeheader()
        for step in range(1, steps + 1):
            picks = torch.randint(len(pairs), (min(batch_size, len(pairs)),), generator=g).tolist()
            batch = [pairs[i] for i in picks]
            pc = sequence_logprobs(policy, batch, "chosen", device)
            pr = sequence_logprobs(policy, batch, "rejected", device)
            rc = torch.tensor([p.ref_chosen for p in batch], device=pc.device)
            rr = torch.tensor([p.ref_rejected for p in batch], device=pc.device)
            loss, margin = dpo_loss(pc, pr, rc, rr, beta)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), generator.config.training.grad_clip)
            optimiser.step()
            row = {"step": step, "loss": loss.item(), "reward_margin": float(margin.mean()),
                   "accuracy": float((margin > 0).float().mean()), "seconds": round(time.perf_counter() - started, 3)}
            rows.append(row)
            writer.writerow(row)
            if step % log_every == 0 or step in (1, steps):
                fh.flush()
                say(f"dpo step {step}/{steps}  loss {row['loss']:.4f}  margin {row['reward_margin']:+.4f}  "
                    f"acc {row['accuracy']:.2f}")
    meta = {**generator.meta, "kind": "dpo", "songprep_version": __version__,
            "parent": str(Path(checkpoint_dir).resolve()),
            "parent_meta": {k: generator.meta.get(k) for k in ("kind", "steps", "seed", "data_hash")},
            "dpo": {"steps": steps, "beta": beta, "lr": lr, "batch_size": batch_size, "seed": seed,
                    "pairs": len(pairs), "pairs_path": str(Path(pairs_path).resolve()),
                    "final": rows[-1]}, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    generator.to("cpu")
    save_checkpoint(out, generator, meta)
    say(f"train-dpo: saved {out}")
    return DPOResult(out, len(pairs), rows)


def policy_margin(lelm: torch.nn.Module, pairs: list[PreferencePair], device: str = "cpu") -> float:
    """Mean ``log π(chosen) - log π(rejected)`` over the pairs: what DPO should raise."""
    with torch.no_grad():
        return float((sequence_logprobs(lelm, pairs, "chosen", device)
                      - sequence_logprobs(lelm, pairs, "rejected", device)).mean())
