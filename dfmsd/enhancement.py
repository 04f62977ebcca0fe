"""DFMSD's masking enhancement (reference note §5.3).

Paper's words (abstract): a masking enhancement strategy, "combined with stage-wise learning", lets
"object-aware masking regions" be "adaptively strengthened". The formulas are our reading; in all three the
strength ``gamma`` is a constructor option that the run's stage schedule sets per stage (e.g. 0 then 1):

* E-a (``enhance_mode='attention'``, default): ``A_S <- A_S * (1 + gamma * fg)`` with ``fg`` the binary
  object region (FGD box extents, :func:`foreground_binary`), so attention-ranked selection
  prefers object cells; optionally the channel attention pools ``|F_T|`` with the same weights
  (:func:`object_channel_attention`).
* E-b (``'ratio'``): the mask ratios grow with the stage, ``r <- min(1, r + gamma * ratio_step)``.
* E-c (``'loss'``): the reconstruction error is weighted by ``1 + gamma * fg_w / max(fg_w)`` with ``fg_w``
  FGD's scale-aware foreground weights (:func:`baselines.fgd_masks.foreground_weights`; small boxes weigh most).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from baselines.fgd_masks import foreground_weights

ENHANCE_MODES = ("attention", "ratio", "loss")


def object_spatial_attention(attention: Tensor, foreground: Tensor, gamma: float) -> Tensor:
    """E-a: ``A_S * (1 + gamma * fg)``; (N, H, W) attention and binary foreground."""
    return attention * (1.0 + gamma * foreground)


def object_channel_attention(teacher: Tensor, foreground: Tensor, gamma: float, temp: float) -> Tensor:
    """E-a, channel part (our reading): ``C * softmax_c(pool_w |F_T| / T)`` with the pooling weights
    ``w = 1 + gamma * fg`` normalised per image; ``gamma = 0`` gives FGD's plain channel attention and a
    large ``gamma`` pools over object cells only."""
    n, c, h, w = teacher.shape
    weight = 1.0 + gamma * foreground.to(teacher.dtype)  # (N, H, W)
    weight = weight / weight.sum(dim=(1, 2), keepdim=True)
    pooled = (teacher.abs() * weight.unsqueeze(1)).sum(dim=(2, 3))
    return c * F.softmax(pooled / temp, dim=1)


def staged_ratio(ratio: float, gamma: float, step: float) -> float:
    """E-b: ``min(1, ratio + gamma * step)``."""
    return min(1.0, ratio + gamma * step)


def object_loss_weight(foreground_weights: Tensor, gamma: float) -> Tensor:
    """E-c: ``1 + gamma * fg_w / max(fg_w)`` per image as (N, 1, H, W); 1 everywhere in an image without boxes."""
    peak = foreground_weights.amax(dim=(1, 2), keepdim=True)
    rel = foreground_weights / peak.clamp(min=1e-12)
    return (1.0 + gamma * rel).unsqueeze(1)


def foreground_binary(
    gt_bboxes: list[Tensor], img_metas: list[dict], height: int, width: int, *, device: torch.device
) -> Tensor:
    """1 inside any box (FGD extents), else 0, as float32 (N, H, W): DFMSD's object-aware region."""
    fg = foreground_weights(gt_bboxes, img_metas, height, width, dtype=torch.float32, device=device)
    return (fg > 0).to(torch.float32)
