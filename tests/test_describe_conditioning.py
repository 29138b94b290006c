"""LeLM reads descriptions: two description strings on one lyric give different songs (tiny config, measured).

Two "songs" share a lyric and differ only in their descriptions and their tokens. After a short training run
with description dropout, generating with each description must reproduce its own song's tokens far more
often than the other's; guiding on the descriptions alone (the unconditional half keeps the lyric) must too.
"""

from __future__ import annotations

import pytest
import torch

from songprep.generation.lelm import LeLM, LMConfig
from songprep.generation.lyric_tokenizer import LyricTokenizer

V, T = 16, 24
TEXT = LyricTokenizer()
LYRIC = "[verse] the same words."
DESCS = ("female, pop, sad, piano, the bpm is 90.", "male, rock, energetic, guitar and drums, the bpm is 140.")


def _batch(descs: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    ids = [TEXT.encode(LYRIC, d) for d in descs]
    width = max(map(len, ids))
    text = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.bool)
    for row, seq in enumerate(ids):
        text[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = True
    return text, mask


@pytest.fixture(scope="module")
def trained(one_torch_thread):
    torch.manual_seed(0)
    songs = torch.randint(0, V, (2, 3, T), generator=torch.Generator().manual_seed(1))
    model = LeLM(LMConfig.tiny(), TEXT.vocab_size, V)
    assert model.cfg.desc_dropout > 0
    text, mask = _batch(DESCS)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(250):
        loss = model(text, mask, songs).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), songs


def _agreement(model: LeLM, desc: str, target: torch.Tensor, **kw) -> float:
    text, mask = _batch((desc,))
    out = model.generate(text, mask, T, top_k=1, generator=torch.Generator().manual_seed(0), **kw)
    return float((out[0] == target).float().mean())


@pytest.mark.parametrize("guidance, cfg_scale", [("text", 1.0), ("descriptions", 3.0), ("text", 1.5)])
def test_two_descriptions_give_their_own_songs(trained, guidance: str, cfg_scale: float) -> None:
    model, songs = trained
    for i, desc in enumerate(DESCS):
        own = _agreement(model, desc, songs[i], guidance=guidance, cfg_scale=cfg_scale)
        other = _agreement(model, desc, songs[1 - i], guidance=guidance, cfg_scale=cfg_scale)
        assert own > 0.8 and other < 0.4, (guidance, desc, own, other)


def test_description_dropout_masks_exactly_the_description_span() -> None:
    model = LeLM(LMConfig.tiny(), TEXT.vocab_size, V)
    with_desc, mask = _batch((DESCS[0],))
    bare, bare_mask = _batch(("",))
    dropped, dropped_mask = model._prefix(with_desc, mask, None, None, torch.tensor([True]))
    plain, plain_mask = model._prefix(bare, bare_mask, None, None)
    kept = dropped[0][dropped_mask[0]]
    assert torch.equal(kept, plain[0][plain_mask[0]])  # a dropped description is a prompt without one
