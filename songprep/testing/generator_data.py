"""Generator training data from the ground-truth songs: a songprep dataset with the truth stems.

What ``prep`` would write for these songs, without running its models: one row per song with its LeVo
lyric and timed sections, and the true vocal/accompaniment stems under ``stems/<id>/``. ``songs`` more
than the corpus holds repeats its songs under new ids (``<name>-c001``, ...) with their own stem files: a
corpus of any size whose per-song cost is known, for memory and throughput benchmarks (the content
repeats; per-song sizes do not change with the count).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import soundfile as sf


def write_generator_dataset(corpus: str | Path, out: str | Path, sections: int = 2, songs: int | None = None,
                            max_seconds: float | None = None, untrainable: bool = False) -> list[dict[str, Any]]:
    """Write the dataset; returns one prompt-like dict per row (``idx``, ``gt_lyric``, ``descriptions``,
    ``end_s``, ``mix``). ``untrainable`` adds two rows training must skip (no lyric; no stems)."""
    from songprep.config import PrepConfig
    from songprep.records import Song
    from songprep.testing import load_corpus
    from songprep.writer import DatasetWriter

    corpus, out = Path(corpus), Path(out)
    writer = DatasetWriter(out, PrepConfig(stages=("decode", "lyrics")))
    rows = []
    truths = load_corpus(corpus)
    count = len(truths) if songs is None else songs
    for k in range(count):
        truth, copy = truths[k % len(truths)], k // len(truths)
        name = truth.name if count == len(truths) else f"{truth.name}-c{copy:03d}"
        end_s = truth.sections[sections - 1].end_s
        if max_seconds is not None:
            end_s = min(end_s, max_seconds)
        lyric = " ; ".join(truth.levo_lyric.split(" ; ")[:sections])
        for stem, rel in (("vocals", truth.paths.vocals), ("accompaniment", truth.paths.accompaniment)):
            x, rate = sf.read(corpus / rel, dtype="float32", always_2d=True)
            dest = out / "stems" / name / f"{stem}.flac"
            dest.parent.mkdir(parents=True, exist_ok=True)
            sf.write(dest, x[: round(end_s * rate)], rate, subtype="PCM_24")
        writer.add(Song(id=name, source_path=truth.paths.mix, duration_s=end_s, sample_rate=truth.sample_rate,
                        channels=2, content_sha256=hashlib.sha256(name.encode()).hexdigest(),
                        language=truth.language, levo_lyric=lyric, sections=truth.sections[:sections],
                        vocals_path=f"stems/{name}/vocals.flac",
                        accompaniment_path=f"stems/{name}/accompaniment.flac"))
        rows.append({"idx": name, "gt_lyric": lyric, "descriptions": truth.language, "end_s": end_s,
                     "mix": corpus / truth.paths.mix})
    if untrainable:
        first = rows[0]["idx"]
        writer.add(Song(id="no-lyric", source_path="x.flac", duration_s=5.0, sample_rate=44100, channels=2,
                        content_sha256="a" * 64, vocals_path=f"stems/{first}/vocals.flac",
                        accompaniment_path=f"stems/{first}/accompaniment.flac"))
        writer.add(Song(id="no-stems", source_path="y.flac", duration_s=5.0, sample_rate=44100, channels=2,
                        content_sha256="b" * 64, levo_lyric="[verse] no stems here."))
    writer.close()
    return rows
