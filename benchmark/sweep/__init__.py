"""Sweeps: YAML grids of run configs → validated, hashed plans of runs with teacher dependencies.

See ``docs/sweeps.md`` for the file format. :func:`load_plan` is the one call most code needs.
"""

from benchmark.sweep.plan import Plan, PlannedRun, build_plan, estimate_flops, load_plan, topological_order
from benchmark.sweep.spec import Sweep, load_sweep, sweep_from_dict

__all__ = [
    "Plan",
    "PlannedRun",
    "Sweep",
    "build_plan",
    "estimate_flops",
    "load_plan",
    "load_sweep",
    "sweep_from_dict",
    "topological_order",
]
