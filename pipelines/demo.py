"""The bundled default job: build ground-truth test songs, prepare them, show what was written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from songprep.config import PrepConfig
from songprep.runner import RunOptions, RunSummary, prepare_corpus
from songprep.testing.corpus import build_corpus


@dataclass
class DemoResult:
    summary: RunSummary
    dataset_dir: Path
    table: str


def run_demo(out_dir: str | Path, n_songs: int = 3, form: str = "short", options: RunOptions | None = None,
             config: PrepConfig | None = None) -> DemoResult:
    """``OUT/corpus`` gets the test songs (mix + lyrics sidecar, truth beside); ``OUT/dataset`` the dataset."""
    import pandas as pd

    out = Path(out_dir)
    build_corpus(out / "corpus", n_songs=n_songs, form=form)
    dataset = out / "dataset"
    summary = prepare_corpus(out / "corpus" / "songs", dataset, config or PrepConfig(), options or RunOptions())
    frame = pd.read_parquet(dataset / "songs")
    frame["lines"] = frame["lyrics"].fillna("").str.count("\n") + frame["lyrics"].notna()
    frame["n_words"] = frame["words"].map(len)
    frame["form"] = frame["sections"].map(lambda sections: " ".join(s["tag"] for s in sections))
    view = frame[["id", "language", "duration_s", "loudness_lufs", "lyrics_source", "lines", "n_words",
                  "alignment_coverage", "form"]]
    return DemoResult(summary, dataset, view.sort_values("id").to_string(index=False))
