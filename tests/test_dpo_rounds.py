"""``songprep pipelines dpo-rounds`` end to end on the tiny config: 2 rounds, 2 prompts, 2 candidates, one
held-back prompt, scored by the evaluator with PER (separation + ASR) and the signal checks; killed in
round 2 and rerun, it does only what was missing.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from songprep.cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def start(truth_corpus, tmp_path_factory):
    from songprep.generation.train import train_sft
    from songprep.testing.generator_data import write_generator_dataset

    root = tmp_path_factory.mktemp("rounds")
    rows = write_generator_dataset(truth_corpus, root / "dataset", sections=2)
    (root / "fast.json").write_text(json.dumps({"base": "tiny", "training": {"crop_frames": 64, "batch_size": 3}}))
    from songprep.generation.configs import load_config

    train_sft(root / "dataset", load_config(root / "fast.json"), 20, root / "c0", device="cpu", val_fraction=0.0)
    prompts = [{"idx": r["idx"], "gt_lyric": r["gt_lyric"], "descriptions": r["descriptions"]} for r in rows]
    (root / "train.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts[:2]), encoding="utf-8")
    (root / "held.jsonl").write_text(json.dumps(prompts[2]) + "\n", encoding="utf-8")
    return root


def test_two_rounds_killed_in_round_two_and_rerun(start, tmp_path):
    from songprep.pipelines.dpo_rounds import RoundsPlan, run_dpo_rounds, summary_markdown

    plan = RoundsPlan(rounds=2, candidates=2, dpo_steps=5, max_frames=50, aesthetics=(), seed=1)
    out = tmp_path / "job"
    args = (start / "c0", start / "train.jsonl", start / "held.jsonl", out, plan)

    def kill(name: str) -> None:
        if name == "round-02/pairs":
            raise Killed(name)

    with pytest.raises(Killed):
        run_dpo_rounds(*args, on_step=kill)
    assert (out / "round-01" / "report.json").is_file() and (out / "round-02" / "pairs.parquet").is_file()
    assert not (out / "round-02" / "report.json").exists()
    kept = [out / "round-01" / "checkpoint" / "lelm.safetensors", out / "round-02" / "pairs.parquet",
            *sorted((out / "round-02" / "candidates" / "candidates").rglob("*.flac"))]
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    result = run_dpo_rounds(*args)
    assert result.done == ["round-02/candidates", "round-02/held-out", "round-02/score", "round-02/pairs",
                           "round-02/dpo", "final/held-out"]
    assert {p: p.stat().st_mtime_ns for p in kept} == stamps  # nothing finished before the kill was redone
    cache = (out / "round-02" / "scores" / "cache" / "scores.jsonl").read_text().splitlines()
    assert len(cache) == len(set(cache))
    summary = result.summary
    print("\n" + summary_markdown(summary))
    assert list(summary["checkpoint"]) == ["C0 (start)", "C1 (after round 1)", "C2 (after round 2)"]
    per = list(summary["held_out_per"])
    assert all(math.isfinite(p) for p in per)  # PER was computed (separation + ASR ran), not 'not computed'
    assert per[2] <= per[0]  # the held-back prompt's PER does not get worse over the two rounds
    for r in (1, 2):
        report = json.loads((out / f"round-{r:02d}" / "report.json").read_text())
        assert report["pairs"] >= 1 and math.isfinite(report["dpo"]["loss"])
        assert (out / f"round-{r:02d}" / "checkpoint" / "meta.json").is_file()
    assert result.checkpoint == out / "round-02" / "checkpoint"
    assert (out / "summary.md").read_text() == summary_markdown(summary)
    # a rerun with other options is refused, not mixed in
    other = CliRunner().invoke(cli, ["pipelines", "dpo-rounds", "--checkpoint", str(start / "c0"), "--prompts",
                                     str(start / "train.jsonl"), "--held-out", str(start / "held.jsonl"), "-o",
                                     str(out), "--rounds", "3", "--candidates", "2", "--device", "cpu"])
    assert other.exit_code == 2 and "other options" in other.output and "rounds" in other.output
