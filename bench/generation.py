"""LeLM generation speed: real-time factor and peak memory, optimised path beside the naive baseline.

    .venv/bin/python bench/generation.py [--config v2-large] [--frames 250] [--batch 1 8] [--device auto]

Defaults follow the device: on CUDA ``--config v2-large --frames 250 --text-tokens 300``; on CPU (where a
4 B model takes seconds per frame) ``--config small --frames 25 --text-tokens 50``, a few minutes.

Random weights of the real architecture (``LMConfig`` presets: tiny, small, v2-large ~4.1 B), a
``--text-tokens``-long lyric prompt (LeVo's limit, 300, by default), classifier-free guidance on (the batch
is doubled as in real use), top-k 50. Per batch size, in the same run:

- naive baseline: no KV cache (every step recomputes the whole prefix), fp32;
- KV cache: transformers' DynamicCache, bf16 on CUDA (``--dtype`` overrides; fp32 on CPU);
- compiled (default on CUDA, ``--compile`` elsewhere): preallocated StaticCache and each decode step through
  ``torch.compile(mode="reduce-overhead")`` (CUDA graphs), same dtype; the compile happens in a warm-up run
  of the same length that is not timed.

RTF = generation seconds / seconds of audio in one song (frames / 25 Hz): the wall time a user waits per
song length. ``RTF/song`` divides by the batch as well. Peak memory: ``torch.cuda.max_memory_allocated``
on CUDA; on CPU the process's peak resident set while that row ran (sampled every 5 ms; it includes the
weights). LM only: the renderer is timed by ``bench/renderer.py``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _table import print_table  # noqa: E402

from songprep.generation.lelm import LeLM, LMConfig  # noqa: E402
from songprep.generation.lyric_tokenizer import LyricTokenizer  # noqa: E402

PRESETS = {"tiny": (LMConfig.tiny, 64), "small": (LMConfig.small, 1024), "v2-large": (LMConfig.v2_large, 16384)}
FRAME_RATE = 25.0


class PeakRSS:
    """Peak resident set size (bytes) of this process while the context is open."""

    def __enter__(self) -> PeakRSS:
        self.peak, self._stop = _rss(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def run(model: LeLM, batch: int, frames: int, text_tokens: int, how: dict[str, object], device: torch.device,
        cfg_scale: float) -> tuple[float, float]:
    """(seconds, peak bytes) of one ``generate`` call, after a warm-up (a full-length one when compiling)."""
    vocab = LyricTokenizer().vocab_size
    text = torch.randint(6, vocab, (batch, text_tokens), generator=torch.Generator().manual_seed(0)).to(device)
    mask = torch.ones_like(text, dtype=torch.bool)

    def go(n: int) -> None:
        model.generate(text, mask, n, cfg_scale=cfg_scale, top_k=50, generator=torch.Generator().manual_seed(1),
                       **how)

    go(frames if how.get("compile") else 2)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        go(frames)
        torch.cuda.synchronize()
        return time.perf_counter() - started, float(torch.cuda.max_memory_allocated())
    with PeakRSS() as rss:
        started = time.perf_counter()
        go(frames)
        seconds = time.perf_counter() - started
    return seconds, float(rss.peak)


def _count(n: int) -> str:
    return f"{n / 1e9:.3f} B" if n >= 1e9 else f"{n / 1e6:.2f} M"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=list(PRESETS), help="default: v2-large on CUDA, small on CPU")
    parser.add_argument("--frames", type=int, help="frames to generate, 25 per second (default: 250 CUDA, 25 CPU)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--text-tokens", type=int, help="lyric prompt length (default: 300 CUDA, 50 CPU)")
    parser.add_argument("--cfg-scale", type=float, default=1.5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], default="auto",
                        help="optimised path's dtype (auto: bf16 on CUDA, fp32 on CPU)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline rows")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="add the static-cache + torch.compile rows (default: on CUDA only)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}.get(
        args.dtype, torch.bfloat16 if device.type == "cuda" else torch.float32)
    cuda = device.type == "cuda"
    args.config = args.config or ("v2-large" if cuda else "small")
    args.frames = args.frames or (250 if cuda else 25)
    args.text_tokens = args.text_tokens or (300 if cuda else 50)
    make_cfg, audio_vocab = PRESETS[args.config]
    cfg = make_cfg()
    text_vocab = LyricTokenizer().vocab_size
    name = str(dtype).removeprefix("torch.")
    paths = [("naive: no KV cache, fp32", {"use_cache": False}, torch.float32)] * (not args.no_naive)
    paths += [(f"KV cache, {name}", {"cache": "dynamic"}, dtype)]
    if args.compile or (args.compile is None and device.type == "cuda"):
        paths += [(f"static KV cache + compile, {name}", {"cache": "static", "compile": True}, dtype)]

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    audio_s = args.frames / FRAME_RATE
    rows, seconds = [], {}
    counted = None
    model, model_dtype = None, None
    for label, how, path_dtype in paths:
        if model_dtype != path_dtype:
            model = None  # free the previous weights first
            if device.type == "cuda":
                torch.cuda.empty_cache()
            torch.manual_seed(0)
            model = LeLM.create(cfg, text_vocab, audio_vocab, device=device, dtype=path_dtype).eval()
            model_dtype = path_dtype
        counted = counted or model.parameter_count()
        for batch in args.batch:
            took, peak = run(model, batch, args.frames, args.text_tokens, how, device, args.cfg_scale)
            seconds[(label, batch)] = took
            rows.append([label, batch, args.frames, f"{took:.2f}", f"{took / audio_s:.3f}",
                         f"{took / audio_s / batch:.4f}", f"{peak / 2**30:.2f}"])
    print(f"LeLM {args.config}: {_count(counted['total'])} parameters (main {_count(counted['main'])}, "
          f"dual-track sub-model {_count(counted['sub'])}, embeddings+heads "
          f"{_count(counted['embeddings+heads'])}); {where}; {args.text_tokens} text tokens, "
          f"cfg {args.cfg_scale} (batch doubled), {args.frames} frames = {audio_s:.1f} s of audio\n")
    memory = "peak GPU GiB" if device.type == "cuda" else "peak RSS GiB"
    print_table(["path", "batch", "frames", "gen s", "RTF", "RTF/song", memory], rows)
    if not args.no_naive:
        print()
        for label, _, _ in paths[1:]:
            ratios = [f"batch {b}: {seconds[(paths[0][0], b)] / seconds[(label, b)]:.1f}x" for b in args.batch]
            print(f"speed-up of {label} over the naive baseline: " + ", ".join(ratios))


if __name__ == "__main__":
    main()
