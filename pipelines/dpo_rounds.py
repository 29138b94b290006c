"""LeVo 2's third stage as one resumable job: semi-online DPO rounds (``songprep pipelines dpo-rounds``).

For each round ``r`` = 1..R, from checkpoint ``C[r-1]`` (``C[0]`` the one given):

1. ``candidates``: generate K candidates per training prompt (seed ``seed + r``: new samples each round);
2. ``held-out``: generate one song per held-back prompt (the same seed every round: what changes is the model);
3. ``score``: the evaluator scores both (PER, signal checks, the aesthetic models whose weights are present);
4. ``pairs``: chosen/rejected per prompt by the first rule that separates its candidates (PER lower is better,
   then the fallbacks: a tiny model's songs often tie on PER at 100%, and a tie teaches nothing);
5. ``dpo``: ``train-dpo`` from ``C[r-1]`` on the pairs -> ``C[r]`` (a round without pairs carries ``C[r-1]`` on,
   and its report says so).

After the last round the held-back prompts are generated and scored once more with ``C[R]``. Layout::

    OUT/plan.json                   the options (a rerun with other options is refused)
    OUT/round-01/candidates/        generate's layout (candidates/c{k}/audios, tokens)
    OUT/round-01/held-out/          songs of the held-back prompts from the round's starting checkpoint
    OUT/round-01/scores/, held-out-scores/   evaluator reports (their score caches make a rescore free)
    OUT/round-01/pairs.parquet
    OUT/round-01/checkpoint/        C[1]
    OUT/round-01/report.json        the round's figures; written last: the round is done
    OUT/final/held-out/, held-out-scores/    C[R] on the held-back prompts
    OUT/summary.md, summary.csv     one row per checkpoint C[0..R]: held-out PER and scores, pairs, DPO loss

Resume: every step's output is its own completion mark (generate skips finished songs, the evaluator
caches scores, pairs and checkpoints are written atomically or with meta.json last, report.json last), so
a rerun after a kill at any point does only what is missing.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from songprep.atomic import write_text_atomic
from songprep.errors import UsageError
from songprep.writer import write_json_atomic

Progress = Callable[[str], None]
#: Pair rules tried in order per prompt: ``metric:lower`` or ``metric:higher``.
DEFAULT_RULES = ("per:lower", "silence_ratio:lower", "clipped_fraction:lower", "loudness_lufs:higher")
SUMMARY_SCORES = ("per", "wer", "silence_ratio", "loudness_lufs")


@dataclass
class RoundsPlan:
    """The options of one dpo-rounds job (recorded in plan.json; a rerun must give the same).

    >>> RoundsPlan(rounds=2, candidates=2).rules[0]
    'per:lower'
    """

    rounds: int = 2
    candidates: int = 2
    dpo_steps: int = 20
    beta: float = 0.1
    lr: float | None = None
    dpo_batch_size: int = 4
    seed: int = 0
    rules: tuple[str, ...] = DEFAULT_RULES
    min_margin: float = 0.0
    max_frames: int | None = None
    duration_s: float | None = None
    temperature: float = 1.0
    top_k: int = 50
    cfg_scale: float = 1.5
    per: bool = True
    aesthetics: tuple[str, ...] = ("audiobox", "songeval")
    transcriber: str = "auto"
    separator: str = "auto"
    device: str = "cpu"

    def check(self) -> None:
        if self.rounds < 1 or self.candidates < 2:
            raise UsageError("--rounds must be >= 1 and --candidates >= 2 (a pair needs two)")
        for rule in self.rules:
            if rule.rpartition(":")[2] not in ("lower", "higher"):
                raise UsageError(f"pair rule {rule!r} must be METRIC:lower or METRIC:higher")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rules"], d["aesthetics"] = list(self.rules), list(self.aesthetics)
        return d


@dataclass
class RoundsResult:
    out_dir: Path
    checkpoint: Path
    summary: pd.DataFrame
    done: list[str] = field(default_factory=list)  # steps run by this call ("round-01/dpo", ...)


class _Evaluator:
    """The evaluator's models, loaded once per job and handed to every scoring step."""

    def __init__(self, plan: RoundsPlan) -> None:
        from songprep.evaluation.run import EvalConfig

        self.config = EvalConfig(per=plan.per, transcriber=plan.transcriber, separator=plan.separator,
                                 aesthetics=plan.aesthetics, device=plan.device, resamples=50)
        self._models: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._models is None:
            from songprep.evaluation.run import _load_components

            parts = _load_components(self.config, None, None, {})
            self._models = {"transcriber": parts.transcriber, "separator": parts.separator, "scorers": parts.scorers}
        return self._models

    def score(self, prompts_path: Path, systems: Sequence[tuple[str, Path]], out: Path) -> pd.DataFrame:
        from songprep.evaluation.inputs import System, load_prompts
        from songprep.evaluation.run import evaluate

        m = self._load()
        result = evaluate(load_prompts(prompts_path), [System(n, d) for n, d in systems], out, self.config,
                          transcriber=m["transcriber"], separator=m["separator"], scorers=m["scorers"])
        return result.per_song


def build_round_pairs(scores: pd.DataFrame, rules: Sequence[str], min_margin: float) -> pd.DataFrame:
    """Per prompt, the best-vs-worst pair of the first rule whose metric separates its candidates."""
    from songprep.evaluation.dpo import PairRule, build_pairs

    found: list[pd.DataFrame] = []
    paired: set[str] = set()
    for rule in rules:
        metric, _, direction = rule.rpartition(":")
        if metric not in scores or pd.to_numeric(scores[metric], errors="coerce").notna().sum() == 0:
            continue
        pairs = build_pairs(scores, PairRule(metric, direction == "higher", min_margin))
        pairs = pairs[~pairs["prompt"].isin(paired)]
        if not pairs.empty:
            found.append(pairs)
            paired |= set(pairs["prompt"])
    if not found:
        return pd.DataFrame(columns=["prompt", "chosen", "rejected", "rule"])
    return pd.concat(found, ignore_index=True)


def _mean(frame: pd.DataFrame, column: str) -> float:
    if column not in frame:
        return math.nan
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    values = pd.to_numeric(ok[column], errors="coerce").dropna()
    return float(values.mean()) if len(values) else math.nan


def _score_columns(frame: pd.DataFrame) -> list[str]:
    extra = [c for c in frame.columns if c.startswith(("audiobox_", "songeval_"))]
    return [c for c in SUMMARY_SCORES if c in frame] + extra


def run_dpo_rounds(checkpoint: str | Path, prompts: str | Path, held_out: str | Path, out_dir: str | Path,
                   plan: RoundsPlan | None = None, *, progress: Progress | None = None,
                   on_step: Callable[[str], None] | None = None) -> RoundsResult:
    """Run (or continue) the rounds; see the module docstring. ``on_step(name)`` runs after each step
    (tests stop a run there to simulate a kill)."""
    from songprep.evaluation.dpo import write_pairs
    from songprep.generation.checkpoint import is_checkpoint, load_checkpoint
    from songprep.generation.dpo import train_dpo
    from songprep.generation.generate import GenerationOptions, generate

    plan = plan or RoundsPlan()
    plan.check()
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    prompts, held_out, base = Path(prompts), Path(held_out), Path(checkpoint)
    load_checkpoint(base)  # a missing or damaged checkpoint stops the job before any work, in one line
    out.mkdir(parents=True, exist_ok=True)
    recorded = {**plan.to_dict(), "checkpoint": str(base.resolve()), "prompts": str(prompts.resolve()),
                "held_out": str(held_out.resolve())}
    plan_file = out / "plan.json"
    if plan_file.is_file():
        before = json.loads(plan_file.read_text(encoding="utf-8"))
        changed = sorted(k for k in set(before) | set(recorded) if before.get(k) != recorded.get(k))
        if changed:
            raise UsageError(f"{out} holds a dpo-rounds job with other options ({', '.join(changed)}); rerun with "
                             "the same options to continue it, or choose another -o")
    else:
        write_json_atomic(plan_file, recorded)
    evaluator = _Evaluator(plan)
    done: list[str] = []

    def step(name: str) -> None:
        done.append(name)
        say(f"dpo-rounds: {name} done")
        if on_step is not None:
            on_step(name)

    def options(candidates: int, seed: int) -> GenerationOptions:
        return GenerationOptions(num_candidates=candidates, seed=seed, max_frames=plan.max_frames,
                                 duration_s=plan.duration_s, temperature=plan.temperature, top_k=plan.top_k,
                                 cfg_scale=plan.cfg_scale, device=plan.device, separator=plan.separator)

    def held_out_scores(where: Path, ckpt: Path) -> pd.DataFrame:
        generate(held_out, where / "held-out", ckpt, options(1, plan.seed + 10_000))
        return evaluator.score(held_out, [("model", where / "held-out")], where / "held-out-scores")

    current = base
    reports: list[dict[str, Any]] = []
    for r in range(1, plan.rounds + 1):
        here = out / f"round-{r:02d}"
        report_file = here / "report.json"
        if report_file.is_file():
            report = json.loads(report_file.read_text(encoding="utf-8"))
            reports.append(report)
            current = Path(report["checkpoint"])
            continue
        cand_dir = here / "candidates"
        generate(prompts, cand_dir, current, options(plan.candidates, plan.seed + r))
        step(f"round-{r:02d}/candidates")
        held = held_out_scores(here, current)
        step(f"round-{r:02d}/held-out")
        systems = [(f"c{k}", cand_dir / "candidates" / f"c{k}") for k in range(plan.candidates)]
        scores = evaluator.score(prompts, systems, here / "scores")
        step(f"round-{r:02d}/score")
        pairs_path = here / "pairs.parquet"
        if pairs_path.is_file():
            pairs = pd.read_parquet(pairs_path)
        else:
            pairs = build_round_pairs(scores, plan.rules, plan.min_margin)
            write_pairs(pairs, pairs_path)
        step(f"round-{r:02d}/pairs")
        ckpt = here / "checkpoint"
        dpo: dict[str, Any] = {}
        if pairs.empty:
            shutil.rmtree(ckpt, ignore_errors=True)
            nxt = current
            say(f"dpo-rounds: round {r}: no candidates differ under any rule; {current} carries on unchanged")
        else:
            if not is_checkpoint(ckpt):
                shutil.rmtree(ckpt, ignore_errors=True)  # what a killed DPO run left
                train_dpo(current, pairs_path, cand_dir / "candidates", prompts, ckpt, plan.dpo_steps, beta=plan.beta,
                          lr=plan.lr, batch_size=plan.dpo_batch_size, seed=plan.seed + r, device=plan.device,
                          overwrite=True, separator=plan.separator)
            meta = json.loads((ckpt / "meta.json").read_text(encoding="utf-8"))
            dpo = {k: meta["dpo"]["final"][k] for k in ("loss", "reward_margin", "accuracy")}
            nxt = ckpt
        step(f"round-{r:02d}/dpo")
        report = {"round": r, "start_checkpoint": str(current), "checkpoint": str(nxt), "pairs": len(pairs),
                  "rules_used": pairs["rule"].value_counts().to_dict() if len(pairs) else {},
                  "candidates": {c: _mean(scores, c) for c in _score_columns(scores)},
                  "held_out": {c: _mean(held, c) for c in _score_columns(held)}, "dpo": dpo}
        write_json_atomic(report_file, report)
        reports.append(report)
        current = nxt
    final = held_out_scores(out / "final", current)
    step("final/held-out")
    summary = summary_table(reports, {c: _mean(final, c) for c in _score_columns(final)})
    summary.to_csv(out / "summary.csv", index=False)
    write_text_atomic(out / "summary.md", summary_markdown(summary))
    return RoundsResult(out, current, summary, done)


def summary_table(reports: Sequence[dict[str, Any]], final: dict[str, float]) -> pd.DataFrame:
    """One row per checkpoint C[0..R]: its held-out scores; for C[k<R] also the candidates it sampled in
    round k+1, the pairs made of them and the DPO run that made C[k+1]."""
    rows = []
    for k in range(len(reports) + 1):
        held = reports[k]["held_out"] if k < len(reports) else final
        row: dict[str, Any] = {"checkpoint": "C0 (start)" if k == 0 else f"C{k} (after round {k})"}
        row.update({f"held_out_{c}": v for c, v in held.items()})
        if k < len(reports):
            rep = reports[k]
            row.update({f"candidates_{c}": v for c, v in rep["candidates"].items()})
            row["pairs"] = rep["pairs"]
            row["dpo_loss"] = rep["dpo"].get("loss", math.nan)
            row["dpo_accuracy"] = rep["dpo"].get("accuracy", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (NaN as '-': a score not computed, or a row without that step)."""
    cols = list(summary.columns)

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in summary.itertuples(index=False)]
    return "\n".join(lines) + "\n"
