"""The describe stage measured: synthetic songs (known tempo, key, instruments, voice) and the 4 real dev songs.

    .venv/bin/python bench/describe.py [--n 6] [--seed 1] [--real ../shared/real/jamendolyrics-dev] [--cost|--cost-only]

Synthetic (``songprep.testing`` songs of a corpus seed other than the calibration seed 0 the thresholds were
set on): bpm error and octave errors, key accuracy (exact, and relative major/minor confusions), instrument
recall and precision against the General MIDI programs the songs were rendered with (mapped to LeVo's words
below; recall is also given over the instruments the tagger has a word for), and the vocal gender against
the espeak voice (``+m3`` male, ``+f3`` female). The synthetic songs use their truth vocal stem.
Real: each song's descriptions and its best genres (their shares after the prior correction,
:func:`songprep.describe.vocabulary.genre_scores`) beside meta.csv's genre (agreement where the vocabulary
overlaps: pop, hip-hop, folk); the vocal stem comes from Spleeter. The synthetic songs have no genre truth;
their genre is shown to check it stays sane. ``--cost``: `prep` on two synthetic songs and on the real songs,
default chain + describe, and describe's share of the stage time (the default-chain decision).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import print_table  # noqa: E402

from songprep.audio import decode, standardise  # noqa: E402
from songprep.config import PrepConfig  # noqa: E402
from songprep.describe.key import NOTE_NAMES  # noqa: E402
from songprep.describe.vocabulary import MAPPING  # noqa: E402
from songprep.records import Song  # noqa: E402
from songprep.stages.base import SongItem, StageContext  # noqa: E402
from songprep.stages.describe import DescribeStage  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO.parent / "shared" / "real" / "jamendolyrics-dev"
#: General MIDI program -> LeVo instrument word (None: no word, e.g. organ, bass, saxophone).
GM_TO_LEVO = {0: "piano", 1: "piano", 4: "piano", 24: "guitar", 25: "guitar", 27: "guitar", 16: None,
              48: "strings", 49: "strings", 50: "strings", 88: "synthesizer", 89: "synthesizer",
              32: None, 33: None, 34: None, 38: "synthesizer", 73: "flute", 65: None, 80: "synthesizer",
              71: None, 56: None}
TAGGED = {tag for tag, category in MAPPING.values() if category == "instrument"}


def describer() -> DescribeStage:
    stage = DescribeStage(PrepConfig(stage_options={"describe": {"tagger": "musicnn"}}))
    stage.setup(StageContext(Path(tempfile.mkdtemp()), "cpu"))
    return stage


def describe(stage: DescribeStage, mix, vocals, name: str):
    item = SongItem(source=None, song=Song(name, name, mix.duration_s, mix.sample_rate, mix.channels), audio=mix,
                    stems={"vocals": vocals})
    started = time.perf_counter()
    stage.process(item)
    return item, time.perf_counter() - started


def synthetic(n: int, seed: int) -> None:
    from songprep.testing.corpus import build_corpus

    root = Path(tempfile.gettempdir()) / f"songprep-describe-bench-{seed}"
    songs = build_corpus(root, n_songs=n, seed=seed, form="short")
    stage = describer()
    rows, bpm_err, octave, key_ok, relative, hits, truths, in_vocab, said, right, gender_ok, unknown = (
        [], [], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    for t in songs:
        mix = standardise(decode(root / t.paths.mix), 44100, 2)
        item, took = describe(stage, mix, standardise(decode(root / t.paths.vocals), 44100, 2), t.name)
        s = item.song
        err = abs(s.bpm - t.tempo_bpm) / t.tempo_bpm
        bpm_err.append(err)
        octave += min(abs(s.bpm / t.tempo_bpm - r) for r in (0.5, 2.0, 1 / 3, 3.0)) < 0.04
        key_ok += s.key == t.key
        tonic, mode = t.key.split()
        rel = (NOTE_NAMES[(NOTE_NAMES.index(tonic) + (9 if mode == "major" else 3)) % 12] + " "
               + ("minor" if mode == "major" else "major"))
        relative += s.key == rel
        truth = {GM_TO_LEVO.get(i.program) if i.role != "drums" else "drums" for i in t.instruments} - {None}
        found = {x.tag for x in s.tags if x.category == "instrument"} & set(s.descriptions.replace(" and ", ", ")
                                                                           .replace(".", "").split(", "))
        truths += len(t.instruments)
        in_vocab += len(truth & TAGGED)
        hits += len(truth & found)
        said += len(found)
        right += len(found & truth)
        voice = "male" if t.voice.endswith("m3") else "female"
        gender_ok += s.vocal_gender == voice
        unknown += s.vocal_gender == "unknown"
        genre = max((x for x in s.tags if x.category == "genre"), key=lambda x: x.score, default=None)
        rows.append([t.name, f"{t.tempo_bpm:.0f}", f"{s.bpm:.1f}", f"{100 * err:.2f}%", t.key, s.key, voice,
                     s.vocal_gender, ",".join(sorted(truth)) or "-", ",".join(sorted(found)) or "-",
                     f"{genre.tag} {genre.score:.2f}" if genre else "-", f"{took:.1f}"])
    print(f"## synthetic songs (corpus seed {seed}, {n} short songs, truth vocal stems)\n")
    print_table(["song", "bpm", "est", "err", "key", "est", "voice", "gender", "instruments (LeVo words)",
                 "described", "genre", "s"], rows)
    print(f"\nbpm: max error {100 * max(bpm_err):.2f}%, mean {100 * np.mean(bpm_err):.2f}%, "
          f"octave errors {octave}/{n}; "
          f"key: {key_ok}/{n} exact, {relative}/{n} relative major/minor")
    print(f"instruments: recall {hits}/{truths} of all rendered instruments ({100 * hits / truths:.0f}%), "
          f"{hits}/{in_vocab} of those the tagger has a word for ({100 * hits / max(in_vocab, 1):.0f}%); "
          f"precision {right}/{said} ({100 * right / max(said, 1):.0f}%)")
    print(f"gender: {gender_ok}/{n} right, {unknown}/{n} unknown, {n - gender_ok - unknown}/{n} wrong\n")


def real(folder: Path) -> None:
    from songprep.separation import load_separator
    from songprep.testing.jamendo import load_dataset

    stage = describer()
    separator = load_separator("spleeter:2stems", "cpu")
    rows, agree, comparable = [], 0, 0
    for song in load_dataset(folder):
        mix = standardise(decode(song.mp3), 44100, 2)
        vocals = separator.separate(mix)["vocals"]
        item, took = describe(stage, mix, vocals, song.name)
        s = item.song
        genres = sorted(((x.tag, x.score) for x in s.tags if x.category == "genre"), key=lambda g: -g[1])[:3]
        top = genres[0][0] if genres else "-"
        want = song.genre.lower()
        if want in {tag for tag, category in MAPPING.values() if category == "genre"}:
            comparable += 1
            agree += top == want
        rows.append([song.name[:24], song.genre, ", ".join(f"{g} {p:.2f}" for g, p in genres), s.vocal_gender,
                     s.key, f"{s.bpm:.1f}", f"{took:.1f}"])
        print(f"{song.name}: {s.descriptions}", flush=True)
    print(f"\n## real dev songs ({folder.name}, Spleeter vocal stems)\n")
    print_table(["song", "meta genre", "best genres (score)", "gender", "key", "bpm", "s"], rows)
    print(f"\ngenre agreement with meta.csv: {agree}/{comparable} (songs whose meta genre is in the vocabulary)\n")


def cost(seed: int, real_folder: Path | None) -> None:
    """describe's share of prep time on 2 short synthetic songs, and on the real songs (full length, lyrics
    given) when they are there: describe reads at most 20 patches and 40 s of singing, so its share falls as
    songs grow."""
    from songprep.runner import RunOptions, prepare_corpus
    from songprep.testing.corpus import build_corpus

    root = Path(tempfile.mkdtemp())
    build_corpus(root / "corpus", n_songs=2, seed=seed, form="short")
    runs = [("2 short synthetic songs", root / "corpus" / "songs", None)]
    if real_folder is not None:
        runs.append((f"the {real_folder.name} songs (lyrics given)", real_folder / "mp3", str(real_folder / "lyrics")))
    for i, (what, songs, lyrics) in enumerate(runs):
        config = PrepConfig(stages=(*PrepConfig().stages, "describe"), lyrics_dir=lyrics)
        summary = prepare_corpus(songs, root / f"ds{i}", config, RunOptions(jobs=1, device="cpu"))
        stages = summary.stage_seconds
        total = sum(stages.values())
        rest = total - stages["describe"]
        print(f"## cost: prep on {what}, default chain + describe, one worker, CPU\n")
        print_table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in stages.items()] + [["total", f"{total:.1f}"]])
        print(f"\ndescribe: {stages['describe']:.1f} s = {100 * stages['describe'] / rest:.0f}% on top of the default "
              f"chain's {rest:.1f} s (default chain if <= 10%, else behind --describe)\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--cost-only", action="store_true", help="only the cost runs")
    args = parser.parse_args()
    if not args.cost_only:
        synthetic(args.n, args.seed)
    has_real = (args.real / "meta.csv").is_file()
    if has_real and not args.cost_only:
        real(args.real)
    elif not has_real:
        print(f"(no real songs at {args.real})")
    if args.cost or args.cost_only:
        cost(args.seed, args.real if has_real else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
