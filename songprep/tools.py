"""External programs songprep runs, and the one-line error when one is missing.

>>> require("sh")  # doctest: +ELLIPSIS
'/...sh'
"""

from __future__ import annotations

import shutil

from songprep.errors import SongprepError

#: program -> (what it is for, the Debian packages that provide it)
TOOLS = {
    "espeak-ng": ("voices lyrics (the guide aligner, test songs, phonemes)", "espeak-ng"),
    "ffmpeg": ("decodes m4a/aac/wma and other formats libsndfile cannot", "ffmpeg"),
    "fluidsynth": ("renders the test songs' accompaniment", "fluidsynth fluid-soundfont-gm"),
}


class ToolMissingError(SongprepError):
    """An external program songprep needs is not installed."""

    exit_code = 6


def missing_message(name: str) -> str:
    why, packages = TOOLS.get(name, ("is needed", name))
    return (f"{name} is not installed ({name} {why}); install it with `apt-get install {packages}` "
            "(or run `make setup`)")


def require(name: str) -> str:
    """The program's path, or ToolMissingError with the install command."""
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(missing_message(name))
    return path
