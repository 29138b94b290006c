"""The training loop of ``songprep train``: streamed batches, gradient accumulation, validation, step
checkpoints, exact resume, and data parallelism over ``torchrun`` processes.

Why it is shaped this way:

- **One batch in memory.** Songs come from a :class:`~.token_store.TokenStore` by record; a step loads only
  the songs of its own micro-batches, so memory does not grow with the corpus.
- **Randomness is a function of (seed, step, micro-batch).** Each micro-batch seeds its own generator (crops,
  prompt excerpts, the renderer's noise) and torch's global RNG (LeLM's condition dropout) from
  :func:`micro_seed`. So a resumed run draws exactly what the uninterrupted one drew, and micro-batch ``m``
  of a step is the same whichever process computes it: two processes with one micro-batch each equal one
  process accumulating two (the 2-process test checks this). The RNG states are saved in checkpoints too.
- **Data position is (epoch, cursor)** of a seeded per-epoch permutation of the training songs (every song
  once per epoch), saved with the optimiser, scheduler and RNG states; ``--resume`` restores all of them
  from the newest step checkpoint and truncates ``loss.csv`` to it.
- **Global batch = micro-batch x accumulation steps x processes.** Each micro-batch's loss is divided by the
  accumulation steps and DDP averages over processes, so the gradient is the mean over the global batch.

Checkpoints: ``OUT/checkpoints/step-NNNNNNN/`` is a whole generator checkpoint (``songprep generate`` reads
it) plus ``trainer.safetensors`` (optimiser moments, RNG states) and ``trainer.json`` (step, plan, data
position, scheduler). Written under a temp name and renamed; the last ``keep_checkpoints`` are kept.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songprep.errors import ModelNotFoundError, UsageError
from songprep.generation.checkpoint import Generator, load_checkpoint, save_checkpoint
from songprep.generation.delay import STREAMS
from songprep.generation.token_store import EncodedSong, TokenizedSong, TokenStore

Progress = Callable[[str], None]
CHECKPOINTS_DIR = "checkpoints"
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"
LOSS_COLUMNS = ("step", "loss", "lm_loss", "renderer_loss", *(f"lm_{s}" for s in STREAMS), "val_loss", "lr",
                "seconds")
#: Plan fields a resume must match: each changes the numbers of the steps still to run.
RESUME_KEYS = ("steps", "batch_size", "grad_accum", "lr", "seed", "val_fraction", "world_size")


@dataclass
class TrainPlan:
    """What one run does; recorded in every checkpoint.

    >>> TrainPlan(steps=100, batch_size=8, grad_accum=2).micro_batch(world_size=2)
    2
    """

    steps: int
    batch_size: int  # songs per optimiser step, all processes together
    grad_accum: int = 1
    lr: float | None = None
    seed: int = 0
    val_fraction: float = 0.02
    val_every: int = 50
    val_songs: int = 64  # validation songs scored at most (the first by id: the same every time)
    checkpoint_every: int = 0  # 0: no step checkpoints, only the final one
    keep_checkpoints: int = 3
    log_every: int = 10
    world_size: int = 1

    def micro_batch(self, world_size: int | None = None) -> int:
        world = world_size or self.world_size
        parts = self.grad_accum * world
        if self.batch_size % parts:
            raise UsageError(f"--batch-size {self.batch_size} must divide into --grad-accum {self.grad_accum} x "
                             f"{world} processes")
        return self.batch_size // parts

    def check(self) -> None:
        if self.steps < 1:
            raise UsageError("--steps must be at least 1")
        if self.grad_accum < 1 or self.batch_size < 1:
            raise UsageError("--batch-size and --grad-accum must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError("--val-fraction must be in [0, 1)")
        if self.checkpoint_every < 0 or self.keep_checkpoints < 1:
            raise UsageError("--checkpoint-every must be >= 0 and --keep-checkpoints >= 1")
        self.micro_batch()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Dist:
    """This process's place in a ``torchrun`` job (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def start(cls, device: str) -> tuple[Dist, str]:
        """Join the process group torchrun set up (NCCL on GPUs, gloo on CPU); returns the device to use."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(), device
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device.startswith("cuda"):
            device = f"cuda:{local}"
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return cls(dist.get_rank(), world, local), device

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def mean(self, values: list[float], device: str) -> list[float]:
        """The mean of each value over processes (for the logged losses)."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return (t / self.world).tolist()


def micro_seed(seed: int, step: int, micro: int) -> int:
    """The seed of micro-batch ``micro`` of optimiser step ``step`` (step -1: validation)."""
    digest = hashlib.sha256(f"{seed}:{step}:{micro}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class EpochSampler:
    """Training-song indices in a seeded permutation per epoch; ``(epoch, cursor)`` is the resume state."""

    def __init__(self, n: int, seed: int, epoch: int = 0, cursor: int = 0) -> None:
        self.n, self.seed, self.epoch, self.cursor = n, seed, epoch, cursor
        self._order = self._permutation(epoch)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def take(self, k: int) -> list[int]:
        out = []
        while len(out) < k:
            if self.cursor >= self.n:
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._permutation(self.epoch)
            out.append(int(self._order[self.cursor]))
            self.cursor += 1
        return out

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor, "n": self.n, "seed": self.seed}


class JointModel(torch.nn.Module):
    """LeLM and the renderer as one module, so one DDP wrapper syncs both models' gradients."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.lelm, self.renderer = generator.lelm, generator.renderer
        self.rcfg = generator.config.renderer

    def forward(self, batch: dict[str, Any], g: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        from songprep.generation.train import renderer_step_loss

        out = self.lelm(batch["text_ids"], batch["text_mask"], batch["audio"], batch["prompt_audio"])
        render_loss = renderer_step_loss(self.renderer, batch["audio"], batch["latents"], self.rcfg, g)
        parts = {"lm_loss": out.loss, "renderer_loss": render_loss,
                 **{f"lm_{k}": v for k, v in out.stream_losses.items()}}
        return out.loss + render_loss, parts


@dataclass
class TrainerState:
    """What a step checkpoint holds beyond the weights."""

    step: int
    plan: dict[str, Any]
    sampler: dict[str, int]


def _to_device(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def train_loop(generator: Generator, store: TokenStore, plan: TrainPlan, out: Path, *, device: str, dist: Dist,
               base_meta: dict[str, Any], resume: bool = False, say: Progress | None = None,
               on_step: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Train ``generator``'s LeLM and renderer on ``store`` by ``plan``; returns this process's loss rows.

    ``on_step(step)`` runs after each finished step (tests stop a run there to simulate a kill).
    """
    from songprep.generation.train import lr_lambda, make_batch

    say = say or (lambda _msg: None)
    plan.check()
    cfg = generator.config
    tc = cfg.training
    micro = plan.micro_batch(dist.world)
    train_records, val_records = store.split(plan.val_fraction)
    val_records = val_records[: plan.val_songs]
    start_step, sampler_state = 0, None
    latest = latest_checkpoint(out) if resume else None
    if latest is not None:
        loaded = load_checkpoint(latest, device)
        generator.lelm.load_state_dict(loaded.lelm.state_dict())
        generator.renderer.load_state_dict(loaded.renderer.state_dict())
        del loaded
    lelm, renderer = generator.lelm.to(device), generator.renderer.to(device)
    lelm.train()
    renderer.train()
    lm_lr = plan.lr or tc.lr
    optimiser = torch.optim.AdamW([{"params": lelm.parameters(), "lr": lm_lr},
                                   {"params": renderer.parameters(), "lr": tc.renderer_lr * (lm_lr / tc.lr)}],
                                  weight_decay=tc.weight_decay, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_lambda(min(tc.warmup_steps, plan.steps // 4 + 1),
                                                                      plan.steps))
    if latest is not None:
        state = load_trainer_state(latest, optimiser, schedule, plan)
        start_step, sampler_state = state.step, state.sampler
        say(f"train: resumed from {latest} (step {start_step})")
    elif resume:
        say(f"train: nothing to resume in {out / CHECKPOINTS_DIR}; starting at step 1")
    sampler = EpochSampler(len(train_records), plan.seed, **{k: sampler_state[k] for k in ("epoch", "cursor")}
                           if sampler_state else {})
    joint = JointModel(generator)
    model: torch.nn.Module = joint
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(joint, device_ids=[dist.local_rank] if device.startswith("cuda") else None,
                                        find_unused_parameters=True)  # prompt-audio parameters sit out some steps
    on_gpu = str(device).startswith("cuda")
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if on_gpu else contextlib.nullcontext
    params = [*lelm.parameters(), *renderer.parameters()]
    loss_csv = out / "loss.csv"
    rows = _kept_rows(loss_csv, start_step) if dist.main else []
    fh = open(loss_csv, "w", newline="", encoding="utf-8") if dist.main else None
    writer = None
    if fh is not None:
        writer = csv.DictWriter(fh, fieldnames=list(LOSS_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        fh.flush()
    started = time.perf_counter()
    try:
        for step in range(start_step + 1, plan.steps + 1):
            picks = sampler.take(plan.batch_size)
            sums: dict[str, float] = {}
            optimiser.zero_grad(set_to_none=True)
            for a in range(plan.grad_accum):
                m = a * dist.world + dist.rank
                chosen = store.load_many([train_records[i] for i in picks[m * micro:(m + 1) * micro]])
                seed = micro_seed(plan.seed, step, m)
                torch.manual_seed(seed)  # LeLM's condition dropout draws from the global RNG
                g = torch.Generator().manual_seed(seed)
                batch = _to_device(make_batch(generator, chosen, g), device)
                sync = contextlib.nullcontext() if a == plan.grad_accum - 1 or dist.world == 1 else model.no_sync()
                with sync:
                    with autocast():
                        loss, parts = model(batch, g)
                    (loss / plan.grad_accum).backward()
                for k, v in {"loss": loss, **parts}.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) / plan.grad_accum
            torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            optimiser.step()
            schedule.step()
            keys = sorted(sums)
            means = dict(zip(keys, dist.mean([sums[k] for k in keys], device)))
            val = None
            if val_records and dist.main and (step % plan.val_every == 0 or step == plan.steps):
                val = validation_loss(generator, store, val_records, micro, plan.seed, device)
            row = {"step": step, **{k: means.get(k) for k in LOSS_COLUMNS if k in means}, "val_loss": val,
                   "lr": optimiser.param_groups[0]["lr"], "seconds": round(time.perf_counter() - started, 3)}
            rows.append(row)
            if writer is not None and fh is not None:
                writer.writerow(row)
                if step % plan.log_every == 0 or step in (1, plan.steps) or val is not None:
                    fh.flush()
            if dist.main and (step % plan.log_every == 0 or step in (1, plan.steps)):
                extra = f"  val {val:.4f}" if val is not None else ""
                say(f"step {step}/{plan.steps}  lm {row['lm_loss']:.4f}  renderer {row['renderer_loss']:.4f}{extra}  "
                    f"lr {row['lr']:.2e}  {row['seconds']:.1f} s")
            if plan.checkpoint_every and step % plan.checkpoint_every == 0 and step < plan.steps and dist.main:
                meta = {**base_meta, "steps": step, "final_loss": row, "partial_of_steps": plan.steps}
                save_step_checkpoint(out, generator, meta, optimiser, schedule, sampler, step, plan)
            if on_step is not None:
                on_step(step)
    finally:
        if fh is not None:
            fh.close()
    lelm.eval()
    renderer.eval()
    return rows


def validation_loss(generator: Generator, store: TokenStore, records: Sequence[TokenizedSong], micro: int,
                    seed: int, device: str) -> float:
    """Mean loss over the validation songs, in eval mode, with the same crops and noise every time."""
    from songprep.generation.train import make_batch

    joint = JointModel(generator)
    joint.eval()
    total, n = 0.0, 0
    rng_state = torch.get_rng_state()
    with torch.no_grad():
        for i in range(0, len(records), micro):
            songs: list[EncodedSong] = store.load_many(records[i:i + micro])
            g = torch.Generator().manual_seed(micro_seed(seed, -1, i))
            loss, _ = joint(_to_device(make_batch(generator, songs, g, prompt_audio=False), device), g)
            total += float(loss) * len(songs)
            n += len(songs)
    torch.set_rng_state(rng_state)
    joint.train()
    return total / max(n, 1)


def _kept_rows(loss_csv: Path, upto: int) -> list[dict[str, Any]]:
    """Rows of an earlier run's loss.csv up to step ``upto`` (a resume rewrites the rest)."""
    if upto == 0 or not loss_csv.is_file():
        return []
    with open(loss_csv, encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if int(r["step"]) <= upto]


# -- step checkpoints ----------------------------------------------------------------------------------------
def step_dirs(out: Path) -> list[Path]:
    """Finished step checkpoints, oldest first (a temp folder of an interrupted save is not one)."""
    root = out / CHECKPOINTS_DIR
    return sorted(p for p in root.glob("step-*") if p.is_dir() and (p / TRAINER_JSON).is_file())


def latest_checkpoint(out: Path) -> Path | None:
    found = step_dirs(out)
    return found[-1] if found else None


def save_step_checkpoint(out: Path, generator: Generator, meta: dict[str, Any], optimiser: torch.optim.Optimizer,
                         schedule: Any, sampler: EpochSampler, step: int, plan: TrainPlan) -> Path:
    """A generator checkpoint plus the trainer state, written under a temp name and renamed; prunes old ones."""
    from safetensors.torch import save_file

    from songprep.writer import write_json_atomic

    root = out / CHECKPOINTS_DIR
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(tmp, generator, meta)
    opt = optimiser.state_dict()
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    scalars: dict[str, Any] = {}
    for pid, entry in opt["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    np_state = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    save_file(tensors, str(tmp / TRAINER_TENSORS))
    sched = {k: v for k, v in schedule.state_dict().items() if k != "lr_lambdas"}
    write_json_atomic(tmp / TRAINER_JSON, {
        "step": step, "plan": plan.to_dict(), "sampler": sampler.state(), "param_groups": opt["param_groups"],
        "optim_scalars": scalars, "scheduler": sched, "rng_numpy": [np_state[0], *np_state[2:]],
        "rng_python": random.getstate(),
    })
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in step_dirs(out)[:-plan.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_trainer_state(directory: Path, optimiser: torch.optim.Optimizer, schedule: Any,
                       plan: TrainPlan) -> TrainerState:
    """Restore optimiser, scheduler and RNG from a step checkpoint; a damaged one or another plan is one line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        data = json.loads((directory / TRAINER_JSON).read_text(encoding="utf-8"))
        tensors = load_file(str(directory / TRAINER_TENSORS))
        saved = data["plan"]
        changed = [k for k in RESUME_KEYS if saved.get(k) != plan.to_dict()[k]]
        if changed:
            raise UsageError(f"cannot resume {directory}: it was trained with other "
                             + ", ".join(f"{k} ({saved.get(k)} there, {plan.to_dict()[k]} now)" for k in changed)
                             + "; resume with the same options or train into another -o")
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value
        for key, value in data["optim_scalars"].items():
            pid, name = key.split(".", 1)
            state.setdefault(int(pid), {})[name] = value
        optimiser.load_state_dict({"state": state, "param_groups": data["param_groups"]})
        schedule.load_state_dict({**data["scheduler"], "lr_lambdas": [None] * len(optimiser.param_groups)})
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng.cuda"])
        kind, *rest = data["rng_numpy"]
        np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), *rest))
        version, internal, gauss = data["rng_python"]
        random.setstate((version, tuple(internal), gauss))
        return TrainerState(int(data["step"]), saved, data["sampler"])
    except UsageError:
        raise
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError, IndexError) as err:
        detail = " ".join(str(err).split())[:160]
        raise ModelNotFoundError(f"step checkpoint {directory} is damaged ({type(err).__name__}: {detail}); delete "
                                 "it to resume from the one before, or train without --resume") from None
