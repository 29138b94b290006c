"""External programs songprep runs, and the one-line error when one is missing.

>>> require("sh")  # doctest: +ELLIPSIS
'/...sh'
>>> print(ToolMissingError.for_tool("espeak-ng"))  # doctest: +ELLIPSIS
espeak-ng is not installed (...); install it with `apt-get install espeak-ng` (or run `make setup`)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from songprep.errors import SongprepError

#: program -> (what it is for, the Debian packages that provide it)
TOOLS = {
    "espeak-ng": ("voices lyrics (the guide aligner, test songs, phonemes)", "espeak-ng"),
    "ffmpeg": ("decodes m4a/aac/wma and other formats libsndfile cannot", "ffmpeg"),
    "fluidsynth": ("renders the test songs' accompaniment", "fluidsynth fluid-soundfont-gm"),
    "soundfont": ("a General MIDI soundfont the test songs are rendered with; or set $SONGPREP_SOUNDFONT",
                  "fluid-soundfont-gm"),
}


class ToolMissingError(SongprepError):
    """An external program songprep needs is not installed; ``tool`` names it (a key of :data:`TOOLS`)."""

    exit_code = 6

    def __init__(self, message: str, tool: str = "") -> None:
        super().__init__(message)
        self.tool = tool

    @classmethod
    def for_tool(cls, name: str) -> ToolMissingError:
        return cls(missing_message(name), name)


def missing_message(name: str) -> str:
    why, packages = TOOLS.get(name, ("is needed", name))
    return (f"{name} is not installed ({name} {why}); install it with `apt-get install {packages}` "
            "(or run `make setup`)")


def require(name: str) -> str:
    """The program's path, or ToolMissingError with the install command."""
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError.for_tool(name)
    return path


@lru_cache(maxsize=1)
def ffmpeg_decoding() -> str:
    """"" when FFmpeg's libraries load (torchcodec decodes with them, not with the ``ffmpeg`` program), else why not."""
    try:
        from torchcodec.decoders import AudioDecoder  # noqa: F401  (loads libavcodec & co. at import)
    except Exception as err:
        lines = str(err).strip().splitlines()
        return (lines[0] if lines else type(err).__name__)[:200]
    return ""


def require_ffmpeg_decoding() -> None:
    """ToolMissingError (ffmpeg) when FFmpeg's libraries cannot be loaded."""
    why = ffmpeg_decoding()
    if why:
        raise ToolMissingError(f"{missing_message('ffmpeg')}; torchcodec cannot load it: {why}", "ffmpeg")


def require_decoders_for(paths: Iterable[str | Path]) -> None:
    """Refuse before any work when some input is in a format only FFmpeg decodes and FFmpeg is missing, so
    a missing library is one line, not every m4a turned into a reject."""
    from songprep.audio import _SOUNDFILE_EXTENSIONS

    needs = sorted({Path(p).suffix.lower() for p in paths} - set(_SOUNDFILE_EXTENSIONS))
    if needs and ffmpeg_decoding():
        try:
            require_ffmpeg_decoding()
        except ToolMissingError as err:
            raise ToolMissingError(f"{err} (needed for the {', '.join(needs)} files)", "ffmpeg") from None
