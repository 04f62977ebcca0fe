"""LR schedule values, optimiser groups, stage bounds, the batch stream and RNG capture."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.config import TrainConfig
from benchmark.run.batches import BatchStream
from benchmark.run.optim import build_optimizer, lr_factor, replace_criterion_group, set_lr, train_problems
from benchmark.run.rng import capture_global_rng, derive_seed, make_generator, restore_global_rng
from benchmark.run.stages import stage_at, stage_bounds


def test_warmup_then_step():
    cfg = TrainConfig(iterations=400, warmup_iters=100, warmup_factor=0.001, schedule="step", milestones=(0.75,))
    assert lr_factor(0, cfg) == pytest.approx(0.001)
    assert lr_factor(50, cfg) == pytest.approx(0.001 * 0.5 + 0.5)
    assert lr_factor(100, cfg) == 1.0
    assert lr_factor(299, cfg) == 1.0
    assert lr_factor(300, cfg) == pytest.approx(0.1)
    assert lr_factor(399, cfg) == pytest.approx(0.1)
    two = TrainConfig(iterations=100, warmup_iters=0, milestones=(0.5, 0.8), lr_gamma=0.5)
    assert [lr_factor(i, two) for i in (49, 50, 79, 80)] == [1.0, 0.5, 0.5, 0.25]


def test_cosine_and_constant():
    cos = TrainConfig(iterations=100, warmup_iters=0, schedule="cosine")
    assert lr_factor(0, cos) == 1.0
    assert lr_factor(50, cos) == pytest.approx(0.5)
    assert lr_factor(99, cos) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.99)))
    const = TrainConfig(iterations=10, warmup_iters=2, warmup_factor=0.5, schedule="constant")
    assert [lr_factor(i, const) for i in range(4)] == [0.5, 0.75, 1.0, 1.0]
    with pytest.raises(ValueError, match="train.schedule"):
        lr_factor(0, TrainConfig(schedule="poly", warmup_iters=0))


def test_train_problems():
    assert train_problems(TrainConfig()) == []
    fields = {field for field, _ in train_problems(TrainConfig(optimizer="lion", iterations=0, grad_clip=-1.0))}
    assert {"optimizer", "iterations", "grad_clip"} <= fields


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_optimizer_groups_and_criterion_swap(name):
    student, crit_a, crit_b = nn.Linear(3, 2), nn.Conv2d(2, 4, 1), nn.Conv2d(2, 8, 1)
    cfg = TrainConfig(optimizer=name, lr=0.1, weight_decay=1e-4, warmup_iters=0, schedule="constant")
    opt = build_optimizer(student, crit_a, cfg)
    assert [g["name"] for g in opt.param_groups] == ["student", "criterion"]
    assert opt.param_groups[0]["weight_decay"] == 1e-4 and opt.param_groups[1]["weight_decay"] == 0.0
    assert set_lr(opt, 0, cfg) == pytest.approx(0.1)
    loss = student(torch.ones(1, 3)).sum() + crit_a(torch.ones(1, 2, 2, 2)).sum()
    loss.backward()
    opt.step()
    assert all(p in opt.state for p in student.parameters())
    replace_criterion_group(opt, crit_b)
    assert opt.param_groups[1]["params"] == list(crit_b.parameters())
    assert all(p not in opt.state for p in crit_a.parameters())
    assert all(p in opt.state for p in student.parameters())
    empty = build_optimizer(student, None, cfg)
    assert empty.param_groups[1]["params"] == []


def test_stage_bounds():
    assert stage_bounds([], 10) == []
    assert stage_bounds([1.0], 10) == [(0, 10)]
    assert stage_bounds([0.5, 0.5], 7) == [(0, 4), (4, 7)]
    assert stage_bounds([1, 3], 8) == [(0, 2), (2, 8)]
    b = stage_bounds([0.3, 0.3, 0.4], 101)
    assert b[0][0] == 0 and b[-1][1] == 101 and all(b[i][1] == b[i + 1][0] for i in range(2))
    assert [stage_at(i, [(0, 2), (2, 8)]) for i in (0, 1, 2, 7)] == [0, 0, 1, 1]
    assert stage_at(3, []) == 0
    with pytest.raises(ValueError, match="fraction"):
        stage_bounds([0.5, 0.0], 10)


def test_batch_stream_resumes_exactly():
    a = BatchStream(5, 2, hflip=True, generator=make_generator(0, "data"))
    first = [a.next_batch() for _ in range(3)]
    state = a.state_dict()
    rest = [a.next_batch() for _ in range(6)]
    b = BatchStream(5, 2, hflip=True, generator=make_generator(99, "data"))
    b.load_state_dict(state)
    assert [b.next_batch() for _ in range(6)] == rest
    indices = [i for batch in first + rest for i, _ in batch]
    assert sorted(indices[:5]) == [0, 1, 2, 3, 4]  # one epoch is a permutation
    assert {f for batch in first + rest for _, f in batch} == {True, False}
    no_flip = BatchStream(3, 3, hflip=False, generator=make_generator(0, "data"))
    assert not any(f for _, f in no_flip.next_batch())


def test_global_rng_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = capture_global_rng()
    path = tmp_path / "rng.pt"
    torch.save(state, path)
    want = (random.random(), np.random.rand(), torch.rand(2))
    restore_global_rng(torch.load(path, weights_only=True))
    got = (random.random(), np.random.rand(), torch.rand(2))
    assert want[0] == got[0] and want[1] == got[1] and torch.equal(want[2], got[2])
    assert derive_seed(0, "data") != derive_seed(0, "kd") and derive_seed(0, "kd") == derive_seed(0, "kd")
