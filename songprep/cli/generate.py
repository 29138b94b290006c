"""``songprep train``, ``songprep train-dpo`` and ``songprep generate``: the bundled generator's commands."""

from __future__ import annotations

import click


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command("tokenize")
@click.argument("data_dir", metavar="DATASET", type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(), help="Folder for the codec and the token shards.")
@click.option("--config", "config_name", default=None,
              help="A named config (tiny, small, v2-large) or a .json/.yaml file [default: tiny, unless the folder "
                   "already holds tokenizers].")
@click.option("--init", "init", type=click.Path(), default=None, help="Reuse this checkpoint's tokenizers.")
@click.option("--jobs", "-j", type=int, default=0, show_default=True, help="Worker processes (0: one per core).")
@click.option("--songs-per-shard", type=int, default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Picks the fit sample and its excerpts.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (in-process only).")
def tokenize(data_dir: str, out: str, config_name: str | None, init: str | None, jobs: int, songs_per_shard: int,
             seed: int, device: str) -> None:
    """Encode a dataset once into token streams and latents on disk (resumable: a rerun encodes the rest)."""
    from pathlib import Path

    from songprep.device import resolve_device
    from songprep.generation.configs import load_config
    from songprep.generation.token_store import CODEC_DIR
    from songprep.generation.tokenize import tokenize_dataset
    from songprep.runner import default_jobs

    has_codec = (Path(out) / CODEC_DIR / "config.json").is_file()
    config = load_config(config_name or "tiny") if config_name or (init is None and not has_codec) else None
    device = resolve_device(device)
    summary = tokenize_dataset(data_dir, out, config, init=init, jobs=jobs or default_jobs(device), seed=seed,
                               songs_per_shard=songs_per_shard, device=device, progress=_say)
    click.echo(f"{summary.written} encoded, {summary.skipped} already there, {len(summary.failed)} failed "
               f"(of {summary.found}) -> {summary.out_dir} in {summary.seconds:.1f} s")
    for song_id, reason in sorted(summary.failed.items()):
        click.echo(f"  failed {song_id}: {reason}")


@click.command("train")
@click.option("--data", "data_dir", default=None, type=click.Path(), help="A dataset folder `songprep prep` wrote.")
@click.option("--tokens", "tokens_dir", default=None, type=click.Path(),
              help="A folder `songprep tokenize` wrote (with --data: tokenize into it first) [default: OUT/tokens].")
@click.option("--config", "config_name", default=None,
              help="A named config (tiny, small, v2-large) or a .json/.yaml file [default: tiny].")
@click.option("--init", "init", type=click.Path(), default=None,
              help="Start from this checkpoint (its config, tokenizers, weights) instead of from scratch.")
@click.option("--steps", required=True, type=int, help="Optimiser steps.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Checkpoint folder to write.")
@click.option("--batch-size", type=int, default=None, help="Songs per step, all processes together "
                                                           "(default: the config's).")
@click.option("--grad-accum", type=int, default=1, show_default=True, help="Micro-batches accumulated per step.")
@click.option("--lr", type=float, default=None, help="Peak learning rate of LeLM (default: the config's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--val-fraction", type=float, default=0.02, show_default=True,
              help="Songs held out for validation, by a stable hash of their id.")
@click.option("--val-every", type=int, default=50, show_default=True, help="Validation loss every N steps.")
@click.option("--checkpoint-every", type=int, default=0, show_default=True,
              help="Save OUT/checkpoints/step-N every N steps (0: only the final checkpoint).")
@click.option("--keep-checkpoints", type=int, default=3, show_default=True, help="Step checkpoints kept.")
@click.option("--resume", is_flag=True, help="Continue OUT's interrupted run from its newest step checkpoint.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, help="Processes that tokenize --data.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--overwrite", is_flag=True, help="Replace an existing checkpoint folder.")
@click.option("--log-every", type=int, default=10, show_default=True, help="Print a progress line every N steps.")
def train(data_dir: str | None, tokens_dir: str | None, config_name: str | None, init: str | None, steps: int,
          out: str, batch_size: int | None, grad_accum: int, lr: float | None, seed: int, val_fraction: float,
          val_every: int, checkpoint_every: int, keep_checkpoints: int, resume: bool, jobs: int, device: str,
          overwrite: bool, log_every: int) -> None:
    """Train LeLM and the renderer on a songprep dataset (tokenized first) or on tokens; `torchrun` for DDP."""
    from songprep.device import resolve_device
    from songprep.generation.configs import load_config
    from songprep.generation.train import train_sft

    wants_config = config_name or (init is None and data_dir is not None and tokens_dir is None)
    config = load_config(config_name or "tiny") if wants_config else None
    result = train_sft(data_dir, config, steps, out, tokens_dir=tokens_dir, batch_size=batch_size, lr=lr, seed=seed,
                       init=init, device=resolve_device(device), overwrite=overwrite, log_every=log_every,
                       grad_accum=grad_accum, val_fraction=val_fraction, val_every=val_every,
                       checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, resume=resume, jobs=jobs,
                       progress=_say)
    last = result.losses[-1]
    click.echo(f"trained {steps} steps on {result.songs} songs ({result.val_songs} held out for validation; skipped "
               f"{sum(result.skipped.values())}) in {result.seconds:.1f} s: lm loss {float(last['lm_loss']):.4f}, "
               f"renderer loss {float(last['renderer_loss']):.4f} -> {result.checkpoint}")


@click.command("train-dpo")
@click.option("--checkpoint", required=True, type=click.Path(), help="The starting (and reference) checkpoint.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(), help="pairs.parquet from `songprep eval dpo`.")
@click.option("--candidates", "candidates_dir", required=True, type=click.Path(),
              help="Folder of candidate systems: DIR/<candidate>/audios/<idx>.flac (what generate writes).")
@click.option("--prompts", "prompts_path", required=True, type=click.Path(), help="The prompts JSONL.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Checkpoint folder to write.")
@click.option("--steps", required=True, type=int)
@click.option("--beta", type=float, default=0.1, show_default=True, help="DPO temperature.")
@click.option("--lr", type=float, default=None, help="Learning rate (default: a tenth of the config's).")
@click.option("--batch-size", type=int, default=4, show_default=True, help="Pairs per step.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--separator", default="auto", show_default=True,
              help="Splits candidates saved without tokens or stems into vocal and accompaniment.")
@click.option("--overwrite", is_flag=True, help="Replace an existing checkpoint folder.")
def train_dpo(checkpoint: str, pairs_path: str, candidates_dir: str, prompts_path: str, out: str, steps: int,
              beta: float, lr: float | None, batch_size: int, seed: int, device: str, separator: str,
              overwrite: bool) -> None:
    """DPO-tune LeLM on the evaluator's chosen/rejected pairs."""
    from songprep.device import resolve_device
    from songprep.generation.dpo import train_dpo as run

    result = run(checkpoint, pairs_path, candidates_dir, prompts_path, out, steps, beta=beta, lr=lr,
                 batch_size=batch_size, seed=seed, device=resolve_device(device), overwrite=overwrite,
                 separator=separator, progress=_say)
    first, last = result.losses[0], result.losses[-1]
    click.echo(f"DPO {steps} steps on {result.pairs} pairs: loss {first['loss']:.4f} -> {last['loss']:.4f}, "
               f"reward margin {first['reward_margin']:+.4f} -> {last['reward_margin']:+.4f} -> {result.checkpoint}")


@click.command("generate")
@click.argument("prompts_path", metavar="PROMPTS.jsonl", type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(), help="Output folder (OUT/audios/{idx}.flac).")
@click.option("--checkpoint", required=True, type=click.Path(), help="A checkpoint folder `songprep train` wrote.")
@click.option("--separate", is_flag=True, help="Also write {idx}_vocal.flac and {idx}_bgm.flac.")
@click.option("--num-candidates", type=int, default=1, show_default=True,
              help="Songs per prompt; N > 1 writes OUT/candidates/c{k}/audios/{idx}.flac.")
@click.option("--cfg-scale", type=float, default=1.5, show_default=True, help="Classifier-free guidance scale.")
@click.option("--guidance", type=click.Choice(("text", "descriptions")), default="text", show_default=True,
              help="What guidance strengthens: the whole text, or the descriptions alone (the lyric kept).")
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=50, show_default=True)
@click.option("--repetition-penalty", type=float, default=1.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=1, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--duration", "duration_s", type=float, default=None,
              help="Seconds per song (default: from the lyric's length, as measured in training).")
@click.option("--max-frames", type=int, default=None, help="Token frames per song (25 per second).")
@click.option("--render-steps", type=int, default=None, help="Renderer sampling steps (default: the config's).")
@click.option("--separator", default="auto", show_default=True, help="Splits prompt audio into vocal/accompaniment.")
def generate(prompts_path: str, out: str, checkpoint: str, separate: bool, num_candidates: int, cfg_scale: float,
             guidance: str, temperature: float, top_k: int, repetition_penalty: float, seed: int, batch_size: int,
             device: str,
             duration_s: float | None, max_frames: int | None, render_steps: int | None, separator: str) -> None:
    """Generate songs from LeVo JSONL prompts into the evaluator's layout (48 kHz stereo FLAC)."""
    from songprep.device import resolve_device
    from songprep.generation.generate import GenerationOptions
    from songprep.generation.generate import generate as run

    options = GenerationOptions(separate=separate, num_candidates=num_candidates, cfg_scale=cfg_scale,
                                guidance=guidance, temperature=temperature, top_k=top_k,
                                repetition_penalty=repetition_penalty,
                                seed=seed, batch_size=batch_size, device=resolve_device(device), duration_s=duration_s,
                                max_frames=max_frames, render_steps=render_steps, separator=separator)
    summary = run(prompts_path, out, checkpoint, options, progress=_say)
    rtf = f", RTF {summary.seconds / summary.audio_seconds:.2f}" if summary.audio_seconds else ""
    click.echo(f"{len(summary.written)} generated, {len(summary.skipped)} already there, {len(summary.rejected)} "
               f"rejected -> {summary.out_dir} in {summary.seconds:.1f} s{rtf}")
    for reject in summary.rejected:
        click.echo(f"  rejected {reject.idx} (line {reject.line}): {reject.reason}")
