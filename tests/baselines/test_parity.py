"""Parity with the official implementations (FGD yzd-v @ c03a6cf, MGD yzd-v @ 2c9da0b, mmrazor @ 90c7af1 FBKD and
PKD, mmcv v2.0.0 NonLocal2d): every weighted term, the total, the gradient of every term w.r.t. the student
feature and the gradient of the total w.r.t. the student feature and every parameter, in float64 (1e-10) and
float32 (1e-5). Reference tensors: tests/fixtures/parity/ (see its README for how they were produced)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from baselines.fgd import FGDLoss
from baselines.fkd import FKDLoss, mmrazor_key
from baselines.mgd import MGDLoss
from baselines.pkd import PKDLoss

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
DTYPES = {"fp64": torch.float64, "fp32": torch.float32}
TOLERANCE = {"fp64": 1e-10, "fp32": 1e-5}  # max |ours - official| / max |official| per tensor (per layer for params)
_CACHE: dict[str, dict] = {}


def load_fixture(method: str) -> dict:
    if method not in _CACHE:
        _CACHE[method] = torch.load(FIXTURES / f"{method}.pt", weights_only=True)
    return _CACHE[method]


def cast_state(state: dict[str, Tensor], dtype: torch.dtype) -> dict[str, Tensor]:
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}


def rel_err(ours: Tensor, ref: Tensor, scale: float | None = None) -> float:
    """Largest absolute deviation relative to ``scale`` (default: the largest magnitude of the reference)."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, (ours.shape, ref.shape, ours.dtype, ref.dtype)
    scale = ref.abs().max().item() if scale is None else scale
    diff = (ours - ref).abs().max().item()
    return diff / scale if scale > 0 else diff


def layer_scales(grads: dict[str, Tensor]) -> dict[str, float]:
    """Per gradient: the largest reference gradient magnitude within its layer (weight and bias together).

    A layer-wise scale keeps the comparison meaningful for gradients that vanish in exact arithmetic, e.g.
    FGD's ``conv_mask_*.bias`` (the softmax over H*W is invariant to a constant logit shift), whose computed
    values are pure rounding noise in both implementations."""
    layer = {k: k.rpartition(".")[0] or k for k in grads}
    top: dict[str, float] = {}
    for k, g in grads.items():
        top[layer[k]] = max(top.get(layer[k], 0.0), g.abs().max().item())
    return {k: top[layer[k]] for k in grads}


def _build(method: str, case: dict, dtype: torch.dtype) -> tuple[nn.Module, dict[str, str]]:
    """Our criterion with the fixture's weights; map fixture parameter name -> our parameter name."""
    cs, ct, config, state = case["student_channels"], case["teacher_channels"], case["config"], case["state"]
    if method == "fkd":
        crit = FKDLoss(cs, ct, **config).to(dtype)
        crit.load_mmrazor_state_dict(
            cast_state(state["student_connector"], dtype), cast_state(state["teacher_connector"], dtype)
        )
        if state["align"]:
            crit.align.load_state_dict(cast_state(state["align"], dtype), strict=True)
        names = {}
        for key in case["out"]["fp64"]["grads"]:
            side, _, rest = key.partition(".")
            names[key] = mmrazor_key(rest) if side.endswith("_connector") else key
        return crit, names
    cls = {"fgd": FGDLoss, "mgd": MGDLoss, "pkd": PKDLoss}[method]
    crit = cls(cs, ct, **config).to(dtype)
    crit.load_state_dict(cast_state(state, dtype), strict=True)
    return crit, {k: k for k in case["out"]["fp64"]["grads"]}


def _forward(method: str, crit: nn.Module, case: dict, x: Tensor, t: Tensor) -> dict[str, Tensor]:
    inputs = case["inputs"]
    if method == "fgd":
        return crit(x, t, inputs["gt_bboxes"], inputs["img_metas"])
    if method == "mgd":
        return crit(x, t, generator=torch.Generator().manual_seed(case["mask_seed"]))
    return crit(x, t)


CASES = [
    (method, kind, dname)
    for method, kinds in {
        "fgd": ("mismatch", "same"),
        "mgd": ("mismatch", "same"),
        "fkd": ("mismatch", "same"),
        "pkd": ("mismatch", "same", "resize"),
    }.items()
    for kind in kinds
    for dname in DTYPES
]


@pytest.mark.parametrize(("method", "kind", "dname"), CASES, ids=["-".join(c) for c in CASES])
def test_matches_official(method: str, kind: str, dname: str) -> None:
    case = load_fixture(method)["cases"][kind]
    ref = case["out"][dname]
    dtype, tol = DTYPES[dname], TOLERANCE[dname]
    crit, names = _build(method, case, dtype)
    x = case["inputs"]["preds_S"].to(dtype).requires_grad_(True)
    t = case["inputs"]["preds_T"].to(dtype)
    terms = _forward(method, crit, case, x, t)
    errors: dict[str, float] = {}

    assert list(terms) == list(ref["terms"])
    for name, value in terms.items():
        errors[f"term {name}"] = rel_err(value.detach(), ref["terms"][name])
        (grad,) = torch.autograd.grad(value, x, retain_graph=True)
        errors[f"d{name}/dS"] = rel_err(grad, ref["term_grads"][name]["preds_S"])
    total = sum(terms.values())
    errors["total"] = rel_err(total.detach(), ref["loss"])
    params = dict(crit.named_parameters())
    assert set(names.values()) - {"preds_S"} == set(params), "parameters differ from the official module's"
    keys = list(ref["grads"])
    grads = torch.autograd.grad(total, [x if k == "preds_S" else params[names[k]] for k in keys])
    scales = layer_scales(ref["grads"])
    for key, grad in zip(keys, grads):
        errors[f"dtotal/d{key}"] = rel_err(grad, ref["grads"][key], scales[key])
    if "running_stats_after" in ref:  # FKD: non-local BN ran in train mode exactly once
        state = crit.state_dict()
        for key, value in ref["running_stats_after"].items():
            errors[key] = rel_err(state[mmrazor_key(key.partition(".")[2])], value)

    worst = max(errors, key=errors.get)
    print(f"{method} {kind} {dname}: max rel err {errors[worst]:.2e} ({worst})")
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"above {tol:g}: {bad}"
