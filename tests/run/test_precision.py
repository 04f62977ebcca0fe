"""GPU-efficiency options on the CPU: ``train.amp`` (bf16 autocast trains, losses finite and close to float32 on a
fixed batch, the distillation losses in float32, the teacher cache equal to the live teacher under autocast; fp16
with its GradScaler resumes exactly), ``train.channels_last`` and ``train.cudnn_benchmark`` (ids, validation)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from benchmark.config import TeacherConfig, run_config_from_dict
from benchmark.distill.loss import DistillLoss
from benchmark.distill.methods import get_method
from benchmark.run.build import to_device
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id
from benchmark.run.train import RunStopped, Trainer, train_run
from benchmark.run.validate import problems
from benchmark.zoo import get_card

from .conftest import FRCNN
from .test_train import _assert_same_weights, _curves

# bf16 vs float32, same weights and batch, one training step's logged values (measured on these tiny runs: total
# loss within 2.8e-3 (mimic) / 3.3e-4 (dfmsd) relative, the summed kd terms within 5.1e-6 / 8.0e-4; bf16 keeps 8
# mantissa bits, ~4e-3 per rounding)
BF16_REL = 1e-2


def test_options_change_the_id_and_are_validated(make_run):
    plain = make_run()
    assert run_id(make_run(amp="off", channels_last=False, cudnn_benchmark=False)) == run_id(plain)
    ids = {run_id(make_run(amp="bf16")), run_id(make_run(amp="fp16")), run_id(make_run(channels_last=True))}
    assert len(ids | {run_id(plain)}) == 4 and run_id(make_run(cudnn_benchmark=True)) != run_id(plain)
    assert [k for k, _ in problems(make_run(amp="tf32"))] == ["train.amp"]
    assert run_config_from_dict({"train": {"amp": False}}).train.amp == "off"  # YAML's bare `off`


def test_distillation_losses_are_float32_under_autocast():
    card = get_card("retinanet_mnv2_fpn64")
    loss = DistillLoss(get_method("fgd"), card, card, {})
    seen = []
    for criterion in loss.criteria.values():
        criterion.register_forward_pre_hook(lambda _m, args: seen.append((args[0].dtype, torch.is_autocast_enabled())))
    g = torch.Generator().manual_seed(0)
    feats = {lv.name: torch.randn(2, lv.channels, 64 // lv.stride, 64 // lv.stride, generator=g) for lv in card.levels}
    boxes = [torch.tensor([[4.0, 4.0, 30.0, 40.0]])] * 2
    metas = [{"img_shape": (64, 64), "pad_shape": (64, 64)}] * 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        student = {k: (v * 1.1).to(torch.bfloat16) for k, v in feats.items()}
        terms = loss(student, feats, boxes, metas)
    assert seen and all(dtype == torch.float32 and not autocast for dtype, autocast in seen)
    assert all(t.dtype == torch.float32 and torch.isfinite(t) for t in terms.values())


@pytest.mark.parametrize("method", ["mimic", "dfmsd"])
def test_bf16_is_close_to_float32_on_a_fixed_batch(tmp_path, make_run, teacher_ckpts, method):
    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    values = {}
    for amp in ("off", "bf16"):
        cfg = make_run(method, teacher=teacher, device="cpu", amp=amp)
        trainer = Trainer(cfg, RunRecord(tmp_path / amp), runs_root=tmp_path, progress=False)
        batch = trainer.sample_batch()
        values[amp] = trainer.train_step(*to_device(batch, trainer.device), batch=batch)
    assert all(math.isfinite(v) for v in values["bf16"].values())
    for name in ("loss", "kd"):
        ref = values["off"][name]
        assert abs(values["bf16"][name] - ref) <= BF16_REL * abs(ref), (name, values)


def test_bf16_channels_last_trains_and_the_cache_equals_the_live_teacher(tmp_path, make_run, teacher_ckpts):
    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    cfg = make_run("mimic", teacher=teacher, device="cpu", amp="bf16", channels_last=True, iterations=4)
    live = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teacher_cache="off"))
    train_run(cfg, tmp_path / "cached" / "runs" / "r", progress=False)
    train_run(live, tmp_path / "live" / "runs" / "r", progress=False)
    log = RunRecord(tmp_path / "cached" / "runs" / "r").read_log()
    assert "teacher features: cache" in log
    curves = _curves(tmp_path / "cached" / "runs" / "r")
    assert all(math.isfinite(v) for row in curves for v in row.values())
    assert curves == _curves(tmp_path / "live" / "runs" / "r")  # the cache is built under the same autocast


def test_fp16_grad_scaler_state_resumes_exactly(tmp_path, make_run):
    cfg = make_run(device="cpu", amp="fp16", iterations=4)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, synthetic_size=32, input_size=32))
    train_run(cfg, tmp_path / "full", progress=False)
    with pytest.raises(RunStopped):
        train_run(cfg, tmp_path / "cut", progress=False, stop_after=2)
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)
    assert 0 < state["scaler"]["scale"] < 2.0**16  # the scaler has backed off from its initial scale
    train_run(cfg, tmp_path / "cut", progress=False)
    _assert_same_weights(tmp_path / "full", tmp_path / "cut")
    assert _curves(tmp_path / "full") == _curves(tmp_path / "cut")
