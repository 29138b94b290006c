"""align: time the reference lyrics in the vocal (words + alignment_coverage), or reject the song.

Acts only on songs with reference text (``item.reference_lines``); songs without it keep the
transcript's words. Options: ``method`` (auto|whisper|guide|sphinx|ctc|asr; auto is ``whisper`` when a
multilingual openai-whisper model is on this machine, else ``guide``) and ``model`` (auto or
``whisper:<variant>``, resolved before the config is hashed). The whisper method listens to the mix
and takes pauses from the separated vocal stem; the others align the stem (else the mix). ASR words
from ``transcribe`` (``item.features["transcript"]``), when present, serve the guide as anchors.

The language is ``--language``, else the transcript's, else decided from the lyrics text and the voice
together (:mod:`songprep.language`), and is recorded; it never falls back to English silently.

A text that does not match its audio (a wrong lyrics file: too few words anchored, or a match
no better than chance) is rejected with the reason, rather than written with invented times or
without words: a corpus builder wants to see and fix such a pairing, and a row with timed lyrics
that are not sung would teach a model the wrong thing.
"""

from __future__ import annotations

import shutil
from typing import Any

from songprep.alignment import METHODS, align_lyrics
from songprep.errors import RejectError, UsageError
from songprep.records import StageProvenance
from songprep.stages.base import SongItem, Stage, StageContext

#: What each method runs on, for provenance.
_MODELS = {"guide": "espeak-ng guide + DTW", "sphinx": "pocketsphinx:en-us", "ctc": "torchaudio:MMS_FA",
           "asr": "transcript anchors"}
KNOWN_OPTIONS = ("method", "model")


class LyricsMismatchError(RejectError):
    """The reference lyrics do not match the audio (e.g. another song's lyrics file)."""


class AlignStage(Stage):
    """Aligns reference lyrics; options: ``method`` (auto|guide|sphinx|ctc|asr, default auto)."""

    name = "align"
    reads = ("audio",)
    writes = ("words", "alignment_coverage")

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        from songprep.alignment.whisper_fa import resolve_model_name

        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option(s) for stage align: {', '.join(unknown)}; "
                             f"known: {', '.join(KNOWN_OPTIONS)}")
        method = options.get("method", "auto")
        if method not in METHODS:
            raise UsageError(f"align: unknown method {method!r}; expected one of {METHODS}")
        model = options.get("model", "auto")
        if method == "auto":
            model = resolve_model_name(model, required=False)
            method = "whisper" if model else "guide"
        elif method == "whisper":
            model = resolve_model_name(model, required=True)
        resolved = {**options, "method": method}
        if method == "whisper":
            resolved["model"] = model
        else:
            resolved.pop("model", None)
        return resolved

    def setup(self, ctx: StageContext) -> None:
        super().setup(ctx)
        options = self.resolve_options(self.options)
        self.method = options["method"]
        self.model = None
        if self.method == "whisper":
            from songprep.alignment.whisper_fa import load_model

            self.model_name = options["model"]
            self.model = load_model(self.model_name, ctx.device)
        if self.method == "guide" and shutil.which("espeak-ng") is None:
            raise UsageError("align: espeak-ng is not installed (the guide aligner voices the lyrics with it); "
                             "install it (apt-get install espeak-ng) or choose method sphinx/ctc")
        if self.method == "ctc":  # one model load per worker
            from songprep.alignment.ctc import load_mms_fa

            self.model = load_mms_fa(ctx.device)

    def process(self, item: SongItem) -> SongItem:
        if not item.reference_lines:
            return item
        if item.audio is None:
            raise RejectError("align: no decoded audio (the decode stage must run first)")
        transcript = item.features.get("transcript")
        song = item.song
        vocals = item.stems.get("vocals", item.audio)
        language = self.config.language or song.language or getattr(transcript, "language", None)
        if not language:
            language = self._detect_language(item.reference_lines, item.audio, vocals)
        song.language = language
        asr_words = list(getattr(transcript, "words", None) or [])
        if self.method == "whisper":
            from songprep.alignment import align_with_whisper

            mix = item.audio if "vocals" in item.stems else None
            alignment = align_with_whisper(item.reference_lines, vocals, language, self.model, mix=mix)
        elif self.method == "ctc":
            from songprep.alignment import to_16k
            from songprep.alignment.ctc import align_ctc
            from songprep.alignment.normalise import reference_words

            mono = to_16k(vocals)
            alignment = align_ctc(reference_words(item.reference_lines, language), mono, language, None,
                                  model=self.model, device=self.ctx.device if self.ctx else "cpu")
        else:
            alignment = align_lyrics(item.reference_lines, vocals, language, asr_words or None, self.method)
        if alignment.flagged:
            raise LyricsMismatchError(f"lyrics do not match the audio: {alignment.reason}")
        for word in alignment.words:
            word.section = -1  # the structure stage assigns sections
        song.words = alignment.words
        song.alignment_coverage = alignment.coverage
        song.lyrics_confidence = alignment.confidence
        song.lyrics = "\n".join(item.reference_lines)
        song.lyrics_source = "reference"
        return item

    def _detect_language(self, lines: list[str], mix, vocals) -> str:
        """From the text and, when a Whisper model is loaded, the voice (see songprep.language)."""
        from songprep import language as lid

        text = lid.text_scores(lines)
        audio: dict[str, float] = {}
        if self.model is not None:
            from songprep.alignment import to_16k
            from songprep.alignment.guide import activity, frame_db

            vocal_16k = to_16k(vocals)
            speech = lid.active_speech(to_16k(mix), activity(frame_db(vocal_16k)))
            audio = lid.audio_scores(self.model, speech)
        language, _ = lid.decide(text, audio)
        return language

    def provenance(self) -> StageProvenance:
        method = getattr(self, "method", None) or self.resolve_options(self.options)["method"]
        if method == "whisper":
            name = getattr(self, "model_name", None) or self.resolve_options(self.options)["model"]
            return StageProvenance(self.name, f"{name} forced alignment + vocal-activity DTW", _version("whisper"))
        return StageProvenance(self.name, _MODELS[method], _version(method))


def _version(method: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    if method == "guide":
        import subprocess

        try:
            out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""
        return out.split("text-to-speech:")[-1].split()[0] if "text-to-speech:" in out else out.strip()[:40]
    package = {"sphinx": "pocketsphinx", "ctc": "torchaudio", "whisper": "openai-whisper"}.get(method)
    if package is None:
        return ""
    try:
        return version(package)
    except PackageNotFoundError:
        return ""
