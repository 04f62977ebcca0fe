"""The ``dfmsd`` and ``dmkd`` method registrations (reference note §6.5 defaults per student kind)."""

from __future__ import annotations

import pytest
import torch

from benchmark.distill.methods import METHODS, get_method
from dfmsd import DFMSDLoss


@pytest.mark.parametrize("name", ["dfmsd", "dmkd"])
@pytest.mark.parametrize(("kind", "ratio"), [("one_stage", 0.65), ("two_stage", 0.45)])
def test_methods_build_with_their_presets(name, kind, ratio):
    spec = get_method(name)
    assert spec.criterion is DFMSDLoss and spec.needs_teacher and spec.description
    options = spec.resolve_options(kind)
    assert spec.option_problems(options) == []
    crit = spec.build(16, 16, options)
    assert crit.ratio_spatial == crit.ratio_channel == ratio and crit.temp == 0.5 and crit.dual == "both"
    x = torch.randn(1, 16, 4, 4)
    terms = crit(
        x, x.clone(), [torch.tensor([[0.0, 0.0, 16.0, 16.0]])], [{"img_shape": (32, 32), "pad_shape": (32, 32)}]
    )
    if name == "dfmsd":
        assert crit.enhance and crit.sem_align == "pkd" and set(terms) == {"rec", "align"}
        assert (crit.alpha, crit.beta, crit.rec_reduction) == (3.0, 6.0, "mean")
    else:
        assert not crit.enhance and crit.sem_align == "none" and set(terms) == {"rec"}
        assert crit.alpha == {"one_stage": 2e-5, "two_stage": 5e-7}[kind] and crit.rec_reduction == "sum"


def test_stage_options_are_constructor_options():
    spec = get_method("dfmsd")
    stage_options = {"gamma": 0.0, "ratio_spatial": 0.5, "enhance_mode": "ratio", "alpha": 0.0, "sem_align": "adapter"}
    assert spec.option_problems(stage_options) == []
    assert spec.option_problems({"lambda_mgd": 0.5}) != []
    assert {n for n in METHODS.names() if METHODS.get(n).criterion is DFMSDLoss} == {"dfmsd", "dmkd"}
