"""The prep configuration: what decides the dataset's content, hashed so resume knows what is done."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from songprep.records import SCHEMA_VERSION

#: The full chain `songprep prep` runs by default; each stage reads only what earlier ones wrote.
DEFAULT_STAGES = ("decode", "lyrics", "separate", "transcribe", "align", "structure", "markup")


@dataclass(frozen=True)
class PrepConfig:
    """Everything that changes what ``songprep prep`` writes. Two runs with equal hashes write equal rows.

    Runtime knobs that do not change the rows (worker count, device, shard size) live in
    :class:`songprep.runner.RunOptions` instead, so a run started on a GPU can resume on a CPU.

    >>> PrepConfig().config_hash() == PrepConfig().config_hash()
    True
    """

    stages: tuple[str, ...] = DEFAULT_STAGES
    sample_rate: int = 44100
    channels: int = 2
    min_duration_s: float = 1.0
    max_duration_s: float = 1800.0
    silence_dbfs: float = -60.0
    language: str | None = None
    lyrics_dir: str | None = None
    stage_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if self.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {self.channels}")
        if not 8000 <= self.sample_rate <= 192000:
            raise ValueError(f"sample_rate out of range: {self.sample_rate}")
        if self.min_duration_s >= self.max_duration_s:
            raise ValueError("min_duration_s must be below max_duration_s")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = list(self.stages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrepConfig:
        return cls(**{**data, "stages": tuple(data.get("stages", DEFAULT_STAGES))})

    def config_hash(self) -> str:
        """sha256 over the canonical JSON of the config and the schema version (16 hex digits)."""
        payload = json.dumps({"schema": SCHEMA_VERSION, **self.to_dict()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
