"""LeLM's text tokenizer: UTF-8 bytes, LeVo's structure tags as single tokens, and the special tokens.

Byte-level on purpose: it needs no download, covers every language the corpus has (zh, en, es, ...), and
cannot meet an unknown character. Each LeVo section tag (``[verse]``, ``[intro-short]``, ... from
:data:`songprep.lyrics.tags.LEVO_TAGS`) is one token, as in SongGeneration's Qwen2 tokenizer, so a section
boundary is one symbol the LM can attend to; a tag written another way (``[Verse 2]``) stays plain bytes
(lint and fix lyrics with :mod:`songprep.lyrics` first).

A prompt encodes as ``<bos> [<desc> description bytes] <sep> lyric``; :meth:`LyricTokenizer.decode` inverts it.
``<null>`` is the unconditional prompt of classifier-free guidance (LeLM swaps it in for the text).
"""

from __future__ import annotations

import re
from typing import Any

from songprep.errors import UsageError
from songprep.lyrics.tags import LEVO_TAGS

SPECIALS = ("<pad>", "<bos>", "<null>", "<sep>", "<desc>", "<eos>")
PAD_ID, BOS_ID, NULL_ID, SEP_ID, DESC_ID, EOS_ID = range(len(SPECIALS))
KIND = "bytes+levo-tags"


class LyricTokenizer:
    """Bytes + special + tag tokens: ids ``[0, 6)`` specials, then one id per tag, then the 256 bytes."""

    def __init__(self, tags: tuple[str, ...] = LEVO_TAGS) -> None:
        self.tags = tuple(tags)
        self.pad_id, self.bos_id, self.null_id, self.sep_id, self.desc_id, self.eos_id = range(len(SPECIALS))
        self._tag_ids = {f"[{t}]": len(SPECIALS) + i for i, t in enumerate(self.tags)}
        self._tag_text = {i: t for t, i in self._tag_ids.items()}
        self._byte0 = len(SPECIALS) + len(self.tags)
        self.vocab_size = self._byte0 + 256
        self._tag_re = re.compile("|".join(re.escape(t) for t in sorted(self._tag_ids, key=len, reverse=True)))

    def _text(self, text: str) -> list[int]:
        ids: list[int] = []
        at = 0
        for match in self._tag_re.finditer(text):
            ids += self._bytes(text[at:match.start()])
            ids.append(self._tag_ids[match.group()])
            at = match.end()
        return ids + self._bytes(text[at:])

    def _bytes(self, text: str) -> list[int]:
        return [self._byte0 + b for b in text.encode("utf-8")]

    def encode(self, lyric: str, descriptions: str = "") -> list[int]:
        """``<bos> [<desc> descriptions] <sep> lyric`` as ids (tags in the lyric are single tokens)."""
        head = [self.bos_id] + ([self.desc_id] + self._bytes(descriptions) if descriptions else [])
        return head + [self.sep_id] + self._text(lyric)

    def decode(self, ids: list[int]) -> tuple[str, str]:
        """``(lyric, descriptions)`` back from :meth:`encode`'s ids (pad, bos, eos are skipped)."""
        parts: dict[str, bytearray] = {"desc": bytearray(), "lyric": bytearray()}
        where = "lyric"
        for i in ids:
            if i in (self.pad_id, self.bos_id, self.eos_id, self.null_id):
                continue
            if i == self.desc_id:
                where = "desc"
            elif i == self.sep_id:
                where = "lyric"
            elif i in self._tag_text:
                parts[where] += self._tag_text[i].encode("utf-8")
            elif self._byte0 <= i < self.vocab_size:
                parts[where].append(i - self._byte0)
            else:
                raise ValueError(f"token id {i} outside the vocabulary [0, {self.vocab_size})")
        return parts["lyric"].decode("utf-8", errors="replace"), parts["desc"].decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "specials": list(SPECIALS), "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LyricTokenizer:
        if d.get("kind") != KIND or list(d.get("specials", [])) != list(SPECIALS):
            raise UsageError(f"lyric tokenizer state is not a {KIND!r} tokenizer with specials {SPECIALS} "
                             f"(got kind {d.get('kind')!r}); was the checkpoint written by another songprep?")
        return cls(tuple(d["tags"]))
