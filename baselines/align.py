"""The common start of the per-level criteria: the student mapped to the teacher's channels by the criterion's
own 1x1 connector (when it has one) and the teacher detached."""

from __future__ import annotations

from torch import Tensor, nn


def aligned_pair(
    method: str, align: nn.Module | None, preds_S: Tensor, preds_T: Tensor, *, same_size: bool = True
) -> tuple[Tensor, Tensor]:
    """``(align(preds_S), preds_T.detach())`` — the student mapped to the teacher's channels (``align`` None:
    unchanged) and the teacher without gradient, as every per-level criterion starts. With ``same_size`` the
    two maps must share H, W (the multi-level wrapper resizes before calling a criterion)."""
    if same_size and preds_S.shape[-2:] != preds_T.shape[-2:]:
        raise ValueError(f"{method}: student {tuple(preds_S.shape)} and teacher {tuple(preds_T.shape)} differ in H, W")
    return (align(preds_S) if align is not None else preds_S), preds_T.detach()
