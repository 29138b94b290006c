"""LeLM: the language model over lyric text and three 25 Hz token streams (mixed, vocal, bgm).

Arrangement (after LeVo / SongGeneration's LeLM, built from transformers' ``LlamaModel`` run on
``inputs_embeds``)::

    main LM in : [text: <bos> <desc>... <sep> lyric][prompt frames][<audio-bos>][step 0]  ... [step T'-2]
    main LM out:                                                    mixed(0)    mixed(1) ... mixed(T'-1)
    sub-model  : main hidden(j) + embed(mixed(j))  ->  vocal(j), bgm(j)        for j = 0 .. T'-1

    (T' = T + max(delays) delayed steps; "step j" = the embedded tokens of all three streams at step j)

- The audio streams are delayed (:mod:`.delay`; mixed 0, vocal and bgm 1 frame by default) and one *step*
  carries one delayed frame of all three. The main LM's input at step ``j`` is the sum of the three stream
  embeddings of step ``j - 1`` (a learned begin-of-audio vector at step 0); its hidden state at step ``j``
  predicts the mixed token of step ``j`` (a linear head).
- The sub-model (another, smaller ``LlamaModel``, ``sub_layers`` deep; LeVo's v2-large uses 12) runs over the
  steps only. Its input at step ``j`` is the main hidden state of step ``j`` (projected) plus the embedding of the
  mixed token of step ``j`` (teacher-forced in training, just sampled in generation); two heads predict the
  vocal and bgm tokens of step ``j``. With delay 1 these belong to the previous frame, so the dual tracks are
  chosen knowing the mix of their own frame and the next one.
- Text is left-aligned inside the prefix (padding first, masked out; positions count real tokens only), so a
  batch of lyrics of different lengths gives each row exactly the logits it gets alone.
- Prompt audio (optional, e.g. 10 s of a reference song) is given undelayed, as (B, 3, P) frames embedded as
  the sum of stream embeddings plus a learned "prompt" vector.
- Classifier-free guidance: in training, with probability ``cond_dropout`` a row's text becomes the single
  ``<null>`` token (the prompt audio is kept: guidance strengthens the lyrics/descriptions, not the reference),
  and, independently, with probability ``desc_dropout`` a row keeps its lyric but loses its descriptions (the
  ``<desc> ...`` span is masked out, leaving exactly what a prompt without descriptions encodes to).
  ``generate`` runs conditional and unconditional rows in one batch of 2B and combines the logits of both
  heads with :func:`.sampling.guide`; ``guidance="text"`` guides on the whole text (unconditional: ``<null>``),
  ``guidance="descriptions"`` on the descriptions alone (unconditional: the same lyric without them).
- Both transformers are causal over steps and keep a KV cache while generating: transformers'
  ``DynamicCache``, or a preallocated ``StaticCache`` (``cache="static"``) whose fixed shapes let
  ``compile=True`` run each decode step as a CUDA graph. ``use_cache=False`` recomputes every prefix: the naive
  reference that every cached path must match token for token (tested in fp32).

Targets that are delay padding are never predicted: the heads have exactly ``audio_vocab`` outputs, the
loss skips padded steps, and generation writes padding there without sampling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Cache, DynamicCache, LlamaConfig, LlamaModel, StaticCache

from songprep.errors import UsageError
from songprep.generation.config_dict import config_from_dict, config_to_dict
from songprep.generation.delay import STREAMS, apply_delay, revert_delay, valid_mask
from songprep.generation.lyric_tokenizer import DESC_ID, NULL_ID, SEP_ID
from songprep.generation.sampling import guide, penalise_repeats, sample


@dataclass
class LMConfig:
    """Sizes of LeLM. ``sub_*`` fields of 0 take the main model's value."""

    layers: int = 2
    width: int = 64
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 128
    sub_layers: int = 1
    sub_width: int = 0
    sub_heads: int = 0
    sub_kv_heads: int = 0
    sub_ffn: int = 0
    max_frames: int = 1024  # audio steps per sequence: prompt frames + frames + max(delays)
    max_text_tokens: int = 2048
    delays: tuple[int, ...] = (0, 1, 1)  # per stream, in STREAMS order
    cond_dropout: float = 0.1
    desc_dropout: float = 0.1  # rows that lose only their descriptions (guidance on descriptions)
    null_id: int = NULL_ID  # the lyric tokenizer's <null> token: the unconditional prompt
    desc_id: int = DESC_ID  # <desc> and <sep> delimit the descriptions inside the text
    sep_id: int = SEP_ID
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    init_std: float = 0.02
    attention: str = "sdpa"  # transformers attn_implementation: "sdpa", "eager", "flash_attention_2"

    def __post_init__(self) -> None:
        self.delays = tuple(int(d) for d in self.delays)
        if len(self.delays) != len(STREAMS) or min(self.delays) < 0 or self.delays[0] != 0:
            raise UsageError(f"lm.delays must be {len(STREAMS)} non-negative ints with mixed at 0, got {self.delays}")
        if self.width % self.heads or self.heads % self.kv_heads:
            raise UsageError(f"lm: width {self.width} must divide into {self.heads} heads, "
                             f"in groups of {self.kv_heads}")
        for name in ("cond_dropout", "desc_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UsageError(f"lm.{name} must be in [0, 1), got {getattr(self, name)}")

    def sub(self) -> tuple[int, int, int, int]:
        """(width, heads, kv_heads, ffn) of the dual-track sub-model."""
        return (self.sub_width or self.width, self.sub_heads or self.heads, self.sub_kv_heads or self.kv_heads,
                self.sub_ffn or self.ffn)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LMConfig:
        return config_from_dict(cls, d, "LM")

    @classmethod
    def tiny(cls) -> LMConfig:
        """0.16 M parameters with a 64-code vocabulary: trains and samples on CPU in seconds (tests)."""
        return cls(layers=2, width=64, heads=4, kv_heads=2, ffn=128, sub_layers=1, max_frames=1024)

    @classmethod
    def small(cls) -> LMConfig:
        """~0.11 B parameters with 1024 codes (main 76 M, sub-model 25 M): a single-GPU experiment size."""
        return cls(layers=12, width=768, heads=12, kv_heads=4, ffn=2048, sub_layers=4, max_frames=6000)

    @classmethod
    def v2_large(cls) -> LMConfig:
        """LeVo v2-large's shape: 36-layer width-2048 main LM and a 12-layer dual-track sub-model, 4.09 B
        parameters with 16384 codes (main 2.89 B, sub-model 0.96 B, embeddings and heads 0.24 B; Llama-style
        FFN 11008, grouped-query attention 16/8 heads); 7500 steps = 5 minutes at 25 Hz."""
        return cls(layers=36, width=2048, heads=16, kv_heads=8, ffn=11008, sub_layers=12, max_frames=7500)


@dataclass
class LeLMOutput:
    """``loss``: mean over streams of each stream's mean CE; ``logits``: (B, 3, T, V) aligned to the frames
    of ``audio`` (delay undone); ``stream_losses``: CE per stream name."""

    loss: torch.Tensor
    logits: torch.Tensor
    stream_losses: dict[str, torch.Tensor] = field(default_factory=dict)


def _llama(layers: int, width: int, heads: int, kv_heads: int, ffn: int, cfg: LMConfig, positions: int) -> LlamaModel:
    config = LlamaConfig(vocab_size=1, hidden_size=width, intermediate_size=ffn, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=positions,
                         rms_norm_eps=cfg.norm_eps, initializer_range=cfg.init_std, use_cache=True,
                         pad_token_id=None, bos_token_id=None, eos_token_id=None,
                         rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta})
    config._attn_implementation = cfg.attention
    model = LlamaModel(config)
    model.embed_tokens = None  # LeLM embeds its own inputs; the unused table would only cost memory
    return model


class LeLM(nn.Module):
    """See the module docstring. ``audio_vocab`` is the codebook size; id ``audio_vocab`` is the delay pad."""

    def __init__(self, cfg: LMConfig, text_vocab: int, audio_vocab: int) -> None:
        super().__init__()
        if not 0 <= cfg.null_id < text_vocab:
            raise UsageError(f"lm.null_id {cfg.null_id} is outside the text vocabulary of {text_vocab}")
        self.cfg = cfg
        self.text_vocab, self.audio_vocab = text_vocab, audio_vocab
        self.pad_token = audio_vocab
        w = cfg.width
        sw, sh, skv, sffn = cfg.sub()
        self.text_embed = nn.Embedding(text_vocab, w)
        self.audio_embed = nn.ModuleList(nn.Embedding(audio_vocab + 1, w) for _ in STREAMS)
        self.audio_bos = nn.Parameter(torch.zeros(w))
        self.prompt_type = nn.Parameter(torch.zeros(w))
        self.main = _llama(cfg.layers, w, cfg.heads, cfg.kv_heads, cfg.ffn, cfg, cfg.max_text_tokens + cfg.max_frames)
        self.mixed_head = nn.Linear(w, audio_vocab, bias=False)
        self.sub_in = nn.Linear(w, sw, bias=False)
        self.sub_mixed_embed = nn.Embedding(audio_vocab + 1, sw)
        self.sub = _llama(cfg.sub_layers, sw, sh, skv, sffn, cfg, cfg.max_frames)
        self.dual_heads = nn.ModuleList(nn.Linear(sw, audio_vocab, bias=False) for _ in STREAMS[1:])
        for module in [self.text_embed, *self.audio_embed, self.mixed_head, self.sub_in, self.sub_mixed_embed,
                       *self.dual_heads]:
            nn.init.normal_(module.weight, std=cfg.init_std)
        nn.init.normal_(self.audio_bos, std=cfg.init_std)

    @classmethod
    def create(cls, cfg: LMConfig, text_vocab: int, audio_vocab: int, *, device: str | torch.device | None = None,
               dtype: torch.dtype | None = None) -> LeLM:
        """Build directly on ``device`` in ``dtype`` (a 4 B model never exists in fp32 on the CPU first)."""
        with _default_dtype(dtype), torch.device(device or "cpu"):
            return cls(cfg, text_vocab, audio_vocab)

    def parameter_count(self) -> dict[str, int]:
        main = sum(p.numel() for p in self.main.parameters())
        sub = sum(p.numel() for p in self.sub.parameters())
        total = sum(p.numel() for p in self.parameters())
        return {"main": main, "sub": sub, "embeddings+heads": total - main - sub, "total": total}

    # ---- building inputs -------------------------------------------------------------------------------------

    def _prefix(self, text_ids: torch.Tensor, text_mask: torch.Tensor, prompt_audio: torch.Tensor | None,
                null: torch.Tensor | None, no_desc: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedded (B, L + P, W) text (left-aligned) + prompt frames, and the mask of real positions.

        ``null`` (B,) bool: rows whose text is replaced by the single ``<null>`` token; ``no_desc`` (B,) bool:
        rows whose ``<desc> ...`` span is masked out (their lyric stays).
        """
        if text_ids.shape[1] > self.cfg.max_text_tokens:
            raise UsageError(f"{text_ids.shape[1]} text tokens exceed lm.max_text_tokens {self.cfg.max_text_tokens}")
        if prompt_audio is not None and (prompt_audio.ndim != 3 or prompt_audio.shape[1] != len(STREAMS)):
            raise ValueError(f"prompt_audio must be (B, {len(STREAMS)}, P), got {tuple(prompt_audio.shape)}")
        mask = text_mask.bool()
        if no_desc is not None:
            mask = mask & ~(no_desc[:, None] & self._description_span(text_ids))
        order = torch.argsort(mask.to(torch.int8), dim=1, stable=True)  # padding first, real tokens in order
        ids, mask = text_ids.gather(1, order), mask.gather(1, order)
        if null is not None:
            if ids.shape[1] == 0:
                ids, mask = ids.new_zeros(ids.shape[0], 1), mask.new_zeros(mask.shape[0], 1)
            last = torch.zeros_like(mask)
            last[:, -1] = True
            ids = torch.where(null[:, None] & last, torch.full_like(ids, self.cfg.null_id), ids)
            mask = torch.where(null[:, None], last, mask)
        embeds = self.text_embed(ids)
        if prompt_audio is not None:
            prompt = self._frames(prompt_audio) + self.prompt_type
            embeds = torch.cat([embeds, prompt], dim=1)
            mask = torch.cat([mask, mask.new_ones(prompt.shape[:2])], dim=1)
        return embeds, mask

    def _description_span(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) bool: the ``<desc>`` token and the description bytes up to (not including) the first ``<sep>``."""
        after_desc = (ids == self.cfg.desc_id).long().cumsum(1) > 0
        before_sep = (ids == self.cfg.sep_id).long().cumsum(1) == 0
        return after_desc & before_sep

    def _frames(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, 3, T) stream tokens -> (B, T, W): the sum of the three stream embeddings."""
        return sum(emb(tokens[:, i]) for i, emb in enumerate(self.audio_embed))

    def _step_inputs(self, delayed: torch.Tensor) -> torch.Tensor:
        """Main-LM inputs for steps 0..T'-1: <audio-bos>, then the embedded step before each step."""
        bos = self.audio_bos.expand(delayed.shape[0], 1, -1)
        return torch.cat([bos, self._frames(delayed[:, :, :-1])], dim=1)

    def _logits(self, text_ids: torch.Tensor, text_mask: torch.Tensor, audio: torch.Tensor,
                prompt_audio: torch.Tensor | None, null: torch.Tensor | None,
                no_desc: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits (B, 3, T', V) for the delayed sequence, and that sequence (B, 3, T')."""
        if audio.ndim != 3 or audio.shape[1] != len(STREAMS):
            raise ValueError(f"audio must be (B, {len(STREAMS)}, T) tokens, got {tuple(audio.shape)}")
        delayed = apply_delay(audio, self.cfg.delays, self.pad_token)
        prefix, prefix_mask = self._prefix(text_ids, text_mask, prompt_audio, null, no_desc)
        steps = delayed.shape[2]
        self._check_length(steps + (0 if prompt_audio is None else prompt_audio.shape[2]))
        embeds = torch.cat([prefix, self._step_inputs(delayed).to(prefix.dtype)], dim=1)
        mask = torch.cat([prefix_mask, prefix_mask.new_ones(prefix_mask.shape[0], steps)], dim=1)
        hidden = self.main(inputs_embeds=embeds, attention_mask=mask, position_ids=_positions(mask),
                           use_cache=False).last_hidden_state[:, -steps:]
        sub = self.sub(inputs_embeds=self.sub_in(hidden) + self.sub_mixed_embed(delayed[:, 0]),
                       use_cache=False).last_hidden_state
        logits = torch.stack([self.mixed_head(hidden), *(head(sub) for head in self.dual_heads)], dim=1)
        return logits, delayed

    def _check_length(self, steps: int) -> None:
        if steps > self.cfg.max_frames:
            raise UsageError(f"{steps} audio steps (prompt + frames + delay) exceed lm.max_frames "
                             f"{self.cfg.max_frames}")

    # ---- training ----------------------------------------------------------------------------------------------

    def forward(self, text_ids: torch.Tensor, text_mask: torch.Tensor, audio: torch.Tensor,
                prompt_audio: torch.Tensor | None = None) -> LeLMOutput:
        """Teacher-forced CE of all three streams; in training mode rows lose their text w.p. ``cond_dropout``
        and their descriptions alone w.p. ``desc_dropout``."""
        null = no_desc = None
        if self.training and self.cfg.cond_dropout > 0:
            null = torch.rand(text_ids.shape[0], device=text_ids.device) < self.cfg.cond_dropout
        if self.training and self.cfg.desc_dropout > 0:
            no_desc = torch.rand(text_ids.shape[0], device=text_ids.device) < self.cfg.desc_dropout
        logits, delayed = self._logits(text_ids, text_mask, audio, prompt_audio, null, no_desc)
        valid = valid_mask(delayed.shape[2], self.cfg.delays, delayed.device)
        losses = {}
        for i, name in enumerate(STREAMS):
            losses[name] = F.cross_entropy(logits[:, i][:, valid[i]].float().flatten(0, 1),
                                           delayed[:, i][:, valid[i]].flatten())
        loss = torch.stack(list(losses.values())).mean()
        return LeLMOutput(loss, revert_delay(logits, self.cfg.delays), losses)

    def sequence_logprob(self, text_ids: torch.Tensor, text_mask: torch.Tensor, audio: torch.Tensor,
                         prompt_audio: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) summed log p(audio | text, prompt) over every token of the three streams (no condition dropout):
        the sequence score DPO compares between the policy and the reference."""
        logits, delayed = self._logits(text_ids, text_mask, audio, prompt_audio, None)
        logp = logits.float().log_softmax(-1)
        target = delayed.clamp(max=self.audio_vocab - 1)
        picked = logp.gather(-1, target[..., None]).squeeze(-1)  # (B, 3, T')
        valid = valid_mask(delayed.shape[2], self.cfg.delays, delayed.device)
        return (picked * valid).sum(dim=(1, 2))

    # ---- generation ----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, text_ids: torch.Tensor, text_mask: torch.Tensor, num_frames: int,
                 prompt_audio: torch.Tensor | None = None, *, cfg_scale: float = 1.5, temperature: float = 1.0,
                 top_k: int = 50, repetition_penalty: float = 1.0, repetition_window: int = 100,
                 generator: torch.Generator | None = None, use_cache: bool = True, cache: str = "dynamic",
                 compile: bool = False, guidance: str = "text") -> torch.Tensor:
        """Sample (B, 3, num_frames) tokens. ``cfg_scale`` 1 skips the unconditional half of the batch.

        ``guidance``: what the unconditional half lacks: ``"text"`` (it reads ``<null>``) or ``"descriptions"``
        (it reads the same lyric without the descriptions).

        The repetition penalty looks at the last ``repetition_window`` tokens each stream generated.
        ``cache``: ``"dynamic"`` (grows per step) or ``"static"`` (preallocated for the whole song: fixed shapes,
        no per-step reallocation); ``compile`` (static cache only) runs each decode step through
        ``torch.compile(mode="reduce-overhead")``, i.e. CUDA graphs on a GPU, removing per-kernel launch cost.
        """
        if guidance not in GUIDANCE:
            raise UsageError(f"guidance must be one of {', '.join(GUIDANCE)}, got {guidance!r}")
        if cache not in ("dynamic", "static"):
            raise UsageError(f"cache must be 'dynamic' or 'static', got {cache!r}")
        if compile and not (use_cache and cache == "static"):
            raise UsageError("compile=True needs use_cache=True and cache='static' (fixed shapes)")
        b = text_ids.shape[0]
        d = self.cfg.delays
        steps = num_frames + max(d)
        self._check_length(steps + (0 if prompt_audio is None else prompt_audio.shape[2]))
        guided = cfg_scale != 1.0
        if guided:
            text_ids, text_mask = text_ids.repeat(2, 1), text_mask.repeat(2, 1)
            prompt_audio = None if prompt_audio is None else prompt_audio.repeat(2, 1, 1)
            second = torch.arange(2 * b, device=text_ids.device) >= b
            null, no_desc = (second, None) if guidance == "text" else (None, second)
        else:
            null = no_desc = None
        prefix, prefix_mask = self._prefix(text_ids, text_mask, prompt_audio, null, no_desc)
        rows, width = prefix.shape[0], prefix.shape[1] + 1
        tokens = torch.full((b, len(STREAMS), steps), self.pad_token, dtype=torch.long, device=prefix.device)
        valid = valid_mask(steps, d).tolist()  # on the host: no device sync per step
        main_in = torch.cat([prefix, self.audio_bos.expand(rows, 1, -1).to(prefix.dtype)], dim=1)
        # positions and mask of the whole sequence (prefix + <audio-bos> + steps - 1 inputs), sliced per step
        static = use_cache and cache == "static"
        # static caches are sized in buckets so songs of similar length reuse one compiled graph
        total = _bucket(width + steps - 1) if static else width + steps - 1
        full_mask = torch.cat([prefix_mask, prefix_mask.new_ones(rows, total - width + 1)], dim=1)
        positions = _positions(full_mask)
        main_cache = sub_cache = None
        if static:
            main_cache = StaticCache(config=self.main.config, max_cache_len=total)
            sub_cache = StaticCache(config=self.sub.config, max_cache_len=_bucket(steps))
        elif use_cache:
            main_cache, sub_cache = DynamicCache(config=self.main.config), DynamicCache(config=self.sub.config)
        main_step, sub_step = (self._compiled_steps() if compile else (self._main_step, self._sub_step))
        sub_in = prefix.new_zeros(rows, 0, self.sub_in.out_features)
        new_in = main_in

        # every uniform number of the song drawn up front, in (step, stream, row) order: one host-device copy
        gen_device = generator.device if generator is not None else prefix.device
        uniforms = torch.rand(steps, len(STREAMS), b, generator=generator, device=gen_device).to(prefix.device)

        def choose(logits: torch.Tensor, stream: int, j: int) -> torch.Tensor:
            if not valid[stream][j]:
                return tokens.new_full((b,), self.pad_token)
            logits = logits.float()
            if guided:
                logits = guide(logits[:b], logits[b:], cfg_scale)
            if repetition_penalty != 1.0:
                history = tokens[:, stream, max(0, j - repetition_window):j]
                logits = penalise_repeats(logits, torch.where(history == self.pad_token, -1, history),
                                          repetition_penalty)
            return sample(logits, temperature=temperature, top_k=top_k, uniform=uniforms[j, stream])

        for j in range(steps):
            seen = width + j  # sequence length after this step's input
            if main_cache is None:
                hidden = self._main_step(main_in, full_mask[:, :seen], positions[:, :seen], None)
            elif cache == "static" and j > 0:  # fixed shapes: the whole mask, causality comes from the cache
                hidden = main_step(new_in, full_mask, positions[:, seen - 1:seen], main_cache)
            else:
                hidden = self._main_step(new_in, full_mask[:, :seen], positions[:, seen - new_in.shape[1]:seen],
                                         main_cache)
            tokens[:, 0, j] = choose(self.mixed_head(hidden[:, 0]), 0, j)
            mixed = tokens[:, 0, j:j + 1].repeat(rows // b, 1)
            step_in = self.sub_in(hidden) + self.sub_mixed_embed(mixed)
            if sub_cache is None:
                sub_in = torch.cat([sub_in, step_in], dim=1)
                sub_hidden = self._sub_step(sub_in, None)
            else:
                sub_hidden = sub_step(step_in, sub_cache)
            for i, head in enumerate(self.dual_heads, start=1):
                tokens[:, i, j] = choose(head(sub_hidden), i, j)
            if j + 1 < steps:
                new_in = self._frames(tokens[:, :, j:j + 1].repeat(rows // b, 1, 1)).to(prefix.dtype)
                if main_cache is None:
                    main_in = torch.cat([main_in, new_in], dim=1)
        return revert_delay(tokens, d)

    def _main_step(self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                   cache: Cache | None) -> torch.Tensor:
        """The main LM's last hidden state (rows, 1, W) after ``embeds`` (appended to ``cache`` if given)."""
        out = self.main(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, cache=cache,
                        use_cache=cache is not None)
        return out.last_hidden_state[:, -1:]

    def _sub_step(self, embeds: torch.Tensor, cache: Cache | None) -> torch.Tensor:
        """The sub-model's last hidden state (rows, W_sub)."""
        return self.sub(inputs_embeds=embeds, cache=cache, use_cache=cache is not None).last_hidden_state[:, -1]

    def _compiled_steps(self) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]:
        if not hasattr(self, "_compiled"):
            self._compiled = (torch.compile(self._main_step, mode="reduce-overhead", dynamic=False),
                              torch.compile(self._sub_step, mode="reduce-overhead", dynamic=False))
        return self._compiled


#: What classifier-free guidance can strengthen (see :meth:`LeLM.generate`).
GUIDANCE = ("text", "descriptions")


def _bucket(n: int, size: int = 256) -> int:
    return -(-n // size) * size


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """RoPE positions that count only real tokens, so left padding does not shift a row."""
    return (mask.long().cumsum(1) - 1).clamp(min=0)


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype | None) -> Iterator[None]:
    if dtype is None:
        yield
        return
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)
