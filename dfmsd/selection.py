"""Attention-ranked feature masks for DFMSD/DMKD's two masking branches.

Paper's words (DMKD/DFMSD abstracts): a "dual attention mechanism" guides a spatial and a channel masking
branch over "spatially important regions" and "crucial object-aware channel clues". Everything concrete
here is our reading (reference note §4, choices D1/D2):

* ``top`` (D1-a, default): mask the ``ceil(r * K)`` highest-scoring elements (``topk`` + ``scatter``; no RNG,
  deterministic tie-breaking);
* ``bottom`` (D1-b): mask the ``ceil(r * K)`` lowest-scoring elements;
* ``bernoulli`` (D1-c): mask each element independently with probability ``min(1, r * s / mean(s))``
  (expected masked share ``r`` before clipping), drawn as MGD draws: CPU ``torch.rand`` from ``generator``,
  masked where ``rand > 1 - p``;
* ``random``: MGD's attention-free mask (:func:`baselines.mgd.random_spatial_mask`); the channel branch draws
  ``(N, C)`` values the same way (mmrazor's ``mask_on_channel``).

``soft`` masks (D2 alternative) keep ``1 - s / max(s)`` (``top``) or ``s / max(s)`` (``bottom``) per image
instead of a binary choice; the ratio is then unused. Masks are float32, 1 = kept, 0 = masked (MGD).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from baselines.mgd import random_spatial_mask

MASK_SELECTS = ("top", "bottom", "bernoulli", "random")
MASK_TYPES = ("hard", "soft")


def mask_count(ratio: float, total: int) -> int:
    """``ceil(ratio * total)`` clamped to ``[0, total]``, immune to float noise (``0.7 * 10`` gives 7)."""
    return min(total, max(0, math.ceil(ratio * total - 1e-9)))


def keep_mask(
    scores: Tensor, ratio: float, *, select: str, mask_type: str = "hard", generator: torch.Generator | None = None
) -> Tensor:
    """Keep mask (N, K) float32 for per-image scores (N, K) (attention after enhancement)."""
    n, total = scores.shape
    scores = scores.float()
    if mask_type == "soft":
        rel = scores / scores.amax(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny)
        return 1.0 - rel if select == "top" else rel
    if select in ("top", "bottom"):
        index = scores.topk(mask_count(ratio, total), dim=1, largest=select == "top", sorted=False).indices
        return torch.ones_like(scores).scatter_(1, index, 0.0)
    if select == "bernoulli":
        prob = (ratio * scores / scores.mean(dim=1, keepdim=True)).clamp(max=1.0)
        draw = torch.rand((n, total), generator=generator).to(scores.device)
        return torch.where(draw > 1 - prob, 0.0, 1.0)
    return random_spatial_mask(n, 1, total, ratio, generator=generator, device=scores.device).view(n, total)


def spatial_keep_mask(
    attention: Tensor, ratio: float, *, select: str, mask_type: str, generator: torch.Generator | None
) -> Tensor:
    """Spatial branch: (N, H, W) attention -> (N, 1, H, W) keep mask; ``random`` is exactly MGD's draw."""
    n, h, w = attention.shape
    if select == "random":
        return random_spatial_mask(n, h, w, ratio, generator=generator, device=attention.device)
    return keep_mask(attention.reshape(n, h * w), ratio, select=select, mask_type=mask_type, generator=generator).view(
        n, 1, h, w
    )


def channel_keep_mask(
    attention: Tensor, ratio: float, *, select: str, mask_type: str, generator: torch.Generator | None
) -> Tensor:
    """Channel branch: (N, C) attention -> (N, C, 1, 1) keep mask."""
    n, c = attention.shape
    return keep_mask(attention, ratio, select=select, mask_type=mask_type, generator=generator).view(n, c, 1, 1)
