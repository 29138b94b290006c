"""``songprep train``, ``songprep train-dpo`` and ``songprep generate``: the bundled generator's commands."""

from __future__ import annotations

import click


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(), help="A dataset folder `songprep prep` wrote.")
@click.option("--config", "config_name", default=None,
              help="A named config (tiny, small, v2-large) or a .json/.yaml file [default: tiny].")
@click.option("--init", "init", type=click.Path(), default=None,
              help="Start from this checkpoint (its config, tokenizers, weights) instead of from scratch.")
@click.option("--steps", required=True, type=int, help="Optimiser steps.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Checkpoint folder to write.")
@click.option("--batch-size", type=int, default=None, help="Songs per step (default: the config's).")
@click.option("--lr", type=float, default=None, help="Peak learning rate of LeLM (default: the config's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--overwrite", is_flag=True, help="Replace an existing checkpoint folder.")
@click.option("--log-every", type=int, default=10, show_default=True, help="Print a progress line every N steps.")
def train(data_dir: str, config_name: str | None, init: str | None, steps: int, out: str, batch_size: int | None,
          lr: float | None, seed: int, device: str, overwrite: bool, log_every: int) -> None:
    """Fit the tokenizers and autoencoder, then train LeLM and the renderer on a songprep dataset."""
    from songprep.device import resolve_device
    from songprep.generation.configs import load_config
    from songprep.generation.train import train_sft

    config = load_config(config_name or "tiny") if config_name or init is None else None
    result = train_sft(data_dir, config, steps, out, batch_size=batch_size, lr=lr, seed=seed, init=init,
                       device=resolve_device(device), overwrite=overwrite, log_every=log_every, progress=_say)
    last = result.losses[-1]
    click.echo(f"trained {steps} steps on {result.songs} songs (skipped {sum(result.skipped.values())}) in "
               f"{result.seconds:.1f} s: lm loss {last['lm_loss']:.4f}, renderer loss {last['renderer_loss']:.4f} "
               f"-> {result.checkpoint}")


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
             temperature: float, top_k: int, repetition_penalty: float, seed: int, batch_size: int, device: str,
             duration_s: float | None, max_frames: int | None, render_steps: int | None, separator: str) -> None:
    """Generate songs from LeVo JSONL prompts into the evaluator's layout (48 kHz stereo FLAC)."""
    from songprep.device import resolve_device
    from songprep.generation.generate import GenerationOptions
    from songprep.generation.generate import generate as run

    options = GenerationOptions(separate=separate, num_candidates=num_candidates, cfg_scale=cfg_scale,
                                temperature=temperature, top_k=top_k, repetition_penalty=repetition_penalty,
                                seed=seed, batch_size=batch_size, device=resolve_device(device), duration_s=duration_s,
                                max_frames=max_frames, render_steps=render_steps, separator=separator)
    summary = run(prompts_path, out, checkpoint, options, progress=_say)
    rtf = f", RTF {summary.seconds / summary.audio_seconds:.2f}" if summary.audio_seconds else ""
    click.echo(f"{len(summary.written)} generated, {len(summary.skipped)} already there, {len(summary.rejected)} "
               f"rejected -> {summary.out_dir} in {summary.seconds:.1f} s{rtf}")
    for reject in summary.rejected:
        click.echo(f"  rejected {reject.idx} (line {reject.line}): {reject.reason}")
