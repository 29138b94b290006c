"""``songprep prep``: a corpus directory in, a dataset directory out."""

from __future__ import annotations

import os
from pathlib import Path

import click

from songprep.cli.common import print_summary, run_options
from songprep.config import DEFAULT_STAGES, PrepConfig
from songprep.device import DEVICES
from songprep.runner import ENGINES
from songprep.transcription import HEAR


@click.command()
@click.argument("in_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset directory (created; rerunning resumes).")
@click.option("--lyrics", "lyrics_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of reference lyrics (NAME.txt / NAME.lrc); default: beside each audio file.")
@click.option("--language", help="Force the language (ISO 639-1, e.g. en, zh, es) instead of detecting it.")
@click.option("--stages", default=",".join(DEFAULT_STAGES), show_default=True,
              help="Comma-separated stage chain.")
@click.option("--separator", default="auto", show_default=True,
              help="Stage separate: demucs:htdemucs, demucs:htdemucs_ft, spleeter:2stems, or auto (demucs when its "
                   "weights are here, else Spleeter, whose weights ship with songprep).")
@click.option("--asr", default="auto", show_default=True,
              help="Stage transcribe: faster-whisper:<size>, whisper:<size>, or auto (the best model on this machine).")
@click.option("--asr-hears", type=click.Choice(HEAR), default="mix", show_default=True,
              help="Stage transcribe: what Whisper hears. mix: the mix, only where the vocal stem's voice activity "
                   "says someone sings (real dev songs, Spleeter stems: WER 0.58 vs 0.65); stem: the vocal stem "
                   "(better on clean stems: rerun bench/real_songs.py --asr-hears stem with yours).")
@click.option("--min-lyrics-confidence", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Reject songs whose transcript's lyrics_confidence (median Whisper word probability) is below "
                   "this, so unreliable transcripts do not become training lyrics (0: keep all).")
@click.option("--notes", "with_notes", is_flag=True,
              help="Add the notes stage: vocal melody and accompaniment notes, words' pitch, OUT/midi/<id>.mid.")
@click.option("--describe", "with_describe", is_flag=True,
              help="Add the describe stage: LeVo descriptions, tags (musicnn), bpm, key, vocal gender. Not in the "
                   "default chain: it adds 11% to prep time on real songs on CPU, over the 10% a default stage may "
                   "cost (measured: bench/describe.py --cost-only).")
@click.option("--tagger", default="auto", show_default=True,
              help="Stage describe: musicnn, none, or auto (musicnn when installed, else none, with a warning).")
@click.option("--vocal-notes", default="pyin", show_default=True, help="Stage notes: the vocal melody backend.")
@click.option("--accompaniment-notes", default="basic-pitch", show_default=True,
              help="Stage notes: the accompaniment backend (basic-pitch, or none to skip the accompaniment).")
@click.option("--sample-rate", default=44100, show_default=True, help="Working sample rate of the stages.")
@click.option("--mono", is_flag=True, help="Work in mono (default: stereo).")
@click.option("--max-duration", default=1800.0, show_default=True, help="Reject files longer than this (s).")
@click.option("--min-duration", default=1.0, show_default=True, help="Reject files shorter than this (s).")
@click.option("-j", "--jobs", default=0, show_default=True,
              help="Worker processes; 0: one per CPU core (one on a GPU). Each computes on one thread, so the "
                   "rows never depend on -j.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--batch-size", default=1, show_default=True, help="Songs per stage call.")
@click.option("--rows-per-shard", default=256, show_default=True, help="Rows per Parquet shard.")
@click.option("--overwrite", is_flag=True, help="Delete a dataset already in OUT and start again.")
@click.option("--retry-rejects", is_flag=True, help="Try the songs an earlier run rejected again.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: this machine's processes; ray: Ray Data actors (a cluster with RAY_ADDRESS).")
@click.option("--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def prep(in_dir: Path, out_dir: Path, lyrics_dir: Path | None, language: str | None, stages: str,
         separator: str, asr: str, asr_hears: str, min_lyrics_confidence: float, with_notes: bool,
         with_describe: bool, tagger: str, vocal_notes: str, accompaniment_notes: str, sample_rate: int, mono: bool,
         max_duration: float, min_duration: float, jobs: int, device: str, batch_size: int, rows_per_shard: int,
         overwrite: bool, retry_rejects: bool, engine: str, ray_address: str | None, quiet: bool) -> None:
    """Prepare a corpus: every audio file under IN_DIR becomes a row in OUT/songs or OUT/rejects."""
    from songprep.runner import prepare_corpus

    chain = tuple(s.strip() for s in stages.split(",") if s.strip())
    if with_notes and "notes" not in chain:
        chain += ("notes",)
    if with_describe and "describe" not in chain:
        chain += ("describe",)
    transcribe = {"model": asr, "hear": asr_hears}
    if min_lyrics_confidence:  # only when set, so datasets made without it keep their config hash
        transcribe["min_confidence"] = min_lyrics_confidence
    config = PrepConfig(
        stages=chain,
        sample_rate=sample_rate,
        channels=1 if mono else 2,
        min_duration_s=min_duration,
        max_duration_s=max_duration,
        language=language,
        lyrics_dir=str(lyrics_dir.resolve()) if lyrics_dir else None,
        stage_options={"separate": {"model": separator}, "transcribe": transcribe,
                       "notes": {"vocal": vocal_notes, "accompaniment": accompaniment_notes},
                       "describe": {"tagger": tagger}},
    )
    from songprep.inputs import discover
    from songprep.tools import require_decoders_for

    require_decoders_for(source.path for source in discover(in_dir, lyrics_dir))  # m4a/aac/wma need FFmpeg
    options = run_options(jobs, device, batch_size, rows_per_shard, overwrite, retry_rejects, quiet)
    options.engine = engine
    options.ray_address = ray_address or os.environ.get("RAY_ADDRESS")
    print_summary(prepare_corpus(in_dir, out_dir, config, options))
