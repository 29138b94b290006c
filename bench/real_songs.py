"""Benchmark: songprep on real songs with human word timings (JamendoLyrics layout), beside two baselines.

Point it at any folder in JamendoLyrics MultiLang's layout (``mp3/``, ``lyrics/NAME.txt``,
``lyrics/NAME.words.txt``, ``words/NAME.csv``, ``meta.csv``): the 4 dev songs in ``../shared/real`` by
default, or the full 79-song dataset. It runs the real CLI twice with default models:

* ``songprep prep mp3/ --lyrics lyrics/`` (known lyrics: alignment and the lyrics-mismatch verdict);
* ``songprep prep mp3/`` (lyrics withheld: transcript WER/CER, language, lyrics_confidence).

Baselines on the same audio with the same Whisper model (base, the one shipped offline), in the same run:

* **stable-ts** ``align`` on the mix (what a user would ``pip install`` instead);
* **transcript matching**: the lyrics timed by the transcript's words alone (``align`` method ``asr``),
  on the transcripts of the second run;
* for the transcript WER/CER: **plain faster-whisper** on the mix with its own defaults (beam 5,
  temperature fallback, previous-text conditioning, no VAD: what a user would run instead), and
  songprep's recogniser on its own vocal stem with the voice gate and loop removal off (the ablation).

Also: every song aligned with each other song's lyrics (the verdict must reject all of them), and the
real instrumental track (``--instrumental``), which must come out (almost) all intro/inst/outro/silence.

Scoring as the field does (README of the data): per reference word, |predicted start - annotated start|;
the share within 0.3 s, the average (AAE) and median; a word not placed, or a song rejected, is a miss
(AAE is over the words placed).

    .venv/bin/python bench/real_songs.py [--data DIR] [--instrumental DIR] [--no-stable-ts] [--asr-hears mix|stem]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep.alignment import align_lyrics, align_with_whisper  # noqa: E402
from songprep.alignment.normalise import fold  # noqa: E402
from songprep.audio import decode  # noqa: E402
from songprep.records import INSTRUMENTAL_LABELS, Word  # noqa: E402
from songprep.testing.jamendo import WITHIN_S, RealSong, load_dataset, pooled, score  # noqa: E402
from songprep.transcription import HEAR  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "real" / "jamendolyrics-dev"
DEFAULT_INSTRUMENTAL = REPO.parent / "shared" / "real" / "instrumental"
def run_prep(in_dir: Path, out: Path, extra: list[str]) -> float:
    """The CLI a user types (default models and jobs); returns wall seconds."""
    started = time.perf_counter()
    cmd = [str(Path(sys.executable).parent / "songprep"), "prep", str(in_dir), "-o", str(out), "--overwrite", "-q",
           *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - started
    print(proc.stdout.strip(), file=sys.stderr)
    if proc.returncode not in (0,):
        print(proc.stderr[-2000:], file=sys.stderr)
    return took


def read_rows(out: Path) -> tuple[dict, dict]:
    import pandas as pd

    songs = pd.read_parquet(out / "songs") if any((out / "songs").glob("*.parquet")) else pd.DataFrame()
    rejects = pd.read_parquet(out / "rejects") if any((out / "rejects").glob("*.parquet")) else pd.DataFrame()
    by_name = {Path(r["source_path"]).stem: r for _, r in songs.iterrows()} if len(songs) else {}
    rejected = {Path(r["source_path"]).stem: r for _, r in rejects.iterrows()} if len(rejects) else {}
    return by_name, rejected


def wer_cer(reference: list[str], hypothesis: str) -> tuple[float, float]:
    import jiwer

    ref = " ".join(fold(w) for w in reference if fold(w))
    hyp = " ".join(fold(w) for w in hypothesis.split() if fold(w))
    if not hyp:
        return 1.0, 1.0
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


def stable_ts_words(model, song: RealSong) -> list[tuple[str, float]]:
    import stable_whisper

    from songprep.alignment import to_16k

    audio = to_16k(decode(song.mp3))
    result = stable_whisper.alignment.align(model, audio, "\n".join(song.lines), language=song.language,
                                            verbose=None)
    return [(w.word.strip(), float(w.start)) for w in result.all_words()] if result else []


def plain_whisper_text(model, audio) -> str:
    """faster-whisper's defaults on ``audio`` (language detected, as a user without lyrics would run it)."""
    from songprep.alignment import to_16k

    segments, _ = model.transcribe(to_16k(audio))
    return " ".join(s.text.strip() for s in segments)


def fmt(x: float, digits: int = 3) -> str:
    return "-" if x != x else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--instrumental", type=Path, default=DEFAULT_INSTRUMENTAL)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "songprep-bench-real")
    parser.add_argument("--no-stable-ts", action="store_true")
    parser.add_argument("--asr-hears", choices=HEAR, default="mix",
                        help="what Whisper hears in the lyrics-withheld run (prep --asr-hears)")
    args = parser.parse_args(argv)
    if not (args.data / "meta.csv").is_file():
        print(f"no JamendoLyrics-layout folder at {args.data} (meta.csv missing)", file=sys.stderr)
        return 2
    songs = load_dataset(args.data)
    audio_s = sum(decode(s.mp3).duration_s for s in songs)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)

    # ours: the CLI, lyrics given / withheld
    t_lyrics = run_prep(args.data / "mp3", work / "with-lyrics", ["--lyrics", str(args.data / "lyrics")])
    t_plain = run_prep(args.data / "mp3", work / "transcript", ["--asr-hears", args.asr_hears])
    with_lyrics, rejected = read_rows(work / "with-lyrics")
    transcribed, _ = read_rows(work / "transcript")

    from songprep.alignment.whisper_fa import load_model

    model = load_model("whisper:base", "cpu")
    from songprep import models
    from songprep.transcription import load_transcriber

    plain = models.load("faster-whisper:base", "cpu")
    ungated = load_transcriber("faster-whisper:base", gate=False, loops=False)  # prep's default recogniser
    rows, totals = [], {"songprep": [], "stable-ts": [], "transcript (asr)": []}
    ours_label = "songprep (mix gated by stem)" if args.asr_hears == "mix" else "songprep (stem, gated)"
    wers: dict[str, list[tuple[float, float, int]]] = {
        ours_label: [], "faster-whisper (mix, defaults)": [], "songprep ungated (stem)": []}
    for song in songs:
        row = with_lyrics.get(song.name)
        ours = score(song, [(w["word"], w["start_s"]) for w in row["words"]] if row is not None else [])
        totals["songprep"].append(ours)
        verdict = "kept" if row is not None else f"REJECTED: {rejected[song.name]['reason'][:60]}"
        language = row["language"] if row is not None else "-"
        trow = transcribed.get(song.name)
        wer, cer = wer_cer(song.words, trow["lyrics"].replace("\n", " ")) if trow is not None else (1.0, 1.0)
        wers[ours_label].append((wer, cer, len(song.words)))
        mix_wer = wer_cer(song.words, plain_whisper_text(plain, decode(song.mp3)))
        wers["faster-whisper (mix, defaults)"].append((*mix_wer, len(song.words)))
        # baseline: transcript matching, on this run's own transcript of the vocal stem
        if trow is not None:
            vocals = decode(work / "transcript" / trow["vocals_path"]) if trow["vocals_path"] else decode(song.mp3)
            heard = [Word(w["word"], w["start_s"], w["end_s"]) for w in trow["words"]]
            asr = align_lyrics(song.lines, vocals, song.language, asr_words=heard, method="asr")
            asr_score = score(song, [(w.word, w.start_s) for w in asr.words])
            raw = ungated.transcribe(vocals, trow["language"] or None)
            wers["songprep ungated (stem)"].append((*wer_cer(song.words, " ".join(w.word for w in raw.words)),
                                                    len(song.words)))
        else:
            asr_score = score(song, [])
            wers["songprep ungated (stem)"].append((1.0, 1.0, len(song.words)))
        totals["transcript (asr)"].append(asr_score)
        sts = score(song, stable_ts_words(model, song)) if not args.no_stable_ts else None
        if sts is not None:
            totals["stable-ts"].append(sts)
        rows.append((song.name[:28], song.language, language, song.genre, ours.words, ours.placed, fmt(ours.within),
                     fmt(ours.aae), fmt(ours.median), fmt(sts.within) if sts else "-", fmt(sts.aae) if sts else "-",
                     fmt(asr_score.within), fmt(asr_score.aae), verdict,
                     trow["language"] if trow is not None else "-", fmt(wer), fmt(cer), fmt(mix_wer[0]),
                     fmt(trow["lyrics_confidence"], 2) if trow is not None and "lyrics_confidence" in trow else "-"))

    print(f"{len(songs)} real songs ({audio_s / 60:.1f} min) from {args.data}; Whisper base everywhere; "
          f"within = share of words whose start is within {WITHIN_S} s (misses and rejected songs count)\n")
    print_table(("song", "lang", "detected", "genre", "words", "placed", "within", "AAE s", "median s",
                 "stable-ts within", "stable-ts AAE", "asr within", "asr AAE", "verdict (right lyrics)",
                 "lang (no lyrics)", "WER", "CER", "plain WER", "lyrics conf."), rows)

    print("\npooled over all songs\n")
    base = pooled(totals["stable-ts"]) if totals["stable-ts"] else None
    pool_rows = []
    for method, scores in totals.items():
        if not scores:
            continue
        p = pooled(scores)
        ratio = f"{p.within / base.within:.2f}x" if base and base.within else "-"
        pool_rows.append((method, p.words, p.placed, fmt(p.within), fmt(p.aae), fmt(p.median), ratio))
    print_table(("method", "words", "placed", "within 0.3 s", "AAE s", "median s", "within vs stable-ts"), pool_rows)

    print("\ntranscript with the lyrics withheld (word-weighted over songs; "
          "plain = faster-whisper defaults on the mix)\n")
    wer_rows = []
    for name, per_song in wers.items():
        n = sum(k for _, _, k in per_song) or 1
        wer_rows.append((name, fmt(sum(w * k for w, _, k in per_song) / n), fmt(sum(c * k for _, c, k in per_song) / n),
                         " ".join(fmt(w, 2) for w, _, _ in per_song)))
    print_table(("transcriber", "WER", "CER", "per song WER"), wer_rows)

    # verdict: another song's lyrics must be rejected
    print("\nlyrics-mismatch verdict (Whisper median word probability; rejected below the threshold)\n")
    from songprep.alignment import MIN_MEDIAN_PROBABILITY

    verdict_rows, wrong_rejected, pairs = [], 0, 0
    for song in songs:
        row = with_lyrics.get(song.name)
        if row is None or not row["vocals_path"]:
            continue
        mix, vocals = decode(song.mp3), decode(work / "with-lyrics" / row["vocals_path"])
        for other in songs:
            if other is song:
                continue
            a = align_with_whisper(other.lines, vocals, other.language, model, mix=mix)
            pairs += 1
            wrong_rejected += a.flagged
            verdict_rows.append((song.name[:24], f"lyrics of {other.name[:24]}", "rejected" if a.flagged else "KEPT"))
    print_table(("audio", "text", "verdict"), verdict_rows)
    right_rejected = sum(s.name not in with_lyrics for s in songs)
    print(f"\nright lyrics rejected: {right_rejected} of {len(songs)}; swapped lyrics rejected: "
          f"{wrong_rejected} of {pairs} (threshold {MIN_MEDIAN_PROBABILITY})")

    # instrumental: bleed must not become singing
    inst_rows = []
    if args.instrumental.is_dir():
        t_inst = run_prep(args.instrumental, work / "instrumental", [])
        inst, inst_rej = read_rows(work / "instrumental")
        for name, row in inst.items():
            total = sum(s["end_s"] - s["start_s"] for s in row["sections"]) or 1.0
            quiet = sum(s["end_s"] - s["start_s"] for s in row["sections"]
                        if s["label"] in (*INSTRUMENTAL_LABELS, "silence"))
            inst_rows.append((name[:28], f"{row['duration_s']:.0f}", f"{quiet / total:.0%}", len(row["words"]),
                              f"{t_inst:.0f}"))
        for name, row in inst_rej.items():
            inst_rows.append((name[:28], "-", f"REJECTED: {row['reason'][:50]}", "-", f"{t_inst:.0f}"))
        print("\nreal instrumental (target: >= 80% of the time intro/inst/outro/silence, no words)\n")
        print_table(("track", "s", "non-vocal time", "words", "prep s"), inst_rows)

    print("\nspeed of the default command on this machine (naive baseline: bench/prep_throughput.py)\n")
    print_table(("run", "audio min", "wall s", "x realtime"),
                [("prep --lyrics (align)", f"{audio_s / 60:.1f}", f"{t_lyrics:.0f}", f"{audio_s / t_lyrics:.1f}x"),
                 ("prep (transcribe)", f"{audio_s / 60:.1f}", f"{t_plain:.0f}", f"{audio_s / t_plain:.1f}x")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
