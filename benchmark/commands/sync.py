"""``dfmsd-bench sync DIR``: upload the offline W&B runs of a sweep directory (``wandb sync``)."""

from __future__ import annotations

import argparse
import netrc
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from benchmark.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sync",
        help="upload the offline W&B runs of an output directory",
        description="Find DIR/runs/*/wandb/offline-run-* and the sweep summary run DIR/wandb/offline-run-*, "
        "and upload them with 'wandb sync'. Needs a W&B API key (WANDB_API_KEY or 'wandb login').",
    )
    p.add_argument("dir", help="output directory of a sweep")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    p.set_defaults(func=main)


def offline_runs(out: Path) -> list[Path]:
    found = sorted(out.glob("runs/*/wandb/offline-run-*")) + sorted(out.glob("wandb/offline-run-*"))
    return [p for p in found if p.is_dir()]


def has_api_key() -> bool:
    """WANDB_API_KEY, or a netrc entry for the W&B host (what 'wandb login' writes); the key is never read out."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def main(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such directory")
    runs = offline_runs(out)
    if not runs:
        print(f"{out}: no offline W&B runs to sync")
        return 0
    if args.dry_run:
        print("\n".join(str(p) for p in runs))
        return 0
    if not has_api_key():
        raise UserError(
            f"no W&B API key: set WANDB_API_KEY or run 'wandb login', then rerun 'dfmsd-bench sync {out}' "
            f"({len(runs)} offline runs wait in {out})"
        )
    print(f"uploading {len(runs)} offline W&B runs from {out}")
    return subprocess.run([sys.executable, "-m", "wandb", "sync", *map(str, runs)]).returncode
