"""Token choice for LeLM: classifier-free guidance, repetition penalty, temperature and top-k, seeded.

Each function takes float logits (..., V) and returns new logits or ids; :meth:`LeLM.generate` calls them
in the order guidance -> repetition penalty -> temperature/top-k sampling. Sampling draws its uniform numbers
from the caller's ``torch.Generator`` on the generator's own device, so a CPU generator drives a CUDA model
and the same seed gives the same tokens whichever way (cached or not) the logits were computed.
"""

from __future__ import annotations

import torch


def guide(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: ``uncond + scale * (cond - uncond)`` (scale 0: unconditional, 1: conditional)."""
    return uncond + scale * (cond - uncond)


def penalise_repeats(logits: torch.Tensor, history: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style repetition penalty: tokens in ``history`` (B, W) get positive logits divided by ``penalty``
    and negative ones multiplied by it. Negative history ids (not yet generated) are ignored."""
    if penalty == 1.0 or history.numel() == 0:
        return logits
    valid = (history >= 0).to(logits.dtype)
    seen = torch.zeros_like(logits).scatter_add_(-1, history.clamp(min=0), valid) > 0  # scatter_add: no write races
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def sample(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0,
           generator: torch.Generator | None = None, uniform: torch.Tensor | None = None) -> torch.Tensor:
    """Ids (B,) drawn from (B, V) logits: top-k (0 = all), temperature (0 = greedy), by inverse CDF.

    Inverse-CDF with one uniform number per row rather than ``torch.multinomial`` keeps draws identical across
    devices. The numbers come from ``uniform`` (B,) when given (LeLM draws a whole song's at once, so a CPU
    generator costs no host-device copy per step), else from ``generator`` on its own device.
    """
    logits = logits.float()
    if temperature <= 0:
        return logits.argmax(-1)
    k = logits.shape[-1] if top_k <= 0 else min(top_k, logits.shape[-1])
    values, ids = logits.topk(k, dim=-1)  # sorted descending
    probs = torch.softmax(values / temperature, dim=-1)
    if uniform is None:
        device = generator.device if generator is not None else logits.device
        uniform = torch.rand(logits.shape[0], generator=generator, device=device)
    u = uniform.to(logits.device).reshape(-1, 1)
    pick = (probs.cumsum(-1) < u * probs.sum(-1, keepdim=True)).sum(-1, keepdim=True).clamp(max=k - 1)
    return ids.gather(-1, pick).squeeze(-1)
