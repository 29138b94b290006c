"""The scorer interface and registry: each learned metric says what it needs and under which licence.

A scorer turns decoded songs into named axes (``{"CE": 7.1, ...}``). Resampling to the scorer's rate
and mono folding live here, once. Each scorer class declares :class:`ScorerInfo` so the runner can
skip one with a reason ("not computed: weights for X not found (how to get them)") instead of
failing, and the report can print the licence beside its numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from songprep.audio import Audio, resample, to_channels


@dataclass(frozen=True)
class ScorerInfo:
    """What a scorer needs and what it is: recorded in the registry, the protocol and the report."""

    name: str
    axes: tuple[str, ...]
    axis_labels: tuple[str, ...]
    sample_rate: int
    needs_reference_audio: bool
    needs_text: bool
    wants_gpu: bool
    licence: str
    commercial_use: bool
    scale: str
    weights: str
    how_to_get: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class AestheticScorer:
    """Base of the learned scorers. Subclasses set ``info`` and implement :meth:`score_mono`."""

    info: ClassVar[ScorerInfo]

    #: Where the weights came from and their fingerprint (set by the loader): goes in the protocol.
    weights_source: str = ""
    weights_sha256: str = ""

    def score(self, audios: Sequence[Audio]) -> list[dict[str, float]]:
        """One ``{axis: value}`` per song."""
        mono = [to_mono_at(a, self.info.sample_rate) for a in audios]
        return self.score_mono(mono)

    def score_mono(self, waves: Sequence[np.ndarray]) -> list[dict[str, float]]:
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        return {**self.info.to_dict(), "weights_source": self.weights_source, "weights_sha256": self.weights_sha256}


def to_mono_at(audio: Audio, sample_rate: int) -> np.ndarray:
    """float32 ``(frames,)`` at ``sample_rate``: what every scorer here consumes."""
    return resample(to_channels(audio, 1), sample_rate).samples[0]


def fingerprint(path: str | Path) -> str:
    """sha256 over a weights file, or over every file of a weights directory (names and bytes)."""
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(file.relative_to(path.parent if path.is_file() else path).as_posix().encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def hub_snapshot(repo_id: str, files: Sequence[str]) -> Path:
    """The local folder holding ``files`` of a hub repo: from the cache, or downloaded unless offline.

    Raises whatever huggingface_hub raises; callers turn it into ModelNotFoundError.
    """
    from huggingface_hub import hf_hub_download

    from songprep.models.base import offline

    try:  # the cache first: no network call at all when the weights are already here
        return [Path(hf_hub_download(repo_id, f, local_files_only=True)) for f in files][0].parent
    except Exception:
        if offline():
            raise
    _check_hub_reachable()
    paths = [Path(hf_hub_download(repo_id, f)) for f in files]
    return paths[0].parent


def _check_hub_reachable(timeout_s: float = 3.0) -> None:
    """Fail in seconds, not after huggingface_hub's minute of retries, when there is no network."""
    import os
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError as err:
        raise ConnectionError(f"{host} unreachable ({err})") from None


def load_strict(module, state: dict, what: str, source: str | Path, unused: tuple[str, ...] = ()) -> None:
    """Load ``state`` into ``module`` only if its keys are exactly the module's: a mismatch is an error.

    Why: ``strict=False`` with a foreign file leaves random weights that still score 1-5. ``unused`` names
    key prefixes the scores never read (training-only buffers): those alone may be absent or extra.
    """
    from songprep.errors import WeightsMismatchError

    def counted(keys) -> set[str]:
        return {k for k in keys if not k.startswith(unused)} if unused else set(keys)

    own = set(module.state_dict())
    expected, given = counted(own), counted(state)
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        example = (missing or unexpected)[0]
        raise WeightsMismatchError(f"{source} does not hold {what} weights: {len(missing)} missing and "
                                   f"{len(unexpected)} unexpected keys (e.g. {example!r}); pass the released "
                                   "checkpoint")
    try:
        if unused:  # every counted key matched above; unused ones the file lacks keep their initial values
            module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
        else:
            module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # same keys, other shapes (another size of the architecture)
        first = " ".join(str(err).split())[:160]
        raise WeightsMismatchError(f"{source} does not fit {what}: {first}") from None
