"""Per-channel feature standardisation (PKD, Cao et al., NeurIPS 2022, Eq. 3).

Shared by the PKD baseline and DFMSD's semantic alignment (reading A-a). Each channel is standardised
over the batch and spatial positions: ``(f - mean_c) / (std_c + 1e-6)`` with the unbiased std, in the
operation order of mmrazor's ``PKDLoss.norm`` so that results agree bit for bit.
"""

from __future__ import annotations

from torch import Tensor


def channel_standardize(feat: Tensor, eps: float = 1e-6) -> Tensor:
    n, c, h, w = feat.shape
    flat = feat.permute(1, 0, 2, 3).reshape(c, -1)
    mean = flat.mean(dim=-1, keepdim=True)
    std = flat.std(dim=-1, keepdim=True)
    flat = (flat - mean) / (std + eps)
    return flat.reshape(c, n, h, w).permute(1, 0, 2, 3)
