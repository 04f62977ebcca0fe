"""Small deterministic inputs for the DFMSD criterion tests (fixture ``make_inputs``)."""

from __future__ import annotations

import pytest
import torch

IMG = (48, 64)  # network-input (h, w); stride 8 -> 6 x 8 feature map


def make_inputs(
    n: int = 2, c_s: int = 8, c_t: int = 12, h: int = 6, w: int = 8, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[dict]]:
    gen = torch.Generator().manual_seed(seed)
    student = torch.randn(n, c_s, h, w, generator=gen)
    teacher = 0.5 * torch.randn(n, c_t, h, w, generator=gen) + 0.2
    boxes = [torch.tensor([[8.0, 8.0, 30.0, 22.0], [40.0, 30.0, 63.0, 47.0]]), torch.tensor([[0.0, 16.0, 20.0, 40.0]])]
    boxes = (boxes * n)[:n]
    metas = [{"img_shape": IMG, "pad_shape": IMG} for _ in range(n)]
    return student, teacher, boxes, metas


@pytest.fixture(name="make_inputs")
def make_inputs_fixture():
    return make_inputs
