"""Feature recorder, stride-based level matching and the multi-level DistillLoss (with `mimic`)."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from benchmark.distill.levels import UnmatchablePairError, match_levels
from benchmark.distill.loss import DistillLoss
from benchmark.distill.methods import get_method
from benchmark.zoo.card import FPNLevel, ModelCard
from benchmark.zoo.recorder import FeatureRecorder


def card(name: str, channels: int, strides: list[int], prefix: str = "p") -> ModelCard:
    levels = tuple(FPNLevel(f"{prefix}{s.bit_length() - 1}", channels, s) for s in strides)
    return ModelCard(name, "test", "toy", 1, levels, params=0, flops=0.0, flops_input=(64, 64), weights="none")


STUDENT = card("student", 64, [4, 8, 16, 32, 64])
TEACHER = card("teacher", 256, [8, 16, 32, 64, 128], prefix="t")


def feats(c: ModelCard, size: int = 64, *, grad: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        lv.name: torch.randn(2, lv.channels, size // lv.stride, size // lv.stride, generator=g).requires_grad_(grad)
        for lv in c.levels
    }


def test_recorder_captures_and_removes():
    net = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    x = torch.randn(5, 3)
    with FeatureRecorder(net, "1.1") as rec:
        y = net(x)
        net(x)
    assert rec.calls == 2 and torch.equal(rec.output, y)
    net(x)
    assert rec.calls == 2  # hook gone after the with-block
    with pytest.raises(ValueError, match="no submodule 'backbone'"):
        FeatureRecorder(net, "backbone")


def test_levels_match_by_stride_not_position():
    reversed_teacher = ModelCard(**{**TEACHER.__dict__, "levels": tuple(reversed(TEACHER.levels))})
    pairs = match_levels(STUDENT, reversed_teacher)
    assert [(p.student.name, p.teacher.name, p.stride) for p in pairs] == [
        ("p3", "t3", 8),
        ("p4", "t4", 16),
        ("p5", "t5", 32),
        ("p6", "t6", 64),
    ]


def test_unmatchable_pair_has_a_one_line_message():
    with pytest.raises(UnmatchablePairError) as err:
        match_levels(card("s", 64, [4]), card("t", 256, [8, 16]))
    msg = str(err.value)
    assert "\n" not in msg and msg == (
        "cannot distil t into s: no shared FPN stride (student strides [4], teacher strides [8, 16])"
    )
    assert isinstance(err.value, ValueError)


def test_duplicate_strides_on_a_card_are_rejected():
    bad = ModelCard("bad", "test", "toy", 1, (FPNLevel("a", 8, 8), FPNLevel("b", 8, 8)), 0, 0.0, (1, 1), "none")
    with pytest.raises(ValueError, match="share stride"):
        match_levels(bad, TEACHER)


def test_heterogeneous_pair_builds_one_adapter_per_matched_level():
    kd = DistillLoss(get_method("mimic"), STUDENT, TEACHER, {"loss_weight": 1.0})
    assert list(kd.criteria) == ["p3", "p4", "p5", "p6"]
    assert all(c.adapter.in_channels == 64 and c.adapter.out_channels == 256 for c in kd.criteria.values())
    out = kd(feats(STUDENT), feats(TEACHER), [], [])
    assert sorted(out) == ["kd/mimic/p3", "kd/mimic/p4", "kd/mimic/p5", "kd/mimic/p6"]
    torch.testing.assert_close(DistillLoss.total(out), sum(out.values()))


def test_level_weights_by_stride():
    method = get_method("mimic")
    torch.manual_seed(0)
    plain = DistillLoss(method, STUDENT, TEACHER, {})
    torch.manual_seed(0)
    weighted = DistillLoss(method, STUDENT, TEACHER, {}, level_weights={8: 0.5, 64: 0.0})
    fs, ft = feats(STUDENT), feats(TEACHER)
    a, b = plain(fs, ft, [], []), weighted(fs, ft, [], [])
    torch.testing.assert_close(b["kd/mimic/p3"], 0.5 * a["kd/mimic/p3"])
    torch.testing.assert_close(b["kd/mimic/p4"], a["kd/mimic/p4"])
    assert b["kd/mimic/p6"].item() == 0.0
    with pytest.raises(ValueError, match=r"level_weights name strides \[4\]"):
        DistillLoss(method, STUDENT, TEACHER, {}, level_weights={4: 1.0})


def test_student_map_is_resized_to_the_teacher_size():
    s_card, t_card = card("s", 8, [8]), card("t", 16, [8])
    kd = DistillLoss(get_method("mimic"), s_card, t_card, {})
    fs = torch.randn(2, 8, 10, 12)
    ft = torch.randn(2, 16, 7, 9)
    got = kd({"p3": fs}, {"p3": ft}, [], [])["kd/mimic/p3"]
    resized = F.interpolate(fs, size=(7, 9), mode="bilinear", align_corners=False)
    torch.testing.assert_close(got, F.mse_loss(kd.criteria["p3"].adapter(resized), ft))


def test_gradients_reach_student_and_adapters_not_teacher():
    kd = DistillLoss(get_method("mimic"), STUDENT, TEACHER, {})
    fs, ft = feats(STUDENT, grad=True), feats(TEACHER, grad=True, seed=1)
    DistillLoss.total(kd(fs, ft, [], [])).backward()
    for name in ("p3", "p4", "p5", "p6"):
        assert fs[name].grad is not None and fs[name].grad.abs().sum() > 0
        assert kd.criteria[name].adapter.weight.grad is not None
    assert fs["p2"].grad is None  # stride 4 has no teacher partner
    assert all(t.grad is None for t in ft.values())


def test_bad_method_option_is_named():
    with pytest.raises(ValueError, match="method 'mimic' has no option 'tau'"):
        DistillLoss(get_method("mimic"), STUDENT, TEACHER, {"tau": 1.0})
