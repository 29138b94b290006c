"""Generation prompts: LeVo's JSONL (``idx``, ``gt_lyric``, ``descriptions``, ``prompt_audio_path``).

Two kinds of problems, handled differently. A malformed *file* (bad JSON, a missing ``idx`` or
``gt_lyric``, a duplicate ``idx``, a prompt audio file that is not there) stops the run before any
model is loaded, with ``file:line``: nothing sensible can be generated from it. A malformed *lyric*
(markup errors found by :func:`songprep.lyrics.lint`, or more lyric tokens than the model reads)
rejects only that prompt, with the reason; the others go on. LeVo cuts an over-long lyric with a
warning; here it is an error, because a song whose end was silently dropped is a wrong sample.

>>> p = GenerationPrompt("a1", "[verse] hello there.", "female, pop")
>>> p.conditioning_text()
('[verse] hello there.', 'female, pop')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from songprep.errors import UsageError
from songprep.lyrics import get_dialect, lint
from songprep.lyrics.text import CJK_CHARS

#: Lint's own length check counts Qwen2 tokens for LeVo's model; ours counts this model's tokens.
_NO_QWEN_LIMIT = 10**9
_CJK = re.compile(f"[{CJK_CHARS}]")
_VOWEL_GROUPS = re.compile(r"[aeiouyáéíóúàèìòùâêîôûäëïöüåæøœ]+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")


def syllables(text: str) -> int:
    """Sung syllables, roughly: one per CJK character, one per vowel group of other words (at least one a word).

    >>> syllables("tonight we fly"), syllables("明天我等风")
    (4, 5)
    """
    count = len(_CJK.findall(text))
    for word in _WORD.findall(_CJK.sub(" ", text)):
        count += max(1, len(_VOWEL_GROUPS.findall(word)))
    return count


@dataclass(frozen=True)
class LyricSection:
    """One section of a LeVo lyric as the duration model sees it: its tag and sung syllables."""

    tag: str
    syllables: int


def lyric_sections(lyric: str) -> list[LyricSection]:
    """The sections of a LeVo lyric with their syllable counts (0 for instrumental ones)."""
    song = get_dialect("levo").parse(lyric)
    return [LyricSection(s.tag or s.label, sum(syllables(line.text) for line in s.lines)) for s in song.sections]


@dataclass(frozen=True)
class GenerationPrompt:
    """One prompt: its id, LeVo lyric markup, description tags and optional prompt audio."""

    idx: str
    lyric: str
    descriptions: str = ""
    prompt_audio_path: Path | None = None
    line: int = 0

    def conditioning_text(self) -> tuple[str, str]:
        return self.lyric, self.descriptions


@dataclass(frozen=True)
class PromptReject:
    """A prompt that will not be generated, and why (one line)."""

    idx: str
    line: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"idx": self.idx, "line": self.line, "reason": self.reason}


def read_prompts(path: str | Path) -> list[GenerationPrompt]:
    """Every prompt of a LeVo JSONL file; structural errors raise UsageError with ``file:line``.

    ``prompt_audio_path`` may be absolute or relative to the JSONL file's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"prompts file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read as UTF-8 text ({err})") from None
    prompts: list[GenerationPrompt] = []
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
            raise UsageError(f"{where}: idx {idx!r} already used on line {seen[idx]}")
        seen[idx] = number
        audio = None
        if row.get("prompt_audio_path"):
            audio = Path(str(row["prompt_audio_path"])).expanduser()
            if not audio.is_absolute():
                audio = path.parent / audio
            if not audio.is_file():
                raise UsageError(f"{where}: prompt_audio_path not found: {audio}")
        prompts.append(GenerationPrompt(idx, row["gt_lyric"], str(row.get("descriptions") or ""), audio, number))
    if not prompts:
        raise UsageError(f"{path}: no prompts")
    return prompts


def check_prompt(prompt: GenerationPrompt, tokenizer, max_lyric_tokens: int) -> PromptReject | None:
    """Lint the lyric and measure it in the model's tokens; a reject (with the first errors) or None.

    ``tokenizer`` is the checkpoint's :class:`~songprep.generation.lyric_tokenizer.LyricTokenizer`.
    Warnings do not reject: LeVo's own examples make the same departures.
    """
    report = lint(prompt.lyric, "levo", max_tokens=_NO_QWEN_LIMIT)
    if report.errors:
        shown = "; ".join(p.format() for p in report.errors[:3])
        more = f" (+{len(report.errors) - 3} more)" if len(report.errors) > 3 else ""
        return PromptReject(prompt.idx, prompt.line, f"lyric markup errors: {shown}{more}; "
                            "`songprep lyrics fix` repairs what keeps every word")
    n_tokens = len(tokenizer.encode(prompt.lyric, prompt.descriptions))
    if n_tokens > max_lyric_tokens:
        return PromptReject(prompt.idx, prompt.line,
                            f"lyric is {n_tokens} tokens, this model reads at most {max_lyric_tokens}; "
                            "shorten it (nothing is truncated)")
    return None
