"""Scheduler utilisation on the smoke sweep: ``utilization`` of ``scripts/bench_harness.py`` (owned by the
harness) with the real trainer, 2 local workers; busy worker-seconds / (workers x wall), target >= 90 %."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmark.bench.scripts import load_script

WORKERS = 2


def bench_harness(*, quick: bool) -> dict[str, Any]:
    """The utilisation result (runs, utilization, relaunch times), or ``{"missing": reason}``."""
    script = load_script("bench_harness")
    if script is None:
        return {"missing": "scripts/bench_harness.py not found (not a source checkout?)"}
    if not all(hasattr(script, name) for name in ("smoke_file", "utilization")):
        return {"missing": "scripts/bench_harness.py has no smoke_file/utilization functions"}
    from benchmark.launch.worker import DEFAULT_TRAINER

    seeds = 1 if quick else 2
    tmp = Path(tempfile.mkdtemp(prefix="dfmsd-bench-harness-"))
    try:
        with contextlib.redirect_stdout(sys.stderr):
            sweep = script.smoke_file(tmp, seeds)
            result = dict(script.utilization(sweep, tmp / "util", DEFAULT_TRAINER, WORKERS))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"sweep": f"smoke, {seeds} seed(s)", "workers": WORKERS, "trainer": "real", **result}
