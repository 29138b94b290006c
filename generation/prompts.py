"""Generation prompts: LeVo's JSONL (read by :mod:`songprep.lyrics.prompts`), checked for generation.

Two kinds of problems, handled differently. A malformed *file* (bad JSON, a missing ``idx`` or
``gt_lyric``, a duplicate ``idx``, a prompt audio file that is not there) stops the run before any
model is loaded, with ``file:line``: nothing sensible can be generated from it. A malformed *lyric*
(markup errors found by :func:`songprep.lyrics.lint`, or more lyric tokens than the model reads)
rejects only that prompt, with the reason; the others go on. LeVo cuts an over-long lyric with a
warning; here it is an error, because a song whose end was silently dropped is a wrong sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from songprep.errors import UsageError
from songprep.lyrics import get_dialect, lint
from songprep.lyrics.prompts import LevoPrompt, read_levo_prompts
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
class PromptReject:
    """A prompt that will not be generated, and why (one line)."""

    idx: str
    line: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"idx": self.idx, "line": self.line, "reason": self.reason}


def read_prompts(path: str | Path) -> list[LevoPrompt]:
    """Every prompt of a LeVo JSONL file (:func:`songprep.lyrics.prompts.read_levo_prompts`), and each
    ``prompt_audio_path`` must exist: generation reads it. Errors raise UsageError with ``file:line``."""
    prompts = read_levo_prompts(path)
    for prompt in prompts:
        if prompt.prompt_audio_path is not None and not prompt.prompt_audio_path.is_file():
            raise UsageError(f"{path}:{prompt.line}: prompt_audio_path not found: {prompt.prompt_audio_path}")
    return prompts


def check_prompt(prompt: LevoPrompt, tokenizer, max_lyric_tokens: int) -> PromptReject | None:
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
