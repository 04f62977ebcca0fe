"""Feature capture and the multi-level distillation loss (mmrazor's recorder / connector / loss split).

* :class:`FeatureRecorder` - *what to capture*: a forward hook on a module named by dotted path.
* :func:`match_levels` - *which levels meet*: FPN levels paired by stride from the model cards, never by
  list position, so heterogeneous pairs (different channels, different level sets) work.
* :class:`DistillLoss` - *the loss*: one per-level criterion (``MethodSpec.build``) for each matched pair;
  learnable connectors live inside the criteria and are trained by the student optimiser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

if TYPE_CHECKING:  # runtime import would cycle through benchmark.zoo
    from benchmark.methods import MethodSpec
    from benchmark.zoo.card import FPNLevel, ModelCard


class FeatureRecorder:
    """Keeps the output of ``root.<path>`` from every forward while registered.

    Use as a context manager (the hook is removed on exit) or call :meth:`remove`. ``output`` is the
    last output (with its autograd graph), ``calls`` how many forwards ran since registration.
    """

    def __init__(self, root: nn.Module, path: str) -> None:
        try:
            module = root.get_submodule(path)
        except AttributeError:
            names = [n for n, _ in root.named_children()]
            raise ValueError(f"{type(root).__name__} has no submodule {path!r} (top-level children: {names})") from None
        self.path = path
        self.output: Any = None
        self.calls = 0
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        self.output = output
        self.calls += 1

    def remove(self) -> None:
        self._handle.remove()

    def __enter__(self) -> FeatureRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class UnmatchablePairError(ValueError):
    """A student and a teacher whose FPNs share no stride."""


@dataclass(frozen=True)
class LevelPair:
    student: FPNLevel
    teacher: FPNLevel

    @property
    def stride(self) -> int:
        return self.student.stride


def _by_stride(card: ModelCard) -> dict[int, FPNLevel]:
    out: dict[int, FPNLevel] = {}
    for level in card.levels:
        if level.stride in out:
            raise ValueError(f"model card {card.name}: levels {out[level.stride].name} and {level.name} share stride")
        out[level.stride] = level
    return out


def match_levels(student: ModelCard, teacher: ModelCard) -> list[LevelPair]:
    """Pairs of FPN levels with equal stride, finest first."""
    s, t = _by_stride(student), _by_stride(teacher)
    shared = sorted(set(s) & set(t))
    if not shared:
        raise UnmatchablePairError(
            f"cannot distil {teacher.name} into {student.name}: no shared FPN stride "
            f"(student strides {sorted(s)}, teacher strides {sorted(t)})"
        )
    return [LevelPair(s[stride], t[stride]) for stride in shared]


class DistillLoss(nn.Module):
    """Sum over matched FPN levels of one method's per-level criterion, each level weighted by stride.

    ``criteria[<student level name>]`` is ``method.build(C_s, C_t, options)`` for that pair. In ``forward``
    the teacher map is detached and, where the spatial sizes differ, the student map is resized bilinearly
    to the teacher's (PKD's ``resize_stu`` convention). Returned keys are ``kd/<term>/<student level>``.
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
            fs, ft = feats_S[pair.student.name], feats_T[pair.teacher.name].detach()
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
