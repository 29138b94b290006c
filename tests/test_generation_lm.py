"""The generator's token side: lyric and audio tokenizers, the delay pattern, sampling, and LeLM (tiny config)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from songprep.errors import UsageError
from songprep.generation.audio_tokenizer import (
    AudioTokenizerConfig,
    KMeansTokenizer,
    build_audio_tokenizer,
    register_audio_tokenizer,
)
from songprep.generation.delay import STREAMS, apply_delay, revert_delay, valid_mask
from songprep.generation.lelm import LeLM, LMConfig
from songprep.generation.lyric_tokenizer import LyricTokenizer
from songprep.generation.sampling import guide, penalise_repeats, sample
from songprep.lyrics.tags import LEVO_TAGS

V = 16  # audio codebook of the tiny model
TEXT = LyricTokenizer()


# ---- lyric tokenizer --------------------------------------------------------------------------------------------

def test_section_tags_are_single_tokens_and_distinct() -> None:
    bare = TEXT.encode("")
    ids = {tag: TEXT.encode(f"[{tag}]")[len(bare):] for tag in LEVO_TAGS}
    assert all(len(v) == 1 for v in ids.values())
    assert len({v[0] for v in ids.values()}) == len(LEVO_TAGS)
    assert len(TEXT.encode("[Verse 2]")) - len(bare) == len("[Verse 2]")  # unknown spelling: plain bytes


@pytest.mark.parametrize("lyric, desc", [
    ("[intro-short] ; [verse] 你好世界.今天很好 ; [chorus] la la ; [outro-short]", "pop, female, 120 bpm"),
    ("[verse] Canción de la mañana, ¿dónde estás? ; [inst-medium]", ""),
    ("", "instrumental"),
])
def test_lyric_round_trip(lyric: str, desc: str) -> None:
    ids = TEXT.encode(lyric, desc)
    assert ids[0] == TEXT.bos_id and TEXT.sep_id in ids
    assert (TEXT.desc_id in ids) == bool(desc)
    assert all(0 <= i < TEXT.vocab_size for i in ids)
    assert TEXT.decode(ids) == (lyric, desc)
    again = LyricTokenizer.from_dict(json.loads(json.dumps(TEXT.to_dict())))
    assert again.encode(lyric, desc) == ids and again.vocab_size == TEXT.vocab_size


def test_lyric_tokenizer_rejects_foreign_state() -> None:
    with pytest.raises(UsageError, match="tokenizer"):
        LyricTokenizer.from_dict({"kind": "qwen2"})


# ---- audio tokenizer --------------------------------------------------------------------------------------------

def _tone(freq: float, seconds: float, rate: int = 48000, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(t.size) * 0.01
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + noise
    return np.stack([x, x]).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> KMeansTokenizer:
    tok = build_audio_tokenizer(AudioTokenizerConfig(codebook_size=8, seed=3))
    tok.fit([_tone(220, 2.0), _tone(1760, 2.0, seed=1), _tone(600, 1.0, 44100, seed=2)[:, :30000]], 48000)
    return tok


@pytest.mark.parametrize("rate", [48000, 44100, 22050])
def test_encode_length_is_exact(fitted: KMeansTokenizer, rate: int) -> None:
    hop = rate // 25
    for n in (0, 1, hop - 1, hop, hop + 1, 7 * hop, 7 * hop + 3, rate * 2 + 5):
        tokens = fitted.encode(np.full((2, n), 0.1, np.float32), rate)
        assert tokens.shape == (-(-n * 25 // rate),) and tokens.dtype == np.int64  # ceil, in exact integers
        assert ((tokens >= 0) & (tokens < 8)).all()


def test_tokens_tell_different_sounds_apart(fitted: KMeansTokenizer) -> None:
    low, high = fitted.encode(_tone(220, 1.0, seed=5), 48000), fitted.encode(_tone(1760, 1.0, seed=6), 48000)
    assert set(low[1:-1].tolist()).isdisjoint(high[1:-1].tolist())
    stereo = _tone(220, 1.0, seed=5)
    np.testing.assert_array_equal(fitted.encode(stereo, 48000), fitted.encode(stereo.mean(0, keepdims=True), 48000))


def test_fit_is_deterministic_and_state_round_trips(fitted: KMeansTokenizer) -> None:
    again = build_audio_tokenizer(AudioTokenizerConfig(codebook_size=8, seed=3))
    again.fit([_tone(220, 2.0), _tone(1760, 2.0, seed=1), _tone(600, 1.0, 44100, seed=2)[:, :30000]], 48000)
    for key, value in fitted.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value, rtol=0, atol=0)
    loaded = build_audio_tokenizer(AudioTokenizerConfig(codebook_size=8))
    loaded.load_state_dict(fitted.state_dict())
    probe = _tone(440, 1.5, seed=9)
    np.testing.assert_array_equal(loaded.encode(probe, 48000), fitted.encode(probe, 48000))
    with pytest.raises(UsageError, match="centroids"):
        build_audio_tokenizer(AudioTokenizerConfig(codebook_size=4)).load_state_dict(fitted.state_dict())


def test_audio_tokenizer_errors_and_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="not fitted"):
        build_audio_tokenizer(AudioTokenizerConfig(codebook_size=8)).encode(_tone(220, 0.5), 48000)
    with pytest.raises(UsageError, match="cannot fit 64 codes"):
        build_audio_tokenizer(AudioTokenizerConfig(codebook_size=64)).fit([_tone(220, 1.0)], 48000)
    with pytest.raises(UsageError, match="unknown audio tokenizer kind 'mucodec'.*kmeans"):
        build_audio_tokenizer(AudioTokenizerConfig(kind="mucodec"))
    from songprep.generation import audio_tokenizer

    monkeypatch.setattr(audio_tokenizer, "_REGISTRY", dict(audio_tokenizer._REGISTRY))

    @register_audio_tokenizer("constant")
    class Constant:
        def __init__(self, cfg: AudioTokenizerConfig) -> None:
            self.codebook_size, self.frame_rate = cfg.codebook_size, cfg.frame_rate

    assert isinstance(build_audio_tokenizer(AudioTokenizerConfig(kind="constant")), Constant)


# ---- delay pattern ----------------------------------------------------------------------------------------------

def test_delay_round_trip_over_random_shapes() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        b, s, t = (int(x) for x in rng.integers(1, 6, 3))
        delays = [int(x) for x in rng.integers(0, 4, s)]
        tokens = torch.from_numpy(rng.integers(0, 50, (b, s, t)))
        delayed = apply_delay(tokens, delays, pad_id=99)
        assert delayed.shape == (b, s, t + max(delays))
        for i, d in enumerate(delays):
            assert torch.equal(delayed[:, i, d:d + t], tokens[:, i])
        assert torch.equal(delayed != 99, valid_mask(delayed.shape[2], delays)[None].expand(b, -1, -1))
        assert torch.equal(revert_delay(delayed, delays), tokens)
        logits = torch.randn(b, s, t, 3)  # trailing dims ride along
        assert torch.equal(revert_delay(apply_delay(logits, delays, 0.0), delays), logits)


def test_delay_pattern_layout() -> None:
    tokens = torch.tensor([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    assert apply_delay(tokens, (0, 1, 1), -1).tolist() == [[[1, 2, 3, -1], [-1, 4, 5, 6], [-1, 7, 8, 9]]]
    with pytest.raises(ValueError):
        apply_delay(tokens, (0, 1), -1)


# ---- sampling -----------------------------------------------------------------------------------------------------

def test_guidance_combination() -> None:
    cond, uncond = torch.randn(3, 10), torch.randn(3, 10)
    torch.testing.assert_close(guide(cond, uncond, 0.0), uncond)
    torch.testing.assert_close(guide(cond, uncond, 1.0), cond)
    torch.testing.assert_close(guide(cond, uncond, 3.0), 3 * cond - 2 * uncond)


def test_repetition_penalty() -> None:
    logits = torch.tensor([[2.0, -2.0, 1.0, 4.0]])
    out = penalise_repeats(logits, torch.tensor([[0, 1, -1]]), 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0, 4.0]]
    assert torch.equal(penalise_repeats(logits, torch.tensor([[0]]), 1.0), logits)


def test_sample_follows_top_k_distribution() -> None:
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0, -1.0]]).repeat(20000, 1)
    g = torch.Generator().manual_seed(0)
    ids = sample(logits, temperature=1.0, top_k=3, generator=g)
    freq = torch.bincount(ids, minlength=5).float() / ids.numel()
    want = torch.zeros(5)
    want[1:4] = torch.softmax(torch.tensor([1.0, 2.0, 3.0]), 0)
    torch.testing.assert_close(freq, want, atol=0.015, rtol=0)
    hot = sample(logits[:4], temperature=0.5, top_k=1, generator=g)
    assert hot.tolist() == [3] * 4 and sample(logits[:2], temperature=0.0).tolist() == [3, 3]


# ---- LeLM ---------------------------------------------------------------------------------------------------------

def _model(seed: int = 0, **overrides: object) -> LeLM:
    torch.manual_seed(seed)
    cfg = LMConfig(**{**LMConfig.tiny().to_dict(), "max_frames": 64, **overrides})
    return LeLM(cfg, TEXT.vocab_size, V).eval()


def _text(*lyrics: str) -> tuple[torch.Tensor, torch.Tensor]:
    ids = [TEXT.encode(x, "pop") for x in lyrics]
    width = max(len(x) for x in ids)
    out = torch.full((len(ids), width), TEXT.pad_id)
    mask = torch.zeros(len(ids), width, dtype=torch.bool)
    for i, x in enumerate(ids):
        out[i, :len(x)], mask[i, :len(x)] = torch.tensor(x), True
    return out, mask


def test_forward_shapes_and_padding_invariance() -> None:
    model = _model()
    text, mask = _text("[verse] a longer first lyric line", "[chorus] ok")
    audio = torch.randint(0, V, (2, 3, 9))
    out = model(text, mask, audio)
    assert out.logits.shape == (2, 3, 9, V) and set(out.stream_losses) == set(STREAMS)
    assert out.loss.ndim == 0 and math.isfinite(float(out.loss.detach()))
    torch.testing.assert_close(out.loss, torch.stack(list(out.stream_losses.values())).mean())
    alone = model(*_text("[chorus] ok"), audio[1:])
    torch.testing.assert_close(alone.logits, out.logits[1:], atol=1e-5, rtol=1e-4)  # right padding changes nothing
    prompt = torch.randint(0, V, (2, 3, 4))
    assert model(text, mask, audio, prompt).logits.shape == (2, 3, 9, V)


def test_sequence_logprob_matches_the_loss() -> None:
    model = _model()
    text, mask = _text("[verse] hello")
    audio = torch.randint(0, V, (1, 3, 7))
    logp = model.sequence_logprob(text, mask, audio)
    assert logp.shape == (1,)
    torch.testing.assert_close(logp, -3 * 7 * model(text, mask, audio).loss[None], atol=1e-4, rtol=1e-5)


def test_generate_shapes_determinism_and_range() -> None:
    model = _model()
    text, mask = _text("[verse] one", "[chorus] two two")
    prompt = torch.randint(0, V, (2, 3, 5))

    def run(seed: int) -> torch.Tensor:
        return model.generate(text, mask, 12, prompt, top_k=8, generator=torch.Generator().manual_seed(seed))

    a = run(1)
    assert a.shape == (2, 3, 12) and a.dtype == torch.long
    assert ((a >= 0) & (a < V)).all()  # no delay padding left in the output
    assert torch.equal(a, run(1)) and not torch.equal(a, run(2))


@pytest.mark.parametrize("cfg_scale, penalty, prompt", [(1.5, 1.3, True), (1.0, 1.0, False), (3.0, 1.0, False)])
def test_kv_caches_give_the_naive_tokens(cfg_scale: float, penalty: float, prompt: bool) -> None:
    model = _model(seed=4, delays=(0, 1, 2))
    text, mask = _text("[verse] some words here", "[bridge] x")
    prompt_audio = torch.randint(0, V, (2, 3, 3)) if prompt else None
    runs = [model.generate(text, mask, 10, prompt_audio, cfg_scale=cfg_scale, top_k=10,
                           repetition_penalty=penalty, repetition_window=4,
                           generator=torch.Generator().manual_seed(7), **how)
            for how in ({"use_cache": False}, {"cache": "dynamic"}, {"cache": "static"})]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])


def test_guidance_scales_in_generate() -> None:
    model = _model(seed=2)
    text, mask = _text("[verse] guided lyric")
    null = torch.tensor([[TEXT.null_id]]), torch.ones(1, 1, dtype=torch.bool)

    def greedy(t: torch.Tensor, m: torch.Tensor, scale: float) -> torch.Tensor:
        return model.generate(t, m, 8, cfg_scale=scale, temperature=0.0)

    assert torch.equal(greedy(text, mask, 0.0), greedy(*null, 1.0))  # scale 0: the unconditional model
    assert not torch.equal(greedy(text, mask, 1.0), greedy(*null, 1.0))
    # scale 4: the first mixed token is the argmax of uncond + 4 (cond - uncond) of the teacher-forced logits
    first = greedy(text, mask, 4.0)
    step0 = lambda t, m: model(t, m, first[:, :, :1]).logits[0, 0, 0]  # noqa: E731
    assert int(first[0, 0, 0]) == int(guide(step0(text, mask), step0(*null), 4.0).argmax())
    assert int(first[0, 0, 0]) != int(step0(text, mask).argmax()) or int(first[0, 0, 0]) != int(step0(*null).argmax())


def test_condition_dropout_swaps_in_the_null_prompt() -> None:
    model = _model(cond_dropout=0.5, desc_dropout=0.0)  # description dropout: tests/test_describe_conditioning.py
    text, mask = _text("[verse] dropped sometimes")
    null = torch.tensor([[TEXT.null_id]]), torch.ones(1, 1, dtype=torch.bool)
    audio = torch.randint(0, V, (1, 3, 6))
    cond, uncond = float(model(text, mask, audio).loss.detach()), float(model(*null, audio).loss.detach())
    model.train()
    torch.manual_seed(0)
    seen = [float(model(text, mask, audio).loss.detach()) for _ in range(16)]
    assert all(min(abs(x - cond), abs(x - uncond)) < 1e-5 for x in seen)
    assert any(abs(x - cond) < 1e-5 for x in seen) and any(abs(x - uncond) < 1e-5 for x in seen)


def test_overfits_one_song_and_generates_it_back() -> None:
    model = _model(seed=1, cond_dropout=0.0).train()
    text, mask = _text("[verse] memorise me")
    audio = torch.randint(0, V, (1, 3, 16), generator=torch.Generator().manual_seed(3))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = model(text, mask, audio).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.1 * losses[0]
    model.eval()
    assert torch.equal(model.generate(text, mask, 16, cfg_scale=1.0, temperature=0.0), audio)


def test_config_round_trip_and_errors() -> None:
    for cfg in (LMConfig.tiny(), LMConfig.small(), LMConfig.v2_large()):
        assert LMConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(UsageError, match="unknown LM config keys: depth"):
        LMConfig.from_dict({"depth": 3})
    with pytest.raises(UsageError, match="delays"):
        LMConfig(delays=(1, 1, 1))
    model = _model()
    with pytest.raises(UsageError, match="max_frames"):
        model.generate(*_text("x"), 64)
    with pytest.raises(UsageError, match="compile=True needs"):
        model.generate(*_text("x"), 4, compile=True)


def test_v2_large_shape_is_about_4b_parameters() -> None:
    with torch.device("meta"):
        model = LeLM(LMConfig.v2_large(), TEXT.vocab_size, 16384)
    counts = model.parameter_count()
    assert 3.9e9 < counts["total"] < 4.3e9
    assert len(model.main.layers) == 36 and len(model.sub.layers) == 12 and model.main.config.hidden_size == 2048


def test_create_builds_in_the_requested_dtype() -> None:
    before = torch.get_default_dtype()
    model = LeLM.create(LMConfig.tiny(), TEXT.vocab_size, V, dtype=torch.bfloat16).eval()
    assert torch.get_default_dtype() == before
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    tokens = model.generate(*_text("[verse] half precision"), 5, generator=torch.Generator().manual_seed(0))
    assert tokens.shape == (1, 3, 5) and ((tokens >= 0) & (tokens < V)).all()
