"""How long a LeVo lyric is for the model: Qwen2 tokens, counted exactly or estimated.

SongGeneration's lyric conditioner tokenizes ``"<|im_start|>" + lyric`` with the Qwen2 tokenizer
(its structure tags and ``.`` added as special tokens, so each is one token) and cuts everything
past ``max_len`` (300 by default) without an error. With a local Qwen2 tokenizer directory
(``--tokenizer DIR`` or ``$SONGPREP_QWEN2_TOKENIZER``) we count exactly the same way; without one
we estimate, and always say which.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from songprep.errors import UsageError
from songprep.lyrics.tags import LEVO_TAGS
from songprep.lyrics.text import CJK_CHARS

#: SongGeneration's default lyric length limit (``QwTokenizerConditioner(max_len=300)``).
LEVO_MAX_TOKENS = 300
TOKENIZER_ENV = "SONGPREP_QWEN2_TOKENIZER"
EXACT = "qwen2"
ESTIMATE = "estimate"

_PIECE = re.compile(
    "(?P<special>" + "|".join(re.escape(f"[{t}]") for t in LEVO_TAGS) + r"|\.)"
    f"|(?P<cjk>[{CJK_CHARS}]+)|(?P<word>[A-Za-z]+(?:'[A-Za-z]{{1,2}}\\b)?)|(?P<alnum>[^\\W_]+)"
    r"|(?P<space>\s+)|(?P<other>.)"
)
#: Qwen2's vocabulary holds many two- and three-character Chinese words: about 1.4 characters a token.
_CJK_TOKENS_PER_CHAR = 0.75
#: Common English words (with their leading space) are one token; longer ones split every ~8 letters;
#: a clitic (``'t``, ``'re``) is one more.
_LETTERS_PER_TOKEN = 8


@dataclass(frozen=True)
class TokenCount:
    """A lyric's length in Qwen2 tokens, and how it was obtained (``qwen2`` with the path, or ``estimate``)."""

    tokens: int
    method: str
    source: str = ""

    def describe(self, limit: int | None = None) -> str:
        """``"212/300 tokens (estimated)"`` or ``"212/300 tokens (Qwen2 tokenizer at DIR)"``."""
        amount = f"{self.tokens}/{limit}" if limit else str(self.tokens)
        how = f"Qwen2 tokenizer at {self.source}" if self.method == EXACT else "estimated; no Qwen2 tokenizer given"
        return f"{amount} tokens ({how})"


def count_tokens(lyric: str, tokenizer_dir: str | Path | None = None) -> TokenCount:
    """Tokens the model reads for ``lyric``: exact with a tokenizer directory (argument or env), else estimated."""
    path = tokenizer_dir or os.environ.get(TOKENIZER_ENV) or None
    if path is None:
        return TokenCount(estimate_tokens(lyric), ESTIMATE)
    tokenizer = _load(str(Path(path).expanduser().resolve()))
    return TokenCount(len(tokenizer("<|im_start|>" + lyric)["input_ids"]), EXACT, str(path))


def estimate_tokens(lyric: str) -> int:
    """A tokenizer-free estimate of :func:`count_tokens` (not calibrated against the real tokenizer here)."""
    return _estimate(lyric)[0]


def cut_offset(lyric: str, limit: int, tokenizer_dir: str | Path | None = None) -> int | None:
    """Where the model stops reading: the offset of the first character past ``limit`` tokens (None if none)."""
    path = tokenizer_dir or os.environ.get(TOKENIZER_ENV) or None
    if path is None:
        return _estimate(lyric, limit)[1]
    if count_tokens(lyric, path).tokens <= limit:
        return None
    lo, hi = 0, len(lyric)
    while lo < hi:  # the shortest prefix over the limit
        mid = (lo + hi) // 2
        if count_tokens(lyric[:mid], path).tokens > limit:
            hi = mid
        else:
            lo = mid + 1
    return max(lo - 1, 0)


def _estimate(lyric: str, limit: int | None = None) -> tuple[int, int | None]:
    """One pass: the estimated count and, given a limit, the offset where the count passes it."""
    total = 1.0  # <|im_start|>
    cut = None
    pending_space = False
    for m in _PIECE.finditer(lyric):
        kind = m.lastgroup
        if kind == "space":
            pending_space = True
            continue
        if kind == "special":
            total += 1 + pending_space  # a space before a special token is a token of its own
        elif kind == "cjk":
            total += max(1.0, (m.end() - m.start()) * _CJK_TOKENS_PER_CHAR)
        elif kind == "word":
            piece = m.group()
            clitic = "'" in piece
            total += math.ceil((len(piece) - 3 * clitic) / _LETTERS_PER_TOKEN) + clitic
        elif kind == "alnum":
            total += math.ceil(len(m.group().encode("utf-8")) / 4)
        else:
            total += 1
        pending_space = False
        if limit is not None and cut is None and total > limit:
            cut = m.start()
    total += pending_space
    if limit is not None and cut is None and total > limit:
        cut = len(lyric)
    return math.ceil(total), cut


@lru_cache(maxsize=4)
def _load(path: str) -> Any:
    """The tokenizer as SongGeneration builds it: Qwen2 from local files, structure tags and '.' special."""
    if not Path(path).is_dir():
        raise UsageError(f"Qwen2 tokenizer directory not found: {path} (from --tokenizer or ${TOKENIZER_ENV})")
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot load a tokenizer from {path}: {err}") from err
    tokenizer.add_tokens([f"[{t}]" for t in LEVO_TAGS] + ["."], special_tokens=True)
    return tokenizer
