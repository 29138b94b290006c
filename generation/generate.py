"""Batch generation from LeVo JSONL prompts (``songprep generate``), in the evaluator's input layout.

Output::

    OUT/audios/{idx}.flac                     the song (48 kHz stereo FLAC), rendered from the mixed stream
    OUT/audios/{idx}_vocal.flac, _bgm.flac    with ``separate``: the dual-track renders
    OUT/tokens/{idx}.npy                      the generated token streams (3, T): what DPO trains on
    OUT/rejects.jsonl                         prompts refused (lyric markup errors, over-long lyric)
    OUT/generation.json                       checkpoint, options, and each prompt's seed and length

With ``num_candidates`` N > 1 each candidate is its own "system" folder for ``songprep eval``:
``OUT/candidates/c{k}/audios/{idx}.flac`` (k = 0..N-1), tokens likewise.

Resume: a prompt whose files are all there is skipped, so a rerun after a crash finishes the rest
without duplicates; ``{idx}.flac`` is written last and marks a finished prompt.

Reproducibility: each (prompt, candidate) draws from its own generator seeded by ``(seed, idx, k)``,
so with batch size 1 a prompt's song does not depend on the other prompts, the order, or a resume.
With larger batches the items of one batch share the first item's generator.

Length: ``--duration`` seconds, or ``--max-frames``, or (default) the checkpoint's duration model:
seconds per sung syllable and per instrumental tag, measured on the training songs' timed sections,
summed over the prompt's sections and clamped to the model's maximum.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songprep import __version__
from songprep.atomic import atomic_path
from songprep.audio import Audio, decode, standardise, write_audio
from songprep.errors import AudioDecodeError, UsageError
from songprep.generation.checkpoint import Generator, load_checkpoint
from songprep.generation.prompts import PromptReject, check_prompt, read_prompts
from songprep.generation.train import pad_text, predict_duration_s
from songprep.lyrics.prompts import LevoPrompt

Progress = Callable[[str], None]
MANIFEST = "generation.json"
REJECTS = "rejects.jsonl"
#: Shortest song generation will make when the length comes from the lyric.
MIN_DURATION_S = 2.0


@dataclass
class GenerationOptions:
    """Sampling and output options of one ``generate`` run (recorded in generation.json)."""

    separate: bool = False
    num_candidates: int = 1
    cfg_scale: float = 1.5
    #: what guidance strengthens: "text" (lyric + descriptions) or "descriptions" (the lyric kept unguided)
    guidance: str = "text"
    temperature: float = 1.0
    top_k: int = 50
    repetition_penalty: float = 1.0
    seed: int = 0
    batch_size: int = 1
    device: str = "cpu"
    duration_s: float | None = None
    max_frames: int | None = None
    render_steps: int | None = None
    separator: str = "auto"

    def check(self) -> None:
        if self.num_candidates < 1:
            raise UsageError("--num-candidates must be at least 1")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if self.duration_s is not None and self.max_frames is not None:
            raise UsageError("give --duration or --max-frames, not both")
        if self.duration_s is not None and self.duration_s <= 0:
            raise UsageError("--duration must be positive")
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError("--max-frames must be at least 1")


@dataclass
class GenerationSummary:
    out_dir: Path
    written: list[str] = field(default_factory=list)  # "c{k}/{idx}" (or "{idx}" with one candidate)
    skipped: list[str] = field(default_factory=list)  # already there (resume)
    rejected: list[PromptReject] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0


@dataclass
class _Job:
    prompt: LevoPrompt
    candidate: int
    system_dir: Path
    frames: int
    seed: int
    text_ids: list[int]
    prompt_tokens: torch.Tensor | None


def system_dir(out_dir: Path, candidate: int, num_candidates: int) -> Path:
    """Where candidate ``candidate``'s files go: OUT itself for a single candidate."""
    return out_dir if num_candidates == 1 else out_dir / "candidates" / f"c{candidate}"


def output_paths(directory: Path, idx: str, separate: bool) -> dict[str, Path]:
    """Files one prompt writes into a system folder; ``mix`` is written last."""
    audios = directory / "audios"
    paths = {"tokens": directory / "tokens" / f"{idx}.npy"}
    if separate:
        paths |= {"vocal": audios / f"{idx}_vocal.flac", "bgm": audios / f"{idx}_bgm.flac"}
    paths["mix"] = audios / f"{idx}.flac"
    return paths


def prompt_seed(seed: int, idx: str, candidate: int) -> int:
    """A 63-bit seed per (run seed, prompt, candidate), stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}\0{idx}\0{candidate}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def frames_for(generator: Generator, lyric: str, options: GenerationOptions, prompt_frames: int = 0) -> int:
    """How many token frames to generate (see the module docstring); a request over the maximum is an error.

    The maximum is what LeLM holds after the prompt audio: ``max_frames - prompt frames - max(delays)``.
    """
    cfg = generator.config
    limit = cfg.lm.max_frames - max(cfg.lm.delays) - prompt_frames
    if options.max_frames is not None or options.duration_s is not None:
        frames = options.max_frames or round(float(options.duration_s) * cfg.frame_rate)
        if frames > limit:
            raise UsageError(f"{frames} frames ({frames / cfg.frame_rate:.1f} s) is longer than this model makes "
                             f"({limit} frames, {limit / cfg.frame_rate:.1f} s)")
        return frames
    seconds = predict_duration_s(generator.meta.get("duration_model") or {}, lyric)
    return int(np.clip(round(seconds * cfg.frame_rate), round(MIN_DURATION_S * cfg.frame_rate), limit))


def generate(prompts_path: str | Path, out_dir: str | Path, checkpoint_dir: str | Path,
             options: GenerationOptions | None = None, progress: Progress | None = None) -> GenerationSummary:
    """Generate every prompt (and candidate) not yet written; see the module docstring for the layout."""
    options = options or GenerationOptions()
    options.check()
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    prompts = read_prompts(prompts_path)  # file errors stop the run before any model loads
    generator = load_checkpoint(checkpoint_dir, options.device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = GenerationSummary(out)
    accepted = []
    for prompt in prompts:
        reject = check_prompt(prompt, generator.lyric_tokenizer, generator.config.max_lyric_tokens)
        if reject is None:
            accepted.append(prompt)
        else:
            summary.rejected.append(reject)
            say(f"generate: rejected {prompt.idx} (line {prompt.line}): {reject.reason}")
    _write_rejects(out / REJECTS, summary.rejected)
    if not accepted:
        raise UsageError(f"every prompt in {prompts_path} was rejected (see {out / REJECTS})")
    jobs = _plan(generator, accepted, out, options, summary)
    say(f"generate: {len(jobs)} to make, {len(summary.skipped)} already there, {len(summary.rejected)} rejected")
    manifest = _read_manifest(out / MANIFEST)
    for batch in _batches(jobs, options.batch_size):
        make_batch(generator, batch, options)
        for job in batch:
            name = job.prompt.idx if options.num_candidates == 1 else f"c{job.candidate}/{job.prompt.idx}"
            summary.written.append(name)
            summary.audio_seconds += job.frames / generator.config.frame_rate
            manifest["prompts"][name] = {"seed": job.seed, "frames": job.frames,
                                         "prompt_audio": str(job.prompt.prompt_audio_path or "")}
        say(f"generate: {len(summary.written)}/{len(jobs)} done ({time.perf_counter() - started:.1f} s)")
    manifest.update({"songprep_version": __version__, "checkpoint": str(Path(checkpoint_dir).resolve()),
                     "checkpoint_meta": {k: generator.meta.get(k) for k in ("kind", "steps", "seed", "data_hash")},
                     "options": asdict(options), "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    from songprep.writer import write_json_atomic

    write_json_atomic(out / MANIFEST, manifest)
    summary.seconds = time.perf_counter() - started
    return summary


def _plan(generator: Generator, prompts: Sequence[LevoPrompt], out: Path, options: GenerationOptions,
          summary: GenerationSummary) -> list[_Job]:
    jobs = []
    separator = None
    prompt_tokens: dict[str, torch.Tensor | None] = {}
    for k in range(options.num_candidates):
        directory = system_dir(out, k, options.num_candidates)
        for prompt in prompts:
            if all(p.is_file() for p in output_paths(directory, prompt.idx, options.separate).values()):
                summary.skipped.append(prompt.idx if options.num_candidates == 1 else f"c{k}/{prompt.idx}")
                continue
            if prompt.idx not in prompt_tokens:
                tokens = None
                if prompt.prompt_audio_path is not None:
                    if separator is None:
                        from songprep.separation import load_separator

                        separator = load_separator(options.separator, options.device)
                    tokens = prompt_audio_tokens(generator, prompt.prompt_audio_path, separator)
                prompt_tokens[prompt.idx] = tokens
            text = generator.lyric_tokenizer.encode(prompt.lyric, prompt.descriptions)
            tokens = prompt_tokens[prompt.idx]
            frames = frames_for(generator, prompt.lyric, options, 0 if tokens is None else int(tokens.shape[1]))
            jobs.append(_Job(prompt, k, directory, frames, prompt_seed(options.seed, prompt.idx, k), text, tokens))
    return jobs


def _batches(jobs: list[_Job], size: int) -> list[list[_Job]]:
    """Batches of jobs with equal length and prompt-audio length (LeLM decodes a batch in lockstep)."""
    groups: dict[tuple[int, int], list[_Job]] = {}
    for job in jobs:
        p = -1 if job.prompt_tokens is None else int(job.prompt_tokens.shape[1])
        groups.setdefault((job.frames, p), []).append(job)
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]


def prompt_audio_tokens(generator: Generator, path: Path, separator: Any) -> torch.Tensor:
    """The first ``prompt_audio_s`` seconds of a prompt song as (3, P) tokens: the mix, and its separated
    vocal and accompaniment (as SongGeneration does with Demucs), each through its stream's tokenizer."""
    cfg = generator.config
    try:
        audio = standardise(decode(path), cfg.sample_rate, cfg.channels)
    except AudioDecodeError as err:
        raise UsageError(f"prompt audio {path}: {err}") from None
    clip = Audio(audio.samples[:, : round(cfg.prompt_audio_s * cfg.sample_rate)].copy(), cfg.sample_rate)
    stems = separator.separate(clip)
    waves = {"mix": clip.samples, "vocal": stems["vocals"].samples, "bgm": stems["accompaniment"].samples}
    return generator.audio_tokens(waves)


@torch.no_grad()
def make_batch(generator: Generator, jobs: Sequence[_Job], options: GenerationOptions) -> None:
    """Sample tokens for a batch, render the tracks asked for and write them (mix last)."""
    cfg = generator.config
    device = options.device
    g = torch.Generator(device="cpu").manual_seed(jobs[0].seed)
    text_ids, text_mask = pad_text([j.text_ids for j in jobs], generator.lyric_tokenizer.pad_id)
    prompt = None
    if jobs[0].prompt_tokens is not None:
        prompt = torch.stack([j.prompt_tokens for j in jobs]).to(device)
    tokens = generator.lelm.generate(text_ids.to(device), text_mask.to(device), jobs[0].frames, prompt,
                                     cfg_scale=options.cfg_scale, temperature=options.temperature,
                                     top_k=options.top_k, repetition_penalty=options.repetition_penalty,
                                     generator=g, guidance=options.guidance)
    tracks = {"mix": 0, **({"vocal": 1, "bgm": 2} if options.separate else {})}
    waves = {name: render(generator, tokens, track, steps=options.render_steps, generator=g)
             for name, track in tracks.items()}
    for i, job in enumerate(jobs):
        paths = output_paths(job.system_dir, job.prompt.idx, options.separate)
        paths["tokens"].parent.mkdir(parents=True, exist_ok=True)
        _save_tokens(paths["tokens"], tokens[i].cpu().numpy())
        for name in [*(n for n in tracks if n != "mix"), "mix"]:
            write_audio(paths[name], Audio(waves[name][i], cfg.sample_rate))


def render(model: Generator, tokens: torch.Tensor, track: int, *, steps: int | None = None,
           generator: torch.Generator | None = None) -> np.ndarray:
    """Tokens (B, 3, T) -> one track's audio, float32 (B, channels, T * hop), peak-safe."""
    track_ids = torch.full((tokens.shape[0],), track, dtype=torch.long, device=tokens.device)
    latents = model.renderer.sample(tokens, track_ids, steps=steps, generator=generator)
    wave = model.autoencoder.decode(latents).float().cpu().numpy()
    peak = np.abs(wave).max(axis=(1, 2), keepdims=True)
    return (wave / np.maximum(peak / 0.99, 1.0)).astype(np.float32)


def _save_tokens(path: Path, tokens: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, tokens.astype(np.int32))


def _write_rejects(path: Path, rejects: Sequence[PromptReject]) -> None:
    if not rejects:
        path.unlink(missing_ok=True)
        return
    path.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in rejects), encoding="utf-8")


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        data = {}
    data.setdefault("prompts", {})
    return data
