"""Audio for a :class:`~songprep.testing.compose.SongPlan`: FluidSynth backing, espeak-ng vocals, mix.

Each section label's part is rendered once and pasted (with its release tail) at every occurrence,
so repeated choruses are sample-identical. Each sung word is synthesised once per
(text, voice, pitch), trimmed to its first and last non-silent samples, fitted into its beat slot
and placed on an exact sample; those placed samples are the truth's word times. The stems are
scaled, quantised to the 24-bit grid and summed, so ``mix == vocals + accompaniment`` exactly.
With ``voicing="sung"`` the words are instead re-synthesised by WORLD on their exact MIDI notes
(:mod:`songprep.testing.sing`), and the placed notes become the truth's notes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
import soxr

from songprep.audio import speak
from songprep.testing.compose import (
    BEATS_PER_BAR,
    NOTE_NAMES,
    VOCAL_LABELS,
    NoteEvent,
    Part,
    SectionPlan,
    SongPlan,
    SungNote,
)

#: How the vocal line is voiced: espeak-ng speech nudged to the melody (the default songs), or
#: WORLD-resynthesised singing exactly on the melody's MIDI notes (:mod:`songprep.testing.sing`).
VOICINGS = ("speech", "sung")

SOUNDFONT_ENV = "SONGPREP_SOUNDFONT"
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
TICKS_PER_BEAT = 480
#: FluidSynth starts sounding a tick-0 note one 64-sample block late; parts are shifted back by it.
FLUID_LATENCY = 64
#: A part's release tail rings into the next section for this long, fading over the last second.
TAIL_S, TAIL_FADE_S = 1.5, 1.0
END_FADE_S = 0.3
#: A sample is "non-silent" when it is within this many dB of its word's peak.
SILENCE_DB = -40.0
#: espeak-ng's -p moves the voice by about this many units per semitone (measured).
P_PER_SEMITONE = 6.0
P_RANGE = (20, 99)
MAX_FINE_SEMITONES = 4.0
WORD_GAP_S = 0.03
WORD_FADE_S = 0.012
PEAK_DBFS = -1.05
GRID = float(2**23)


def find_soundfont() -> Path:
    """``$SONGPREP_SOUNDFONT`` or the first General MIDI soundfont installed in a usual place."""
    for candidate in (os.environ.get(SOUNDFONT_ENV), *SOUNDFONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    from songprep.tools import ToolMissingError

    raise ToolMissingError(f"no General MIDI soundfont found (tried {', '.join(SOUNDFONT_CANDIDATES)}); install one "
                           f"with `apt-get install fluid-soundfont-gm` or set ${SOUNDFONT_ENV} to a .sf2 file",
                           "soundfont")


def missing_tools() -> list[str]:
    """The external programs (and soundfont) song rendering needs but cannot find."""
    missing = [tool for tool in ("fluidsynth", "espeak-ng") if shutil.which(tool) is None]
    from songprep.tools import ToolMissingError

    try:
        find_soundfont()
    except ToolMissingError:
        missing.append("soundfont")
    return missing


# --- MIDI --------------------------------------------------------------------------------------


def _midi_key(plan: SongPlan) -> str:
    return NOTE_NAMES[plan.tonic] + ("m" if plan.mode == "minor" else "")


def build_midi(plan: SongPlan, notes: Sequence[tuple[float, NoteEvent]],
               markers: Sequence[tuple[float, str]] = ()) -> mido.MidiFile:
    """``(offset_beats, note)`` pairs as a MIDI file at the plan's tempo, metre and key, one track per instrument.

    Written by songprep's one MIDI writer (:func:`songprep.daw.midi.build_midi`); seconds are taken at the
    file's own beat length, so every note lands on the tick its beat position names.
    """
    from songprep.daw import midi as daw_midi
    from songprep.records import Note

    tempo = daw_midi.TempoMap.constant(plan.tempo_bpm, TICKS_PER_BEAT)
    beat_s = tempo.changes[0].tempo_us / 1e6
    by_channel: dict[int, list[Note]] = {}
    for offset, n in notes:
        start = offset + n.start_beat
        by_channel.setdefault(n.channel, []).append(
            Note(start * beat_s, (start + n.dur_beats) * beat_s, n.pitch, n.velocity))
    parts = [daw_midi.MidiPart(inst.name, by_channel.pop(inst.channel, []), inst.channel,
                               None if inst.channel == 9 else inst.program) for inst in plan.instruments]
    parts += [daw_midi.MidiPart(f"channel {c}", found, c) for c, found in sorted(by_channel.items())]
    return daw_midi.build_midi(tempo, parts, markers=[daw_midi.TimedText(b * beat_s, label) for b, label in markers],
                               time_signatures=[daw_midi.TimeSignature(0, BEATS_PER_BAR)], key=_midi_key(plan))


def song_midi(plan: SongPlan) -> mido.MidiFile:
    """The whole accompaniment as one MIDI file, with a marker at every section."""
    notes, markers = [], []
    for s in plan.sections:
        offset = s.start_bar * BEATS_PER_BAR
        notes += [(offset, n) for n in plan.parts[s.part_key].notes]
        markers.append((offset, s.label))
    return build_midi(plan, notes, markers)


# --- FluidSynth --------------------------------------------------------------------------------


def fluidsynth_render(midi: mido.MidiFile, sample_rate: int, soundfont: Path, workdir: Path, name: str) -> np.ndarray:
    """Render with the FluidSynth CLI (no reverb or chorus: deterministic); float ``(2, frames)``."""
    mid_path, wav_path = workdir / f"{name}.mid", workdir / f"{name}.wav"
    midi.save(mid_path)
    from songprep.tools import require

    cmd = [require("fluidsynth"), "-ni", "-q", "-g", "0.5", "-R", "0", "-C", "0", "-T", "wav", "-O", "float",
           "-F", str(wav_path), "-r", str(sample_rate), str(soundfont), str(mid_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wav_path.is_file():
        raise RuntimeError(f"fluidsynth failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    audio, sr = sf.read(wav_path, dtype="float64", always_2d=True)
    if sr != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, asked for {sample_rate}")
    return audio.T


def _part_audio(plan: SongPlan, part: Part, sample_rate: int, soundfont: Path, workdir: Path,
                name: str = "") -> np.ndarray:
    """A part's audio: its bars plus a faded release tail (``name``: its key in ``plan.parts``)."""
    audio = fluidsynth_render(build_midi(plan, [(0.0, n) for n in part.notes]), sample_rate, soundfont,
                              workdir, name or part.label)[:, FLUID_LATENCY:]
    body = round(part.bars * BEATS_PER_BAR * plan.beat_s * sample_rate)
    length = body + round(TAIL_S * sample_rate)
    out = np.zeros((2, length))
    out[:, : min(length, audio.shape[1])] = audio[:, :length]
    fade = round(TAIL_FADE_S * sample_rate)
    out[:, length - fade:] *= np.linspace(1.0, 0.0, fade)
    return out


# --- espeak-ng ---------------------------------------------------------------------------------

_SYNTH_CACHE: dict[tuple[str, str, int, int], tuple[np.ndarray, int]] = {}
_SYNTH_LOCK = threading.Lock()


def espeak_synth(text: str, voice: str, pitch: int, speed: int) -> tuple[np.ndarray, int]:
    """espeak-ng's rendering of one word (mono float, sample rate); cached per process."""
    key = (text, voice, pitch, speed)
    with _SYNTH_LOCK:
        if key in _SYNTH_CACHE:
            return _SYNTH_CACHE[key]
    voiced = speak(text, voice, speed, pitch)  # 16-bit samples: exact in float32, so exact in float64 too
    audio, sr = voiced.samples[0].astype(np.float64), voiced.sample_rate
    with _SYNTH_LOCK:
        _SYNTH_CACHE[key] = (audio, sr)
    return audio, sr


def clear_synth_cache() -> None:
    """Forget cached espeak-ng renderings (tests use it to check synthesis itself is deterministic)."""
    with _SYNTH_LOCK:
        _SYNTH_CACHE.clear()


def espeak_pitch(midi_pitch: float, base_midi: float) -> tuple[int, float]:
    """A melody note as espeak's coarse ``-p`` plus a fine resampling ratio for what -p can't reach."""
    wanted = 50.0 + P_PER_SEMITONE * (midi_pitch - base_midi)
    p = int(np.clip(round(wanted), *P_RANGE))
    fine = float(np.clip((wanted - p) / P_PER_SEMITONE, -MAX_FINE_SEMITONES, MAX_FINE_SEMITONES))
    return p, 2.0 ** (fine / 12.0)


@dataclass
class _Fitted:
    audio: np.ndarray
    end: int  # one past the last non-silent sample


def _fit_word(raw: np.ndarray, raw_sr: int, ratio: float, sample_rate: int, slot: int) -> _Fitted:
    """Pitch-nudge, resample, trim to non-silent samples, and shorten (with a fade) to fit the slot."""
    y = soxr.resample(raw, raw_sr * ratio, sample_rate)
    threshold = np.abs(y).max() * 10 ** (SILENCE_DB / 20)
    loud = np.flatnonzero(np.abs(y) > threshold)
    y = y[loud[0]: loud[-1] + 1].copy()
    limit = slot - round(WORD_GAP_S * sample_rate)
    if len(y) > limit:
        y = y[:limit]
        fade = min(limit, round(WORD_FADE_S * sample_rate))
        y[-fade:] *= np.linspace(1.0, 0.0, fade + 1)[1:]
    loud = np.flatnonzero(np.abs(y) > threshold)
    return _Fitted(y, int(loud[-1]) + 1)


# --- the song ----------------------------------------------------------------------------------


@dataclass
class PlacedNote:
    """Samples ``[start, end)`` of the vocal stem sung at MIDI ``pitch`` (sung voicing only)."""

    start: int
    end: int
    pitch: int


@dataclass
class PlacedWord:
    """Where a sung word's audio actually is (samples), in song order, and the notes it was sung on."""

    start: int
    end: int
    notes: list[PlacedNote] = field(default_factory=list)


@dataclass
class RenderedSong:
    """Scaled, 24-bit-grid stems (float32 ``(2, frames)``) and what was placed where."""

    mix: np.ndarray
    vocals: np.ndarray
    accompaniment: np.ndarray
    words: list[PlacedWord]
    midi: mido.MidiFile
    sample_rate: int
    vocal_gain: float
    accompaniment_gain: float


def _samples(beats: float, plan: SongPlan, sample_rate: int) -> int:
    return round(beats * plan.beat_s * sample_rate)


def _quantise(x: np.ndarray) -> np.ndarray:
    """Round to the 24-bit grid; float32 holds such values exactly, so sums of them stay exact."""
    y = x * GRID
    np.rint(y, out=y)
    y /= GRID
    return y.astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _spoken_vocals(plan: SongPlan, sung: list[tuple[SectionPlan, SungNote]],
                   synths: dict[tuple[str, int], tuple[np.ndarray, int]], pitch_of: dict[int, tuple[int, float]],
                   sample_rate: int, total: int) -> tuple[np.ndarray, list[PlacedWord]]:
    """The vocal line as espeak-ng speech, pitch-nudged towards the melody (the default songs)."""
    vocals = np.zeros(total)
    placed: list[PlacedWord] = []
    fitted: dict[tuple[str, int, int], _Fitted] = {}
    for section, n in sung:
        p, ratio = pitch_of[n.pitch]
        slot = _samples(n.dur_beats, plan, sample_rate)
        key = (n.word.spoken, n.pitch, slot)
        if key not in fitted:
            raw, raw_sr = synths[(n.word.spoken, p)]
            fitted[key] = _fit_word(raw, raw_sr, ratio, sample_rate, slot)
        word = fitted[key]
        start = _samples(section.start_bar * BEATS_PER_BAR + n.start_beat, plan, sample_rate)
        vocals[start: start + len(word.audio)] += word.audio
        placed.append(PlacedWord(start, start + word.end))
    return vocals, placed


def _sung_vocals(plan: SongPlan, synths: dict[tuple[str, int], tuple[np.ndarray, int]],
                 pitch_of: dict[int, tuple[int, float]], sample_rate: int,
                 total: int) -> tuple[np.ndarray, list[PlacedWord]]:
    """The vocal line sung by WORLD on the exact melody (see :mod:`songprep.testing.sing`)."""
    from songprep.testing.sing import SungWord, analyse, note_pitches, octave_shift, sing_word

    analyses = {}
    for key, (raw, raw_sr) in synths.items():
        threshold = np.abs(raw).max() * 10 ** (SILENCE_DB / 20)
        loud = np.flatnonzero(np.abs(raw) > threshold)
        analyses[key] = analyse(raw[loud[0]: loud[-1] + 1], raw_sr)
    vocals = np.zeros(total)
    placed: list[PlacedWord] = []
    sung_words: dict[tuple[str, tuple[int, ...], int], SungWord] = {}
    shift = octave_shift([n.pitch for s in plan.sections for line in s.lines for n in line], plan.voice_base_midi)
    for section in plan.sections:
        for line in section.lines:
            for j, n in enumerate(line):
                following = line[j + 1].pitch + shift if j + 1 < len(line) else None
                pitches = note_pitches(n.pitch + shift, n.dur_beats, following, plan.tonic, plan.mode)
                slot = _samples(n.dur_beats, plan, sample_rate)
                key = (n.word.spoken, pitches, slot)
                if key not in sung_words:
                    sung_words[key] = sing_word(analyses[(n.word.spoken, pitch_of[n.pitch][0])], pitches,
                                                sample_rate, slot - round(WORD_GAP_S * sample_rate), SILENCE_DB,
                                                round(WORD_FADE_S * sample_rate))
                word = sung_words[key]
                start = _samples(section.start_bar * BEATS_PER_BAR + n.start_beat, plan, sample_rate)
                vocals[start: start + len(word.audio)] += word.audio
                placed.append(PlacedWord(start, start + word.end,
                                         [PlacedNote(start + s.start, start + s.end, s.pitch) for s in word.notes]))
    return vocals, placed


def render(plan: SongPlan, sample_rate: int = 44100, soundfont: str | os.PathLike[str] | None = None,
           workers: int | None = None, voicing: str = "speech") -> RenderedSong:
    """Render a plan to stems and mix (FluidSynth parts and espeak-ng words run concurrently)."""
    if voicing not in VOICINGS:
        raise ValueError(f"unknown voicing {voicing!r}; expected one of {VOICINGS}")
    sf2 = Path(soundfont) if soundfont else find_soundfont()
    total = _samples(plan.total_bars * BEATS_PER_BAR, plan, sample_rate)
    sung = [(s, n) for s in plan.sections for line in s.lines for n in line]
    pitch_of = {n.pitch: espeak_pitch(n.pitch, plan.voice_base_midi) for _, n in sung}
    synth_keys = sorted({(n.word.spoken, pitch_of[n.pitch][0]) for _, n in sung})

    workers = workers or max(2, 2 * (os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="songprep-render-") as tmp, ThreadPoolExecutor(workers) as pool:
        part_jobs: dict[str, Future[np.ndarray]] = {
            label: pool.submit(_part_audio, plan, part, sample_rate, sf2, Path(tmp), label)
            for label, part in plan.parts.items()
        }
        synth_jobs = {key: pool.submit(espeak_synth, key[0], plan.voice, key[1], plan.espeak_speed)
                      for key in synth_keys}
        parts = {label: job.result() for label, job in part_jobs.items()}
        synths = {key: job.result() for key, job in synth_jobs.items()}

    accompaniment = np.zeros((2, total + round(TAIL_S * sample_rate)))
    for s in plan.sections:
        start = _samples(s.start_bar * BEATS_PER_BAR, plan, sample_rate)
        audio = parts[s.part_key]
        accompaniment[:, start: start + audio.shape[1]] += audio
    accompaniment = accompaniment[:, :total]
    fade = round(END_FADE_S * sample_rate)
    accompaniment[:, total - fade:] *= np.linspace(1.0, 0.0, fade)

    if voicing == "sung":
        vocals, placed = _sung_vocals(plan, synths, pitch_of, sample_rate, total)
    else:
        vocals, placed = _spoken_vocals(plan, sung, synths, pitch_of, sample_rate, total)

    # Vocal-to-accompaniment ratio measured over the sung sections, then one gain for the peak.
    sung_spans = [(_samples(s.start_bar * BEATS_PER_BAR, plan, sample_rate),
                   _samples((s.start_bar + s.bars) * BEATS_PER_BAR, plan, sample_rate))
                  for s in plan.sections if s.label in VOCAL_LABELS]
    v = np.concatenate([vocals[a:b] for a, b in sung_spans])
    a = np.concatenate([accompaniment[:, a:b] for a, b in sung_spans], axis=1)
    gv = 10 ** (plan.vocal_to_accompaniment_db / 20) * _rms(a) / max(_rms(v), 1e-12)
    peak = float(np.abs(gv * vocals + accompaniment).max())
    scale = 10 ** (PEAK_DBFS / 20) / peak
    vocal_stem = _quantise(np.tile(vocals * gv * scale, (2, 1)))
    accompaniment_stem = _quantise(accompaniment * scale)
    mix = vocal_stem + accompaniment_stem  # exact: both are on the 24-bit grid
    return RenderedSong(mix, vocal_stem, accompaniment_stem, placed, song_midi(plan), sample_rate,
                        gv * scale, scale)
