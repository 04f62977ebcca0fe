"""Per-channel feature standardisation (PKD, Cao et al., NeurIPS 2022, Eq. 3).

Shared by the PKD baseline and DFMSD's semantic alignment (reading A-a). Each channel is standardised
over the batch and spatial positions: ``(f - mean_c) / (std_c + 1e-6)`` with the unbiased std, in the
operation order of mmrazor's ``PKDLoss.norm`` so that results agree bit for bit.
"""

from __future__ import annotations

from torch import Tensor, nn


def channel_standardize(feat: Tensor, eps: float = 1e-6) -> Tensor:
    n, c, h, w = feat.shape
    flat = feat.permute(1, 0, 2, 3).reshape(c, -1)
    mean = flat.mean(dim=-1, keepdim=True)
    std = flat.std(dim=-1, keepdim=True)
    flat = (flat - mean) / (std + eps)
    return flat.reshape(c, n, h, w).permute(1, 0, 2, 3)


def aligned_pair(
    method: str, align: nn.Module | None, preds_S: Tensor, preds_T: Tensor, *, same_size: bool = True
) -> tuple[Tensor, Tensor]:
    """``(align(preds_S), preds_T.detach())`` — the student mapped to the teacher's channels (``align`` None:
    unchanged) and the teacher without gradient, as every per-level criterion starts. With ``same_size`` the
    two maps must share H, W (the multi-level wrapper resizes before calling a criterion)."""
    if same_size and preds_S.shape[-2:] != preds_T.shape[-2:]:
        raise ValueError(f"{method}: student {tuple(preds_S.shape)} and teacher {tuple(preds_T.shape)} differ in H, W")
    return (align(preds_S) if align is not None else preds_S), preds_T.detach()
