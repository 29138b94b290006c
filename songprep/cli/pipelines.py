"""``songprep pipelines``: compositions of the library's steps run as one resumable job."""

from __future__ import annotations

import click


@click.group("pipelines")
def pipelines() -> None:
    """Multi-step jobs (each resumable: rerun the same command after a kill)."""


@pipelines.command("dpo-rounds")
@click.option("--checkpoint", required=True, type=click.Path(), help="The starting checkpoint (C0).")
@click.option("--prompts", "prompts_path", required=True, type=click.Path(),
              help="LeVo JSONL prompts the candidates are sampled for.")
@click.option("--held-out", "held_out", required=True, type=click.Path(),
              help="LeVo JSONL prompts never trained on: scored after every round.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Job folder (rerun with it to continue).")
@click.option("--rounds", type=int, default=2, show_default=True)
@click.option("--candidates", type=int, default=4, show_default=True, help="Candidates per prompt per round.")
@click.option("--dpo-steps", type=int, default=100, show_default=True, help="train-dpo steps per round.")
@click.option("--beta", type=float, default=0.1, show_default=True)
@click.option("--lr", type=float, default=None, help="DPO learning rate (default: a tenth of the config's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--rule", "rules", multiple=True, metavar="METRIC:lower|higher",
              help="Pair rules tried in order per prompt (repeat) [default: per:lower, then signal checks].")
@click.option("--max-frames", type=int, default=None, help="Token frames per song (default: from the lyric).")
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=50, show_default=True)
@click.option("--no-per", is_flag=True, help="Score without PER (no separation, no ASR).")
@click.option("--aesthetics", default="audiobox,songeval", show_default=True,
              help="Comma-separated aesthetic scorers ('' for none); one without weights is 'not computed'.")
@click.option("--transcriber", default="auto", show_default=True)
@click.option("--separator", default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True)
def dpo_rounds(checkpoint: str, prompts_path: str, held_out: str, out: str, rounds: int, candidates: int,
               dpo_steps: int, beta: float, lr: float | None, seed: int, rules: tuple[str, ...], max_frames: int | None,
               temperature: float, top_k: int, no_per: bool, aesthetics: str, transcriber: str, separator: str,
               device: str) -> None:
    """Semi-online DPO: R rounds of generate K candidates -> score -> pairs -> train-dpo (LeVo 2's stage 3)."""
    from songprep.device import resolve_device
    from songprep.pipelines.dpo_rounds import DEFAULT_RULES, RoundsPlan, run_dpo_rounds, summary_markdown

    plan = RoundsPlan(rounds=rounds, candidates=candidates, dpo_steps=dpo_steps, beta=beta, lr=lr, seed=seed,
                      rules=tuple(rules) or DEFAULT_RULES, max_frames=max_frames, temperature=temperature,
                      top_k=top_k, per=not no_per,
                      aesthetics=tuple(a.strip() for a in aesthetics.split(",") if a.strip()),
                      transcriber=transcriber, separator=separator, device=resolve_device(device))
    result = run_dpo_rounds(checkpoint, prompts_path, held_out, out, plan,
                            progress=lambda m: click.echo(m, err=True))
    click.echo(summary_markdown(result.summary), nl=False)
    click.echo(f"{rounds} rounds -> {result.checkpoint} (summary: {out}/summary.md)")
