"""Standard MIDI Files for a song: a tempo map that follows the audio's beats, section markers, lyrics.

A DAW places MIDI on its own grid of ticks; audio it places in seconds. For the notes to stay on the
recording, the file's tempo map must turn ticks into the song's seconds, beat by beat: MIDI beat
``k + pickup`` is the audio's beat ``k`` (within :data:`TEMPO_TOLERANCE_S`), with a ``set_tempo`` where
one tempo no longer fits the beats. Before the first beat, whole beats of about the first interval
fill the time from 0 s. Bars follow the detected downbeats through
``time_signature`` events (a short first bar for a pickup), so bar lines in the DAW are the song's.

Layout (type 1): track 0 is the conductor (track name = title, tempo map, time signatures, section
``marker`` events with LeVo tags); then one track per part ("vocals": the sung notes, with a
``lyrics`` event carrying each word at its first note; "accompaniment": polyphonic notes).

All time arithmetic is integer: a tempo map position is kept as ``ticks * microseconds-per-beat``
sums, so seconds -> ticks -> seconds through a map is exact to the rounding of one tick.

Example::

    grid = BeatGrid.from_features(song_features(item))
    midi = song_midi(song, grid, accompaniment=notes)   # mido.MidiFile
    write_midi(out / "midi" / f"{song.id}.mid", midi)
    read_midi(path).notes["vocals"]                      # list[Note], seconds
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import mido
import numpy as np

from songprep.atomic import atomic_path
from songprep.records import Note, Section, Song, Word

if TYPE_CHECKING:
    from songprep.features import SongFeatures

#: Ticks per quarter note (MIDI beat): 960 resolves ~0.5 ms at 120 BPM.
PPQ = 960
#: How far a MIDI beat may sit from its audio beat. Tracked beats are only as precise as the tracker's
#: frame grid (23 ms at songprep's analysis rate): a tighter tolerance writes that jitter as tempo changes.
TEMPO_TOLERANCE_S = 0.015
#: Without detected beats (too short, no pulse) the file runs at this tempo.
DEFAULT_BPM = 120.0
#: General MIDI programs (0-based) a DAW picks instruments by: "Voice Oohs" and "Acoustic Grand Piano".
VOCALS_PROGRAM, ACCOMPANIMENT_PROGRAM = 53, 0
VOCALS_TRACK, ACCOMPANIMENT_TRACK = "vocals", "accompaniment"
_US_PER_S = 1_000_000
#: How closely the tempo map follows the line-fitted beats (the rest of the tolerance is the fit's).
_FOLLOW_TOLERANCE_S = 0.001
_MAX_TEMPO_US = 0xFFFFFF  # set_tempo holds 24 bits: at most ~16.8 s per beat


@dataclass(frozen=True)
class TempoChange:
    """A ``set_tempo`` at ``tick``: ``tempo_us`` microseconds per beat from there on."""

    tick: int
    tempo_us: int


@dataclass(frozen=True)
class TimedText:
    """A text event at a time: a section marker, a lyric syllable."""

    time_s: float
    text: str


@dataclass(frozen=True)
class TimeSignature:
    """A ``time_signature`` at ``tick``: ``numerator`` beats (quarter notes) per bar from there on."""

    tick: int
    numerator: int
    denominator: int = 4


class TempoMap:
    """Piecewise-constant tempo: converts between seconds and ticks exactly, in integers.

    >>> tm = TempoMap([TempoChange(0, 500_000), TempoChange(960, 250_000)], ppq=960)
    >>> tm.ticks_to_seconds(1920), tm.seconds_to_ticks(0.75)
    (0.75, 1920)
    """

    def __init__(self, changes: Sequence[TempoChange], ppq: int = PPQ) -> None:
        if not changes or changes[0].tick != 0:
            raise ValueError("a tempo map starts with a tempo at tick 0")
        if any(b.tick <= a.tick for a, b in zip(changes, changes[1:])):
            raise ValueError("tempo changes must be at strictly increasing ticks")
        if any(not 0 < c.tempo_us <= _MAX_TEMPO_US for c in changes):
            raise ValueError("tempo_us must be in 1..16777215 (MIDI's 24-bit set_tempo)")
        self.ppq = ppq
        self.changes = list(changes)
        self._ticks = [c.tick for c in self.changes]
        # Position of each change in "tick-microseconds": seconds * ppq * 1e6, an exact integer.
        self._scaled = [0]
        for a, b in zip(self.changes, self.changes[1:]):
            self._scaled.append(self._scaled[-1] + (b.tick - a.tick) * a.tempo_us)

    @classmethod
    def constant(cls, bpm: float, ppq: int = PPQ) -> TempoMap:
        return cls([TempoChange(0, round(60 * _US_PER_S / bpm))], ppq)

    @classmethod
    def from_beats(cls, beats_s: Sequence[float] | np.ndarray, pickup_beats: int | None = None,
                   ppq: int = PPQ, tolerance_s: float = TEMPO_TOLERANCE_S) -> TempoMap:
        """A map that puts MIDI beat ``pickup + k`` on ``beats_s[k]`` within ``tolerance_s``.

        ``pickup_beats`` is how many MIDI beats precede the first audio beat (default: the time before it
        over the first beat interval, rounded; a first beat within half an interval of 0 s is taken to be
        at 0 s). The tempo is constant over runs of beats, each as long as one tempo keeps every beat in
        it within ``tolerance_s`` of its audio beat: errors are bounded per beat, never accumulated.
        """
        beats = np.asarray(beats_s, dtype=float)
        if beats.size < 2:
            return cls.constant(DEFAULT_BPM, ppq)
        if np.any(np.diff(beats) <= 0) or beats[0] < 0:
            raise ValueError("beats must be non-negative and strictly increasing")
        pickup = default_pickup(beats) if pickup_beats is None else pickup_beats
        # Fit straight lines to runs of beats first (the tracker's jitter is noise, not tempo), then follow
        # the fitted beats exactly: every MIDI beat ends up within tolerance_s of its audio beat.
        follow_s = min(_FOLLOW_TOLERANCE_S, tolerance_s / 2)
        targets = _piecewise_linear(beats * _US_PER_S, (tolerance_s - follow_s) * _US_PER_S)
        changes: list[TempoChange] = []
        now_us = 0  # where the file puts the current beat
        if pickup > 0:
            changes.append(TempoChange(0, _clamp_tempo(round(targets[0] / pickup))))
            now_us = changes[0].tempo_us * pickup
        k = 0
        while k < beats.size - 1:
            j, tempo = _longest_run(targets, k, now_us, follow_s * _US_PER_S)
            if not changes or changes[-1].tempo_us != tempo:
                changes.append(TempoChange((pickup + k) * ppq, tempo))
            now_us += tempo * (j - k)
            k = j
        return cls(changes, ppq)

    def ticks_to_seconds(self, tick: int | float) -> float:
        i = max(bisect.bisect_right(self._ticks, tick) - 1, 0)
        scaled = self._scaled[i] + (tick - self._ticks[i]) * self.changes[i].tempo_us
        return scaled / (self.ppq * _US_PER_S)

    def seconds_to_ticks(self, seconds: float) -> int:
        """The nearest tick to ``seconds`` (ticks before 0 s are clipped to 0)."""
        scaled = max(seconds, 0.0) * self.ppq * _US_PER_S
        i = max(bisect.bisect_right(self._scaled, scaled) - 1, 0)
        return self._ticks[i] + round((scaled - self._scaled[i]) / self.changes[i].tempo_us)


@dataclass(frozen=True)
class BeatGrid:
    """The song's beats and bar lines in seconds (``downbeats_s`` is a subset of ``beats_s``)."""

    beats_s: tuple[float, ...]
    downbeats_s: tuple[float, ...] = ()
    beats_per_bar: int = 4

    @classmethod
    def from_features(cls, feats: SongFeatures) -> BeatGrid:
        return cls(tuple(map(float, feats.beats_s)), tuple(map(float, feats.downbeats_s)), feats.beats_per_bar)

    def tempo_map(self, ppq: int = PPQ) -> TempoMap:
        return TempoMap.from_beats(self.beats_s, self.pickup_beats(), ppq)

    def pickup_beats(self) -> int:
        return default_pickup(np.asarray(self.beats_s, dtype=float)) if len(self.beats_s) >= 2 else 0

    def time_signatures(self, ppq: int = PPQ) -> list[TimeSignature]:
        """Bars between consecutive downbeats: a new signature wherever a bar's length in beats changes.

        MIDI beats before the first downbeat become a short first bar (a pickup); without downbeats
        every bar has ``beats_per_bar`` beats from tick 0.
        """
        if len(self.beats_s) < 2 or not self.downbeats_s:
            return [TimeSignature(0, self.beats_per_bar)]
        index = {round(b, 6): i for i, b in enumerate(self.beats_s)}
        bar_starts = sorted({index[round(d, 6)] + self.pickup_beats() for d in self.downbeats_s
                             if round(d, 6) in index})
        if not bar_starts:
            return [TimeSignature(0, self.beats_per_bar)]
        lengths = [b - a for a, b in zip(bar_starts, bar_starts[1:])] + [self.beats_per_bar]
        signatures: list[TimeSignature] = []
        pickup = bar_starts[0] % self.beats_per_bar  # a short first bar, then whole bars up to the first downbeat
        if pickup:
            signatures.append(TimeSignature(0, pickup))
        if bar_starts[0] >= self.beats_per_bar:
            signatures.append(TimeSignature(pickup * ppq, self.beats_per_bar))
        for start, length in zip(bar_starts, lengths):
            length = min(length, 255)  # the numerator is one byte
            if not signatures or signatures[-1].numerator != length:
                signatures.append(TimeSignature(start * ppq, length))
        return signatures


def grid_times(tempo_map: TempoMap, time_signatures: Sequence[TimeSignature], end_s: float) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """The beat and bar lines (seconds, up to ``end_s``) a DAW draws for a tempo map and its time signatures.

    A beat is the signature's note value (``4 * ppq / denominator`` ticks); a signature change starts a bar.
    """
    signatures = sorted(time_signatures, key=lambda ts: ts.tick) or [TimeSignature(0, 4)]
    end_tick = tempo_map.seconds_to_ticks(end_s)
    beats: list[int] = []
    bars: list[int] = []
    tick = 0
    for i, ts in enumerate(signatures):
        tick = max(tick, ts.tick)
        until = signatures[i + 1].tick if i + 1 < len(signatures) else end_tick + 1
        beat = tempo_map.ppq * 4 // ts.denominator
        while tick < until and tick <= end_tick:
            bars.append(tick)
            beats += [t for t in range(tick, min(tick + ts.numerator * beat, until, end_tick + 1), beat)]
            tick += ts.numerator * beat
    to_s = np.vectorize(tempo_map.ticks_to_seconds, otypes=[float])
    return to_s(np.array(beats)), to_s(np.array(bars))


def default_pickup(beats: np.ndarray) -> int:
    """MIDI beats before the first audio beat: its time over the first beat interval, rounded."""
    return round(float(beats[0]) / float(beats[1] - beats[0]))


def _piecewise_linear(targets: np.ndarray, tolerance: float) -> np.ndarray:
    """``targets`` replaced by least-squares lines over runs of beats, each run as long as its line stays
    within ``tolerance`` of every beat in it; a beat shared by two runs takes the mean of both lines."""
    fitted = targets.astype(float).copy()
    k = 0
    while k < targets.size - 1:
        j, line = k + 1, targets[k:k + 2].astype(float)
        while j + 1 < targets.size:
            x = np.arange(j + 2 - k)
            slope, intercept = np.polyfit(x, targets[k:j + 2], 1)
            candidate = intercept + slope * x
            if np.max(np.abs(candidate - targets[k:j + 2])) > tolerance:
                break
            j, line = j + 1, candidate
        fitted[k] = (fitted[k] + line[0]) / 2 if k > 0 else line[0]
        fitted[k + 1:j + 1] = line[1:]
        k = j
    return fitted


def _longest_run(targets: np.ndarray, k: int, start: int, tolerance: float) -> tuple[int, int]:
    """The last beat ``j`` one tempo from ``start`` (where beat k is) can reach with every beat in ``(k, j]``
    within ``tolerance`` of its target, and that tempo (µs per beat, the middle of the feasible range).

    Each beat m bounds the tempo to ``[(t_m - tol - start) / (m - k), (t_m + tol - start) / (m - k)]``;
    the run goes on while the intersection of those ranges is not empty.
    """
    low, high = -np.inf, np.inf
    j = k
    for m in range(k + 1, targets.size):
        lo_m = (targets[m] - tolerance - start) / (m - k)
        hi_m = (targets[m] + tolerance - start) / (m - k)
        if max(low, lo_m) > min(high, hi_m) and m > k + 1:
            break
        low, high, j = max(low, lo_m), min(high, hi_m), m
    if low > high:  # a single beat out of reach (a tempo beyond MIDI's range): go straight to it
        low = high = (targets[j] - start) / (j - k)
    return j, _clamp_tempo(round((low + high) / 2))


def _clamp_tempo(tempo_us: int) -> int:
    return int(min(max(tempo_us, 1), _MAX_TEMPO_US))


@dataclass
class MidiPart:
    """One track: its notes (seconds), a GM program, and the lyric events it carries."""

    name: str
    notes: list[Note]
    channel: int = 0
    program: int | None = None
    lyrics: list[TimedText] = field(default_factory=list)


def build_midi(tempo_map: TempoMap, parts: Sequence[MidiPart], *, markers: Sequence[TimedText] = (),
               time_signatures: Sequence[TimeSignature] = (), title: str = "", key: str = "",
               end_s: float = 0.0) -> mido.MidiFile:
    """A type-1 MIDI file: conductor track (tempo map, metre, key, markers) plus one track per part.

    Notes are placed through ``tempo_map``. MIDI cannot hold two sounding notes of one pitch on one
    channel, so a note that starts before an earlier same-pitch note ends cuts that one short; a note
    shorter than a tick lasts one tick. ``end_s`` extends the tracks to the song's end.
    """
    ppq = tempo_map.ppq
    end_tick = tempo_map.seconds_to_ticks(end_s)
    conductor: list[tuple[int, int, mido.MetaMessage]] = []
    if title:
        conductor.append((0, 0, mido.MetaMessage("track_name", name=title)))
    conductor += [(c.tick, 1, mido.MetaMessage("set_tempo", tempo=c.tempo_us)) for c in tempo_map.changes]
    for ts in time_signatures or [TimeSignature(0, 4)]:
        conductor.append((ts.tick, 2, mido.MetaMessage("time_signature", numerator=ts.numerator,
                                                       denominator=ts.denominator)))
    if key:  # mido's spelling: "C", "F#m", "Bb"
        conductor.append((0, 2, mido.MetaMessage("key_signature", key=key)))
    conductor += [(tempo_map.seconds_to_ticks(m.time_s), 3, mido.MetaMessage("marker", text=m.text))
                  for m in markers]
    midi = mido.MidiFile(type=1, ticks_per_beat=ppq)
    midi.tracks.append(_track(conductor, end_tick))
    for part in parts:
        events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
            (0, 0, mido.MetaMessage("track_name", name=part.name))]
        if part.program is not None:
            events.append((0, 1, mido.Message("program_change", channel=part.channel, program=part.program)))
        events += [(tempo_map.seconds_to_ticks(lyric.time_s), 3, mido.MetaMessage("lyrics", text=lyric.text))
                   for lyric in part.lyrics]
        for on, off, note in _note_ticks(part.notes, tempo_map):
            velocity = min(max(int(note.velocity), 1), 127)  # velocity 0 would be a note-off
            events.append((off, 2, mido.Message("note_off", channel=part.channel, note=note.pitch, velocity=0)))
            events.append((on, 4, mido.Message("note_on", channel=part.channel, note=note.pitch, velocity=velocity)))
        midi.tracks.append(_track(events, end_tick))
    return midi


def _note_ticks(notes: Iterable[Note], tempo_map: TempoMap) -> list[tuple[int, int, Note]]:
    """(on, off, note) in ticks, with same-pitch overlaps cut and every note at least one tick long."""
    placed: list[tuple[int, int, Note]] = []
    last_by_pitch: dict[int, int] = {}
    for note in sorted(notes, key=lambda n: (n.start_s, n.pitch)):
        on, off = tempo_map.seconds_to_ticks(note.start_s), tempo_map.seconds_to_ticks(note.end_s)
        placed.append((on, max(off, on + 1), note))
        previous = last_by_pitch.get(note.pitch)
        if previous is not None and placed[previous][1] > on:
            p_on, _, p_note = placed[previous]
            placed[previous] = (p_on, max(on, p_on + 1), p_note)
        last_by_pitch[note.pitch] = len(placed) - 1
    return placed


def _track(events: list[tuple[int, int, mido.Message | mido.MetaMessage]], end_tick: int) -> mido.MidiTrack:
    """Absolute (tick, order, message) events as a track with delta times; order breaks ties at a tick."""
    track = mido.MidiTrack()
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(end_tick - now, 0)))
    return track


def word_lyrics(notes: Sequence[Note], words: Sequence[Word]) -> list[TimedText]:
    """One lyric event per word, at the onset of the first note that carries it (words without notes: none)."""
    first: dict[int, float] = {}
    for note in notes:
        if 0 <= note.word < len(words):
            first[note.word] = min(first.get(note.word, note.start_s), note.start_s)
    return [TimedText(first[w], words[w].word) for w in sorted(first)]


def section_markers(sections: Sequence[Section]) -> list[TimedText]:
    """A marker with the section's LeVo tag (e.g. ``intro-short``, ``verse``) at each section's start."""
    return [TimedText(s.start_s, s.tag) for s in sections]


def song_midi(song: Song, grid: BeatGrid, accompaniment: Sequence[Note] = (), ppq: int = PPQ) -> mido.MidiFile:
    """The song's MIDI file: its vocal notes with lyrics, accompaniment notes, section markers, its beats."""
    parts = [MidiPart(VOCALS_TRACK, list(song.vocal_notes), channel=0, program=VOCALS_PROGRAM,
                      lyrics=word_lyrics(song.vocal_notes, song.words))]
    if accompaniment:
        parts.append(MidiPart(ACCOMPANIMENT_TRACK, list(accompaniment), channel=1, program=ACCOMPANIMENT_PROGRAM))
    return build_midi(grid.tempo_map(ppq), parts, markers=section_markers(song.sections),
                      time_signatures=grid.time_signatures(ppq), title=song.id, end_s=song.duration_s)


def write_midi(path: str | Path, midi: mido.MidiFile) -> Path:
    """Save atomically (temp file + rename), like the stems: a crash never leaves half a file."""
    with atomic_path(path) as tmp, open(tmp, "xb") as fh:
        midi.save(file=fh)
    return Path(path)


@dataclass
class MidiContents:
    """What a MIDI file holds, in seconds through its own tempo map: for round trips and users' scripts."""

    ticks_per_beat: int
    tempo_map: TempoMap
    notes: dict[str, list[Note]]  # track name -> notes by onset (velocity from the file, word -1)
    markers: list[TimedText]
    lyrics: list[TimedText]
    time_signatures: list[TimeSignature]
    title: str = ""

    def tempo_changes(self) -> list[tuple[float, float]]:
        """``(time_s, bpm)`` at every ``set_tempo``."""
        return [(self.tempo_map.ticks_to_seconds(c.tick), 60 * _US_PER_S / c.tempo_us) for c in self.tempo_map.changes]


def read_midi(path: str | Path, skip_channels: tuple[int, ...] = ()) -> MidiContents:
    """Read any type 0/1 Standard MIDI File (ours or a DAW's) into seconds.

    Notes are keyed by track name; an unnamed track is ``track<i>``, a repeated name gets its index appended.
    Notes on ``skip_channels`` (0-based, e.g. 9 for General MIDI drums) are left out.
    """
    midi = mido.MidiFile(str(path))
    tempos: dict[int, int] = {}
    signatures: dict[int, TimeSignature] = {}
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos[tick] = msg.tempo
            elif msg.type == "time_signature":
                signatures[tick] = TimeSignature(tick, msg.numerator, msg.denominator)
    tempos.setdefault(0, mido.bpm2tempo(120))  # the SMF default until the first set_tempo
    tempo_map = TempoMap([TempoChange(t, tempos[t]) for t in sorted(tempos)], midi.ticks_per_beat)
    notes: dict[str, list[Note]] = {}
    markers: list[TimedText] = []
    lyrics: list[TimedText] = []
    title = ""
    for i, track in enumerate(midi.tracks):
        name, tick = "", 0
        sounding: dict[tuple[int, int], list[tuple[int, int]]] = {}
        found: list[Note] = []
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = msg.name
            elif msg.type == "marker":
                markers.append(TimedText(tempo_map.ticks_to_seconds(tick), msg.text))
            elif msg.type == "lyrics":
                lyrics.append(TimedText(tempo_map.ticks_to_seconds(tick), msg.text))
            elif msg.type in ("note_on", "note_off") and msg.channel in skip_channels:
                continue
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_on", "note_off") and sounding.get((msg.channel, msg.note)):
                on, velocity = sounding[(msg.channel, msg.note)].pop(0)
                found.append(Note(tempo_map.ticks_to_seconds(on), tempo_map.ticks_to_seconds(tick), msg.note, velocity))
        if i == 0 and midi.type == 1 and not found:
            title = name
            continue
        if found:
            key = name if name and name not in notes else f"{name or 'track'}{i}"  # names need not be unique
            notes[key] = sorted(found, key=lambda n: (n.start_s, n.pitch))
    return MidiContents(midi.ticks_per_beat, tempo_map, notes, sorted(markers, key=lambda m: m.time_s),
                        sorted(lyrics, key=lambda m: m.time_s), [signatures[t] for t in sorted(signatures)], title)
