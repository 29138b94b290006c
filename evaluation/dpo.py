"""Preference pairs for DPO from scored candidates: ``pairs.parquet``.

Input: one row per (prompt, candidate) with scores, e.g. an evaluation's ``per_song.parquet`` where
each "system" is one sampled candidate (``system`` -> candidate, ``idx`` -> prompt). A rule picks the
pairs: the metric that decides, its direction, the smallest margin that counts as a preference, and
whether to emit only the best-vs-worst pair per prompt or every pair over the margin. Each pair
records every score margin (chosen - rejected), so a trainer can filter again without rescoring.

LeVo's own DPO data uses PER for lyric alignment and aesthetic scores for musicality; a rule here
is one such criterion, and several rules can be run and concatenated.

>>> import pandas as pd
>>> scores = pd.DataFrame({"idx": ["p1", "p1"], "system": ["a", "b"], "per": [0.05, 0.30]})
>>> build_pairs(scores, PairRule("per", higher_is_better=False, min_margin=0.1))[["chosen", "rejected"]].values.tolist()
[['a', 'b']]
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from songprep.atomic import atomic_path
from songprep.errors import UsageError

MODES = ("best_worst", "all")


@dataclass(frozen=True)
class PairRule:
    """How pairs are chosen: the deciding metric, its direction, the minimum margin, the mode."""

    metric: str
    higher_is_better: bool
    min_margin: float = 0.0
    mode: str = "best_worst"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"pair mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.min_margin < 0:
            raise UsageError("min_margin must be >= 0")

    def describe(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        return f"{self.mode}: {self.metric} ({better} is better), margin > {self.min_margin:g}"


def build_pairs(scores: pd.DataFrame, rule: PairRule, prompt_column: str = "idx",
                candidate_column: str = "system") -> pd.DataFrame:
    """Pairs as a DataFrame: prompt, chosen, rejected, margin_<metric> for every numeric score, rule."""
    for column in (prompt_column, candidate_column, rule.metric):
        if column not in scores:
            raise UsageError(f"scores have no column {column!r} (columns: {', '.join(map(str, scores.columns))})")
    usable = scores
    if "status" in usable:
        usable = usable[usable["status"] == "ok"]
    usable = usable[pd.to_numeric(usable[rule.metric], errors="coerce").notna()]
    numeric = [c for c in usable.columns if c not in (prompt_column, candidate_column)
               and pd.api.types.is_numeric_dtype(usable[c]) and not c.endswith(
                   ("_substitutions", "_deletions", "_insertions", "_reference_length"))]
    sign = 1.0 if rule.higher_is_better else -1.0
    rows = []
    for prompt, group in usable.groupby(prompt_column, sort=True):
        ranked = group.assign(_key=sign * group[rule.metric]).sort_values(["_key", candidate_column],
                                                                          ascending=[False, True])
        records = ranked.to_dict("records")
        if rule.mode == "best_worst":
            candidates = [(records[0], records[-1])] if len(records) > 1 else []
        else:
            candidates = list(itertools.combinations(records, 2))
        for chosen, rejected in candidates:
            margin = sign * (chosen[rule.metric] - rejected[rule.metric])
            if not margin > rule.min_margin:
                continue
            row = {"prompt": str(prompt), "chosen": str(chosen[candidate_column]),
                   "rejected": str(rejected[candidate_column])}
            for column in numeric:
                a, b = chosen[column], rejected[column]
                row[f"margin_{column}"] = float(a - b) if _finite(a) and _finite(b) else math.nan
            row["rule"] = rule.describe()
            rows.append(row)
    columns = ["prompt", "chosen", "rejected"] + [f"margin_{c}" for c in numeric] + ["rule"]
    return pd.DataFrame(rows, columns=columns)


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def write_pairs(pairs: pd.DataFrame, path: str | Path) -> Path:
    """Write ``pairs.parquet`` atomically."""
    with atomic_path(path) as tmp:
        pairs.to_parquet(tmp, index=False)
    return Path(path)
