"""Scheduler utilisation on the smoke sweep, from ``scripts/bench_harness.py`` (owned by the harness)."""

from __future__ import annotations

from typing import Any

from benchmark.bench.scripts import load_script


def bench_harness(*, quick: bool) -> dict[str, Any]:
    """The harness benchmark's result dict, or ``{"missing": reason}`` when the script is not there."""
    script = load_script("bench_harness")
    if script is None:
        return {"missing": "scripts/bench_harness.py not found (the harness benchmark has not landed)"}
    measure = getattr(script, "measure", None)
    if measure is None:
        return {"missing": "scripts/bench_harness.py has no measure(quick=...) function to call"}
    return dict(measure(quick=quick))
