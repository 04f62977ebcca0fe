"""The multi-level distillation loss (mmrazor's *loss*): one per-level criterion for each FPN level pair
matched by stride (:func:`benchmark.distill.levels.match_levels`); learnable connectors live inside the
criteria and are trained by the student optimiser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from benchmark.distill.levels import match_levels

if TYPE_CHECKING:
    from benchmark.distill.methods import MethodSpec
    from benchmark.zoo.card import ModelCard


class DistillLoss(nn.Module):
    """Sum over matched FPN levels of one method's per-level criterion, each level weighted by stride.

    ``criteria[<student level name>]`` is ``method.build(C_s, C_t, options)`` for that pair. In ``forward``
    the teacher map is detached and, where the spatial sizes differ, the student map is resized bilinearly
    to the teacher's (PKD's ``resize_stu`` convention). Returned keys are ``kd/<term>/<student level>``.
    Everything here runs in float32, under any autocast (``train.amp``, :mod:`benchmark.precision`):
    both maps are cast to float32 and the criteria (softmax attention, KL, normalisations) run outside autocast.
    """

    def __init__(
        self,
        method: MethodSpec,
        student_card: ModelCard,
        teacher_card: ModelCard,
        options: Mapping[str, Any],
        level_weights: Mapping[int, float] | None = None,
    ) -> None:
        super().__init__()
        self.pairs = match_levels(student_card, teacher_card)
        strides = {p.stride for p in self.pairs}
        unknown = sorted(set(level_weights or {}) - strides)
        if unknown:
            raise ValueError(
                f"level_weights name strides {unknown} that {student_card.name} and {teacher_card.name} "
                f"do not share (matched strides: {sorted(strides)})"
            )
        self.level_weights = {p.stride: float((level_weights or {}).get(p.stride, 1.0)) for p in self.pairs}
        self.criteria = nn.ModuleDict(
            {p.student.name: method.build(p.student.channels, p.teacher.channels, options) for p in self.pairs}
        )

    def forward(
        self,
        feats_S: Mapping[str, Tensor],
        feats_T: Mapping[str, Tensor],
        gt_bboxes: list[Tensor],
        img_metas: list[dict],
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        losses: dict[str, Tensor] = {}
        for pair in self.pairs:
            fs, ft = feats_S[pair.student.name].float(), feats_T[pair.teacher.name].detach().float()
            with torch.autocast(device_type=fs.device.type, enabled=False):
                if fs.shape[-2:] != ft.shape[-2:]:
                    fs = F.interpolate(fs, size=ft.shape[-2:], mode="bilinear", align_corners=False)
                terms = self.criteria[pair.student.name](fs, ft, gt_bboxes, img_metas, generator=generator)
            weight = self.level_weights[pair.stride]
            for term, value in terms.items():
                losses[f"kd/{term}/{pair.student.name}"] = weight * value
        return losses

    @staticmethod
    def total(losses: Mapping[str, Tensor]) -> Tensor:
        """Sum of the ``kd/...`` terms of :meth:`forward`."""
        if not losses:
            raise ValueError("no distillation terms to sum")
        return torch.stack([v for v in losses.values()]).sum()
