"""``dfmsd-bench plot``: figures (PNG + PDF) from the run records of one or more sweeps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw training curves, Δ-mAP bars, speed/accuracy, sensitivity and mask figures",
        description=(
            "Read every run record under RUNS_DIR and write PNG + PDF figures sized for a paper column: training "
            "curves per method (mean ± std band over seeds), Δ mAP per pair and method, mAP vs FLOPs / step time, "
            "one sensitivity plot per swept numeric hyperparameter; with --masks, the per-level attention/mask "
            "figure of one test image of a finished DFMSD/DMKD run."
        ),
    )
    parser.add_argument("runs_dirs", nargs="+", metavar="RUNS_DIR", help="sweep output folder(s) or run folders")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <first RUNS_DIR>/report/figures)"
    )
    parser.add_argument("--masks", type=Path, default=None, metavar="RUN_DIR", help="finished dfmsd/dmkd run to show")
    parser.add_argument("--image-index", type=int, default=0, help="test image of the mask figure (default: 0)")
    parser.add_argument("--device", default="cpu", help="device of the mask figure's forward pass (default: cpu)")
    parser.add_argument("--wandb", action="store_true", help="log the PNG figures to W&B (offline without a key)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.errors import UserError
    from reports.load import RecordError, load_runs
    from reports.plots import plot_all, plot_masks

    try:
        frame = load_runs(args.runs_dirs)
    except RecordError as exc:
        raise UserError(str(exc)) from None
    out = args.out or Path(args.runs_dirs[0]) / "report" / "figures"
    written = plot_all(frame, out)
    if args.masks is not None:
        from reports.masks import mask_inputs_from_run

        try:
            inputs = mask_inputs_from_run(args.masks, image_index=args.image_index, device=args.device)
        except (ValueError, IndexError) as exc:
            raise UserError(f"--masks {args.masks}: {exc}") from None
        written += plot_masks(inputs.image, inputs.boxes, inputs.per_level, out / "masks", title=inputs.title)
    print(f"plot: {len(frame)} runs, {len(written)} files in {out}")
    for path in sorted(written):
        print(f"  {path}")
    if args.wandb:
        from reports.wandb_log import log_report

        folder = log_report(frame, out, figures=written, warn=lambda m: print(m, file=sys.stderr))
        if folder is not None:
            print(f"W&B: {folder}")
    return 0
