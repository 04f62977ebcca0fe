"""PKD: General Distillation Framework for Object Detectors via Pearson Correlation Coefficient
(Cao et al., NeurIPS 2022), following mmrazor's ``PKDLoss`` (@ 90c7af1).

Per level: both features are standardised per channel over (N, H, W) (Eq. 3, :func:`channel_standardize`), and
the loss is ``loss_weight * mse(norm_S, norm_T) / 2``, which equals one minus the mean per-channel Pearson
correlation (up to the ``1e-6`` in the denominator and the unbiased std).

Ours beyond mmrazor: PKD needs equal channel counts; when they differ a learnable 1x1 ``align`` conv (with
bias, PyTorch default init) maps the student to the teacher's channels first (the usual heterogeneous
setting of the paper). Spatial sizes normally agree on the shared interface; if they do not, the student
(``resize_stu=True``) or the teacher is bilinearly resized to the other's size as in mmrazor (which tests
only the heights; we test both sides). The teacher feature is detached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.align import aligned_pair
from benchmark.distill.methods import register_method


def channel_standardize(feat: Tensor, eps: float = 1e-6) -> Tensor:
    """PKD's per-channel standardisation (Eq. 3): ``(f - mean_c) / (std_c + eps)`` over batch and positions,
    unbiased std, in the operation order of mmrazor's ``PKDLoss.norm`` (bit for bit); also DFMSD's alignment."""
    n, c, h, w = feat.shape
    flat = feat.permute(1, 0, 2, 3).reshape(c, -1)
    mean = flat.mean(dim=-1, keepdim=True)
    std = flat.std(dim=-1, keepdim=True)
    flat = (flat - mean) / (std + eps)
    return flat.reshape(c, n, h, w).permute(1, 0, 2, 3)


@register_method(
    "pkd",
    display="PKD",
    weights=("loss_weight",),
    description="PKD (NeurIPS 2022): MSE of per-channel standardised features (1 - Pearson r)",
    presets={
        # mmrazor pkd configs: 10 for RetinaNet/RepPoints/FCOS teachers -> one-stage students,
        # 6 for Faster R-CNN R101 -> R50 (and for the Swin-S Mask R-CNN -> RetinaNet pair).
        "one_stage": {"loss_weight": 10.0},
        "two_stage": {"loss_weight": 6.0},
    },
)
class PKDLoss(nn.Module):
    """Per-level PKD criterion; term ``pkd`` (already weighted)."""

    def __init__(
        self, student_channels: int, teacher_channels: int, loss_weight: float = 1.0, resize_stu: bool = True
    ) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.resize_stu = resize_stu
        self.align = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if (student_channels != teacher_channels)
            else None
        )

    def forward(
        self,
        preds_S: Tensor,
        preds_T: Tensor,
        gt_bboxes: list[Tensor] | None = None,
        img_metas: list[dict] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        preds_S, preds_T = aligned_pair("PKD", self.align, preds_S, preds_T, same_size=False)
        if preds_S.shape[-2:] != preds_T.shape[-2:]:
            if self.resize_stu:
                preds_S = F.interpolate(preds_S, preds_T.shape[-2:], mode="bilinear")
            else:
                preds_T = F.interpolate(preds_T, preds_S.shape[-2:], mode="bilinear")
        loss = F.mse_loss(channel_standardize(preds_S), channel_standardize(preds_T)) / 2
        return {"pkd": loss * self.loss_weight}
