"""``dfmsd-bench report``: tables (Markdown, LaTeX, CSV) from the run records of one or more sweeps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="build comparison/ablation/sensitivity/paper/cost tables from run records",
        description=(
            "Read every run record under RUNS_DIR (a sweep output folder, its runs/ folder, or one run folder) "
            "and write report.md, tex/<table>.tex (booktabs) and csv/<table>.csv. Runs that did not finish are "
            "listed in a 'Not finished' section. Same records, byte-identical files."
        ),
    )
    parser.add_argument("runs_dirs", nargs="+", metavar="RUNS_DIR", help="sweep output folder(s) or run folders")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <first RUNS_DIR>/report)")
    parser.add_argument("--format", default="md,tex,csv", help="comma-separated subset of md,tex,csv (default: all)")
    parser.add_argument("--digits", type=int, default=1, help="decimals of the metrics in md/tex (default: 1)")
    parser.add_argument(
        "--paper",
        type=Path,
        action="append",
        default=None,
        help="published-number YAML file or folder (repeatable; default: the bundled reports/paper)",
    )
    parser.add_argument("--no-paper", action="store_true", help="leave out the paper-vs-measured table")
    parser.add_argument(
        "--split",
        choices=("test", "val"),
        default="test",
        help="which final numbers the tables show: test (default; what to report) or val (the validation split, "
        "what choices are made on)",
    )
    parser.add_argument(
        "--wandb", action="store_true", help="log the tables (and <out>/figures/*.png) to W&B (offline without a key)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.errors import UserError
    from reports.load import RecordError, ablation_orders, load_runs
    from reports.paper import load_paper_rows
    from reports.report import parse_formats, write_report

    try:
        formats = parse_formats(args.format)
        frame = load_runs(args.runs_dirs, split=args.split)
        orders = ablation_orders(args.runs_dirs)
        paper_rows = [] if args.no_paper else load_paper_rows(args.paper)
    except (RecordError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if args.digits < 0 or args.digits > 6:
        raise UserError(f"--digits {args.digits}: choose 0..6")
    out = args.out or Path(args.runs_dirs[0]) / "report"
    tables, written = write_report(
        frame, out, formats=formats, orders=orders, paper_rows=paper_rows, digits=args.digits
    )
    pending = int((frame["state"] != "done").sum())
    print(f"report: {len(frame)} runs ({len(frame) - pending} done, {pending} not finished), {len(tables)} tables")
    for path in written:
        print(f"  {path}")
    if args.wandb:
        from reports.wandb_log import log_report

        figures = sorted((out / "figures").glob("*.png")) if (out / "figures").is_dir() else []
        folder = log_report(frame, out, tables=tables, figures=figures, warn=lambda m: print(m, file=sys.stderr))
        if folder is not None:
            print(f"W&B: {folder}")
    return 0
