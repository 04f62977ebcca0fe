"""Distillation step against its floor, per method, on the quickstart pair (random init is fine for timing).

Per method four cases run interleaved on the same batch, each round back to back:

* ``teacher``: the teacher's no-grad feature forward (what a live teacher adds to a step);
* ``plain``: a plain student step (method ``none``): forward, detection losses, backward, optimiser step;
* ``live``: the trainer's distillation step with the live teacher (``distill.teacher_cache: off``);
* ``cached``: the same step reading the teacher features from the cache (``distill.teacher_cache: auto``);
* ``loss``: the distillation loss's forward + backward alone on that step's features (what a method itself
  costs: ``cached - plain`` minus this is the harness's own overhead).

Ratios per round: ``live / (teacher + plain)`` (target <= 1.10: distillation costs little beyond running
the teacher) and ``cached / plain`` (target <= 1.05: with the cache a distilled step costs about a plain
one). Models: Faster R-CNN MobileNetV2-FPN256 -> RetinaNet MobileNetV2-FPN64 with random weights, the
student's first four trunk blocks frozen as with ImageNet weights, so the compute is the quickstart's; data:
synthetic 400x400 images (NEON tile size, one class), batch 2, flips. ``neon``: the real NEON tiles and
ImageNet trunks (FPN and heads still random), which is where the fp16 loss effect is stated from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmark.bench.timing import Spread, interleaved, round_ratios
from benchmark.cache import LiveTeacher, teacher_source
from benchmark.cache.key import default_cache_root
from benchmark.config import DataConfig, ModelConfig, RunConfig, TeacherConfig
from benchmark.launch.quickstart import STUDENT_MODEL, TEACHER_MODEL, quickstart_student
from benchmark.run.resolve import run_id

LIVE_TARGET = 1.10
CACHED_TARGET = 1.05


@dataclass(frozen=True)
class StepSetting:
    input_size: int = 400
    batch_size: int = 2
    images: int = 8
    threads: int = 2
    device: str = "auto"
    warmup: int = 2
    rounds: int = 10
    neon: bool = False  # the real quickstart inputs: NEON tiles, ImageNet MobileNetV2 trunks (prepared on demand)

    @property
    def model_options(self) -> dict[str, Any]:
        """Random trunks unless ``neon``; the student's first four blocks frozen either way (same compute)."""
        return {} if self.neon else {"pretrained_backbone": False}


def _configs(method: str, st: StepSetting, teacher_ckpt: Path) -> dict[str, RunConfig]:
    base = quickstart_student("none", iterations=1_000_000, wandb=False)
    data = DataConfig(
        dataset="synthetic",
        input_size=st.input_size,
        hflip=True,
        synthetic_images=st.images,
        synthetic_size=st.input_size,
        synthetic_classes=1,
    )
    if st.neon:
        data = dataclasses.replace(base.data, input_size=st.input_size)
    train = dataclasses.replace(
        base.train, batch_size=st.batch_size, num_threads=st.threads, device=st.device, warmup_iters=0
    )
    model = ModelConfig(name=STUDENT_MODEL, options={**st.model_options, "frozen_blocks": 4})
    plain = dataclasses.replace(base, data=data, train=train, model=model)
    teacher = TeacherConfig(
        model=ModelConfig(name=TEACHER_MODEL, options=st.model_options), checkpoint=str(teacher_ckpt)
    )

    def kd(cache: str) -> RunConfig:
        return dataclasses.replace(
            plain, distill=dataclasses.replace(plain.distill, method=method, teacher=teacher, teacher_cache=cache)
        )

    return {"plain": plain, "live": kd("off"), "cached": kd("auto")}


def save_random_teacher(path: Path, st: StepSetting) -> Path:
    from benchmark.zoo import build_detector

    torch.manual_seed(0)
    model = ModelConfig(name=TEACHER_MODEL, options=st.model_options)
    torch.save({"model": build_detector(model, num_classes=1).state_dict()}, path)
    return path


def _trainer(cfg: RunConfig, workdir: Path) -> Any:
    from benchmark.run.record import RunRecord
    from benchmark.run.train import Trainer

    return Trainer(cfg, RunRecord(workdir / "runs" / run_id(cfg)), runs_root=workdir / "runs", progress=False)


def _batch(trainer: Any) -> tuple[Any, list, list]:
    from benchmark.data import collate
    from benchmark.run.build import to_device

    batch = collate([trainer.train_set.get(i, hflip=f) for i, f in trainer.stream.next_batch()])
    return batch, *to_device(batch, trainer.device)


def _fp16_effect(live: Any, cached: Any, workdir: Path, batch: Any, images: list, targets: list) -> dict[str, float]:
    """Relative change of the total distillation loss when teacher features come from the fp32 / fp16 cache
    instead of the live teacher (same batch, same student pass, same generator)."""
    half_cfg = dataclasses.replace(live.cfg, distill=dataclasses.replace(live.cfg.distill, teacher_cache="fp16"))
    half = teacher_source(
        live.teacher,
        cfg=half_cfg,
        teacher_model=half_cfg.distill.teacher.model,
        weights=half_cfg.distill.teacher.checkpoint,
        dataset=live.train_set,
        cache_root=default_cache_root(workdir / "runs"),
        log=lambda line: None,
        progress=False,
    )
    _, feats_s = live.student.forward_train(images, targets)
    out = {}
    for name, source in (("live", LiveTeacher(live.teacher)), ("fp32", cached.teacher_source), ("fp16", half)):
        feats_t = source.features(batch, images)
        terms = live.criterion(
            feats_s.features,
            feats_t.features,
            [t["boxes"] for t in targets],
            feats_s.img_metas,
            generator=torch.Generator().manual_seed(0),
        )
        out[name] = float(sum(v.detach() for v in terms.values()))
    ref = abs(out["live"]) or 1.0
    return {"fp32_rel": abs(out["fp32"] - out["live"]) / ref, "fp16_rel": abs(out["fp16"] - out["live"]) / ref}


def plain_trainer(st: StepSetting, workdir: Path, teacher_ckpt: Path) -> Any:
    """The plain student (method ``none``) every method is compared with."""
    return _trainer(_configs("none", st, teacher_ckpt)["plain"], workdir)


def _loss_only(trainer: Any, batch: Any, images: list, targets: list) -> Any:
    """One call: the distillation loss's forward + backward alone, on this step's student and teacher features."""
    _, feats_s = trainer.student.forward_train(images, targets)
    student = {k: v.detach().requires_grad_(True) for k, v in feats_s.features.items()}
    teacher = trainer.teacher_source.features(batch, images).features
    boxes = [t["boxes"] for t in targets]
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        terms = trainer.criterion(student, teacher, boxes, feats_s.img_metas, generator=generator)
        sum(terms.values()).backward()

    return step


def bench_method(method: str, st: StepSetting, workdir: Path, teacher_ckpt: Path, plain: Any) -> dict[str, Any]:
    """Times and per-round ratios of one method against ``plain`` (see the module docstring)."""
    cfgs = _configs(method, st, teacher_ckpt)
    live, cached = _trainer(cfgs["live"], workdir), _trainer(cfgs["cached"], workdir)
    batch, images, targets = _batch(live)
    source = LiveTeacher(live.teacher)
    cases = {
        "teacher": lambda: source.features(batch, images),
        "plain": lambda: plain.train_step(images, targets, batch=batch),
        "live": lambda: live.train_step(images, targets, batch=batch),
        "cached": lambda: cached.train_step(images, targets, batch=batch),
        "loss": _loss_only(cached, batch, images, targets),
    }
    times = interleaved(cases, warmup=st.warmup, rounds=st.rounds, device=live.device)
    result: dict[str, Any] = {
        "cache_used": type(cached.teacher_source).__name__ == "CachedTeacher",
        "times_s": {k: Spread.of(v).to_dict() for k, v in times.items()},
        "live_ratio": Spread.of(round_ratios(times["live"], times["teacher"], times["plain"])).to_dict(),
        "cached_ratio": Spread.of(round_ratios(times["cached"], times["plain"])).to_dict(),
        "device": str(live.device),
    }
    result["loss_effect"] = _fp16_effect(live, cached, workdir, batch, images, targets)
    return result
