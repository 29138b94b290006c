"""Score systems' songs against prompts, aggregate, and write the report: ``songprep eval run``.

For each (system, prompt): find the file, hash it, and compute what the cache lacks for that
(system, idx, file hash, part protocol hash): the signal checks, PER/WER/CER (separate vocals -> Whisper
hears the mix where the vocals sing (``hear="stem"``: the vocals), with the prompt's language -> normalise
-> phonemize -> align) and each aesthetic scorer.
A missing or unreadable file becomes a row with its reason: it is counted and shown, never silently
left out of a mean. A part whose model cannot be loaded is "not computed: <reason>" in the report.

>>> from songprep.evaluation.run import EvalConfig
>>> EvalConfig(aesthetics=()).per
True
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from songprep import audio as audio_io
from songprep.errors import AudioDecodeError, ModelNotFoundError, SongprepError, UsageError
from songprep.evaluation.aggregate import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    paired_difference,
    summarise,
    summarise_corpus_rate,
)
from songprep.evaluation.g2p import g2p_choices
from songprep.evaluation.inputs import Prompt, System, find_audio
from songprep.evaluation.normalise import normaliser_rules
from songprep.evaluation.per import METRICS as RATE_METRICS
from songprep.evaluation.per import TextScorer
from songprep.evaluation.protocol import Protocol, describe_model
from songprep.evaluation.signal import SIGNAL_LABELS, SIGNAL_METRICS, signal_checks

CACHE_FILE = "cache/scores.jsonl"
#: What Whisper hears when the vocals are separated (EvalConfig.hear), as the protocol records it.
HEARD = {"mix": "the mix, gated by the separated vocals' voice activity", "stem": "the separated vocals"}


@dataclass
class EvalConfig:
    """What to compute. Injected models (see :func:`evaluate`) take precedence over these names."""

    per: bool = True
    separate: bool = True
    separator: str = "auto"
    transcriber: str = "auto"
    #: What Whisper hears when the vocals are separated: ``mix`` (the mix, where the separated vocals' voice
    #: activity says someone sings) or ``stem`` (the separated vocals). The mix: on the 4 real dev songs with
    #: their true lyrics, PER 0.224 against the stem's 0.352 (bench/evaluation.py), a lower floor.
    hear: str = "mix"
    #: Voice-activity gating and repetition-loop removal around Whisper (both change WER/PER; both recorded).
    gate: bool = True
    loops: bool = True
    aesthetics: tuple[str, ...] = ("audiobox", "songeval")
    audiobox_checkpoint: str | None = None
    songeval_checkpoint: str | None = None
    device: str = "cpu"
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


@dataclass(frozen=True)
class MetricSpec:
    """One column of per_song.parquet the report summarises."""

    column: str
    label: str
    higher_is_better: bool | None
    part: str


@dataclass
class EvalResult:
    out_dir: Path
    per_song: pd.DataFrame
    results: dict[str, Any]
    protocol: Protocol
    scored: int = 0
    from_cache: int = 0
    seconds: float = 0.0
    part_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Components:
    separator: Any = None
    transcriber: Any = None
    hear: str = "mix"
    scorers: dict[str, Any] = field(default_factory=dict)
    not_computed: dict[str, str] = field(default_factory=dict)


def evaluate(prompts: Sequence[Prompt], systems: Sequence[System], out_dir: str | Path,
             config: EvalConfig | None = None, *, transcriber: Any = None, separator: Any = None,
             scorers: dict[str, Any] | None = None, progress: bool = False) -> EvalResult:
    """Score, aggregate and write ``report.html``, ``report.md``, ``results.json``, ``per_song.parquet``."""
    from songprep.evaluation.report import write_report

    config = config or EvalConfig()
    _check_inputs(prompts, systems)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    parts = _load_components(config, transcriber, separator, scorers or {})
    protocol = build_protocol(config, parts, {p.language for p in prompts if p.language})
    cache = ScoreCache(out / CACHE_FILE)
    text = TextScorer()
    specs = metric_specs(parts)
    rows, scored, cached, part_seconds = [], 0, 0, {p: 0.0 for p in protocol.parts}
    bar = _progress(len(systems) * len(prompts), progress)
    for system in systems:
        for prompt in prompts:
            row, did = _score_one(system, prompt, parts, protocol, cache, text, config, part_seconds)
            rows.append(row)
            scored += did
            cached += (not did) and row["status"] == "ok"
            bar.update(1)
    bar.close()
    per_song = _per_song_frame(rows, specs)
    results = aggregate(per_song, systems, prompts, specs, protocol, config, parts.not_computed)
    results["timing"] = {"seconds_per_song": {p: s / max(1, scored) for p, s in part_seconds.items()},
                         "songs_scored": scored, "songs_from_cache": cached}
    write_report(out, per_song, results, protocol)
    return EvalResult(out, per_song, results, protocol, scored, cached, time.perf_counter() - started, part_seconds)


def _check_inputs(prompts: Sequence[Prompt], systems: Sequence[System]) -> None:
    if not prompts:
        raise UsageError("no prompts to evaluate")
    if not systems:
        raise UsageError("no systems: pass --system NAME=DIR at least once")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise UsageError(f"system names must be unique, got {names}")
    for s in systems:
        if not s.directory.is_dir():
            raise UsageError(f"system {s.name}: {s.directory} is not a folder")


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="song", desc="scoring", disable=not (enabled and sys.stderr.isatty()))


# ---------------------------------------------------------------------------------------------- models


def _load_components(config: EvalConfig, transcriber: Any, separator: Any, scorers: dict[str, Any]) -> _Components:
    from songprep.transcription import HEAR

    if config.hear not in HEAR:
        raise UsageError(f"hear must be one of {', '.join(HEAR)}, got {config.hear!r}")
    parts = _Components(hear=config.hear)
    if config.per:
        parts.transcriber = transcriber
        if parts.transcriber is None:
            parts.transcriber, reason = _try_load("songprep.transcription", "load_transcriber",
                                                  config.transcriber, config.device, gate=config.gate,
                                                  loops=config.loops)
            if reason:
                parts.not_computed["per"] = f"no transcriber: {reason}"
        if config.separate and parts.transcriber is not None:
            parts.separator = separator
            if parts.separator is None:
                parts.separator, reason = _try_load("songprep.separation", "load_separator", config.separator,
                                                    config.device)
                if reason:  # PER on the mix would not be the protocol asked for: say so, do not guess
                    parts.not_computed["per"] = f"no separator: {reason}"
                    parts.transcriber = None
    else:
        parts.not_computed["per"] = "switched off (--no-per)"
    from songprep.evaluation.aesthetics import SCORERS, load_scorer

    checkpoints = {"audiobox": config.audiobox_checkpoint, "songeval": config.songeval_checkpoint}
    for name in config.aesthetics:
        if name in scorers:
            parts.scorers[name] = scorers[name]
            continue
        if name not in SCORERS:
            raise UsageError(f"unknown aesthetic scorer {name!r}; known: {', '.join(SCORERS)}")
        try:
            parts.scorers[name] = load_scorer(name, checkpoints.get(name), config.device)
        except ModelNotFoundError as err:
            parts.not_computed[name] = str(err)
    return parts


def _try_load(module: str, function: str, name: str, device: str, **options: Any) -> tuple[Any, str]:
    import importlib

    try:
        loader = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as err:
        return None, f"{module}.{function} is not available ({err})"
    try:
        return loader(name=name, device=device, **options), ""
    except ModelNotFoundError as err:
        return None, str(err)


def transcription_switches(transcriber: Any) -> dict[str, Any]:
    """Every transcriber setting that changes the error rates: gating, loop removal, decoding, beam, device."""
    import inspect

    from songprep.transcription.base import DECODING
    from songprep.transcription.loops import remove_loops

    gate = getattr(transcriber, "gate", None)
    if gate is None:
        gating = "off" if hasattr(transcriber, "gate") else "unknown (the transcriber does not say)"
    elif hasattr(gate, "config"):
        from songprep.evaluation.protocol import package_version

        gating = f"silero-vad {package_version('silero-vad')} ({gate.config})"
    else:
        gating = "on"
    loops = getattr(transcriber, "loops", None)
    if loops is None:
        loop_removal = "unknown (the transcriber does not say)"
    elif loops:
        limits = {k: v.default for k, v in inspect.signature(remove_loops).parameters.items()
                  if v.default is not inspect.Parameter.empty}
        loop_removal = f"on (songprep.transcription.loops {limits}; condition_on_previous_text off)"
    else:
        loop_removal = "off (condition_on_previous_text on)"
    return {"voice_activity_gating": gating, "loop_removal": loop_removal, "decoding": DECODING,
            "beam_size": getattr(transcriber, "beam_size", "unknown"), **_compute(transcriber)}


def _compute(transcriber: Any) -> dict[str, str]:
    """Device and number format Whisper ran in (int8 on CPU and float16 on GPU give other transcripts)."""
    inner = getattr(getattr(transcriber, "model", None), "model", None)
    if hasattr(inner, "compute_type"):  # CTranslate2 (faster-whisper)
        return {"device": str(inner.device), "compute_type": str(inner.compute_type)}
    device = str(getattr(transcriber, "device", "") or "")
    if device:  # openai-whisper: fp16 on CUDA, else float32
        return {"device": device, "compute_type": "float16" if device.startswith("cuda") else "float32"}
    return {"device": "unknown", "compute_type": "unknown"}


def build_protocol(config: EvalConfig, parts: _Components, languages: set[str]) -> Protocol:
    from songprep.evaluation.signal import CLIP_LEVEL, SILENCE_DBFS, SILENCE_FRAME_S, TRUE_PEAK_OVERSAMPLING

    protocol = Protocol(bootstrap={"resamples": config.resamples, "seed": config.seed, "confidence": 0.95,
                                   "method": "percentile bootstrap over songs (numpy default_rng(seed)); paired "
                                             "differences: paired bootstrap + Wilcoxon signed-rank (scipy)"})
    protocol.parts["signal"] = {
        "definitions": SIGNAL_LABELS, "silence_dbfs": SILENCE_DBFS, "silence_frame_s": SILENCE_FRAME_S,
        "clip_level": CLIP_LEVEL, "true_peak_oversampling": TRUE_PEAK_OVERSAMPLING,
        "loudness": "pyloudnorm BS.1770-4 (songprep.audio.loudness_lufs)",
    }
    if parts.transcriber is not None:
        protocol.parts["per"] = {
            "separation": describe_model(parts.separator) if parts.separator is not None else "off (the mix is "
                                                                                                  "transcribed)",
            "heard": _heard(parts),
            "transcription": {**describe_model(parts.transcriber), "language": "forced from the prompt",
                              **transcription_switches(parts.transcriber)},
            "normaliser": normaliser_rules(),
            "g2p": g2p_choices(tuple(sorted(languages))),
            "alignment": "Levenshtein with unit costs (jiwer.process_words over phone / word / character tokens)",
            "reference": "prompt lyrics with LeVo tags and separators stripped (songprep.lyrics)",
        }
    else:
        protocol.parts["per"] = {"not_computed": parts.not_computed.get("per", "")}
    for name, scorer in parts.scorers.items():
        protocol.parts[name] = scorer.describe()
    for name in config.aesthetics:
        if name not in parts.scorers:
            protocol.parts[name] = {"not_computed": parts.not_computed.get(name, "")}
    return protocol


def metric_specs(parts: _Components) -> list[MetricSpec]:
    specs = []
    if parts.transcriber is not None:
        specs += [MetricSpec(m, m.upper(), False, "per") for m in RATE_METRICS]
    for name, scorer in parts.scorers.items():
        specs += [MetricSpec(f"{name}_{axis}", f"{name} {axis} ({label})", True, name)
                  for axis, label in zip(scorer.info.axes, scorer.info.axis_labels)]
    specs += [MetricSpec(m, SIGNAL_LABELS[m], None, "signal") for m in SIGNAL_METRICS]
    return specs


# ---------------------------------------------------------------------------------------------- scoring


class ScoreCache:
    """Append-only JSONL of computed parts keyed by (system, idx, file sha256, part, part hash)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry["values"]
                except (json.JSONDecodeError, KeyError):
                    continue  # a line cut by a crash: that part is simply scored again

    @staticmethod
    def key(system: str, idx: str, file_sha256: str, part: str, part_hash: str) -> str:
        return "\t".join((system, idx, file_sha256, part, part_hash))

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, values: dict[str, Any]) -> None:
        self.entries[key] = values
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "values": values}, ensure_ascii=False, allow_nan=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


def part_key(protocol: Protocol, part: str, prompt: Prompt) -> str:
    """The protocol component of a cache key: everything the part's numbers for this prompt depend on.

    PER also depends on the prompt itself (its reference lyrics and language, which an edited prompt file
    changes under the same idx), and only on the g2p of that prompt's language, so adding a prompt in
    another language re-scores nothing already scored.
    """
    if part != "per":
        return protocol.part_hash(part)
    from songprep.evaluation.protocol import stable_hash

    spec = dict(protocol.parts.get("per") or {})
    spec["g2p"] = (spec.get("g2p") or {}).get(prompt.language)
    return stable_hash({"part": protocol.part_hash(part, spec), "lyrics": prompt.lyrics,
                        "language": prompt.language})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _score_one(system: System, prompt: Prompt, parts: _Components, protocol: Protocol, cache: ScoreCache,
               text: TextScorer, config: EvalConfig, part_seconds: dict[str, float]) -> tuple[dict[str, Any], bool]:
    row: dict[str, Any] = {"system": system.name, "idx": prompt.idx, "language": prompt.language, "status": "ok",
                           "reason": "", "file": "", "file_sha256": ""}
    if prompt.refused:  # its language cannot be told: scored in a guessed language it would be a wrong number
        row.update(status="refused", reason=prompt.refused)
        return row, False
    path = find_audio(system, prompt.idx)
    if path is None:
        row.update(status="missing", reason=f"no audio file named {prompt.idx}.* in {system.directory} "
                                            f"or {system.directory / 'audios'}")
        return row, False
    row["file"] = str(path)
    row["file_sha256"] = sha = file_sha256(path)
    wanted = ["signal"] + (["per"] if parts.transcriber is not None else []) + list(parts.scorers)
    keys = {p: cache.key(system.name, prompt.idx, sha, p, part_key(protocol, p, prompt)) for p in wanted}
    todo = [p for p in wanted if cache.get(keys[p]) is None]
    audio = None
    if todo:
        try:
            audio = audio_io.decode(path)
        except AudioDecodeError as err:
            row.update(status="unreadable", reason=str(err))
            return row, False
    for part in wanted:
        values = cache.get(keys[part])
        if values is None:
            started = time.perf_counter()
            try:
                values = _compute_part(part, audio, prompt, parts, text)
            except (SongprepError, RuntimeError, ValueError) as err:  # one song's failure is a row, not a crash
                row.update(status="error", reason=f"{part}: {' '.join(str(err).split())[:300]}")
                return row, False
            part_seconds[part] = part_seconds.get(part, 0.0) + time.perf_counter() - started
            cache.put(keys[part], values)
        row.update(values)
    return row, bool(todo)


def _heard(parts: _Components) -> str:
    if parts.separator is None:
        return "the mix (no separation)"
    if parts.hear == "mix" and hasattr(parts.transcriber, "gate") and parts.transcriber.gate is None:
        return "the whole mix (voice-activity gating off, so the separated vocals pick nothing)"
    return HEARD[parts.hear]


def per_transcript(audio, language: str, parts: _Components):
    """What the ASR heard: see :data:`HEARD`. A transcriber is only asked to gate on other audio when it must."""
    from songprep.transcription import what_whisper_hears

    vocals = parts.separator.separate(audio)["vocals"] if parts.separator is not None else None
    heard, gate_on = what_whisper_hears(audio, vocals, parts.hear)
    if gate_on is None:
        return parts.transcriber.transcribe(heard, language)
    return parts.transcriber.transcribe(heard, language, gate_on=gate_on)


def _compute_part(part: str, audio, prompt: Prompt, parts: _Components, text: TextScorer) -> dict[str, Any]:
    if part == "signal":
        return signal_checks(audio).to_dict()
    if part == "per":
        transcript = per_transcript(audio, prompt.language, parts)
        hypothesis = transcript.text
        pair = text.score(prompt.lyrics, hypothesis, prompt.language)
        values: dict[str, Any] = {"transcript": hypothesis}
        for metric in RATE_METRICS:
            counts = getattr(pair, metric)
            values[metric] = counts.rate
            values.update({f"{metric}_substitutions": counts.substitutions, f"{metric}_deletions": counts.deletions,
                           f"{metric}_insertions": counts.insertions,
                           f"{metric}_reference_length": counts.reference_length})
        return values
    scorer = parts.scorers[part]
    return {f"{part}_{axis}": float(v) for axis, v in scorer.score([audio])[0].items()}


def _per_song_frame(rows: list[dict[str, Any]], specs: list[MetricSpec]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for spec in specs:
        if spec.column not in frame:
            frame[spec.column] = float("nan")
    first = ["system", "idx", "language", "status", "reason"]
    return frame[first + [c for c in frame.columns if c not in first]]


# ---------------------------------------------------------------------------------------------- aggregation


def aggregate(per_song: pd.DataFrame, systems: Sequence[System], prompts: Sequence[Prompt],
              specs: list[MetricSpec], protocol: Protocol, config: EvalConfig,
              not_computed: dict[str, str]) -> dict[str, Any]:
    """The numbers of results.json: per system (and language) summaries, paired differences, caveats."""
    from songprep.evaluation.published import PUBLISHED

    seed, n = config.seed, config.resamples
    languages = sorted({p.language for p in prompts if p.language})
    out: dict[str, Any] = {"metrics": [asdict(s) for s in specs], "not_computed": not_computed, "systems": {},
                           "paired": [], "languages": languages, "published": PUBLISHED,
                           "protocol": protocol.to_dict()}
    for system in systems:
        rows = per_song[per_song.system == system.name]
        ok = rows[rows.status == "ok"]
        entry: dict[str, Any] = {
            "prompts": int(len(rows)), "scored": int(len(ok)),
            "problems": [{"idx": r.idx, "status": r.status, "reason": r.reason}
                         for r in rows[rows.status != "ok"].itertuples()],
            "overall": _summaries(ok, specs, seed, n),
            "by_language": {lang: _summaries(ok[ok.language == lang], specs, seed, n) for lang in languages},
        }
        out["systems"][system.name] = entry
    names = [s.name for s in systems]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = _paired_rows(per_song, a, b)
            for spec in specs:
                if spec.part == "signal" and spec.column != "loudness_lufs":
                    continue
                diff = paired_difference(a, both[f"{spec.column}_a"], b, both[f"{spec.column}_b"], spec.column,
                                         n, seed)
                out["paired"].append(diff.to_dict())
    return out


def _summaries(ok: pd.DataFrame, specs: list[MetricSpec], seed: int, n: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for spec in specs:
        values = ok[spec.column].to_numpy(dtype=float) if spec.column in ok else []
        result[spec.column] = {"mean_of_songs": summarise(values, n, seed).to_dict()}
        if spec.part == "per" and f"{spec.column}_reference_length" in ok:  # absent: no prompt had words
            errors = sum(ok[f"{spec.column}_{k}"].to_numpy(dtype=float)
                         for k in ("substitutions", "deletions", "insertions"))
            result[spec.column]["corpus"] = summarise_corpus_rate(
                errors, ok[f"{spec.column}_reference_length"].to_numpy(dtype=float), n, seed).to_dict()
    return result


def _paired_rows(per_song: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    left = per_song[(per_song.system == a) & (per_song.status == "ok")]
    right = per_song[(per_song.system == b) & (per_song.status == "ok")]
    return left.merge(right, on="idx", suffixes=("_a", "_b")).sort_values("idx")
