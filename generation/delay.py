"""The delay pattern between LeLM's token streams (mixed, vocal, bgm).

One LM step emits one token per stream. With a delay of ``d`` frames on a stream, the step that emits the
mixed token of frame ``t`` emits that stream's token of frame ``t - d``: when the dual-track tokens of a frame
are chosen, the mixed token of the same frame (and ``d - 1`` later ones) is already known. That is why LeVo
delays the dual-track streams behind the mixed one: the mix fixes the harmony, the tracks fill in the detail.

    apply_delay([[a0 a1 a2], [b0 b1 b2]], (0, 1), P) == [[a0 a1 a2 P], [P b0 b1 b2]]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: Token streams, in the order every tensor of shape (B, 3, T) holds them: LeVo's mixed track + dual tracks.
STREAMS = ("mixed", "vocal", "bgm")


def _check(delays: Sequence[int], streams: int) -> None:
    if len(delays) != streams:
        raise ValueError(f"{len(delays)} delays for {streams} streams")
    if any(d < 0 for d in delays):
        raise ValueError(f"delays must be >= 0, got {tuple(delays)}")


def apply_delay(tokens: torch.Tensor, delays: Sequence[int], pad_id: int) -> torch.Tensor:
    """(B, S, T) tokens -> (B, S, T + max(delays)): stream ``s`` shifted right by ``delays[s]``, ``pad_id`` around."""
    b, s, t = tokens.shape[:3]
    _check(delays, s)
    out = tokens.new_full((b, s, t + max(delays), *tokens.shape[3:]), pad_id)
    for i, d in enumerate(delays):
        out[:, i, d:d + t] = tokens[:, i]
    return out


def revert_delay(tokens: torch.Tensor, delays: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`apply_delay`: (B, S, T + max(delays), ...) -> (B, S, T, ...).

    Works on any trailing dims, so per-position logits (B, S, T', V) are realigned to frames the same way.
    """
    s = tokens.shape[1]
    _check(delays, s)
    t = tokens.shape[2] - max(delays)
    if t < 0:
        raise ValueError(f"{tokens.shape[2]} delayed steps are fewer than the largest delay {max(delays)}")
    return torch.stack([tokens[:, i, d:d + t] for i, d in enumerate(delays)], dim=1)


def valid_mask(steps: int, delays: Sequence[int], device: torch.device | str | None = None) -> torch.Tensor:
    """(S, steps) bool: where a delayed sequence of ``steps`` holds a real token rather than delay padding."""
    t = steps - max(delays)
    idx = torch.arange(steps, device=device)
    return torch.stack([(idx >= d) & (idx < d + t) for d in delays])
