"""Model cards in code (torchvision style): what a detector is, before it is built.

Level matching between a teacher and a student uses the strides on the cards, never list positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FPNLevel:
    """One feature-pyramid output: its key in the feature dict, channels and stride (input px per cell)."""

    name: str
    channels: int
    stride: int


@dataclass(frozen=True)
class ModelCard:
    """Metadata of one detector configuration.

    ``params`` and ``flops`` are measured on the built model (FLOPs of one forward at ``flops_input``,
    (H, W), counting a multiply-add as 2 FLOPs); ``weights`` says where initial weights come from.
    """

    name: str
    backend: str  # "torchvision" | "mmdet"
    family: str  # e.g. "faster_rcnn", "retinanet", "fcos"
    stages: int  # 1 = one-stage, 2 = two-stage
    levels: tuple[FPNLevel, ...]
    params: int
    flops: float
    flops_input: tuple[int, int]
    weights: str
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "two_stage" if self.stages == 2 else "one_stage"

    def level(self, name: str) -> FPNLevel:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"{self.name} has no FPN level {name!r}; levels: {[lv.name for lv in self.levels]}")
