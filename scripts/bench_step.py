#!/usr/bin/env python
"""Cost of a distillation step against its parts, measured side by side in one process.

For each method: the trainer's real distillation step (teacher no-grad forward + student training forward +
distillation loss + backward + optimiser step) is timed against the sum of (a) the teacher's no-grad
feature forward and (b) a plain student training step (method ``none``), all three on the SAME batch,
interleaved round by round so that machine load hits them alike. After warm-up rounds, the median over
rounds of ``t_kd / (t_teacher + t_plain)`` is printed with its spread (min-max and interquartile range).
A ratio of 1.00 means distillation costs nothing beyond running the teacher; the target is <= 1.10.

    .venv/bin/python scripts/bench_step.py                       # quickstart pair on NEON, method mimic
    .venv/bin/python scripts/bench_step.py --methods mimic,fgd,mgd,dfmsd --rounds 30
    .venv/bin/python scripts/bench_step.py --data synthetic --input-size 128   # no NEON needed
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark.config import DataConfig, ModelConfig, RunConfig, TeacherConfig  # noqa: E402
from benchmark.launch.quickstart import STUDENT_MODEL, TEACHER_MODEL, quickstart_student  # noqa: E402
from benchmark.run.record import RunRecord  # noqa: E402
from benchmark.run.resolve import run_id
from benchmark.run.train import Trainer, _sync  # noqa: E402


def quantiles(xs: list[float]) -> tuple[float, float, float, float, float]:
    """min, q1, median, q3, max."""
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return min(xs), q[0], q[1], q[2], max(xs)


def timed(fn, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def build(cfg: RunConfig, workdir: Path) -> Trainer:
    run_dir = workdir / run_id(cfg)
    return Trainer(cfg, RunRecord(run_dir), runs_root=workdir, progress=False)


def bench_method(method: str, args: argparse.Namespace, workdir: Path, teacher_ckpt: Path) -> dict:
    base = quickstart_student("none", iterations=10_000, wandb=False)
    data = DataConfig(dataset=args.data, input_size=args.input_size, hflip=False)
    train = dataclasses.replace(
        base.train, batch_size=args.batch_size, num_threads=args.threads, device=args.device, warmup_iters=0
    )
    plain_cfg = dataclasses.replace(base, data=data, train=train)
    teacher = TeacherConfig(model=ModelConfig(name=TEACHER_MODEL), checkpoint=str(teacher_ckpt))
    kd_cfg = dataclasses.replace(
        plain_cfg, distill=dataclasses.replace(plain_cfg.distill, method=method, teacher=teacher)
    )
    plain, kd = build(plain_cfg, workdir), build(kd_cfg, workdir)
    images, targets = kd.next_batch()
    device = kd.device

    def teacher_forward() -> None:
        with torch.no_grad():
            kd.teacher.extract_features(images)

    t_teacher, t_plain, t_kd, ratios = [], [], [], []
    for r in range(args.warmup + args.rounds):
        a = timed(teacher_forward, device)
        b = timed(lambda: plain.train_step(images, targets), device)
        c = timed(lambda: kd.train_step(images, targets), device)
        if r >= args.warmup:
            t_teacher.append(a)
            t_plain.append(b)
            t_kd.append(c)
            ratios.append(c / (a + b))
    lo, q1, med, q3, hi = quantiles(ratios)
    return {
        "teacher_s": statistics.median(t_teacher),
        "plain_s": statistics.median(t_plain),
        "kd_s": statistics.median(t_kd),
        "ratio": med,
        "ratio_q1": q1,
        "ratio_q3": q3,
        "ratio_min": lo,
        "ratio_max": hi,
        "device": str(device),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="mimic", help="comma-separated registered methods (default: mimic)")
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured warm-up rounds (default 3)")
    parser.add_argument("--data", choices=("neon", "synthetic"), default="neon")
    parser.add_argument("--input-size", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--target", type=float, default=1.10, help="ratio to flag (default 1.10)")
    args = parser.parse_args(argv)

    from benchmark.zoo import build_detector

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    with tempfile.TemporaryDirectory(prefix="bench_step_") as tmp:
        workdir = Path(tmp)
        num_classes = 1 if args.data == "neon" else DataConfig().synthetic_classes
        teacher_ckpt = workdir / "teacher.pt"
        torch.manual_seed(0)
        torch.save(
            {"model": build_detector(ModelConfig(name=TEACHER_MODEL), num_classes=num_classes).state_dict()},
            teacher_ckpt,
        )
        results = {m: bench_method(m, args, workdir, teacher_ckpt) for m in methods}
    device = next(iter(results.values()))["device"]
    print(
        f"\n{STUDENT_MODEL} <- {TEACHER_MODEL}, {args.data} batch {args.batch_size} @ {args.input_size}px, "
        f"device {device}, {args.threads} threads, torch {torch.__version__}; "
        f"median of {args.rounds} rounds after {args.warmup} warm-up"
    )
    header = (
        f"{'method':10s} {'teacher s':>10s} {'plain s':>10s} {'kd step s':>10s} {'ratio':>7s}  spread (min / IQR / max)"
    )
    print(header)
    print("-" * len(header))
    for m, r in results.items():
        flag = "" if r["ratio"] <= args.target else f"  > {args.target:.2f}"
        print(
            f"{m:10s} {r['teacher_s']:10.4f} {r['plain_s']:10.4f} {r['kd_s']:10.4f} {r['ratio']:7.3f}  "
            f"{r['ratio_min']:.3f} / {r['ratio_q1']:.3f}-{r['ratio_q3']:.3f} / {r['ratio_max']:.3f}{flag}"
        )
    print(f"ratio = t(kd step) / (t(teacher no-grad forward) + t(plain student step)); target <= {args.target:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
