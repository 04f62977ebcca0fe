"""Optimiser and learning-rate schedule of a run (detection-style, iteration based).

Two parameter groups, always present and always in this order: ``student`` (weight decay
``train.weight_decay``) and ``criterion`` (the distillation modules' learnable parts: adapters,
generators; same learning rate, no weight decay; empty without a teacher). A stage switch swaps the
criterion group's parameters and keeps the student's optimiser state.

The learning rate is a pure function of the iteration (:func:`lr_factor`), set before every step; so one
continuous schedule spans all stages and resuming needs no scheduler state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchmark.config import TrainConfig

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine", "constant")


def _trainable(module: nn.Module | None) -> list[nn.Parameter]:
    return [] if module is None else [p for p in module.parameters() if p.requires_grad]


def build_optimizer(student: nn.Module, criterion: nn.Module | None, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum) or AdamW over the ``student`` and ``criterion`` parameter groups."""
    groups = [
        {"name": "student", "params": _trainable(student), "weight_decay": cfg.weight_decay, "base_lr": cfg.lr},
        {"name": "criterion", "params": _trainable(criterion), "weight_decay": 0.0, "base_lr": cfg.lr},
    ]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    raise ValueError(f"train.optimizer: unknown optimizer {cfg.optimizer!r} ({'|'.join(OPTIMIZERS)})")


def replace_criterion_group(optimizer: torch.optim.Optimizer, criterion: nn.Module | None) -> None:
    """Put ``criterion``'s parameters in the criterion group, dropping the old ones' optimiser state."""
    group = next(g for g in optimizer.param_groups if g.get("name") == "criterion")
    for p in group["params"]:
        optimizer.state.pop(p, None)
    group["params"] = _trainable(criterion)


def lr_factor(iteration: int, cfg: TrainConfig) -> float:
    """Multiplier of ``train.lr`` for the step with 0-based index ``iteration``.

    Linear warm-up from ``warmup_factor`` to 1 over ``warmup_iters`` (torchvision's reference), times the
    schedule: ``step`` multiplies by ``lr_gamma`` at each milestone (fractions of ``iterations``),
    ``cosine`` decays as ``(1 + cos(pi t / T)) / 2``, ``constant`` keeps 1.
    """
    if iteration < cfg.warmup_iters:
        alpha = iteration / cfg.warmup_iters
        warm = cfg.warmup_factor * (1.0 - alpha) + alpha
    else:
        warm = 1.0
    if cfg.schedule == "step":
        passed = sum(iteration >= round(m * cfg.iterations) for m in cfg.milestones)
        decay = cfg.lr_gamma**passed
    elif cfg.schedule == "cosine":
        decay = 0.5 * (1.0 + math.cos(math.pi * min(iteration, cfg.iterations) / max(cfg.iterations, 1)))
    elif cfg.schedule == "constant":
        decay = 1.0
    else:
        raise ValueError(f"train.schedule: unknown schedule {cfg.schedule!r} ({'|'.join(SCHEDULES)})")
    return warm * decay


def set_lr(optimizer: torch.optim.Optimizer, iteration: int, cfg: TrainConfig) -> float:
    """Set every group's lr for step ``iteration``; returns the student's lr."""
    factor = lr_factor(iteration, cfg)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    return optimizer.param_groups[0]["lr"]


# Sane bounds: a value outside them is a typo (1e30 iterations), not a recipe. (low, high, low exclusive)
COUNT_BOUNDS = {
    "iterations": (1, 100_000_000),
    "batch_size": (1, 4096),
    "num_threads": (1, 1024),
    "processes": (1, 4096),
    "checkpoint_every": (1, 100_000_000),
    "log_every": (1, 100_000_000),
    "warmup_iters": (0, 100_000_000),
    "diverge_window": (1, 1_000_000),
}
REAL_BOUNDS = {
    "lr": (0.0, 10.0, True),
    "momentum": (0.0, 0.999999, False),
    "weight_decay": (0.0, 1.0, False),
    "warmup_factor": (0.0, 1.0, True),
    "lr_gamma": (0.0, 1.0, True),
    "grad_clip": (0.0, 1e12, True),
    "diverge_factor": (1.0, 1e12, True),
}


def train_problems(cfg: TrainConfig) -> list[tuple[str, str]]:
    """``(field, problem)`` per invalid setting of ``cfg`` (field relative to ``train``): the one rule set of
    the run validator (:mod:`benchmark.run.validate`)."""
    problems = []
    for name, (low, high) in COUNT_BOUNDS.items():
        value = getattr(cfg, name)
        if not low <= value <= high:
            problems.append((name, f"must be an integer in [{low}, {high:_}], got {value}"))
    for name, (low, high, open_low) in REAL_BOUNDS.items():
        value = getattr(cfg, name)
        if value is None and name in ("grad_clip", "diverge_factor"):
            continue
        if (value <= low if open_low else value < low) or value > high:
            bracket = "(" if open_low else "["
            problems.append((name, f"must lie in {bracket}{low:g}, {high:g}], got {value}"))
    if cfg.processes >= 1 and cfg.batch_size % cfg.processes:
        problems.append(
            ("batch_size", f"{cfg.batch_size} is the global batch: it must split evenly over processes={cfg.processes}")
        )
    if cfg.optimizer not in OPTIMIZERS:
        problems.append(("optimizer", f"unknown optimizer {cfg.optimizer!r} (choose from {', '.join(OPTIMIZERS)})"))
    if cfg.schedule not in SCHEDULES:
        problems.append(("schedule", f"unknown schedule {cfg.schedule!r} (choose from {', '.join(SCHEDULES)})"))
    bad = [m for m in cfg.milestones if not 0 < m < 1]
    if bad:
        problems.append(("milestones", f"fractions of the iterations must lie in (0, 1), got {bad}"))
    device = cfg.device
    if not (device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
        problems.append(("device", f"expected auto, cpu, cuda or cuda:N, got {device!r}"))
    return problems
