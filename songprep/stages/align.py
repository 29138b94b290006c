"""align: time the reference lyrics in the vocal (words + alignment_coverage), or reject the song.

Acts only on songs with reference text (``item.reference_lines``); songs without it keep the
transcript's words. The vocal is the separated stem when ``separate`` ran, else the mix. ASR words
from ``transcribe`` (``item.features["transcript"]``), when present, serve as anchors.

A text that does not match its audio (a wrong lyrics file: too few words anchored, or a match
no better than chance) is rejected with the reason, rather than written with invented times or
without words: a corpus builder wants to see and fix such a pairing, and a row with timed lyrics
that are not sung would teach a model the wrong thing.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

from songprep.alignment import METHODS, align_lyrics
from songprep.errors import RejectError, UsageError
from songprep.records import StageProvenance
from songprep.stages.base import SongItem, Stage, StageContext

#: What each method runs on, for provenance.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_MODELS = {"guide": "espeak-ng guide + DTW", "sphinx": "pocketsphinx:en-us", "ctc": "torchaudio:MMS_FA",
           "asr": "transcript anchors"}


class LyricsMismatchError(RejectError):
    """The reference lyrics do not match the audio (e.g. another song's lyrics file)."""


class AlignStage(Stage):
    """Aligns reference lyrics; options: ``method`` (auto|guide|sphinx|ctc|asr, default auto)."""

    name = "align"
    reads = ("audio",)
    writes = ("words", "alignment_coverage")

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        method = options.get("method", "auto")
        if method not in METHODS:
            raise UsageError(f"align: unknown method {method!r}; expected one of {METHODS}")
        return {**options, "method": "guide" if method == "auto" else method}

    def setup(self, ctx: StageContext) -> None:
        super().setup(ctx)
        self.method = self.resolve_options(self.options)["method"]
        self.model = None
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
        language = (song.language or getattr(transcript, "language", None) or self.config.language
                    or _script_language(item.reference_lines))
        if not language:
            raise RejectError("align: language unknown (pass --language, or run transcribe to detect it)")
        song.language = language
        vocals = item.stems.get("vocals", item.audio)
        asr_words = list(getattr(transcript, "words", None) or [])
        if self.method == "ctc":
            from songprep.alignment.ctc import align_ctc
            from songprep.alignment.normalise import reference_words
            from songprep.audio import Audio, resample

            mono = resample(Audio(vocals.mono()[None], vocals.sample_rate), 16000).samples[0]
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
        song.lyrics = "\n".join(item.reference_lines)
        song.lyrics_source = "reference"
        return item

    def provenance(self) -> StageProvenance:
        method = getattr(self, "method", self.resolve_options(self.options)["method"])
        return StageProvenance(self.name, _MODELS[method], _version(method))


def _script_language(lines: list[str]) -> str | None:
    """The one language the text's script settles on its own: Han characters -> Chinese; else unknown."""
    return "zh" if any(_HAN.search(line) for line in lines) else None


def _version(method: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    if method == "guide":
        import subprocess

        try:
            out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""
        return out.split("text-to-speech:")[-1].split()[0] if "text-to-speech:" in out else out.strip()[:40]
    package = {"sphinx": "pocketsphinx", "ctc": "torchaudio"}.get(method)
    if package is None:
        return ""
    try:
        return version(package)
    except PackageNotFoundError:
        return ""
