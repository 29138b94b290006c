"""Supervised training of the generator on a songprep dataset (``songprep train``).

Order of work, each step's *why*:

1. Read the rows that can train (a LeVo lyric and both stems); count the rest by reason.
2. Fit the three streams' audio tokenizers (mixes, vocal stems, accompaniment stems) and the audio
   autoencoder on a seeded sample of songs: closed-form fits, so the LM and the renderer train on a
   fixed target from step one.
3. Encode every song once: token streams ``(3, T)`` at 25 Hz and autoencoder latents of each track.
   Training then never touches audio again (the expensive part of a step is the models).
4. Train LeLM (cross-entropy on the three delayed streams; condition dropout so classifier-free
   guidance has an unconditional model) and the renderer (flow matching from tokens to each track's
   latents) together with AdamW, warmup then cosine decay, on random crops of ``crop_frames``.
5. Save a checkpoint (safetensors + JSON) with the loss curve and what it was trained on.

The duration model: LeLM generates a fixed number of frames, so generation needs a length for a
lyric it has never seen. Training measures, on the rows' timed sections, seconds per sung syllable
and the length of each instrumental tag; generation sums them over the prompt's sections
(``--duration`` overrides). LeVo instead stops at an end token or the maximum length.
"""

from __future__ import annotations

import contextlib
import csv
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songprep import __version__
from songprep.errors import UsageError
from songprep.generation.checkpoint import LOSS_FILE, Generator, load_checkpoint, prepare_output_dir, save_checkpoint
from songprep.generation.configs import GeneratorConfig
from songprep.generation.data import (
    DatasetRows,
    TrainingSong,
    dataset_hash,
    iter_songs,
    pad_to_hop,
    read_rows,
)
from songprep.generation.delay import STREAMS
from songprep.generation.prompts import lyric_sections
from songprep.generation.renderer import TRACKS
from songprep.records import Song

Progress = Callable[[str], None]
#: Seconds per sung syllable when training saw no timed vocal section (a moderate singing pace).
DEFAULT_SECONDS_PER_SYLLABLE = 0.35
#: The middle of LeVo's length bands for instrumental tags (records.LENGTH_SUFFIX_LIMITS_S).
BAND_SECONDS = {"short": 5.0, "medium": 15.0, "long": 25.0}


@dataclass
class EncodedSong:
    """A training song as the models see it: text ids, token streams ``(3, T)``, latents ``(3, D, T)``."""

    id: str
    text_ids: list[int]
    tokens: torch.Tensor
    latents: torch.Tensor

    @property
    def frames(self) -> int:
        return int(self.tokens.shape[1])


@dataclass
class TrainResult:
    checkpoint: Path
    songs: int
    skipped: Counter
    losses: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def train_sft(data_dir: str | Path, config: GeneratorConfig | None, steps: int, out_dir: str | Path, *,
              batch_size: int | None = None, lr: float | None = None, seed: int = 0, device: str = "cpu",
              overwrite: bool = False, init: str | Path | None = None, log_every: int = 10,
              progress: Progress | None = None) -> TrainResult:
    """Fit tokenizers and autoencoder, train LeLM and the renderer for ``steps`` steps, save to ``out_dir``.

    ``init``: start from a checkpoint instead (its config, tokenizers and autoencoder are kept, its weights
    trained on; the optimiser starts fresh): continue a run, or fine-tune on another dataset.
    """
    if (config is None) == (init is None):
        raise UsageError("give a config to train from scratch, or --init CHECKPOINT to continue one (not both)")
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    if init is not None and Path(init).resolve() == Path(out_dir).resolve():
        raise UsageError(f"-o {out_dir} is the --init checkpoint; write the continued run to another folder")
    say = progress or (lambda _msg: None)
    rows = read_rows(data_dir)
    if not rows.songs:
        raise UsageError(f"{data_dir}: no rows can train the generator (skipped: {rows.describe_skipped()})")
    say(f"train: {len(rows.songs)} songs, skipped {rows.describe_skipped()}")
    out = prepare_output_dir(out_dir, overwrite)
    torch.manual_seed(seed)
    started = time.perf_counter()
    if init is not None:
        generator = load_checkpoint(init)
        config = generator.config
    else:
        generator = Generator.build(config)
    generator.autoencoder.to(device)  # a neural autoencoder (Oobleck) encodes hours of audio: on the GPU
    if init is None:
        fit_generator(generator, rows, seed)
    encoded = encode_dataset(generator, rows, device)
    say(f"train: {'kept' if init else 'fitted'} tokenizers and autoencoder, encoded {sum(s.frames for s in encoded)} "
        f"frames in {time.perf_counter() - started:.1f} s")
    duration_model = fit_duration_model(rows.songs)
    losses = optimise(generator, encoded, steps, out / LOSS_FILE, batch_size=batch_size or config.training.batch_size,
                      lr=lr, seed=seed, device=device, log_every=log_every, say=say)
    seconds = time.perf_counter() - started
    meta = {
        "kind": "sft",
        "init": None if init is None else {"checkpoint": str(Path(init).resolve()),
                                           **{k: generator.meta.get(k) for k in ("kind", "steps", "data_hash")}},
        "songprep_version": __version__,
        "torch_version": torch.__version__,
        "config_name": config.name,
        "steps": steps,
        "seed": seed,
        "batch_size": batch_size or config.training.batch_size,
        "lr": lr or config.training.lr,
        "data_dir": str(Path(data_dir).resolve()),
        "data_hash": dataset_hash(rows),
        "songs": len(rows.songs),
        "song_ids": [s.id for s in rows.songs][:1000],
        "skipped": dict(rows.skipped),
        "duration_model": duration_model,
        "final_loss": losses[-1] if losses else {},
        "train_seconds": round(seconds, 2),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    generator.to("cpu")
    save_checkpoint(out, generator, meta)
    say(f"train: saved {out} after {steps} steps in {seconds:.1f} s")
    return TrainResult(out, len(rows.songs), rows.skipped, losses, seconds)


def fit_generator(generator: Generator, rows: DatasetRows, seed: int) -> None:
    """Fit each stream's tokenizer on its track and the autoencoder on all tracks of a seeded sample."""
    cfg = generator.config
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.permutation(len(rows.songs))[: cfg.training.fit_songs].tolist())
    sample = DatasetRows([rows.songs[i] for i in chosen], rows.root, rows.skipped)
    waves: dict[str, list[np.ndarray]] = {t: [] for t in TRACKS}
    for song in iter_songs(sample, cfg.sample_rate, cfg.channels):
        for track in TRACKS:
            waves[track].append(pad_to_hop(song.waves[track], cfg.hop))
    for stream, track in zip(STREAMS, TRACKS):
        generator.audio_tokenizers[stream].fit(waves[track], cfg.sample_rate)
    generator.autoencoder.fit([w for track in TRACKS for w in waves[track]])


def encode_dataset(generator: Generator, rows: DatasetRows, device: str = "cpu") -> list[EncodedSong]:
    """Every row as tokens and latents (kept in memory: about 4 bytes x latent_dim x 3 tracks per frame)."""
    cfg = generator.config
    return [encode_song(generator, song, device) for song in iter_songs(rows, cfg.sample_rate, cfg.channels)]


def encode_song(generator: Generator, song: TrainingSong, device: str = "cpu") -> EncodedSong:
    """Token streams and latents of one song, cut to a common frame count."""
    cfg = generator.config
    waves = {t: pad_to_hop(song.waves[t], cfg.hop) for t in TRACKS}
    tokens = generator.audio_tokens(waves)
    with torch.no_grad():
        batch = torch.from_numpy(np.stack([waves[t] for t in TRACKS])).to(device)
        latents = generator.autoencoder.encode(batch).float().cpu()  # (3, D, T)
    frames = min(int(tokens.shape[1]), int(latents.shape[-1]))
    text = generator.lyric_tokenizer.encode(song.levo_lyric, song.descriptions)
    return EncodedSong(song.id, text, tokens[:, :frames].contiguous(), latents[..., :frames].contiguous())


def fit_duration_model(songs: Sequence[Song]) -> dict[str, Any]:
    """How long the training songs' sections are: seconds per sung syllable (median over vocal sections, overall
    and per language) and the median length of each instrumental tag (``intro-short``, ...), from the rows'
    timed sections.

    A row whose lyric sections do not line up with its timed sections counts as one vocal stretch.
    """
    per_syllable: dict[str, list[float]] = {}
    instrumental: dict[str, list[float]] = {}
    for song in songs:
        lyric = song.levo_lyric or ""
        pace = per_syllable.setdefault(song.language or lyric_language(lyric), [])
        parsed = lyric_sections(lyric)
        if len(parsed) == len(song.sections) and all(p.tag == t.tag for p, t in zip(parsed, song.sections)):
            for p, t in zip(parsed, song.sections):
                if p.syllables:
                    pace.append(t.duration_s / p.syllables)
                else:
                    instrumental.setdefault(p.tag, []).append(t.duration_s)
        elif sum(p.syllables for p in parsed):
            pace.append(song.duration_s / sum(p.syllables for p in parsed))
    everything = [x for v in per_syllable.values() for x in v]
    return {"kind": "sections",
            "seconds_per_syllable": float(np.median(everything)) if everything else DEFAULT_SECONDS_PER_SYLLABLE,
            "seconds_per_syllable_by_language": {k: float(np.median(v)) for k, v in sorted(per_syllable.items()) if v},
            "instrumental_s": {tag: float(np.median(v)) for tag, v in sorted(instrumental.items())},
            "songs": len(songs)}


def lyric_language(lyric: str) -> str | None:
    """The language of a LeVo lyric's sung words (the evaluator's detector); None when the text does not tell."""
    from songprep.evaluation.inputs import detect_language, reference_lyrics

    return detect_language(reference_lyrics(lyric))


def predict_duration_s(model: dict[str, Any], lyric: str) -> float:
    """A lyric's length under :func:`fit_duration_model`'s model: its language's pace (all languages' for one
    training never saw), and unseen instrumental tags take the middle of LeVo's band for their suffix."""
    by_language = model.get("seconds_per_syllable_by_language", {})
    per_syllable = float(by_language.get(lyric_language(lyric), model.get("seconds_per_syllable",
                                                                             DEFAULT_SECONDS_PER_SYLLABLE)))
    known = model.get("instrumental_s", {})
    total = 0.0
    for section in lyric_sections(lyric):
        if section.syllables:
            total += section.syllables * per_syllable
        else:
            total += known.get(section.tag, BAND_SECONDS.get(section.tag.rpartition("-")[2], 10.0))
    return total


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warmup, then cosine decay to 10% of the peak."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(total - warmup, 1)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return f


def optimise(generator: Generator, songs: list[EncodedSong], steps: int, loss_csv: Path, *, batch_size: int,
             lr: float | None, seed: int, device: str, log_every: int, say: Progress) -> list[dict[str, float]]:
    """The training loop; writes one CSV row per step to ``loss_csv`` and returns the rows."""
    cfg = generator.config
    tc = cfg.training
    g = torch.Generator().manual_seed(seed)
    lelm, renderer = generator.lelm.to(device), generator.renderer.to(device)
    lelm.train()
    renderer.train()
    lm_lr = lr or tc.lr
    renderer_lr = tc.renderer_lr * (lm_lr / tc.lr)
    optimiser = torch.optim.AdamW([{"params": lelm.parameters(), "lr": lm_lr},
                                   {"params": renderer.parameters(), "lr": renderer_lr}],
                                  weight_decay=tc.weight_decay, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_lambda(min(tc.warmup_steps, steps // 4 + 1), steps))
    on_gpu = str(device).startswith("cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if on_gpu else contextlib.nullcontext()
    rows: list[dict[str, float]] = []
    started = time.perf_counter()
    with open(loss_csv, "w", newline="", encoding="utf-8") as fh:
        writer: csv.DictWriter | None = None
        for step in range(1, steps + 1):
            batch = make_batch(generator, songs, batch_size, g)
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            with autocast:
                out = lelm(batch["text_ids"], batch["text_mask"], batch["audio"], batch["prompt_audio"])
                lm_loss = out.loss
                render_loss = renderer_step_loss(renderer, batch["audio"], batch["latents"], cfg.renderer, g)
            loss = lm_loss + render_loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*lelm.parameters(), *renderer.parameters()], tc.grad_clip)
            optimiser.step()
            schedule.step()
            row = {"step": step, "loss": loss.item(), "lm_loss": lm_loss.item(), "renderer_loss": render_loss.item()}
            row.update(stream_losses(out))
            row.update({"lr": optimiser.param_groups[0]["lr"], "seconds": round(time.perf_counter() - started, 3)})
            rows.append(row)
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
            if step % log_every == 0 or step == steps or step == 1:
                fh.flush()
                say(f"step {step}/{steps}  lm {row['lm_loss']:.4f}  renderer {row['renderer_loss']:.4f}  "
                    f"lr {row['lr']:.2e}  {row['seconds']:.1f} s")
    lelm.eval()
    renderer.eval()
    return rows


def stream_losses(out: Any) -> dict[str, float]:
    """Per-stream CE from LeLM's output, whatever container it uses (dict or tensor in STREAMS order)."""
    per = getattr(out, "stream_losses", None)
    if per is None:
        return {}
    if isinstance(per, dict):
        return {f"lm_{k}": float(v.detach()) for k, v in per.items()}
    return {f"lm_{s}": float(v.detach()) for s, v in zip(STREAMS, per)}


def make_batch(generator: Generator, songs: Sequence[EncodedSong], batch_size: int,
               g: torch.Generator) -> dict[str, Any]:
    """A random batch: songs drawn with replacement, one common crop length, optional prompt audio."""
    cfg = generator.config
    tc = cfg.training
    picks = torch.randint(len(songs), (batch_size,), generator=g).tolist()
    chosen = [songs[i] for i in picks]
    use_prompt = bool(torch.rand((), generator=g) < tc.prompt_audio_prob)
    prompt_frames = round(cfg.prompt_audio_s * cfg.frame_rate) if use_prompt else 0
    prompt_frames = min(prompt_frames, min(s.frames for s in chosen))
    budget = cfg.lm.max_frames - prompt_frames - max(cfg.lm.delays)
    length = max(1, min(tc.crop_frames, budget, min(s.frames for s in chosen)))
    audio, latents, prompts = [], [], []
    for s in chosen:
        start = int(torch.randint(s.frames - length + 1, (), generator=g))
        audio.append(s.tokens[:, start:start + length])
        latents.append(s.latents[..., start:start + length])
        if prompt_frames:
            p = int(torch.randint(s.frames - prompt_frames + 1, (), generator=g))
            prompts.append(s.tokens[:, p:p + prompt_frames])
    text_ids, text_mask = pad_text([s.text_ids for s in chosen], generator.lyric_tokenizer.pad_id)
    return {"text_ids": text_ids, "text_mask": text_mask, "audio": torch.stack(audio),
            "latents": torch.stack(latents), "prompt_audio": torch.stack(prompts) if prompts else None}


def renderer_step_loss(renderer: torch.nn.Module, tokens: torch.Tensor, latents: torch.Tensor, rcfg: Any,
                       g: torch.Generator) -> torch.Tensor:
    """Flow-matching loss over all three tracks of each example, on a window the renderer samples at."""
    b, _, t = tokens.shape
    window = min(t, int(getattr(rcfg, "window_frames", t)))
    if window < t:
        start = int(torch.randint(t - window + 1, (), generator=g))
        tokens, latents = tokens[..., start:start + window], latents[..., start:start + window]
    n_tracks = latents.shape[1]
    flat_tokens = tokens.repeat_interleave(n_tracks, dim=0)
    flat_latents = latents.reshape(b * n_tracks, *latents.shape[2:])
    track = torch.arange(n_tracks, device=tokens.device).repeat(b)
    return renderer.loss(flat_tokens, flat_latents, track, generator=g)


def pad_text(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(B, L)`` ids and the mask of real tokens."""
    width = max(len(x) for x in ids)
    out = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.bool)
    for i, x in enumerate(ids):
        out[i, : len(x)] = torch.as_tensor(x, dtype=torch.long)
        mask[i, : len(x)] = True
    return out, mask
