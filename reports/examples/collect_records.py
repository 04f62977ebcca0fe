"""Copy the small files of a sweep's run records (no checkpoints, no W&B files) into an example folder.

    python reports/examples/collect_records.py OUT_DIR DEST_DIR [RUN_ID ...]

The copy holds, per run, ``config.yaml``, ``resolved.yaml``, ``status.json``, ``metrics.json`` and ``env.json``,
plus the sweep's ``plan.json``; with run ids, only those runs (and no plan: it lists the others too). That is
everything ``dfmsd-bench report`` and ``dfmsd-bench plot`` (except ``--masks``, which needs the weights) read, so
a committed example can be regenerated from the repository alone.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

FILES = ("config.yaml", "resolved.yaml", "status.json", "metrics.json", "env.json")


def collect(out: Path, dest: Path, run_ids: Sequence[str] = ()) -> int:
    runs = sorted(p for p in (out / "runs").iterdir() if (p / "status.json").is_file())
    if run_ids:
        missing = sorted(set(run_ids) - {p.name for p in runs})
        if missing:
            sys.exit(f"collect_records: no record of {', '.join(missing)} in {out / 'runs'}")
        runs = [p for p in runs if p.name in run_ids]
    for run in runs:
        target = dest / "runs" / run.name
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if (run / name).is_file():
                shutil.copyfile(run / name, target / name)
    if not run_ids and (out / "plan.json").is_file():
        shutil.copyfile(out / "plan.json", dest / "plan.json")
    return len(runs)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    print(f"{collect(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])} run records copied to {sys.argv[2]}")
