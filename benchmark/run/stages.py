"""Stage-wise distillation schedule (DFMSD's S-a / S-b stages, or any teacher sequence).

Each stage covers its ``fraction`` of the run's iterations; fractions are normalised to sum to 1 and the
boundaries are rounded cumulatively, so the stages tile ``[0, iterations)`` exactly. The paper trains
the student with a same-family (closer) teacher first, then with the heterogeneous one; how long each
stage lasts is our configuration, not fixed by the paper.
"""

from __future__ import annotations

from collections.abc import Sequence


def stage_bounds(fractions: Sequence[float], iterations: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` iteration ranges, one per stage (end exclusive)."""
    if not fractions:
        return []
    if any(f <= 0 for f in fractions):
        raise ValueError(f"distill.stages[*].fraction: must be > 0, got {list(fractions)}")
    total = float(sum(fractions))
    bounds, start, cumulative = [], 0, 0.0
    for i, f in enumerate(fractions):
        cumulative += f
        end = iterations if i == len(fractions) - 1 else round(iterations * cumulative / total)
        bounds.append((start, end))
        start = end
    return bounds


def stage_at(iteration: int, bounds: Sequence[tuple[int, int]]) -> int:
    """Index of the stage that runs the step with 0-based index ``iteration`` (0 without stages)."""
    for k, (start, end) in enumerate(bounds):
        if start <= iteration < end:
            return k
    return max(len(bounds) - 1, 0)
