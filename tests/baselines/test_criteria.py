"""Baseline criteria beyond numeric parity: state-dict layout, method registration and presets, heterogeneous
channels, MGD's randomness contract, teacher isolation, mmrazor weight loading."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from torch import nn

from baselines.fgd import FGDLoss
from baselines.fkd import FKDLoss, mmrazor_key
from baselines.mgd import MGDLoss
from baselines.pkd import PKDLoss
from benchmark.distill.methods import get_method

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
N, H, W = 2, 6, 10
METAS = [{"img_shape": (48, 80, 3), "pad_shape": (48, 80, 3)}, {"img_shape": (40, 64, 3), "pad_shape": (48, 80, 3)}]
BOXES = [torch.tensor([[4.0, 4.0, 40.0, 30.0], [30.0, 10.0, 80.0, 48.0]]), torch.tensor([[0.0, 0.0, 20.0, 12.5]])]
TERMS = {
    FGDLoss: ("fg", "bg", "attention", "global"),
    MGDLoss: ("mgd",),
    FKDLoss: ("feat", "channel", "spatial", "nonlocal"),
    PKDLoss: ("pkd",),
}


def _features(cs: int, ct: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(N, cs, H, W, generator=gen), torch.randn(N, ct, H, W, generator=gen)


def _activate(module: nn.Module, seed: int = 1) -> None:
    """Perturb every parameter so zero-initialised layers (FGD GcBlock out conv, non-local BN) are active."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))


@pytest.mark.parametrize("method", ["fgd", "mgd"])
def test_state_dict_matches_official_layout(method: str) -> None:
    """Our FGD/MGD load the official modules' state dicts (recorded in the parity fixtures) with strict=True."""
    cls = {"fgd": FGDLoss, "mgd": MGDLoss}[method]
    for case in torch.load(FIXTURES / f"{method}.pt", weights_only=True)["cases"].values():
        crit = cls(case["student_channels"], case["teacher_channels"]).double()
        ours = {k: tuple(v.shape) for k, v in crit.state_dict().items()}
        assert ours == {k: tuple(v.shape) for k, v in case["state"].items()}
        crit.load_state_dict(case["state"], strict=True)
        assert (crit.align is None) == (case["student_channels"] == case["teacher_channels"])


def test_official_256_channel_key_sets() -> None:
    assert set(FGDLoss(256, 256).state_dict()) == {
        f"{m}.{p}" for m in ("conv_mask_s", "conv_mask_t") for p in ("weight", "bias")
    } | {f"channel_add_conv_{s}.{i}.{p}" for s in "st" for i in (0, 1, 3) for p in ("weight", "bias")}
    assert FGDLoss(256, 256).channel_add_conv_s[1].normalized_shape == (128, 1, 1)
    assert set(MGDLoss(128, 256).state_dict()) == {
        "align.weight",
        "align.bias",
        "generation.0.weight",
        "generation.0.bias",
        "generation.2.weight",
        "generation.2.bias",
    }


def test_official_initialisation() -> None:
    fgd = FGDLoss(8, 16)
    for side in "st":
        last = getattr(fgd, f"channel_add_conv_{side}")[-1]
        assert torch.count_nonzero(last.weight) == 0 and torch.count_nonzero(last.bias) == 0
        assert torch.count_nonzero(getattr(fgd, f"conv_mask_{side}").bias) == 0
    fkd = FKDLoss(16, 16)
    for nl in (fkd.student_non_local, fkd.teacher_non_local):
        assert torch.count_nonzero(nl.bn.weight) == 0 and torch.count_nonzero(nl.bn.bias) == 0
        assert nl.conv_out.bias is None
    x = torch.randn(2, 16, 5, 7)
    torch.testing.assert_close(fkd.teacher_non_local(x), x)  # zeros_init: identity at the start


def test_fresh_fgd_global_term_is_plain_feature_mse() -> None:
    """With the zero-initialised GcBlock output conv, L_global = sum((F_S - F_T)^2) / N (reference §1.5)."""
    s, t = _features(8, 8)
    terms = FGDLoss(8, 8, lambda_fgd=1.0)(s, t, BOXES, METAS)
    torch.testing.assert_close(terms["global"], ((s - t) ** 2).sum() / N)


@pytest.mark.parametrize("name", ["fgd", "mgd", "fkd", "pkd"])
def test_presets_register(name: str) -> None:
    spec = get_method(name)
    classes = {"fgd": FGDLoss, "mgd": MGDLoss, "fkd": FKDLoss, "pkd": PKDLoss}
    assert spec.criterion is classes[name] and spec.needs_teacher and spec.display == name.upper()
    params = inspect.signature(spec.criterion.__init__).parameters
    for kind in ("one_stage", "two_stage"):
        options = spec.resolve_options(kind)
        assert set(options) == spec.accepted_options()  # resolved: every constructor option has its value
        assert not spec.option_problems(options)
        crit = spec.build(16, 32, options)
        for key, value in options.items():
            assert getattr(crit, key) == value, (name, kind, key)
        assert set(options) <= set(params)
    assert spec.description


def test_preset_values_follow_official_configs() -> None:
    fgd = get_method("fgd")
    assert fgd.resolve_options("one_stage")["gamma_fgd"] == 0.0005  # RetinaNet configs, not the code default
    assert fgd.resolve_options("two_stage")["alpha_fgd"] == 0.00005
    assert get_method("mgd").resolve_options("two_stage") == {"name": None, "alpha_mgd": 0.0000005, "lambda_mgd": 0.45}
    assert get_method("pkd").resolve_options("one_stage") == {"loss_weight": 10.0, "resize_stu": True}
    assert get_method("fkd").resolve_options("two_stage")["sub_sample"] is True


@pytest.mark.parametrize("cls", list(TERMS))
def test_heterogeneous_channels(cls: type[nn.Module]) -> None:
    crit = cls(8, 16)
    _activate(crit)
    s, t = _features(8, 16)
    s.requires_grad_(True)
    terms = crit(s, t, BOXES, METAS, generator=torch.Generator().manual_seed(0))
    assert tuple(terms) == TERMS[cls]
    for name, value in terms.items():
        assert value.shape == () and torch.isfinite(value), name
    sum(terms.values()).backward()
    assert s.grad is not None and torch.count_nonzero(s.grad) > 0
    assert crit.align.weight.grad is not None and torch.count_nonzero(crit.align.weight.grad) > 0


@pytest.mark.parametrize("cls", list(TERMS))
def test_gradients_never_reach_teacher_features(cls: type[nn.Module]) -> None:
    crit = cls(8, 8)
    _activate(crit)
    s, t = _features(8, 8)
    s.requires_grad_(True)
    t.requires_grad_(True)
    terms = crit(s, t, BOXES, METAS, generator=torch.Generator().manual_seed(0))
    sum(terms.values()).backward()
    assert t.grad is None
    assert s.grad is not None and torch.count_nonzero(s.grad) > 0


def test_teacher_side_modules_are_trained() -> None:
    """FGD's teacher GcBlock and FBKD's teacher non-local block are trainable parts of the distiller."""
    s, t = _features(8, 8)
    fgd, fkd = FGDLoss(8, 8), FKDLoss(8, 8)
    _activate(fgd)
    _activate(fkd)
    sum(fgd(s, t, BOXES, METAS).values()).backward()
    sum(fkd(s, t).values()).backward()
    assert torch.count_nonzero(fgd.conv_mask_t.weight.grad) > 0
    assert torch.count_nonzero(fgd.channel_add_conv_t[0].weight.grad) > 0
    assert torch.count_nonzero(fkd.teacher_non_local.g.weight.grad) > 0


def test_mgd_generator_contract() -> None:
    crit = MGDLoss(8, 8)
    s, t = _features(8, 8)
    a = crit(s, t, generator=torch.Generator().manual_seed(3))["mgd"]
    b = crit(s, t, generator=torch.Generator().manual_seed(3))["mgd"]
    c = crit(s, t, generator=torch.Generator().manual_seed(4))["mgd"]
    assert torch.equal(a, b) and not torch.equal(a, c)
    # generator=None draws from the global CPU generator, exactly like the official module after torch.manual_seed.
    torch.manual_seed(3)
    assert torch.equal(crit(s, t)["mgd"], a)
    # An explicit generator leaves the global stream alone.
    torch.manual_seed(5)
    crit(s, t, generator=torch.Generator().manual_seed(3))
    after = torch.rand(4)
    torch.manual_seed(5)
    assert torch.equal(torch.rand(4), after)


def test_mgd_masks_about_lambda_of_positions() -> None:
    """lambda_mgd = 1 masks everything: the generator sees zeros and the loss is independent of the student."""
    crit = MGDLoss(4, 4, lambda_mgd=1.0)
    s, t = _features(4, 4)
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(crit(s, t, generator=gen)["mgd"], crit(s * 5, t, generator=gen)["mgd"])
    with pytest.raises(ValueError, match="lambda_mgd"):
        MGDLoss(4, 4, lambda_mgd=1.5)


def test_fgd_boxes_and_batch_checked() -> None:
    crit = FGDLoss(4, 4)
    s, t = _features(4, 4)
    with pytest.raises(ValueError, match="2 gt_bboxes"):
        crit(s[:1], t[:1], BOXES, METAS)
    with pytest.raises(ValueError, match="differ in H, W"):
        crit(s, t[..., :5], BOXES, METAS)


def test_fkd_loads_mmrazor_connector_states() -> None:
    case = torch.load(FIXTURES / "fkd.pt", weights_only=True)["cases"]["same"]  # sub_sample=True keys g.0.0.conv.*
    state = case["state"]
    crit = FKDLoss(4, 4, **case["config"]).double()
    crit.load_mmrazor_state_dict(state["student_connector"], state["teacher_connector"])
    ours = crit.state_dict()
    for side in ("student_connector", "teacher_connector"):
        for key, value in state[side].items():
            assert torch.equal(ours[mmrazor_key(key)], value), key
    assert mmrazor_key("student_non_local.g.0.0.conv.weight") == "student_non_local.g.weight"
    assert mmrazor_key("teacher_non_local.conv_out.bn.running_var") == "teacher_non_local.bn.running_var"
    with pytest.raises(ValueError, match="sub_sample=True"):
        FKDLoss(4, 4, sub_sample=False).load_mmrazor_state_dict(state["student_connector"], state["teacher_connector"])
    partial = {k: v for k, v in state["student_connector"].items() if not k.startswith("channel_wise")}
    with pytest.raises(ValueError, match="missing.*channel_wise_adaptation"):
        crit.load_mmrazor_state_dict(partial, state["teacher_connector"])


def test_fkd_double_pooling_equals_mmrazor_key_count() -> None:
    """sub_sample with maxpool_stride s pools keys by 2*s (mmcv's 2 then mmrazor's s); on a level smaller than
    the kernel (mmrazor raises) the kernel is clipped so one key row/column remains."""
    nl = FKDLoss(8, 8, sub_sample=True, maxpool_stride=2).student_non_local
    x = torch.randn(1, 4, 11, 14)
    assert torch.equal(nl.pool(x), torch.nn.functional.max_pool2d(torch.nn.functional.max_pool2d(x, 2), 2))
    assert nl.pool(x).shape[-2:] == (2, 3)
    small = torch.randn(1, 4, 3, 10)
    assert torch.equal(nl.pool(small), torch.nn.functional.max_pool2d(small, (3, 4)))
    crit = FKDLoss(8, 8, sub_sample=True, maxpool_stride=4)
    terms = crit(torch.randn(2, 8, 4, 5), torch.randn(2, 8, 4, 5))  # P7-sized level under an 8x8 kernel
    assert all(torch.isfinite(v) for v in terms.values())


def test_pkd_is_one_minus_pearson() -> None:
    """Features that are a positive per-channel affine map of each other have PKD ~ 0; negated ones ~ 2."""
    s, _ = _features(8, 8)
    t = s * torch.linspace(0.5, 3.0, 8).view(1, 8, 1, 1) + 1.0
    crit = PKDLoss(8, 8)
    assert crit(s, t)["pkd"].item() < 1e-6
    assert abs(crit(s, -t)["pkd"].item() - 2.0 * (1 - 1 / (N * H * W))) < 1e-3
