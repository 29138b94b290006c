"""Build (or reuse) a corpus of generated songs with their ground truth on disk.

Layout under ``out_dir``::

    songs/NAME.flac                      the mix: what ``songprep prep`` is given
    songs/NAME.txt                       reference lyrics, one sung line per line (the sidecar)
    truth/NAME/vocals.flac               the scaled vocal stem   (mix == vocals + accompaniment)
    truth/NAME/accompaniment.flac        the scaled accompaniment stem
    truth/NAME/accompaniment.mid         the accompaniment's notes, with section markers
    truth/NAME/truth.json                :class:`TruthSong`

``voicing="sung"`` builds songs whose vocal line is sung exactly on MIDI notes (written to the truth's
``notes``); the default speech voicing keeps the songs every other test and benchmark was tuned on.

A song whose truth.json already records the same generator version and spec is not rebuilt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from songprep.lyrics.levo import render_levo
from songprep.records import Section, Word
from songprep.testing.compose import BEATS_PER_BAR, SongPlan, chord_name, compose
from songprep.testing.render import VOICINGS, RenderedSong, render
from songprep.testing.truth import ChordSpan, MelodyNote, TruthNote, TruthPaths, TruthSong

#: Bump whenever composition or rendering changes what a (seed, language, form) produces.
GENERATOR_VERSION = "1"
TRUTH_FILE = "truth.json"


def generator_version(voicing: str = "speech") -> str:
    """The cache version of a voicing: sung songs also change when the singer changes."""
    if voicing == "sung":
        from songprep.testing.sing import SING_VERSION

        return f"{GENERATOR_VERSION}+sung.{SING_VERSION}"
    return GENERATOR_VERSION


def song_name(index: int, language: str) -> str:
    return f"song-{index:03d}-{language}"


def song_seed(corpus_seed: int, index: int) -> int:
    """A per-song seed, decorrelated from its neighbours and from other corpus seeds."""
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def song_paths(name: str) -> TruthPaths:
    return TruthPaths(
        mix=f"songs/{name}.flac",
        vocals=f"truth/{name}/vocals.flac",
        accompaniment=f"truth/{name}/accompaniment.flac",
        midi=f"truth/{name}/accompaniment.mid",
        lyrics=f"songs/{name}.txt",
    )


def make_truth(name: str, plan: SongPlan, rendered: RenderedSong, voicing: str = "speech") -> TruthSong:
    """The truth record of a rendered plan."""
    sr = rendered.sample_rate
    beat_s = plan.beat_s
    n_beats = plan.total_bars * BEATS_PER_BAR

    def t(beats: float) -> float:  # the exact sample time a beat position was rendered at
        return round(beats * beat_s * sr) / sr

    sections = [Section(s.label, t(s.start_bar * BEATS_PER_BAR), t((s.start_bar + s.bars) * BEATS_PER_BAR))
                for s in plan.sections]
    lines_per_section: list[list[str]] = []
    lines: list[str] = []
    words: list[Word] = []
    word_lines: list[int] = []
    melody: list[MelodyNote] = []
    notes: list[TruthNote] = []
    placed = iter(rendered.words)
    for index, s in enumerate(plan.sections):
        lines_per_section.append([plan.line_text(line) for line in s.lines])
        for line in s.lines:
            lines.append(plan.line_text(line))
            for n in line:
                where = next(placed)
                notes += [TruthNote(p.start / sr, p.end / sr, p.pitch, len(words)) for p in where.notes]
                words.append(Word(n.word.text, where.start / sr, where.end / sr, score=1.0, section=index))
                word_lines.append(len(lines) - 1)
                onset = s.start_bar * BEATS_PER_BAR + n.start_beat
                melody.append(MelodyNote(t(onset), t(onset + n.dur_beats), n.pitch, n.word.text))
    chords = [ChordSpan(t((s.start_bar + b) * BEATS_PER_BAR), t((s.start_bar + b + 1) * BEATS_PER_BAR),
                        chord_name((plan.tonic + plan.parts[s.part_key].transpose) % 12, plan.mode, degree))
              for s in plan.sections for b, degree in enumerate(plan.parts[s.part_key].chords)]
    beats = [t(b) for b in range(n_beats)]
    return TruthSong(
        name=name, language=plan.language, seed=plan.seed, form=plan.form, tempo_bpm=float(plan.tempo_bpm),
        key=plan.key, time_signature=(BEATS_PER_BAR, 4), sample_rate=sr, duration_s=t(n_beats),
        sections=sections, words=words, word_lines=word_lines, lines=lines, lyrics="\n".join(lines),
        levo_lyric=render_levo(sections, lines_per_section), beats_s=beats, downbeats_s=beats[::BEATS_PER_BAR],
        instruments=list(plan.instruments), melody=melody, chords=chords, voice=plan.voice,
        vocal_to_accompaniment_db=plan.vocal_to_accompaniment_db, paths=song_paths(name),
        generator_version=generator_version(voicing), voicing=voicing, notes=notes,
    )


def _write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.T, sample_rate, subtype="PCM_24")


def _cached(out_dir: Path, name: str, seed: int, language: str, form: str, sample_rate: int,
            voicing: str = "speech") -> TruthSong | None:
    path = out_dir / "truth" / name / TRUTH_FILE
    if not path.is_file():
        return None
    try:
        truth = TruthSong.load(path)
    except (ValueError, KeyError, TypeError):
        return None
    spec = (truth.generator_version, truth.seed, truth.language, truth.form, truth.sample_rate, truth.voicing)
    if spec != (generator_version(voicing), seed, language, form, sample_rate, voicing):
        return None
    p = truth.paths
    if not all((out_dir / f).is_file() for f in (p.mix, p.vocals, p.accompaniment, p.midi, p.lyrics)):
        return None
    return truth


def build_song(out_dir: str | os.PathLike[str], name: str, seed: int, language: str, form: str = "short",
               *, force: bool = False, sample_rate: int = 44100, voicing: str = "speech") -> TruthSong:
    """Compose, render and write one song (or return its cached truth)."""
    if voicing not in VOICINGS:
        raise ValueError(f"unknown voicing {voicing!r}; expected one of {VOICINGS}")
    out = Path(out_dir)
    if not force and (cached := _cached(out, name, seed, language, form, sample_rate, voicing)) is not None:
        return cached
    plan = compose(seed, language, form)
    rendered = render(plan, sample_rate, voicing=voicing)
    truth = make_truth(name, plan, rendered, voicing)
    p = truth.paths
    _write_audio(out / p.mix, rendered.mix, sample_rate)
    _write_audio(out / p.vocals, rendered.vocals, sample_rate)
    _write_audio(out / p.accompaniment, rendered.accompaniment, sample_rate)
    rendered.midi.save(out / p.midi)
    (out / p.lyrics).write_text(truth.lyrics + "\n", encoding="utf-8")
    truth.save(out / "truth" / name / TRUTH_FILE)  # last: its presence marks a complete song
    return truth


def build_corpus(out_dir: str | os.PathLike[str], n_songs: int = 3, seed: int = 0,
                 languages: Sequence[str] = ("en", "zh", "es"), form: str = "short",
                 *, force: bool = False, voicing: str = "speech") -> list[TruthSong]:
    """Build ``n_songs`` songs (languages cycle over ``languages``) under ``out_dir``."""
    if not languages:
        raise ValueError("languages must not be empty")
    return [
        build_song(out_dir, song_name(i, languages[i % len(languages)]), song_seed(seed, i),
                   languages[i % len(languages)], form, force=force, voicing=voicing)
        for i in range(n_songs)
    ]


def load_corpus(out_dir: str | os.PathLike[str]) -> list[TruthSong]:
    """Every song's truth under ``out_dir``, in name order."""
    return [TruthSong.load(p) for p in sorted(Path(out_dir).glob(f"truth/*/{TRUTH_FILE}"))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m songprep.testing.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--n", type=int, default=3, help="number of songs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--form", choices=("short", "full"), default="short")
    parser.add_argument("--languages", default="en,zh,es", help="comma-separated, cycled over the songs")
    parser.add_argument("--voicing", choices=VOICINGS, default="speech",
                        help="speech: espeak-ng nudged to the melody; sung: WORLD singing exactly on MIDI notes")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    songs = build_corpus(args.out_dir, args.n, args.seed, tuple(args.languages.split(",")), args.form,
                         force=args.force, voicing=args.voicing)
    for s in songs:
        print(f"{s.name}: {s.duration_s:6.1f} s  {s.tempo_bpm:.0f} bpm  {s.key:9s}  {len(s.words):3d} words  "
              f"{' '.join(sec.label for sec in s.sections)}")
    print(f"{len(songs)} songs in {time.perf_counter() - start:.1f} s -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
