"""``songprep eval``: score one pair of texts, a whole set of systems, or build DPO pairs."""

from __future__ import annotations

import json
import math
from collections import Counter

import click

from songprep.evaluation.normalise import LANGUAGES
from songprep.transcription import HEAR


@click.group("eval")
def eval_group() -> None:
    """Score song-generation systems: PER/WER/CER, aesthetics, signal checks, reports, DPO pairs."""


@eval_group.command("per")
@click.option("--ref", "reference", required=True, help="Reference lyrics (plain text or LeVo markup).")
@click.option("--hyp", "hypothesis", required=True, help="Hypothesis (a transcript).")
@click.option("--language", "-l", type=click.Choice(LANGUAGES), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def per_command(reference: str, hypothesis: str, language: str, as_json: bool) -> None:
    """PER, WER and CER of one reference/hypothesis pair, with the edit counts."""
    from songprep.evaluation.g2p import g2p_choices
    from songprep.evaluation.inputs import reference_lyrics
    from songprep.evaluation.per import TextScorer

    pair = TextScorer().score(reference_lyrics(reference), hypothesis, language)
    if as_json:
        data = pair.to_dict()
        data["g2p"] = g2p_choices((language,))[language]
        click.echo(json.dumps(data, ensure_ascii=False, default=lambda v: None if isinstance(v, float)
                              and math.isnan(v) else v))
        return
    for name in ("per", "wer", "cer"):
        c = getattr(pair, name)
        click.echo(f"{name.upper()} {100 * c.rate:6.2f}%  (S {c.substitutions}, D {c.deletions}, I {c.insertions}, "
                   f"N {c.reference_length})")


@eval_group.command("run")
@click.option("--prompts", "-p", required=True, type=click.Path(exists=True),
              help="LeVo JSONL (idx, gt_lyric, ...) or a songprep dataset folder.")
@click.option("--system", "-s", "systems", multiple=True, required=True, metavar="NAME=DIR",
              help="A system's folder: DIR/{idx}.flac or DIR/audios/{idx}.flac. Repeat per system.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Report folder.")
@click.option("--no-per", is_flag=True, help="Skip PER/WER/CER (no separation, no ASR).")
@click.option("--no-separation", is_flag=True, help="Transcribe the mix instead of separated vocals.")
@click.option("--asr-hears", type=click.Choice(HEAR), default="mix", show_default=True,
              help="With separation: Whisper hears the mix where the separated vocals sing (real songs' PER "
                   "floor 0.22 vs 0.34), or the separated vocals.")
@click.option("--separator", default="auto", show_default=True)
@click.option("--transcriber", default="auto", show_default=True)
@click.option("--no-gating", is_flag=True, help="Let Whisper hear the whole vocal (no silero-vad gating).")
@click.option("--no-loop-removal", is_flag=True, help="Keep Whisper's repetition loops in the transcript.")
@click.option("--aesthetics", default="audiobox,songeval", show_default=True,
              help="Comma-separated scorers ('' for none).")
@click.option("--audiobox-checkpoint", type=click.Path(exists=True), default=None,
              help="audiobox-aesthetics' released checkpoint.pt (or a from_pretrained folder).")
@click.option("--songeval-checkpoint", type=click.Path(exists=True), default=None,
              help="SongEval's ckpt/model.safetensors (its config.yaml one folder up).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--resamples", default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", default=None, type=int, help="Bootstrap seed (default: the recorded default).")
def run_command(prompts: str, systems: tuple[str, ...], out: str, no_per: bool, no_separation: bool, asr_hears: str,
                separator: str, transcriber: str, no_gating: bool, no_loop_removal: bool, aesthetics: str,
                audiobox_checkpoint: str | None, songeval_checkpoint: str | None, device: str, resamples: int,
                seed: int | None) -> None:
    """Score every system on every prompt and write report.html, report.md, results.json, per_song.parquet."""
    from songprep.evaluation.aggregate import DEFAULT_SEED
    from songprep.evaluation.inputs import load_prompts, parse_system
    from songprep.evaluation.run import EvalConfig, evaluate

    config = EvalConfig(per=not no_per, separate=not no_separation, hear=asr_hears, separator=separator,
                        transcriber=transcriber, gate=not no_gating, loops=not no_loop_removal,
                        aesthetics=tuple(a.strip() for a in aesthetics.split(",") if a.strip()),
                        audiobox_checkpoint=audiobox_checkpoint, songeval_checkpoint=songeval_checkpoint,
                        device=device, resamples=resamples, seed=DEFAULT_SEED if seed is None else seed)
    result = evaluate(load_prompts(prompts), [parse_system(s) for s in systems], out, config, progress=True)
    click.echo(f"{result.scored} songs scored, {result.from_cache} from cache, in {result.seconds:.1f} s -> {out}/"
               "report.html")
    for part, reason in sorted(result.results["not_computed"].items()):
        click.echo(f"  {part}: not computed: {reason}")
    for name, entry in result.results["systems"].items():
        if entry["problems"]:
            kinds = Counter(p["status"] for p in entry["problems"])
            click.echo(f"  {name}: {len(entry['problems'])} of {entry['prompts']} prompts not scored ("
                       + ", ".join(f"{n} {status}" for status, n in sorted(kinds.items())) + "; reasons in report.md)")


@eval_group.command("dpo")
@click.option("--scores", required=True, type=click.Path(exists=True),
              help="per_song.parquet (system = candidate, idx = prompt) or any Parquet with those columns.")
@click.option("--out", "-o", required=True, type=click.Path(), help="pairs.parquet to write.")
@click.option("--metric", default="per", show_default=True)
@click.option("--higher-is-better/--lower-is-better", default=None,
              help="Direction of --metric (default: lower for per/wer/cer, higher otherwise).")
@click.option("--min-margin", default=0.0, show_default=True, type=float)
@click.option("--mode", type=click.Choice(["best_worst", "all"]), default="best_worst", show_default=True)
@click.option("--prompt-column", default="idx", show_default=True)
@click.option("--candidate-column", default="system", show_default=True)
def dpo_command(scores: str, out: str, metric: str, higher_is_better: bool | None, min_margin: float, mode: str,
                prompt_column: str, candidate_column: str) -> None:
    """Build chosen/rejected pairs from scored candidates and write pairs.parquet."""
    import pandas as pd

    from songprep.evaluation.dpo import PairRule, build_pairs, write_pairs

    if higher_is_better is None:
        higher_is_better = metric not in ("per", "wer", "cer")
    rule = PairRule(metric, higher_is_better, min_margin, mode)
    pairs = build_pairs(pd.read_parquet(scores), rule, prompt_column, candidate_column)
    write_pairs(pairs, out)
    click.echo(f"{len(pairs)} pairs ({rule.describe()}) -> {out}")
