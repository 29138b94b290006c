"""transcribe: what is sung, with word times and the language: Whisper hears the mix where the vocal stem sings.

Options (``PrepConfig.stage_options["transcribe"]``): ``model`` (``auto``, ``faster-whisper:large-v3``,
``whisper:base``, ...; "auto" is resolved before the config is hashed, so provenance names the model
that ran), ``local_path`` (explicit weights), ``beam_size``, ``reference_songs`` (``skip``, the default:
songs with reference lyrics are not transcribed, because the Whisper aligner needs no transcript and
transcription is most of the chain's time; ``transcribe``: they are, for the guide aligner's ASR
anchors), ``hear`` (``prep --asr-hears``; ``mix``, the default: Whisper hears the mix, but only the spans
where the vocal stem's voice activity says someone sings; ``stem``: it hears the vocal stem). The mix is
what Whisper was trained on; a separated stem carries artefacts it has not heard. On the 4 real dev songs
(faster-whisper base, Spleeter stems) the mix so gated gives WER 0.580 / CER 0.248 against the stem's
0.645 / 0.369 (bench/RESULTS.md, real_songs).
Without a vocal stem (no separation) the mix gates itself. ``--language`` forces the language. Decoding
never samples (temperature 0): see :mod:`songprep.transcription.base`.

The transcript goes to ``item.features["transcript"]`` (the align stage uses its words as anchors).
A song without reference lyrics also gets its ``words``, ``lyrics`` (a line per Whisper phrase or
pause of a second or more) and ``lyrics_source="transcript"`` from it.
"""

from __future__ import annotations

from typing import Any

from songprep.errors import RejectError, UsageError
from songprep.records import StageProvenance
from songprep.stages.base import Resources, SongItem, Stage, StageContext

KNOWN_OPTIONS = ("model", "local_path", "beam_size", "reference_songs", "decoding", "min_confidence", "hear")
REFERENCE_SONGS = ("skip", "transcribe")
DEFAULT_HEAR = "mix"


class LowConfidenceError(RejectError):
    """A transcript too unreliable to become training lyrics (``--min-lyrics-confidence``)."""


def transcript_confidence(transcript) -> float | None:
    """The median probability of the transcript's words (None when nothing was heard: an instrumental)."""
    if not transcript.words:
        return None
    import numpy as np

    return round(float(np.median([w.score for w in transcript.words])), 4)


class TranscribeStage(Stage):
    """Whisper with VAD gating and loop removal; the model is loaded once per worker."""

    name = "transcribe"
    reads = ("audio",)
    writes = ("language", "transcript")
    resources = Resources(gpu=True)

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        from songprep.transcription import resolve_transcriber_name

        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option(s) for stage transcribe: {', '.join(unknown)}; "
                             f"known: {', '.join(KNOWN_OPTIONS)}")
        from songprep.transcription.base import DECODING

        reference_songs = options.get("reference_songs", "skip")
        if reference_songs not in REFERENCE_SONGS:
            raise UsageError(f"transcribe: reference_songs must be one of {', '.join(REFERENCE_SONGS)}, "
                             f"got {reference_songs!r}")
        from songprep.transcription import HEAR

        hear = options.get("hear", DEFAULT_HEAR)
        if hear not in HEAR:
            raise UsageError(f"transcribe: hear must be one of {', '.join(HEAR)}, got {hear!r}")
        # decoding is recorded so that the hash (resume, provenance) changes if how we decode ever does
        return {**options, "model": resolve_transcriber_name(options.get("model", "auto")),
                "reference_songs": reference_songs, "decoding": DECODING, "hear": hear}

    def setup(self, ctx: StageContext) -> None:
        from songprep.transcription import load_transcriber

        super().setup(ctx)
        options = self.resolve_options(self.options)
        self.transcriber = load_transcriber(options["model"], ctx.device, options.get("local_path"),
                                            beam_size=int(options.get("beam_size", 5)))

    def process(self, item: SongItem) -> SongItem:
        if getattr(self, "transcriber", None) is None:
            raise RuntimeError("stage transcribe used before setup()")
        if item.audio is None:
            raise RejectError("transcribe: no decoded audio (the decode stage must run first)")
        if item.reference_lines and self.options.get("reference_songs", "skip") == "skip":
            return item
        from songprep.transcription import what_whisper_hears

        vocals = item.stems.get("vocals")
        heard, gate_on = what_whisper_hears(item.audio, vocals, self.options.get("hear", DEFAULT_HEAR))
        # "mix" when no separation ran: weaker, and said so
        source = "mix" if vocals is None else "mix gated by vocals" if gate_on is not None else "vocals"
        transcript = self.transcriber.transcribe(heard, self.config.language or None, gate_on=gate_on)
        item.features["transcript"] = transcript
        item.features["transcript_source"] = source
        song = item.song
        if not song.language and transcript.language:
            song.language = transcript.language
        if item.reference_lines is None:
            song.words = [w for w in transcript.words]
            for w in song.words:
                w.section = -1
            song.lyrics = "\n".join(line for line in transcript.line_texts() if line)
            song.lyrics_source = "transcript"
            song.lyrics_confidence = transcript_confidence(transcript)
            floor = float(self.options.get("min_confidence") or 0.0)
            if song.lyrics_confidence is not None and song.lyrics_confidence < floor:
                raise LowConfidenceError(f"transcribe: transcript confidence {song.lyrics_confidence:.2f} is below "
                                         f"--min-lyrics-confidence {floor:g} (give reference lyrics, or lower it)")
        return item

    def provenance(self) -> StageProvenance:
        transcriber = getattr(self, "transcriber", None)
        if transcriber is None:
            return StageProvenance(self.name, self.options.get("model", ""), "")
        return StageProvenance(self.name, transcriber.name, transcriber.version)
