"""One-GPU check of the generator's and the evaluator's speed, as one table (``bench/gpu_check.sh`` runs it).

    .venv/bin/python bench/gpu_check.py [--out TABLE.md] [--dry-run]

Rows, each timed after a warm-up in the same run:

- LeLM ``v2-large`` (~4.1 B, random weights: none ship), bf16, a 300-token lyric, classifier-free guidance (the
  batch doubled), top-k 50: batch 1 and 8, KV cache (DynamicCache) beside none (every step recomputes the
  prefix). RTF = generation seconds / seconds of audio of one song; peak = ``torch.cuda.max_memory_allocated``.
- The flow-matching renderer of ``v2-large`` (random weights), tokens -> latents of one track, and the Oobleck
  decoder (Stable Audio Open's weights when on this machine, else random) latents -> 48 kHz stereo.
- htdemucs (its weights when cached, else random) and faster-whisper large-v3 (its weights when on this
  machine, else a random-weight model of large-v3's shape converted to CTranslate2, decoding at most
  ``--asr-tokens`` tokens per 30 s window: random weights never stop early, real ones stop at the lyric's end)
  as x-realtime (seconds of audio per second).

A row whose piece cannot run here says why instead of failing the table. ``--dry-run`` (or
``GPU_CHECK_DRY=1``) runs the same code on CPU with tiny sizes: the check of the script itself, not a speed.
Without CUDA and without ``--dry-run`` it prints why and exits 0 (``bench/run_all.py`` runs every script).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _table import print_table  # noqa: E402

HEADER = ["component", "setting", "weights", "audio s", "seconds", "RTF", "x realtime", "peak GiB"]


@dataclass
class Sizes:
    """What each row runs; :data:`FULL` on the GPU, :data:`DRY` on CPU."""

    lm: str
    frames: int
    text_tokens: int
    batches: tuple[int, ...]
    no_cache_frames: int
    renderer: str
    render_s: float
    demucs_s: float
    asr_s: float
    asr_dims: dict[str, int]
    asr_tokens: int


LARGE_V3 = {"d_model": 1280, "encoder_layers": 32, "decoder_layers": 32, "encoder_attention_heads": 20,
            "decoder_attention_heads": 20, "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120}
FULL = Sizes("v2-large", 250, 300, (1, 8), 125, "v2-large", 30.0, 60.0, 60.0, LARGE_V3, 224)
DRY = Sizes("tiny", 25, 30, (1, 8), 25, "tiny", 4.0, 4.0, 10.0,
            {"d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
             "decoder_attention_heads": 4, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128}, 16)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> str:
    return f"{torch.cuda.max_memory_allocated() / 2**30:.2f}" if device.startswith("cuda") else "-"


def lelm_rows(sizes: Sizes, device: str) -> list[list[object]]:
    from generation import PRESETS, run  # bench/generation.py: the same timing as the LeLM benchmark
    from songprep.generation.lelm import LeLM
    from songprep.generation.lyric_tokenizer import LyricTokenizer

    make_cfg, vocab = PRESETS[sizes.lm]
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    model = LeLM.create(make_cfg(), LyricTokenizer().vocab_size, vocab, device=device, dtype=dtype).eval()
    n = model.parameter_count()["total"]
    size = f"{n / 1e9:.2f} B" if n >= 1e8 else f"{n / 1e6:.2f} M"
    rows = []
    for label, how, frames in (("KV cache", {"cache": "dynamic"}, sizes.frames),
                               ("no KV cache", {"use_cache": False}, sizes.no_cache_frames)):
        for batch in sizes.batches:
            _reset_peak(device)
            took, peak = run(model, batch, frames, sizes.text_tokens, how, torch.device(device), 1.5)
            audio_s = frames / 25.0
            rows.append([f"LeLM {sizes.lm} ({size}, {str(dtype)[6:]})", f"{label}, batch {batch}, {frames} frames",
                         "random", f"{audio_s:.0f}", f"{took:.2f}", f"{took / audio_s:.3f}", f"{audio_s / took:.2f}",
                         f"{peak / 2**30:.2f}" if device.startswith("cuda") else "-"])
    del model
    return rows


def renderer_rows(sizes: Sizes, device: str) -> list[list[object]]:
    from renderer import time_sampling  # bench/renderer.py

    from songprep.generation.autoencoder import build_autoencoder
    from songprep.generation.configs import named_config
    from songprep.generation.renderer import FlowRenderer

    cfg = named_config(sizes.renderer)
    torch.manual_seed(0)
    renderer = FlowRenderer(cfg.renderer, cfg.audio_tokenizer.codebook_size, cfg.autoencoder.latent_dim).to(device)
    _reset_peak(device)
    took = time_sampling(renderer.eval(), int(sizes.render_s * 25), "cuda" if device.startswith("cuda") else "cpu")
    rows = [[f"renderer {sizes.renderer} ({renderer.num_parameters() / 1e6:.1f} M)",
             f"{cfg.renderer.steps} steps, one track", "random", f"{sizes.render_s:.0f}", f"{took:.2f}",
             f"{took / sizes.render_s:.3f}", f"{sizes.render_s / took:.1f}", _peak(device)]]
    del renderer
    ae_cfg = cfg.autoencoder
    weights = "random"
    if ae_cfg.kind == "oobleck":
        from dataclasses import replace

        from songprep.errors import ModelNotFoundError

        try:
            ae = build_autoencoder(ae_cfg)
            weights = f"{ae_cfg.pretrained}"
        except (ModelNotFoundError, OSError):
            ae = build_autoencoder(replace(ae_cfg, pretrained=None))
    else:
        ae = build_autoencoder(ae_cfg)
        rng = np.random.default_rng(0)
        ae.fit([rng.standard_normal((2, int(4 * 48000))).astype(np.float32) * 0.1])
        weights = "fitted on noise"
    ae.to(device)
    z = torch.randn(1, ae_cfg.latent_dim, int(sizes.render_s * 25), device=device)
    ae.decode(z[..., :25])
    _sync(device)
    _reset_peak(device)
    started = time.perf_counter()
    with torch.no_grad():
        ae.decode(z)
    _sync(device)
    took = time.perf_counter() - started
    rows.append([f"autoencoder {ae_cfg.kind} decode", "latents -> 48 kHz stereo", weights, f"{sizes.render_s:.0f}",
                 f"{took:.2f}", f"{took / sizes.render_s:.3f}", f"{sizes.render_s / took:.1f}", _peak(device)])
    return rows


def demucs_rows(sizes: Sizes, device: str) -> list[list[object]]:
    from separation import _untrained_htdemucs  # bench/separation.py

    from songprep import models
    from songprep.audio import Audio
    from songprep.errors import ModelNotFoundError
    from songprep.separation import load_separator
    from songprep.separation.demucs_backend import DemucsSeparator

    try:
        models.locate("demucs:htdemucs")  # on this machine only: the device has no network to wait on
        separator, weights = load_separator("demucs:htdemucs", device), "htdemucs (released)"
    except (ModelNotFoundError, OSError):
        separator, weights = DemucsSeparator(_untrained_htdemucs().to(device), "demucs:htdemucs (untrained)",
                                             device=device), "random (no htdemucs weights here)"
    mix = (np.random.default_rng(0).standard_normal((2, int(sizes.demucs_s * 44100))) * 0.1).astype(np.float32)
    separator.separate(Audio(mix[:, :44100 * 2], 44100))
    _sync(device)
    _reset_peak(device)
    started = time.perf_counter()
    separator.separate(Audio(mix, 44100))
    _sync(device)
    took = time.perf_counter() - started
    return [["htdemucs", "vocals / accompaniment", weights, f"{sizes.demucs_s:.0f}", f"{took:.2f}",
             f"{took / sizes.demucs_s:.3f}", f"{sizes.demucs_s / took:.1f}", _peak(device)]]


def _random_whisper(dims: dict[str, int], where: Path) -> Path:
    """A CTranslate2 Whisper of large-v3's layout (128 mel bins, 51866 tokens) with random weights; the
    tokenizer is the multilingual one shipped with faster-whisper:base (large-v3 adds one language token)."""
    import ctranslate2
    from transformers import PreTrainedTokenizerFast, WhisperConfig, WhisperForConditionalGeneration

    from songprep import models

    tokenizer = models.locate("faster-whisper:base") / "tokenizer.json"
    hf = where / "hf"
    torch.manual_seed(0)
    WhisperForConditionalGeneration(WhisperConfig(vocab_size=51866, num_mel_bins=128, **dims)).save_pretrained(hf)
    PreTrainedTokenizerFast(tokenizer_file=str(tokenizer)).save_pretrained(hf)
    (hf / "preprocessor_config.json").write_text(json.dumps({
        "feature_size": 128, "hop_length": 160, "chunk_length": 30, "n_fft": 400, "sampling_rate": 16000,
        "n_samples": 480000, "nb_max_frames": 3000, "feature_extractor_type": "WhisperFeatureExtractor",
        "padding_value": 0.0, "return_attention_mask": False}))
    ctranslate2.converters.TransformersConverter(str(hf), copy_files=["tokenizer.json", "preprocessor_config.json"]
                                                 ).convert(str(where / "ct2"), quantization="float16")
    return where / "ct2"


def whisper_rows(sizes: Sizes, device: str) -> list[list[object]]:
    from faster_whisper import WhisperModel

    from songprep import models
    from songprep.errors import ModelNotFoundError

    cuda = device.startswith("cuda")
    compute = "float16" if cuda else "float32"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path, weights = models.locate("faster-whisper:large-v3"), "large-v3 (released)"
        except ModelNotFoundError:
            path = _random_whisper(sizes.asr_dims, Path(tmp))
            shape = "large-v3's shape" if sizes.asr_dims == LARGE_V3 else "tiny dims (dry run)"
            weights = f"random, {shape}, <= {sizes.asr_tokens} tokens / 30 s"
        model = WhisperModel(str(path), device="cuda" if cuda else "cpu", compute_type=compute)
        audio = (np.random.default_rng(0).standard_normal(int(sizes.asr_s * 16000)) * 0.1).astype(np.float32)

        def once(x: np.ndarray) -> None:
            segments, _ = model.transcribe(x, language="en", beam_size=5, temperature=0.0, vad_filter=False,
                                           condition_on_previous_text=False, max_new_tokens=sizes.asr_tokens)
            list(segments)

        once(audio[:16000 * 5])
        started = time.perf_counter()
        once(audio)
        took = time.perf_counter() - started
    return [["faster-whisper large-v3", f"beam 5, {compute}", weights, f"{sizes.asr_s:.0f}", f"{took:.2f}",
             f"{took / sizes.asr_s:.3f}", f"{sizes.asr_s / took:.1f}", "-"]]


def guarded(name: str, fn: Callable[[], list[list[object]]]) -> list[list[object]]:
    """The rows of one piece, or one row saying why it did not run (the table is still written)."""
    started = time.perf_counter()
    try:
        rows = fn()
    except Exception as err:  # any failure of one piece is reported in its row; the others still run
        traceback.print_exc()
        return [[name, "not measured", f"{type(err).__name__}: {' '.join(str(err).split())[:90]}", "", "", "", "",
                 ""]]
    print(f"gpu_check: {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", default=os.environ.get("GPU_CHECK_DRY") == "1")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (Markdown) here")
    parser.add_argument("--only", nargs="*", default=["lelm", "renderer", "demucs", "whisper"])
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing measured (run with --dry-run to check the script on CPU)")
        return 0
    sizes, device = (DRY, "cpu") if args.dry_run else (FULL, "cuda")
    where = "CPU dry run (tiny sizes: checks the script, not a speed)" if args.dry_run else \
        torch.cuda.get_device_name(0)
    started = time.perf_counter()
    pieces = {"lelm": lelm_rows, "renderer": renderer_rows, "demucs": demucs_rows, "whisper": whisper_rows}
    rows = [row for name in args.only for row in guarded(name, lambda f=pieces[name]: f(sizes, device))]
    title = (f"gpu_check on {where}; torch {torch.__version__}; {time.perf_counter() - started:.0f} s. "
             "RTF = seconds / audio seconds (lower is faster); x realtime = its inverse.")
    print(title)
    print_table(HEADER, rows)
    if args.out is not None:
        lines = [title, "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
