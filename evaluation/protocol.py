"""Everything a number in a report depends on, recorded: models and their hashes, normaliser, g2p, seeds.

The protocol is split in parts (``per``, ``signal``, one per aesthetic scorer). Each part's hash (its
spec and the environment's library versions) keys the score cache, so changing the ASR model or
switching gating off re-scores PER but not aesthetics, a new torch re-scores everything, and changing
the bootstrap seed re-scores nothing (the bootstrap runs on every report). ``config_hash`` covers the
whole protocol.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from songprep import __version__

#: Bump when a metric's computation changes in a way the recorded parts below do not show.
SCORING_VERSION = "1"


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (first 16 hex digits)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@lru_cache(maxsize=32)
def _fingerprint_cached(path: str, size: int, mtime_ns: int) -> str:
    from songprep.evaluation.aesthetics.base import fingerprint

    return fingerprint(path)


def weights_fingerprint(path: str | Path | None) -> str:
    """sha256 of a weights file or folder, cached per (path, size, mtime) within a process."""
    if not path:
        return "unknown (the loader exposes no weights path)"
    p = Path(path)
    if not p.exists():
        return f"unknown ({p} not found)"
    stat = p.stat()
    return _fingerprint_cached(str(p), stat.st_size, stat.st_mtime_ns)


def describe_model(obj: Any, registry_name: str | None = None) -> dict[str, str]:
    """Name, library version and weights hash of a loaded separator or transcriber."""
    name = registry_name or str(getattr(obj, "name", "") or getattr(obj, "model", "") or type(obj).__name__)
    path = None
    for attr in ("weights_path", "model_path", "path"):
        if getattr(obj, attr, None):
            path = getattr(obj, attr)
            break
    if path is None:
        try:
            from songprep import models

            path = models.locate(name)
        except Exception:  # not a registry name, or weights elsewhere
            path = None
    return {"model": name, "version": str(getattr(obj, "version", "") or ""), "weights": str(path or ""),
            "weights_sha256": weights_fingerprint(path)}


@dataclass
class Protocol:
    """The recorded protocol of one evaluation run (written into results.json and the reports)."""

    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    bootstrap: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.environment:
            self.environment = {
                "songprep": __version__, "python": platform.python_version(), "numpy": package_version("numpy"),
                "scipy": package_version("scipy"), "jiwer": package_version("jiwer"),
                "torch": package_version("torch"), "scoring_version": SCORING_VERSION,
            }

    def part_hash(self, part: str, spec: dict[str, Any] | None = None) -> str:
        """Hash of what one part's numbers depend on (the cache key's protocol component): its recorded spec
        (or ``spec`` in its place) and the environment (library versions move numbers too)."""
        return stable_hash({"part": part, "spec": self.parts.get(part) if spec is None else spec,
                            "environment": self.environment, "scoring_version": SCORING_VERSION})

    @property
    def config_hash(self) -> str:
        return stable_hash({"parts": self.parts, "bootstrap": self.bootstrap, "environment": self.environment,
                            "scoring_version": SCORING_VERSION})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "config_hash": self.config_hash,
                "part_hashes": {p: self.part_hash(p) for p in self.parts}}
