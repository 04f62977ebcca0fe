"""``dfmsd-bench bench [--quick] [--out FILE.json]``: the speed benchmarks, side by side in one process."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="speed benchmarks: distillation step vs its floor (live teacher and cache), losses, scheduler",
        description="Run the speed benchmarks on this machine in one process and print a table of ratios: "
        "for every method the distillation step against (teacher no-grad forward + plain student step) with "
        "the live teacher (target <= 1.10) and against the plain student step with the teacher-feature cache "
        "(target <= 1.05), on the quickstart pair with random weights; the loss forward+backward "
        "micro-benchmarks; scheduler utilisation on the smoke sweep; the CPU data pipeline (mmdet protocol, 0/1/2 "
        "workers) against mmdet 3.3's own training loader on generated COCO-like JPEGs (target ratio >= 1.0; needs "
        "the mmdet extra). Figures are medians of interleaved rounds after warm-up, with their spread.",
    )
    p.add_argument("--quick", action="store_true", help="few rounds, small loss cases (1-3 minutes on 2 cores)")
    p.add_argument("--out", type=Path, help="also write the results to this JSON file")
    p.add_argument("--methods", default="", help="comma-separated methods (default: every registered KD method)")
    p.add_argument("--only", default="", help="comma-separated sections: steps, losses, harness, data (default: all)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from benchmark.bench.run import SECTIONS, format_report, kd_methods, run_bench

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(kd_methods()))
    if unknown:
        raise UserError(f"--methods: unknown or teacher-less method(s) {unknown} (choose from {kd_methods()})")
    sections = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    bad = sorted(set(sections) - set(SECTIONS))
    if bad:
        raise UserError(f"--only: unknown section(s) {bad} (choose from {', '.join(SECTIONS)})")
    if args.threads < 1:
        raise UserError(f"--threads: must be >= 1, got {args.threads}")
    result = run_bench(
        quick=args.quick, methods=methods or None, sections=sections, device=args.device, threads=args.threads
    )
    print(format_report(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"results: {args.out}")
    return 0
