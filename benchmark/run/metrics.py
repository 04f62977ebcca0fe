"""The one schema of ``metrics.json`` (docs/record-format.md): :class:`RunMetrics`, written by the trainer and
read by the scheduler, ``status``, the quickstart, the reports and the test fakes.

``version`` 1 is a record written before this class existed (no ``version`` key); it reads the same, with the
newer fields empty. Values follow pycocotools: -1 where a split has no ground truth of that size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

METRICS_VERSION = 2
METRIC_NAMES = ("mAP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass
class Cost:
    params: int | None = None
    flops: float | None = None
    flops_input: list[int] | None = None
    train_time_s: float | None = None  # training iterations only (periodic evaluation excluded)
    step_time_s: float | None = None  # median seconds per iteration (data, teacher, student, optimiser)
    teacher_time_s: float | None = None  # median seconds of the teacher features per iteration
    kd_overhead: float | None = None  # not derivable from one run: measured side by side by dfmsd-bench bench
    infer_time_s: float | None = None  # seconds per image at the final evaluation
    eval_time_s: float | None = None  # seconds spent in periodic evaluations during training


@dataclass
class Stability:
    """What the divergence guard saw: the largest loss and the largest ratio of a loss to the running median of
    the losses before it (``train.diverge_window`` iterations), with the iteration of that ratio."""

    max_loss: float | None = None
    max_ratio: float | None = None
    max_ratio_iter: int | None = None
    window: int | None = None


@dataclass
class RunMetrics:
    run_id: str
    role: str  # teacher | student
    method: str
    version: int = METRICS_VERSION
    final: dict[str, float] | None = None  # test split, at the end
    final_val: dict[str, float] | None = None  # validation split, at the end (None without one)
    teacher_final: dict[str, float] | None = None  # the (last-stage) teacher on the test split
    teacher_final_val: dict[str, float] | None = None  # ... and on the validation split
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"train": [], "eval": []})
    cost: Cost = field(default_factory=Cost)
    best: dict[str, Any] | None = None  # {"mAP", "iter", "split"} of the best evaluation row
    stages: list[dict[str, Any]] = field(default_factory=list)  # the resolved stages (ResolvedStage.to_dict)
    stability: Stability = field(default_factory=Stability)
    weights_sha256: str | None = None  # of checkpoints/model_final.pt (what a student checks its teacher against)

    @property
    def done(self) -> bool:
        return self.final is not None

    def map(self, split: str = "test") -> float | None:
        """Final mAP on ``split`` ("test" | "val"), None when missing."""
        values = self.final if split == "test" else self.final_val
        return None if not values else values.get("mAP")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMetrics:
        """Any metrics.json this project wrote (unknown keys are ignored; missing ones take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs.setdefault("run_id", "")
        kwargs.setdefault("role", "student")
        kwargs.setdefault("method", "none")
        kwargs["version"] = int(data.get("version", 1))
        kwargs["cost"] = _sub(Cost, data.get("cost"))
        kwargs["stability"] = _sub(Stability, data.get("stability"))
        curves = data.get("curves") or {}
        kwargs["curves"] = {"train": list(curves.get("train") or []), "eval": list(curves.get("eval") or [])}
        kwargs["stages"] = list(data.get("stages") or [])
        return cls(**kwargs)


def _sub(cls: type, data: Any) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in (data or {}).items() if k in names})
