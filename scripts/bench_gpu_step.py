#!/usr/bin/env python
"""GPU training step of the paper's RetinaNet X101-64x4d -> R50 pair against mmdet 3.3's own step, side by side.

PREPARED, NOT YET RUN ON A GPU: no GPU was lent to this project when it was written, so docs/speed.md has no
GPU figure from it. Run it once on the GPU a sweep will train on, then give its rate file to ``plan``:

    python scripts/bench_gpu_step.py --out gpu_rate.json              # ~5-10 min on one GPU
    dfmsd-bench plan sweeps/paper/retinanet_x101_r50.yaml data.root=/data/coco --gpu-rate gpu_rate.json

Per ``train.amp`` mode (``--amp off,bf16``) and method, three cases run interleaved round by round on one fixed
batch (``--batch`` random images of ``--input`` pixels, default 2 x 800x1333, i.e. mmdet's per-GPU batch at the
largest landscape size of the (1333, 800) protocol, 5 random boxes each, 80 classes; random weights: mmdet configs
build offline):

* ``mmdet``: mmdet's own training step of the plain student, ``model.train_step(data, optim_wrapper)`` with
  mmengine's ``OptimWrapper`` (``AmpOptimWrapper`` for bf16/fp16), SGD 0.01/0.9/1e-4, gradient clipping 35: data
  preprocessor, loss, backward, clip, step, as mmengine's runner does it;
* ``plain``: our trainer's step of the same student (method ``none``), ``Trainer.train_step``;
* ``<method>``: our distillation step with the live X101 teacher (teacher forward, student, loss, backward, step).

Printed: images/s per case; ``plain / mmdet`` images/s per round (target >= 0.95); per method its step over the
plain step (the distillation overhead). ``--out FILE``: the rate file (:mod:`benchmark.launch.gpu_rate`), one row
per (method, amp) with the effective TFLOP/s by the planner's FLOP model. ``--tiny --device cpu``: mmdet's tiny
RetinaNet for both models on 96x128 images, fp32 only (a CPU smoke run; tests/mm/test_bench_gpu_script.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark.bench.timing import Spread, interleaved, round_ratios  # noqa: E402
from benchmark.config import (  # noqa: E402
    DataConfig,
    DistillConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TeacherConfig,
    TrackingConfig,
    TrainConfig,
)
from benchmark.launch.gpu_rate import KIND, VERSION  # noqa: E402
from benchmark.launch.plan import image_flops  # noqa: E402

STUDENT = "mmdet:retinanet_r50_fpn_2x_coco"
TEACHER = "mmdet:retinanet_x101-64x4d_fpn_1x_coco"
TINY = "mmdet:tiny_retinanet"
METHODS = ("mimic", "fgd", "mgd", "fkd", "pkd", "dmkd", "dfmsd")
CLASSES = 80
TARGET = 0.95  # our plain step's images/s over mmdet's


def batch(n: int, hw: tuple[int, int], device: torch.device) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    """``n`` random uint8 RGB images (on ``device``) with 5 random boxes each, labels 1..80."""
    g = torch.Generator().manual_seed(0)
    h, w = hw
    images, targets = [], []
    for _ in range(n):
        images.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8).to(device))
        xy = torch.rand(5, 2, generator=g) * torch.tensor([w * 0.7, h * 0.7])
        wh = 16 + torch.rand(5, 2, generator=g) * torch.tensor([w * 0.3 - 16, h * 0.3 - 16])
        boxes = torch.cat([xy, xy + wh], dim=1).to(device)
        targets.append({"boxes": boxes, "labels": torch.randint(1, CLASSES + 1, (5,), generator=g).to(device)})
    return images, targets


def run_config(student: str, method: str, teacher: TeacherConfig | None, amp: str, device: str) -> RunConfig:
    data = DataConfig(dataset="synthetic", synthetic_images=2, synthetic_size=64)  # builds the trainer; unused
    train = TrainConfig(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, warmup_iters=0, grad_clip=35.0,
                        device=device, amp=amp, num_threads=torch.get_num_threads())  # fmt: skip
    distill = DistillConfig(method=method, teacher=teacher, teacher_cache="off", min_teacher_map=None)
    return RunConfig(name=f"gpu-{method}", data=data, model=coco_model(student), train=train, distill=distill,
                     eval=EvalConfig(eval_teacher=False), tracking=TrackingConfig(wandb=False))  # fmt: skip


def coco_model(name: str) -> ModelConfig:
    """An mmdet model with COCO's 80 classes in every head (whatever the placeholder dataset has)."""
    return ModelConfig(name=name, options={"num_classes": CLASSES})


def trainer(cfg: RunConfig, workdir: Path) -> Any:
    from benchmark.run.record import RunRecord
    from benchmark.run.resolve import run_id
    from benchmark.run.train import Trainer

    return Trainer(cfg, RunRecord(workdir / run_id(cfg)), runs_root=workdir, progress=False)


def mmdet_step(student: str, amp: str, images: list[torch.Tensor], targets: list[dict], device: torch.device):
    """mmdet's own training step of a freshly built student (``BaseModel.train_step`` + mmengine optim wrapper)."""
    from mmdet.structures import DetDataSample
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.structures import InstanceData

    from benchmark.zoo import build_detector

    model = build_detector(coco_model(student), num_classes=CLASSES).model.to(device)
    model.train()
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    clip = {"max_norm": 35, "norm_type": 2}
    if amp == "off":
        wrapper = OptimWrapper(sgd, clip_grad=clip)
    else:
        wrapper = AmpOptimWrapper(dtype={"bf16": "bfloat16", "fp16": "float16"}[amp], optimizer=sgd, clip_grad=clip)
    samples = []
    for img, t in zip(images, targets):
        h, w = img.shape[-2:]
        sample = DetDataSample(metainfo={"img_shape": (h, w), "ori_shape": (h, w), "scale_factor": (1.0, 1.0)})
        sample.gt_instances = InstanceData(bboxes=t["boxes"].float(), labels=t["labels"] - 1)
        samples.append(sample)
    data = {"inputs": [img.flip(0) for img in images], "data_samples": samples}  # BGR, what mmdet's loader gives

    def step() -> None:
        model.train_step(data, wrapper)

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--input", default="800x1333", help="HxW of the batch images (default 800x1333)")
    parser.add_argument("--amp", default="off,bf16", help="comma-separated train.amp modes (default off,bf16)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tiny", action="store_true", help="tiny mmdet models, 96x128 images (a CPU smoke run)")
    parser.add_argument("--out", type=Path, help="write the rate file for dfmsd-bench plan --gpu-rate")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # as the trainer's default; shapes are fixed here anyway
    student, teacher_name = (TINY, TINY) if args.tiny else (STUDENT, TEACHER)
    hw = (96, 128) if args.tiny else tuple(int(v) for v in args.input.lower().split("x"))
    amps = [a.strip() for a in args.amp.split(",") if a.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    images, targets = batch(args.batch, hw, device)
    floats = [img.float().div(255) for img in images]
    rows, mmdet_rows, report = [], [], []
    with tempfile.TemporaryDirectory(prefix="dfmsd-bench-gpu-") as tmp:
        workdir = Path(tmp)
        from benchmark.zoo import build_detector

        torch.manual_seed(0)
        teacher_path = workdir / "teacher.pt"
        torch.save({"model": build_detector(coco_model(teacher_name), num_classes=CLASSES).state_dict()}, teacher_path)
        teacher = TeacherConfig(model=coco_model(teacher_name), checkpoint=str(teacher_path))
        for amp in amps:
            plain = trainer(run_config(student, "none", None, amp, args.device), workdir)
            theirs = mmdet_step(student, amp, images, targets, device)
            ours = lambda p=plain: p.train_step(floats, targets)  # noqa: E731
            for method in methods:
                kd = trainer(run_config(student, method, teacher, amp, args.device), workdir)
                cases = {"mmdet": theirs, "plain": ours, method: lambda k=kd: k.train_step(floats, targets)}
                times = interleaved(cases, warmup=args.warmup, rounds=args.rounds, device=device)
                parity = Spread.of(round_ratios(times["mmdet"], times["plain"]))  # = ours img/s / mmdet img/s
                overhead = Spread.of(round_ratios(times[method], times["plain"]))
                for name, share in ((method, 1.0), ("none", 0.0)):
                    t = Spread.of(times["plain" if name == "none" else method])
                    teachers = [(teacher_name, share)] if share else []
                    flops = image_flops(student, teachers, hw[0] * hw[1])
                    ips = args.batch / t.median
                    row = {"method": name, "amp": amp, "step_s": t.to_dict(), "images_per_s": ips,
                           "flops_per_image": flops, "tflops": flops * ips / 1e12}  # fmt: skip
                    if all((r["method"], r["amp"]) != (name, amp) for r in rows):
                        rows.append(row)
                m, k, p = (Spread.of(times[c]).median for c in ("mmdet", method, "plain"))
                mmdet_rows.append({"amp": amp, "method_round": method, "images_per_s": args.batch / m})
                report.append(
                    f"{amp:5s} {method:6s} step {k:.4f} s ({args.batch / k:.1f} img/s), x{overhead.median:.2f} "
                    f"[{overhead.q1:.2f}-{overhead.q3:.2f}] of plain; plain {p:.4f} s vs mmdet {m:.4f} s: "
                    f"plain/mmdet img/s {parity.median:.3f} [{parity.q1:.3f}-{parity.q3:.3f}] "
                    f"{'ok' if parity.median >= TARGET else 'UNDER'} (>= {TARGET})"
                )
                print(report[-1], flush=True)
                del kd
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    result = {
        "kind": KIND,
        "version": VERSION,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python", "scripts/bench_gpu_step.py", *(argv if argv is not None else sys.argv[1:])]),
        "torch": torch.__version__,
        "student": student,
        "teacher": teacher_name,
        "input": list(hw),
        "batch": args.batch,
        "rounds": args.rounds,
        "rows": rows,
        "mmdet": mmdet_rows,
        "report": report,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"rate file: {args.out} (dfmsd-bench plan SWEEP --gpu-rate {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
