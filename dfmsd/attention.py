"""Spatial and channel attention of a feature map (FGD, Yang et al., CVPR 2022, Eq. 1-3).

Shared by DFMSD/DMKD (masks ranked by the teacher's attention) and the FGD baseline. The operation order
follows the official FGD ``get_attention`` so that results agree bit for bit.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def attention_maps(feat: Tensor, temp: float) -> tuple[Tensor, Tensor]:
    """Return ``(spatial (N, H, W), channel (N, C))`` attention, each with mean 1.

    ``A_S = H*W * softmax_hw(mean_c |F| / T)`` and ``A_C = C * softmax_c(mean_hw |F| / T)``.
    """
    n, c, h, w = feat.shape
    value = feat.abs()
    spatial_map = value.mean(dim=1, keepdim=True)
    spatial = (h * w * F.softmax((spatial_map / temp).view(n, -1), dim=1)).view(n, h, w)
    channel_map = value.mean(dim=2, keepdim=False).mean(dim=2, keepdim=False)
    channel = c * F.softmax(channel_map / temp, dim=1)
    return spatial, channel
