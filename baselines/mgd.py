"""MGD: Masked Generative Distillation (Yang et al., ECCV 2022).

One FPN level of the paper's loss (Eq. 1-3): mask random spatial positions of the (aligned) student
feature, regenerate the full teacher feature from it with a small generator ``G`` (Conv3x3-ReLU-Conv3x3),
and penalise ``alpha_mgd * sum((G(M * F_S) - F_T)^2) / N``. Constructor arguments, defaults and submodule
names follow the official ``FeatureLoss`` (yzd-v/MGD @ 2c9da0b, identical in mmrazor's MGDConnector), so
official weights load with ``strict=True``.

The mask is drawn exactly as the official module does (``torch.rand((N, 1, H, W))`` on the CPU, 0 where
``rand > 1 - lambda_mgd``; one mask for all channels), from ``generator`` when given, else from the
global CPU generator, so ``torch.manual_seed(s)`` followed by an official forward and by ours draws the
same mask. The teacher feature is detached (the official distiller runs the teacher under ``no_grad``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.align import aligned_pair
from benchmark.distill.methods import register_method


def generation_block(channels: int) -> nn.Sequential:
    """MGD's generator ``G`` (Eq. 2): Conv3x3 -> ReLU -> Conv3x3 with biases; DFMSD/DMKD use one per masking
    branch, so state dicts of all three share the layout (``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``)."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel_size=3, padding=1),
    )


def random_spatial_mask(
    n: int, height: int, width: int, ratio: float, *, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """MGD's random mask (N, 1, H, W), 1 = kept, 0 = masked, drawn exactly as the official module does:
    ``torch.rand((N, 1, H, W))`` on the CPU (from ``generator``, or the global CPU generator when None),
    then 0 where ``rand > 1 - ratio``. Returned as float32 on ``device``."""
    mat = torch.rand((n, 1, height, width), generator=generator)
    return torch.where(mat > 1 - ratio, 0.0, 1.0).to(device)


@register_method(
    "mgd",
    display="MGD",
    weights=("alpha_mgd",),
    description="MGD (ECCV 2022): regenerate the teacher feature from a randomly masked student feature",
    presets={
        "one_stage": {"alpha_mgd": 0.00002, "lambda_mgd": 0.65},  # retina_rx101_64x4d_distill_retina_r50
        "two_stage": {"alpha_mgd": 0.0000005, "lambda_mgd": 0.45},  # cascade_mask_rcnn_..._distill_faster_rcnn
    },
)
class MGDLoss(nn.Module):
    """Per-level MGD criterion; term ``mgd`` (already weighted).

    ``align`` (1x1 conv with bias) maps the student to ``teacher_channels`` when the counts differ, else it
    is ``None``; ``generation`` is the generator ``G``. ``name`` is accepted for config compatibility with
    the official constructor and only stored.
    """

    def __init__(
        self,
        student_channels: int,
        teacher_channels: int,
        name: str | None = None,
        alpha_mgd: float = 0.00002,
        lambda_mgd: float = 0.65,
    ) -> None:
        super().__init__()
        if not 0.0 <= lambda_mgd <= 1.0:
            raise ValueError(f"MGD: lambda_mgd={lambda_mgd} is a masked fraction and must lie in [0, 1]")
        self.name = name
        self.alpha_mgd = alpha_mgd
        self.lambda_mgd = lambda_mgd
        self.align = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if (student_channels != teacher_channels)
            else None
        )
        self.generation = generation_block(teacher_channels)

    def forward(
        self,
        preds_S: Tensor,
        preds_T: Tensor,
        gt_bboxes: list[Tensor] | None = None,
        img_metas: list[dict] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        preds_S, preds_T = aligned_pair("MGD", self.align, preds_S, preds_T)
        n, _, h, w = preds_T.shape
        mask = random_spatial_mask(n, h, w, self.lambda_mgd, generator=generator, device=preds_S.device)
        new_fea = self.generation(torch.mul(preds_S, mask))
        return {"mgd": F.mse_loss(new_fea, preds_T, reduction="sum") / n * self.alpha_mgd}
