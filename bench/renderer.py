"""Flow renderer and audio autoencoder: sampling speed, and stft-pca reconstruction quality, beside baselines.

    .venv/bin/python bench/renderer.py [--seconds 60] [--configs tiny] [--device cpu|cuda] [--corpus DIR]

Renderer table: random-weight renderers of the named generator configs (``songprep.generation.configs``) render
``--seconds`` of random tokens (batch 1); real-time factor = sampling seconds / audio seconds. Baseline in the same
run: the same windows run one at a time (``window_batch=1``) instead of batched into one forward pass per step.
On CPU one thread; on CUDA bf16 autocast, synchronised timings, peak memory.

Autoencoder table: the stft-pca autoencoder of each config fitted on the first ``--ae-seconds`` of one
ground-truth song (``build_corpus``, resampled to 48 kHz) and scored on them and on the same span of an unseen song
by log-spectral distance (dB, lower is better), beside two baselines from the same run: Griffin-Lim from the exact
magnitudes (the phase-recovery floor, no compression) and the mean frame (a decoder that ignores the latents).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep.audio import decode, resample  # noqa: E402
from songprep.generation.autoencoder import AutoencoderConfig, build_autoencoder, log_spectral_distance  # noqa: E402
from songprep.generation.configs import named_config  # noqa: E402
from songprep.generation.renderer import FlowRenderer  # noqa: E402
from songprep.testing.corpus import build_corpus  # noqa: E402

RATE = 48000


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_sampling(renderer: FlowRenderer, frames: int, device: str) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    tokens = torch.randint(0, renderer.audio_vocab, (1, 3, frames), generator=g, device=device)
    track = torch.zeros(1, dtype=torch.long, device=device)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
        renderer.sample(tokens[..., : min(frames, renderer.cfg.window_frames)], track, steps=1)  # warm-up
        _sync(device)
        start = time.perf_counter()
        renderer.sample(tokens, track, generator=g)
        _sync(device)
    return time.perf_counter() - start


def renderer_rows(names: list[str], seconds: float, device: str) -> list[list[object]]:
    rows = []
    frames = int(seconds * 25)
    for name in names:
        cfg = named_config(name)
        for mode, window_batch in (("batched windows", cfg.renderer.window_batch), ("sequential (baseline)", 1)):
            torch.manual_seed(0)
            renderer = FlowRenderer(replace(cfg.renderer, window_batch=window_batch),
                                    cfg.audio_tokenizer.codebook_size, cfg.autoencoder.latent_dim).to(device).eval()
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            took = time_sampling(renderer, frames, device)
            if mode == "batched windows":
                batched = took
            memory = f"{torch.cuda.max_memory_allocated() / 2**30:.2f}" if device == "cuda" else "-"
            rows.append([name, mode, f"{renderer.num_parameters() / 1e6:.1f}", renderer.cfg.steps,
                         renderer.cfg.window_frames, f"{took:.2f}", f"{took / seconds:.4f}", f"{took / batched:.2f}x",
                         memory])
            del renderer
    return rows


def autoencoder_rows(names: list[str], corpus: Path, seconds: float) -> list[list[object]]:
    songs = [corpus / t.paths.mix for t in build_corpus(corpus, n_songs=2, form="short")]
    fit_song, unseen = (np.ascontiguousarray(resample(decode(p), RATE).samples[:, : int(seconds * RATE)])
                        for p in songs)
    dims = sorted({named_config(n).autoencoder.latent_dim for n in names if named_config(n).autoencoder.kind
                   == "stft-pca"} | {64})
    rows = []
    for dim in dims:
        ae = build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=dim))
        start = time.perf_counter()
        ae.fit([fit_song])
        fit_s = time.perf_counter() - start
        for label, wave in (("fitted song", fit_song), ("unseen song", unseen)):
            x = torch.as_tensor(wave)[None]
            start = time.perf_counter()
            z = ae.encode(x)
            enc_s = time.perf_counter() - start
            start = time.perf_counter()
            ours = ae.decode(z)[0].numpy()[:, : wave.shape[1]]
            dec_s = time.perf_counter() - start
            mean_frame = ae.decode(torch.zeros_like(z))[0].numpy()[:, : wave.shape[1]]
            oracle = ae.exact_magnitude_decode(x)[0].numpy()[:, : wave.shape[1]]
            audio_s = wave.shape[1] / RATE
            rows.append([f"stft-pca {dim}", label, f"{audio_s:.0f}", f"{log_spectral_distance(wave, ours):.2f}",
                         f"{log_spectral_distance(wave, oracle):.2f}", f"{log_spectral_distance(wave, mean_frame):.2f}",
                         f"{fit_s:.2f}", f"{enc_s / audio_s:.4f}", f"{dec_s / audio_s:.3f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length rendered per config")
    parser.add_argument("--configs", nargs="+",
                        help="named configs (default: tiny on CPU; tiny small v2-large on CUDA)")
    parser.add_argument("--ae-seconds", type=float, default=20.0, help="audio scored per song by the autoencoder")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "songprep-bench-renderer")
    args = parser.parse_args()
    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())
    names = args.configs or (["tiny"] if args.device == "cpu" else ["tiny", "small", "v2-large"])

    print(f"renderer sampling, {args.seconds:.0f} s of tokens, batch 1, {args.device}"
          f"{' (1 thread)' if args.device == 'cpu' else ' (bf16 autocast)'}\n")
    print_table(["config", "mode", "params M", "steps", "window", "seconds", "RTF", "vs batched", "peak GiB"],
                renderer_rows(names, args.seconds, args.device))
    print("\nstft-pca autoencoder on ground-truth songs (LSD dB, lower is better; RTF on CPU, 1 thread)\n")
    print_table(["autoencoder", "audio", "s", "LSD ours", "LSD exact-magnitude GL", "LSD mean frame", "fit s",
                 "encode RTF", "decode RTF"], autoencoder_rows(names, args.corpus, args.ae_seconds))


if __name__ == "__main__":
    main()
