"""FitNets-style feature imitation (Romero et al., ICLR 2015, "FitNets: Hints for Thin Deep Nets").

Per FPN level: a learnable 1x1 adapter maps the student feature to the teacher's channels (identity when
they already agree is *not* used: the hint regressor of FitNets is always learnable), then the mean
squared error to the (detached) teacher feature, times ``loss_weight``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.distill.methods import register_method


@register_method(
    "mimic",
    display="Mimic",
    weights=("loss_weight",),
    description="FitNets feature imitation: 1x1 adapter + MSE on every matched FPN level",
    defaults={"loss_weight": 1.0},
)
class MimicLoss(nn.Module):
    """``loss_weight * mean((adapter(F_S) - F_T)^2)`` on one level; term ``mimic``."""

    def __init__(self, student_channels: int, teacher_channels: int, *, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.adapter = nn.Conv2d(student_channels, teacher_channels, kernel_size=1)

    def forward(
        self,
        preds_S: Tensor,
        preds_T: Tensor,
        gt_bboxes: list[Tensor] | None = None,
        img_metas: list[dict] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        return {"mimic": self.loss_weight * F.mse_loss(self.adapter(preds_S), preds_T.detach())}
