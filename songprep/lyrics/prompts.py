"""LeVo's prompt files: JSONL rows of ``idx``, ``gt_lyric``, ``descriptions``, ``prompt_audio_path``.

One reader for every command that takes them (``songprep generate``, ``train-dpo``, ``eval``). A malformed
*file* (bad JSON, a missing ``idx`` or ``gt_lyric``, a duplicate ``idx``, an ``idx`` that cannot name a file)
raises with ``file:line``. Whether the prompt audio must exist is the caller's business: the evaluator
never reads it.

>>> p = LevoPrompt("a1", "[verse] hello there.", "female, pop")
>>> p.conditioning_text()
('[verse] hello there.', 'female, pop')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from songprep.errors import UsageError


@dataclass(frozen=True)
class LevoPrompt:
    """One prompt: its id, LeVo lyric markup, description tags, optional prompt audio (resolved against the
    prompts file's folder, not checked), the line it was read from, and its language when the row names one."""

    idx: str
    lyric: str
    descriptions: str = ""
    prompt_audio_path: Path | None = None
    line: int = 0
    language: str | None = None

    def conditioning_text(self) -> tuple[str, str]:
        return self.lyric, self.descriptions


def read_levo_prompts(path: str | Path) -> list[LevoPrompt]:
    """Every prompt of a LeVo JSONL file; structural errors raise UsageError with ``file:line``."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"prompts file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read as UTF-8 text ({err})") from None
    prompts: list[LevoPrompt] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as err:
            raise UsageError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(row, dict):
            raise UsageError(f"{where}: expected a JSON object, got {type(row).__name__}")
        for key in ("idx", "gt_lyric"):
            if key not in row or row[key] is None or str(row[key]).strip() == "":
                raise UsageError(f"{where}: missing {key!r} (a LeVo prompt needs idx and gt_lyric)")
        idx = str(row["idx"])
        if "/" in idx or "\\" in idx or idx in (".", ".."):
            raise UsageError(f"{where}: idx {idx!r} cannot name a file (no slashes)")
        if not isinstance(row["gt_lyric"], str):
            raise UsageError(f"{where}: gt_lyric must be a string")
        if idx in seen:
            raise UsageError(f"{where}: idx {idx!r} already used on line {seen[idx]} (an idx names one prompt; "
                             "this one appears twice)")
        seen[idx] = number
        audio = None
        if row.get("prompt_audio_path"):
            audio = Path(str(row["prompt_audio_path"])).expanduser()
            if not audio.is_absolute():
                audio = path.parent / audio
        language = str(row["language"]) if row.get("language") else None
        prompts.append(LevoPrompt(idx, row["gt_lyric"], str(row.get("descriptions") or ""), audio, number, language))
    if not prompts:
        raise UsageError(f"{path}: no prompts")
    return prompts
