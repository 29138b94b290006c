"""A deterministic song plan: form, key, tempo, arrangement (MIDI notes) and the sung melody.

Everything is drawn from ``numpy.random.default_rng(seed)``, so a (seed, language, form) triple
always gives the same plan. Times are in beats here; :mod:`songprep.testing.render` turns them
into samples. Each section label has one arrangement (a :class:`Part`), so repeated choruses are
note-for-note identical; verses share a tune but get fresh lyrics; choruses repeat their lyrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songprep.testing.truth import Instrument
from songprep.testing.vocab import LyricWord, join_line, make_line

BEATS_PER_BAR = 4
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = (
    ("C", "major"), ("D", "major"), ("E", "major"), ("F", "major"), ("G", "major"), ("A", "major"),
    ("Bb", "major"), ("A", "minor"), ("E", "minor"), ("D", "minor"), ("B", "minor"), ("C", "minor"),
    ("G", "minor"), ("F#", "minor"),
)
#: Tempi whose beat is a whole number of samples at 44.1 kHz (2646000 / bpm), so every beat,
#: section and word slot lands on an exact sample.
TEMPI = {"short": (105, 108, 112, 120, 126), "full": (90, 98, 100, 105, 108, 112, 120, 126, 135, 140)}
#: (label, bars); the short form's intro and outro lengths are drawn from (1, 2).
FORMS = {
    "short": (("intro", 2), ("verse", 4), ("chorus", 4), ("verse", 4), ("chorus", 4), ("outro", 2)),
    "full": (
        ("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8),
        ("inst", 4), ("bridge", 4), ("chorus", 8), ("outro", 4),
    ),
}
VOCAL_LABELS = ("verse", "chorus", "bridge")

# General MIDI programs by role (channel 9 is the drum kit).
KEYS_PROGRAMS = {0: "Acoustic Grand Piano", 1: "Bright Acoustic Piano", 4: "Electric Piano 1",
                 24: "Acoustic Guitar (nylon)", 25: "Acoustic Guitar (steel)", 16: "Drawbar Organ"}
PAD_PROGRAMS = {48: "String Ensemble 1", 49: "String Ensemble 2", 50: "Synth Strings 1",
                88: "Pad 1 (new age)", 89: "Pad 2 (warm)"}
BASS_PROGRAMS = {32: "Acoustic Bass", 33: "Electric Bass (finger)", 34: "Electric Bass (pick)", 38: "Synth Bass 1"}
LEAD_PROGRAMS = {73: "Flute", 65: "Alto Sax", 80: "Lead 1 (square)", 27: "Electric Guitar (clean)",
                 71: "Clarinet", 56: "Trumpet"}
CH_KEYS, CH_PAD, CH_BASS, CH_LEAD, CH_DRUMS = 0, 1, 2, 3, 9
KICK, STICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH, RIDE, TOM_HI, TOM_LO = 36, 37, 38, 42, 46, 49, 51, 50, 45

#: Chord progressions (scale degrees, one chord a bar) per mode and section role.
PROGRESSIONS = {
    "major": {
        "verse": ((0, 5, 3, 4), (0, 3, 5, 4), (5, 3, 0, 4), (0, 4, 5, 3)),
        "chorus": ((3, 4, 0, 5), (3, 0, 4, 5), (0, 4, 5, 3), (3, 4, 2, 5)),
        "bridge": ((5, 3, 1, 4), (1, 4, 0, 5), (2, 5, 1, 4)),
        "outro": ((5, 3, 4, 0),),
    },
    "minor": {
        "verse": ((0, 5, 2, 6), (0, 3, 6, 2), (0, 6, 5, 6), (0, 3, 4, 0)),
        "chorus": ((5, 6, 0, 0), (5, 2, 6, 0), (3, 6, 2, 5), (2, 6, 0, 5)),
        "bridge": ((3, 4, 5, 6), (5, 3, 6, 4), (3, 0, 6, 4)),
        "outro": ((3, 5, 6, 0),),
    },
}

#: Rhythms of a two-bar sung line: (onset, length) in beats; each ends with at least a beat of rest.
LINE_RHYTHMS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 1), (1, 1), (2, 1), (3, 1), (4, 2)),
    ((0, 1), (1, 1), (2, 2), (4, 1), (5, 1), (6, 1)),
    ((0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)),
    ((0, 2), (2, 1), (3, 1), (4, 2)),
    ((0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 2)),
    ((0, 2), (2, 2), (4, 1), (5, 1), (6, 1)),
)
#: Rhythms of a four-bar bridge line: a word every two beats.
BRIDGE_RHYTHMS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 2), (2, 2), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2)),
    ((0, 2), (2, 2), (4, 2), (6, 4), (10, 2), (12, 2)),
)
#: Melody range (scale degrees from the tonic) per section: choruses sit higher.
MELODY_RANGE = {"verse": (-2, 4), "chorus": (0, 6), "bridge": (-1, 5)}
#: espeak-ng voice variants and the MIDI pitch their ``-p 50`` speaks at (measured, coarse).
VOICE_VARIANTS = {"m3": 42.5, "f3": 55.0}
ESPEAK_VOICES = {"en": "en-us", "es": "es", "zh": "cmn-latn-pinyin"}


@dataclass(frozen=True)
class NoteEvent:
    """A MIDI note, in beats from the start of its part."""

    start_beat: float
    dur_beats: float
    pitch: int
    velocity: int
    channel: int


@dataclass
class Part:
    """The arrangement of one section label; every occurrence of the label plays it unchanged (unless a
    section names another part, see :func:`vary_last_chorus`). ``transpose`` is in semitones from the key."""

    label: str
    bars: int
    chords: tuple[int, ...]
    notes: list[NoteEvent]
    transpose: int = 0


@dataclass(frozen=True)
class SungNote:
    """One sung word: onset and slot length in beats from its section's start, and MIDI pitch."""

    word: LyricWord
    start_beat: int
    dur_beats: int
    pitch: int


@dataclass
class SectionPlan:
    label: str
    start_bar: int
    bars: int
    lines: list[list[SungNote]] = field(default_factory=list)
    part: str = ""  # the key of the part it plays in SongPlan.parts; "" = its label

    @property
    def part_key(self) -> str:
        return self.part or self.label


@dataclass
class SongPlan:
    """All musical decisions for one song; rendering adds only audio."""

    seed: int
    language: str
    form: str
    tempo_bpm: int
    tonic: int
    mode: str
    voice: str
    voice_base_midi: float
    espeak_speed: int
    vocal_to_accompaniment_db: float
    instruments: list[Instrument]
    sections: list[SectionPlan]
    parts: dict[str, Part]

    @property
    def key(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def total_bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo_bpm

    def line_text(self, line: list[SungNote]) -> str:
        return join_line(self.language, [n.word for n in line])


def degree_pitch(tonic_midi: int, mode: str, degree: int) -> int:
    """MIDI pitch of a scale degree (0 = tonic; may be negative or above 6)."""
    octave, idx = divmod(degree, 7)
    return tonic_midi + 12 * octave + SCALES[mode][idx]


def chord_pitch_classes(tonic: int, mode: str, degree: int) -> tuple[int, int, int]:
    """Pitch classes of the diatonic triad on ``degree``: root, third, fifth."""
    return tuple((tonic + degree_pitch(0, mode, degree + k)) % 12 for k in (0, 2, 4))  # type: ignore[return-value]


def chord_name(tonic: int, mode: str, degree: int) -> str:
    root, third, fifth = chord_pitch_classes(tonic, mode, degree)
    third_iv, fifth_iv = (third - root) % 12, (fifth - root) % 12
    suffix = "" if third_iv == 4 else ("dim" if fifth_iv == 6 else "m")
    return NOTE_NAMES[root] + suffix


def _in_range(pitch_class: int, low: int) -> int:
    """The pitch of ``pitch_class`` in the octave starting at ``low``."""
    return low + (pitch_class - low) % 12


def _pick(rng: np.random.Generator, options: dict[int, str] | tuple) -> object:
    items = list(options)
    return items[int(rng.integers(len(items)))]


# --- arrangement -------------------------------------------------------------------------------


@dataclass
class _Style:
    """Per-song choices shared by all parts."""

    tonic: int
    mode: str
    keys_pattern: str
    bass_pattern: str
    lead_tonic: int


def _chord_notes(style: _Style, degree: int, low: int) -> list[int]:
    return sorted(_in_range(pc, low) for pc in chord_pitch_classes(style.tonic, style.mode, degree))


def _keys(style: _Style, label: str, bar: int, degree: int, last_bar: bool) -> list[NoteEvent]:
    chord = _chord_notes(style, degree, 55)
    t0 = bar * BEATS_PER_BAR
    ev: list[NoteEvent] = []
    if label in ("intro", "outro", "bridge"):
        length = BEATS_PER_BAR - (0.5 if last_bar and label == "outro" else 0)
        steps = [(0, length)] if label != "bridge" else [(0, 2), (2, 2)]
        vel = 58 if label != "bridge" else 64
        ev += [NoteEvent(t0 + s, d, p, vel, CH_KEYS) for s, d in steps for p in chord]
    elif label == "verse":
        if style.keys_pattern == "arpeggio":
            order = [0, 1, 2, 1, 0, 1, 2, 1]
            ev += [NoteEvent(t0 + i * 0.5, 0.5, chord[o] + (12 if i == 2 else 0), 76, CH_KEYS)
                   for i, o in enumerate(order)]
        else:
            ev += [NoteEvent(t0 + s, 1.5, p, 72, CH_KEYS) for s in (0, 2) for p in chord]
    else:  # chorus, inst: a chord on every beat, accents on 1 and 3
        ev += [NoteEvent(t0 + b, 0.9, p, 86 if b % 2 == 0 else 74, CH_KEYS)
               for b in range(BEATS_PER_BAR) for p in chord + [chord[0] + 12]]
    return ev


def _pad(style: _Style, label: str, bar: int, degree: int, last_bar: bool) -> list[NoteEvent]:
    if label not in ("chorus", "inst", "bridge", "outro", "intro"):
        return []
    if label == "intro" and bar == 0:
        return []
    vel = {"chorus": 70, "inst": 70, "bridge": 66}.get(label, 54)
    length = BEATS_PER_BAR - (0.5 if last_bar and label == "outro" else 0)
    pitches = _chord_notes(style, degree, 62)
    return [NoteEvent(bar * BEATS_PER_BAR, length, p, vel, CH_PAD) for p in pitches]


def _bass(style: _Style, label: str, bar: int, degree: int, last_bar: bool) -> list[NoteEvent]:
    root = _in_range(chord_pitch_classes(style.tonic, style.mode, degree)[0], 33)
    fifth = _in_range(chord_pitch_classes(style.tonic, style.mode, degree)[2], root)
    t0 = bar * BEATS_PER_BAR
    if label == "intro":
        return [] if bar == 0 else [NoteEvent(t0, 4, root, 70, CH_BASS)]
    if label in ("outro", "bridge"):
        return [NoteEvent(t0, 4 - (0.5 if last_bar and label == "outro" else 0), root, 78, CH_BASS)]
    if label == "verse":
        if style.bass_pattern == "drive":
            return [NoteEvent(t0 + s, 0.9, root, 90, CH_BASS) for s in (0, 1, 2, 3)]
        return [NoteEvent(t0, 1.5, root, 92, CH_BASS), NoteEvent(t0 + 1.5, 0.5, root, 80, CH_BASS),
                NoteEvent(t0 + 2, 2, fifth, 88, CH_BASS)]
    # chorus / inst: driving eighths with an octave on the "and" of 4
    ev = [NoteEvent(t0 + i * 0.5, 0.45, root, 96 if i % 2 == 0 else 84, CH_BASS) for i in range(7)]
    return ev + [NoteEvent(t0 + 3.5, 0.45, root + 12, 90, CH_BASS)]


def _drums(label: str, bar: int, bars: int) -> list[NoteEvent]:
    t0 = bar * BEATS_PER_BAR
    last = bar == bars - 1

    def hits(note: int, beats: list[float], vel: int) -> list[NoteEvent]:
        return [NoteEvent(t0 + b, 0.25, note, vel, CH_DRUMS) for b in beats]

    if label == "intro":
        return hits(CLOSED_HAT, [0, 1, 2, 3], 58) + hits(KICK, [0], 70)
    if label == "outro":
        if last:
            return hits(CRASH, [0], 96) + hits(KICK, [0], 100)
        return hits(RIDE, [0, 1, 2, 3], 70) + hits(KICK, [0, 2], 85) + hits(STICK, [1, 3], 70) + (
            hits(CRASH, [0], 90) if bar == 0 else [])
    if label == "bridge":
        return hits(RIDE, [0, 1, 2, 3], 72) + hits(KICK, [0], 90) + hits(SNARE, [2], 92)
    if label == "verse":
        ev = hits(CLOSED_HAT, [i * 0.5 for i in range(8)], 66) + hits(KICK, [0, 2, 2.5], 96)
        if last:
            return ev + hits(STICK, [1], 84) + hits(SNARE, [3, 3.25, 3.5, 3.75], 90)
        return ev + hits(STICK, [1, 3], 84)
    # chorus / inst: open hats, strong backbeat, crash on the section's first downbeat
    ev = hits(OPEN_HAT, [i * 0.5 for i in range(8)], 78) + hits(KICK, [0, 1.5, 2], 104)
    ev += hits(SNARE, [1, 3], 108) + (hits(CRASH, [0], 100) if bar % 4 == 0 else [])
    if last:
        ev += hits(TOM_HI, [3.5], 92) + hits(TOM_LO, [3.75], 92)
    return ev


def _lead(style: _Style, tune: list[list[SungNote]], bars: int) -> list[NoteEvent]:
    """The instrumental break plays the chorus tune on a lead instrument, moved up to its register."""
    ev = []
    for line in tune:
        for n in line:
            if n.start_beat >= bars * BEATS_PER_BAR:
                return ev
            pitch = n.pitch + 12 * round((style.lead_tonic + 4 - n.pitch) / 12)
            ev.append(NoteEvent(n.start_beat, n.dur_beats * 0.9, pitch, 92, CH_LEAD))
    return ev


def _part(style: _Style, label: str, bars: int, progression: tuple[int, ...],
          chorus_tune: list[list[SungNote]] | None = None) -> Part:
    chords = tuple(progression[b % len(progression)] for b in range(bars))
    notes: list[NoteEvent] = []
    for bar, degree in enumerate(chords):
        last = bar == bars - 1
        notes += _keys(style, label, bar, degree, last)
        notes += _pad(style, label, bar, degree, last)
        notes += _bass(style, label, bar, degree, last)
        notes += _drums(label, bar, bars)
    if label == "inst" and chorus_tune:
        notes += _lead(style, chorus_tune, bars)
    notes.sort(key=lambda n: (n.start_beat, n.channel, n.pitch))
    return Part(label, bars, chords, notes)


# --- melody and lyrics -------------------------------------------------------------------------


def _chord_tone_near(degree: int, chord_root: int, low: int, high: int) -> int:
    tones = [d for d in range(low, high + 1) if (d - chord_root) % 7 in (0, 2, 4)]
    return min(tones, key=lambda d: (abs(d - degree), d))


_STEPS = (-3, -2, -1, 0, 1, 2, 3)
_STEP_P = (0.05, 0.17, 0.28, 0.06, 0.28, 0.11, 0.05)


def _tune(rng: np.random.Generator, rhythm: tuple[tuple[int, int], ...], chords: tuple[int, ...],
          degree_range: tuple[int, int]) -> list[tuple[int, int, int]]:
    """(onset, length, scale degree) per word: a stepwise walk that lands on chord tones on strong beats."""
    low, high = degree_range
    degree = int(rng.integers(low, high + 1))
    out = []
    for i, (onset, length) in enumerate(rhythm):
        chord = chords[(onset // BEATS_PER_BAR) % len(chords)]
        if i:
            step = int(rng.choice(_STEPS, p=_STEP_P))
            degree += step if low <= degree + step <= high else -step  # bounce off the range's edges
        if onset % 2 == 0 or i == len(rhythm) - 1:
            degree = _chord_tone_near(degree, chord, low, high)
        out.append((onset, length, degree))
    return out


@dataclass
class _Tune:
    """A section's melody: per line, (onset in section beats, length, scale degree) per word."""

    lines: list[list[tuple[int, int, int]]]


def _section_tune(rng: np.random.Generator, label: str, bars: int, chords: tuple[int, ...]) -> _Tune:
    if label == "bridge":
        choice = [int(rng.integers(len(BRIDGE_RHYTHMS))) for _ in range(max(1, bars // 4))]
        table, span = BRIDGE_RHYTHMS, 16
    else:
        a, b, c = (int(i) for i in rng.choice(len(LINE_RHYTHMS), 3, replace=False))
        choice = [a, b, a, c] if bars >= 8 else [a, b]
        table, span = LINE_RHYTHMS, 8
    motifs: dict[int, list[tuple[int, int, int]]] = {}
    lines = []
    for i, r in enumerate(choice):
        first_bar = i * span // BEATS_PER_BAR
        line_chords = tuple(chords[(first_bar + k) % len(chords)] for k in range(span // BEATS_PER_BAR))
        if r not in motifs:  # a repeated rhythm repeats its tune (AB AC)
            motifs[r] = _tune(rng, table[r], line_chords, MELODY_RANGE[label])
        lines.append([(i * span + onset, length, deg) for onset, length, deg in motifs[r]])
    return _Tune(lines)


def _sing(rng: np.random.Generator, plan_lang: str, tune: _Tune, melody_tonic: int, mode: str,
          used: set[str]) -> list[list[SungNote]]:
    """Lyrics for one occurrence of a tune, never reusing a line already sung in the song."""
    lines = []
    for notes in tune.lines:
        for _ in range(200):
            words = make_line(rng, plan_lang, len(notes))
            text = join_line(plan_lang, words)
            if text not in used:
                break
        used.add(text)
        lines.append([SungNote(w, onset, length, degree_pitch(melody_tonic, mode, deg))
                      for w, (onset, length, deg) in zip(words, notes)])
    return lines


# --- the plan ----------------------------------------------------------------------------------


def compose(seed: int, language: str, form: str = "short") -> SongPlan:
    """The full plan of a song; the same arguments always give the same plan."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; expected one of {tuple(FORMS)}")
    if language not in ESPEAK_VOICES:
        raise ValueError(f"unknown language {language!r}; expected one of {tuple(ESPEAK_VOICES)}")
    rng = np.random.default_rng(seed)
    tempo = int(_pick(rng, TEMPI[form]))
    tonic_name, mode = _pick(rng, KEYS)  # type: ignore[misc]
    tonic = NOTE_NAMES.index(tonic_name)
    variant = str(_pick(rng, tuple(VOICE_VARIANTS)))
    base = VOICE_VARIANTS[variant]
    # Centre the melody (about 3.5 semitones above the tonic) on the voice's comfortable -p range.
    melody_tonic = _in_range(tonic, int(round(base - 7.5)))
    keys_prog, pad_prog, bass_prog, lead_prog = (
        int(_pick(rng, table)) for table in (KEYS_PROGRAMS, PAD_PROGRAMS, BASS_PROGRAMS, LEAD_PROGRAMS))
    style = _Style(tonic, mode, str(_pick(rng, ("arpeggio", "halves"))), str(_pick(rng, ("drive", "halves"))),
                   _in_range(tonic, 64))

    layout = [(label, bars) for label, bars in FORMS[form]]
    if form == "short":
        layout[0] = ("intro", int(rng.integers(1, 3)))
        layout[-1] = ("outro", int(rng.integers(1, 3)))

    progs = PROGRESSIONS[mode]
    verse_p = progs["verse"][int(rng.integers(len(progs["verse"])))]
    chorus_choices = [p for p in progs["chorus"] if p != verse_p]
    chorus_p = chorus_choices[int(rng.integers(len(chorus_choices)))]
    bridge_choices = [p for p in progs["bridge"] if p not in (verse_p, chorus_p)]
    bridge_p = bridge_choices[int(rng.integers(len(bridge_choices)))]
    outro_cadence = progs["outro"][0]
    progression = {"intro": verse_p, "verse": verse_p, "chorus": chorus_p, "inst": chorus_p, "bridge": bridge_p}

    bars_of = dict(layout)
    tunes = {label: _section_tune(rng, label, bars_of[label], progression[label])
             for label in VOCAL_LABELS if label in bars_of}

    used: set[str] = set()
    sung: dict[str, list[list[SungNote]]] = {}
    sections: list[SectionPlan] = []
    bar = 0
    for label, bars in layout:
        section = SectionPlan(label, bar, bars)
        if label == "verse":
            section.lines = _sing(rng, language, tunes[label], melody_tonic, mode, used)
        elif label in VOCAL_LABELS:  # choruses (and the bridge) repeat their lyrics
            if label not in sung:
                sung[label] = _sing(rng, language, tunes[label], melody_tonic, mode, used)
            section.lines = sung[label]
        sections.append(section)
        bar += bars

    chorus_tune = sung.get("chorus")
    parts: dict[str, Part] = {}
    for label, bars in layout:
        if label in parts:
            continue
        prog = outro_cadence[-bars:] if label == "outro" and bars <= 4 else progression.get(label, outro_cadence)
        parts[label] = _part(style, label, bars, prog, chorus_tune)

    instruments = [
        Instrument("keys", CH_KEYS, keys_prog, KEYS_PROGRAMS[keys_prog]),
        Instrument("pad", CH_PAD, pad_prog, PAD_PROGRAMS[pad_prog]),
        Instrument("bass", CH_BASS, bass_prog, BASS_PROGRAMS[bass_prog]),
        Instrument("drums", CH_DRUMS, 0, "Standard Drum Kit"),
    ]
    if "inst" in bars_of:
        instruments.insert(3, Instrument("lead", CH_LEAD, lead_prog, LEAD_PROGRAMS[lead_prog]))

    beat_s = 60.0 / tempo
    speed = int(np.clip(round(175 * 0.42 / (0.72 * beat_s)), 120, 260))
    return SongPlan(
        seed=seed, language=language, form=form, tempo_bpm=tempo, tonic=tonic, mode=mode,
        voice=f"{ESPEAK_VOICES[language]}+{variant}", voice_base_midi=base, espeak_speed=speed,
        vocal_to_accompaniment_db=round(float(rng.uniform(-3.0, 0.0)), 2),
        instruments=instruments, sections=sections, parts=parts,
    )


def vary_last_chorus(plan: SongPlan, semitones: int = 2) -> SongPlan:
    """The same song with its last chorus changed as real songs change it: sung and played ``semitones``
    higher (the closing key change), with a new drum groove (ride and four-on-the-floor instead of open
    hats) and the last word of every line sung to a fresh word (an ad-lib). The other sections are untouched.
    """
    import copy

    varied = copy.deepcopy(plan)
    last = max((s for s in varied.sections if s.label == "chorus"), key=lambda s: s.start_bar)
    base = varied.parts["chorus"]
    key = f"chorus{semitones:+d}"
    notes = []
    for n in base.notes:
        if n.channel != CH_DRUMS:
            notes.append(NoteEvent(n.start_beat, n.dur_beats, n.pitch + semitones, n.velocity, n.channel))
        elif n.pitch == OPEN_HAT:
            notes.append(NoteEvent(n.start_beat, n.dur_beats, RIDE, n.velocity - 8, n.channel))
        elif n.pitch != KICK:
            notes.append(n)
    notes += [NoteEvent(beat, 0.25, KICK, 100, CH_DRUMS) for beat in range(base.bars * BEATS_PER_BAR)]
    notes.sort(key=lambda n: (n.start_beat, n.channel, n.pitch))
    varied.parts[key] = Part("chorus", base.bars, base.chords, notes, base.transpose + semitones)
    last.part = key
    rng = np.random.default_rng(plan.seed + 1)
    used = {plan.line_text(line) for s in plan.sections for line in s.lines}
    lines = []
    for line in last.lines:
        words = [n.word for n in line]
        for _ in range(200):  # a last word the song has not sung at the end of this line
            words[-1] = make_line(rng, plan.language, len(words))[-1]
            if join_line(plan.language, words) not in used:
                break
        lines.append([SungNote(w, n.start_beat, n.dur_beats, n.pitch + semitones) for w, n in zip(words, line)])
    last.lines = lines
    return varied


def swing(plan: SongPlan, ratio: float = 2 / 3) -> SongPlan:
    """The same song played with swung eighths: every note on an off-beat eighth moves to ``ratio`` of its
    beat (2/3: the triplet swing of jazz and shuffle), and the eighth before it stretches to meet it. Beats
    and bars stay where they were, so the truth's beat grid is unchanged; sung words are on the beat.
    """
    import copy

    swung = copy.deepcopy(plan)
    late = ratio - 0.5
    for part in swung.parts.values():
        notes = []
        for n in part.notes:
            phase = n.start_beat % 1.0
            start, dur = n.start_beat, n.dur_beats
            if abs(phase - 0.5) < 1e-9:
                start, dur = start + late, max(dur - late, 0.05)
            elif abs(phase) < 1e-9 and min(abs(dur - 0.45), abs(dur - 0.5)) < 1e-9:
                dur = dur + late  # an on-beat eighth lasts until the late off-beat
            notes.append(NoteEvent(start, dur, n.pitch, n.velocity, n.channel))
        part.notes = sorted(notes, key=lambda n: (n.start_beat, n.channel, n.pitch))
    return swung
