"""Copy the small files of a sweep's run records (no checkpoints, no W&B files) into an example folder.

    python reports/examples/collect_records.py OUT_DIR DEST_DIR

The copy holds, per run, ``config.yaml``, ``resolved.yaml``, ``status.json``, ``metrics.json`` and ``env.json``,
plus the sweep's ``plan.json``: everything ``dfmsd-bench report`` and ``dfmsd-bench plot`` (except ``--masks``, which
needs the weights) read, so a committed example can be regenerated from the repository alone.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

FILES = ("config.yaml", "resolved.yaml", "status.json", "metrics.json", "env.json")


def collect(out: Path, dest: Path) -> int:
    runs = sorted(p for p in (out / "runs").iterdir() if (p / "status.json").is_file())
    for run in runs:
        target = dest / "runs" / run.name
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if (run / name).is_file():
                shutil.copyfile(run / name, target / name)
    if (out / "plan.json").is_file():
        shutil.copyfile(out / "plan.json", dest / "plan.json")
    return len(runs)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"{collect(Path(sys.argv[1]), Path(sys.argv[2]))} run records copied to {sys.argv[2]}")
