"""Peak memory of tokenize and of streamed training at 10 and at 100 songs: flat in corpus size?

    .venv/bin/python bench/token_memory.py [--songs 10,100] [--steps 20] [--seconds 4]

The songs: the three ground-truth test songs (songprep.testing), each cut to ``--seconds`` and repeated
under new ids with their own stem files until there are N (the content repeats; what memory depends on,
the number and size of songs, does not). Each measurement runs in a fresh process and reports its own peak
RSS (``ru_maxrss``): ``tokenize`` (fit on at most ``fit_songs`` songs, then encode one song at a time into
shards; ``--fit-songs`` 8 at both sizes, so what the fit holds, bounded by ``fit_songs x fit_excerpt_s``, is
the same and the rest shows), ``train`` (``--steps`` streamed steps of the tiny config), and the baseline
measured in the same run: the same process holding every encoded song in memory, which is what training did before
(``encode_dataset``). Tiny config, one thread.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import print_table  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, root: Path, steps: int, fit_songs: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    if kind == "tokenize":
        from songprep.generation.configs import load_config
        from songprep.generation.tokenize import tokenize_dataset

        config = load_config("tiny")
        config.training.fit_songs = fit_songs
        tokenize_dataset(root / "dataset", root / "tokens", config, seed=0)
    elif kind == "train":
        from songprep.generation.train import train_sft

        train_sft(None, None, steps, root / "ckpt", tokens_dir=root / "tokens", device="cpu", overwrite=True,
                  val_fraction=0.1, val_every=steps)
    elif kind == "in-memory":  # the baseline: every encoded song held at once
        from songprep.generation.token_store import TokenStore

        songs = list(TokenStore(root / "tokens"))
        assert songs
    return {"peak_mib": peak_mib(), "seconds": time.perf_counter() - started}


def measure(kind: str, root: Path, steps: int, fit_songs: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--root", str(root), "--steps", str(steps),
                          "--fit-songs", str(fit_songs)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--songs", default="10,100")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fit-songs", type=int, default=8)
    parser.add_argument("--child", default=None)
    parser.add_argument("--root", default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.root), args.steps, args.fit_songs)))
        return 0
    from songprep.testing.corpus import build_corpus
    from songprep.testing.generator_data import write_generator_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        build_corpus(corpus, n_songs=3, form="short")
        results = {}
        for n in [int(x) for x in args.songs.split(",")]:
            root = Path(tmp) / f"n{n}"
            write_generator_dataset(corpus, root / "dataset", sections=2, songs=n, max_seconds=args.seconds)
            results[n] = {kind: measure(kind, root, args.steps, args.fit_songs)
                          for kind in ("tokenize", "train", "in-memory")}
            store_mib = sum(p.stat().st_size for p in (root / "tokens" / "shards").iterdir()) / 2**20
            rows.append([n, f"{n * args.seconds:.0f}", f"{store_mib:.2f}",
                         f"{results[n]['tokenize']['peak_mib']:.0f}", f"{results[n]['tokenize']['seconds']:.1f}",
                         f"{results[n]['train']['peak_mib']:.0f}", f"{results[n]['in-memory']['peak_mib']:.0f}"])
        small, large = min(results), max(results)
        def grow(kind: str) -> str:
            return f"{results[large][kind]['peak_mib'] / results[small][kind]['peak_mib']:.3f}"

        ratio = [f"ratio {large}/{small}", "", "", grow("tokenize"), "", grow("train"), grow("in-memory")]
    print(f"tiny config (fit on {args.fit_songs} songs), songs of {args.seconds:g} s (3 truth songs repeated under "
          f"new ids), {args.steps} train steps, peak RSS of a fresh process each")
    print_table(["songs", "audio s", "shards MiB", "tokenize MiB", "tokenize s", "train MiB (streamed)",
                 "all songs in RAM MiB (old)"], [*rows, ratio])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
