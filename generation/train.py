"""Supervised training of the generator (``songprep train``).

Order of work, each step's *why*:

1. Tokenize (:mod:`.tokenize`): fit the three streams' audio tokenizers and the autoencoder on a bounded
   seeded sample, then encode every song once into sharded files (``OUT/tokens`` unless ``--tokens`` names a
   folder ``songprep tokenize`` wrote). Training then never touches audio again, and never holds the corpus.
2. Train LeLM (cross-entropy on the three delayed streams; condition dropout so classifier-free guidance has
   an unconditional model) and the renderer (flow matching from tokens to each track's latents) together
   with AdamW, warmup then cosine decay, on random crops of ``crop_frames`` (:mod:`.loop`: streamed batches,
   gradient accumulation, validation, step checkpoints, ``--resume``, DDP under ``torchrun``).
3. Save a checkpoint (safetensors + JSON) with the loss curve and what it was trained on.

The duration model: LeLM generates a fixed number of frames, so generation needs a length for a
lyric it has never seen. Tokenizing measures, on the rows' timed sections, seconds per sung syllable
and the length of each instrumental tag; generation sums them over the prompt's sections
(``--duration`` overrides). LeVo instead stops at an end token or the maximum length.
"""

from __future__ import annotations

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
from songprep.generation.checkpoint import Generator, load_checkpoint, prepare_output_dir, save_checkpoint
from songprep.generation.configs import GeneratorConfig
from songprep.generation.delay import STREAMS
from songprep.generation.prompts import lyric_sections
from songprep.generation.token_store import EncodedSong
from songprep.records import Song

Progress = Callable[[str], None]
#: Seconds per sung syllable when training saw no timed vocal section (a moderate singing pace).
DEFAULT_SECONDS_PER_SYLLABLE = 0.35
#: The middle of LeVo's length bands for instrumental tags (records.LENGTH_SUFFIX_LIMITS_S).
BAND_SECONDS = {"short": 5.0, "medium": 15.0, "long": 25.0}


@dataclass
class TrainResult:
    checkpoint: Path
    songs: int
    skipped: Counter
    losses: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    val_songs: int = 0


def train_sft(data_dir: str | Path | None, config: GeneratorConfig | None, steps: int, out_dir: str | Path, *,
              tokens_dir: str | Path | None = None, batch_size: int | None = None, lr: float | None = None,
              seed: int = 0, device: str = "cpu", overwrite: bool = False, init: str | Path | None = None,
              log_every: int = 10, grad_accum: int = 1, val_fraction: float = 0.02, val_every: int = 50,
              checkpoint_every: int = 0, keep_checkpoints: int = 3, resume: bool = False, jobs: int = 1,
              progress: Progress | None = None, on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Tokenize ``data_dir`` (unless ``tokens_dir`` already holds it), train LeLM and the renderer for ``steps``
    steps, save to ``out_dir``.

    ``init``: start from a checkpoint instead (its config, tokenizers and autoencoder are kept, its weights
    trained on; the optimiser starts fresh): continue a run, or fine-tune on another dataset. ``resume``:
    continue this ``out_dir``'s own interrupted run from its newest step checkpoint, exactly.
    Under ``torchrun`` every process runs this; process 0 alone writes.
    """
    from songprep.generation.checkpoint import load_codec
    from songprep.generation.loop import Dist, TrainPlan, train_loop
    from songprep.generation.token_store import TokenStore
    from songprep.generation.tokenize import tokenize_dataset

    if config is not None and init is not None:
        raise UsageError("give a config to train from scratch, or --init CHECKPOINT to continue one (not both)")
    if config is None and init is None and data_dir is not None and tokens_dir is None:
        raise UsageError("give a config to train from scratch, or --init CHECKPOINT to continue one")
    if data_dir is None and tokens_dir is None:
        raise UsageError("give --data DATASET or --tokens TOKENS")
    if init is not None and Path(init).resolve() == Path(out_dir).resolve():
        raise UsageError(f"-o {out_dir} is the --init checkpoint; write the continued run to another folder")
    say = progress or (lambda _msg: None)
    dist, device = Dist.start(device)
    if dist.world > 1 and (tokens_dir is None or data_dir is not None):
        raise UsageError("under torchrun, train from --tokens TOKENS made beforehand with `songprep tokenize` "
                         "(one process encodes, not every one)")
    out = Path(out_dir)
    if dist.main:
        if resume:
            out.mkdir(parents=True, exist_ok=True)
        else:
            out = prepare_output_dir(out, overwrite)
    dist.barrier()
    started = time.perf_counter()
    tokens = Path(tokens_dir) if tokens_dir is not None else out / "tokens"
    if data_dir is not None:
        tokenize_dataset(data_dir, tokens, config, init=init, jobs=jobs, seed=seed, device=device, progress=say)
    store = TokenStore(tokens)
    codec = load_codec(store.codec_dir, device)
    if config is not None and config.to_dict() != codec.config.to_dict():
        raise UsageError(f"{tokens} was tokenized with config {codec.config.name!r}, not {config.name!r}")
    torch.manual_seed(seed)
    if init is not None:
        generator = load_checkpoint(init, device)
        if generator.config.to_dict() != codec.config.to_dict():
            raise UsageError(f"--init {init} has config {generator.config.name!r}, {tokens} was tokenized with "
                             f"{codec.config.name!r}; tokenize with --init {init}")
    else:
        generator = Generator.around(codec, device)
    config = generator.config
    manifest = store.manifest
    say(f"train: {len(store)} songs, skipped {_describe(manifest.get('skipped_rows', {}))}")
    say(f"train: {'kept' if init else 'fitted'} tokenizers and autoencoder, encoded {manifest.get('frames', 0)} "
        f"frames in {time.perf_counter() - started:.1f} s")
    plan = TrainPlan(steps=steps, batch_size=batch_size or config.training.batch_size, grad_accum=grad_accum,
                     lr=lr, seed=seed, val_fraction=val_fraction, val_every=val_every,
                     checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, log_every=log_every,
                     world_size=dist.world)
    plan.check()
    train_records, val_records = store.split(val_fraction)
    init_meta = None if init is None else {"checkpoint": str(Path(init).resolve()),
                                           **{k: generator.meta.get(k) for k in ("kind", "steps", "data_hash")}}
    meta = {
        "kind": "sft",
        "init": init_meta,
        "songprep_version": __version__,
        "torch_version": torch.__version__,
        "config_name": config.name,
        "steps": steps,
        "seed": seed,
        "batch_size": plan.batch_size,
        "lr": lr or config.training.lr,
        "plan": plan.to_dict(),
        "data_dir": manifest.get("data_dir"),
        "tokens_dir": str(tokens.resolve()),
        "data_hash": manifest.get("data_hash"),
        "songs": len(store),
        "train_songs": len(train_records),
        "val_song_ids": [r.id for r in val_records][:1000],
        "song_ids": [r.id for r in store.records][:1000],
        "skipped": manifest.get("skipped_rows", {}),
        "duration_model": manifest.get("duration_model"),
    }
    losses = train_loop(generator, store, plan, out, device=device, dist=dist, base_meta=meta, resume=resume,
                        say=say if dist.main else None, on_step=on_step)
    seconds = time.perf_counter() - started
    meta.update({"final_loss": losses[-1] if losses else {}, "train_seconds": round(seconds, 2),
                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if dist.main:
        generator.to("cpu")
        save_checkpoint(out, generator, meta)
        say(f"train: saved {out} after {steps} steps in {seconds:.1f} s")
    dist.barrier()
    return TrainResult(out, len(store), Counter(manifest.get("skipped_rows", {})), losses, seconds, len(val_records))


def _describe(skipped: dict[str, int]) -> str:
    return ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())) or "none"


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


def stream_losses(out: Any) -> dict[str, float]:
    """Per-stream CE from LeLM's output, whatever container it uses (dict or tensor in STREAMS order)."""
    per = getattr(out, "stream_losses", None)
    if per is None:
        return {}
    if isinstance(per, dict):
        return {f"lm_{k}": float(v.detach()) for k, v in per.items()}
    return {f"lm_{s}": float(v.detach()) for s, v in zip(STREAMS, per)}


def make_batch(generator: Any, chosen: Sequence[EncodedSong], g: torch.Generator,
               prompt_audio: bool = True) -> dict[str, Any]:
    """A batch of the given songs: one common crop length, and w.p. ``prompt_audio_prob`` each song's prompt clip
    as tokens (LeVo's prompt-audio condition: the clip export levo cuts, else a random excerpt); draws from ``g``."""
    cfg = generator.config
    tc = cfg.training
    use_prompt = bool(torch.rand((), generator=g) < tc.prompt_audio_prob) and prompt_audio
    prompt_frames = round(cfg.prompt_audio_s * cfg.frame_rate) if use_prompt else 0
    prompt_frames = min(prompt_frames, min(s.frames for s in chosen))
    budget = cfg.lm.max_frames - prompt_frames - max(cfg.lm.delays)
    length = max(1, min(tc.crop_frames, budget, min(s.frames for s in chosen)))
    audio, latents, prompts = [], [], []
    for s in chosen:
        start = int(torch.randint(s.frames - length + 1, (), generator=g))
        audio.append(s.tokens[:, start:start + length])
        latents.append(s.latents[..., start:start + length])
        if prompt_frames:  # the song's export clip when known, else a random excerpt of it
            last = s.frames - prompt_frames
            p = (min(round(s.prompt_start_s * cfg.frame_rate), last) if s.prompt_start_s is not None
                 else int(torch.randint(last + 1, (), generator=g)))
            prompts.append(s.tokens[:, p:p + prompt_frames])
    text_ids, text_mask = pad_text([s.text_ids for s in chosen], generator.lyric_tokenizer.pad_id)
    return {"text_ids": text_ids, "text_mask": text_mask, "audio": torch.stack(audio),
            "latents": torch.stack(latents), "prompt_audio": torch.stack(prompts) if prompts else None,
            "descriptions": [s.descriptions for s in chosen]}


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
