"""openai-whisper checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from songprep.models.base import ModelFamily, songprep_model_dir, xdg_cache


class WhisperFamily(ModelFamily):
    """openai-whisper checkpoints (``.pt`` with ``dims`` and ``model_state_dict``)."""

    family = "whisper"
    variants = ("tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
                "large-v1", "large-v2", "large-v3", "large-v3-turbo", "turbo")
    licence = "MIT"
    description = "OpenAI Whisper speech recognition (openai-whisper)"

    def candidates(self) -> list[Path]:
        own = songprep_model_dir() / self.family
        return [own / f"{self.variant}.pt", own / self.variant / f"{self.variant}.pt",
                xdg_cache() / "whisper" / f"{self.variant}.pt"]

    def complete(self, path: Path) -> bool:
        return path.is_file() and path.stat().st_size > 0

    def how_to_get(self) -> str:
        return (f"with internet run `songprep models fetch {self.name}`, or put {self.variant}.pt "
                f"into {songprep_model_dir() / self.family}")

    def load_local(self, path: Path, device: str) -> Any:
        import whisper

        return whisper.load_model(str(path), device=device)

    def load_remote(self, device: str) -> Any:
        import whisper

        return whisper.load_model(self.variant, device=device, download_root=str(xdg_cache() / "whisper"))
