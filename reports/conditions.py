"""Conditions (seed replicates of one config), the student-alone run of each, and their display order and labels.

A *condition* is the set of runs with the same ``config_key`` (see :mod:`reports.load`); its *student alone*
is the ``none`` run with the same ``base_key`` (the same config apart from ``distill.*``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from reports.formatting import axis_label, fmt_value, scalar
from reports.load import done, varying_axes
from reports.methods import method_name
from reports.stats import Summary, summarize


@dataclass(frozen=True)
class Condition:
    """Seed replicates of one config: its runs (any state) and the finished ones."""

    key: str
    runs: pd.DataFrame

    @property
    def first(self) -> pd.Series:
        return self.runs.iloc[0]

    @property
    def finished(self) -> pd.DataFrame:
        return done(self.runs)

    @property
    def method(self) -> str:
        return str(self.first["method"])

    def values(self, metric: str, scale: float = 100.0) -> dict[int, float]:
        """seed -> metric value of the finished runs (first run per seed, in run-id order)."""
        out: dict[int, float] = {}
        for _, row in self.finished.iterrows():
            seed = int(row["seed"]) if "seed" in row and pd.notna(row["seed"]) else 0
            value = row.get(metric, math.nan)
            if seed not in out and value is not None and pd.notna(value):
                out[seed] = float(value) * scale
        return out

    def summary(self, metric: str, scale: float = 100.0) -> Summary:
        return summarize(self.values(metric, scale).values())


def conditions(frame: pd.DataFrame) -> list[Condition]:
    """Conditions of ``frame`` sorted by (student, teachers, method, config key)."""
    out = [Condition(str(key), runs.sort_values("run_id")) for key, runs in frame.groupby("config_key", sort=True)]
    return sorted(out, key=lambda c: (str(c.first["student"]), str(c.first["teachers"]), c.method, c.key))


def student_alone(frame: pd.DataFrame, cond: Condition) -> Condition | None:
    """The ``none`` runs with the same base key (the same config apart from ``distill.*``), merged."""
    runs = frame[(frame["method"] == "none") & (frame["base_key"] == cond.first["base_key"])]
    return Condition(f"alone-{cond.first['base_key']}", runs.sort_values("run_id")) if len(runs) else None


def sweep_students(frame: pd.DataFrame, sweep: str) -> pd.DataFrame:
    """The student runs of ``sweep`` (its teacher runs are dependencies, not points of its grid)."""
    return frame[(frame["sweep"] == sweep) & (frame["role"] != "teacher")]


def variant_order(conds: Sequence[Condition]) -> dict[str, tuple]:
    """Sort key per condition: method name, then the raw values of the axes that tell apart the conditions of
    the same method (so ✗ sorts before ✓ and 0.45 before 0.65), then the config key."""
    out: dict[str, tuple] = {}
    for method, group in _by_method(conds).items():
        axes = _variant_axes(group)
        for c in group:
            values = tuple(_sortable(c.first.get(a)) for a in axes)
            out[c.key] = (method != "none", method_name(method), values, c.key)
    return out


def variant_labels(conds: Sequence[Condition]) -> dict[str, str]:
    """Display label per condition: the method name, plus the axes that differ among the conditions of the
    same method (e.g. ``DFMSD (Enhance=✗)``)."""
    labels: dict[str, str] = {}
    for method, group in _by_method(conds).items():
        axes = _variant_axes(group)
        for c in group:
            parts = [f"{axis_label(a)}={fmt_value(scalar(c.first.get(a)))}" for a in axes]
            suffix = f" ({', '.join(parts)})" if parts else (f" [{c.key}]" if len(group) > 1 else "")
            labels[c.key] = method_name(method) + suffix
    return labels


def _by_method(conds: Sequence[Condition]) -> dict[str, list[Condition]]:
    out: dict[str, list[Condition]] = {}
    for c in conds:
        out.setdefault(c.method, []).append(c)
    return out


def _variant_axes(group: Sequence[Condition]) -> list[str]:
    if len(group) < 2:
        return []
    return [a for a in varying_axes(pd.DataFrame([c.first for c in group])) if a != "distill.method"]


def _sortable(value: object) -> tuple:
    """Absent values first, then numbers (bools as 0/1) by value, then strings."""
    value = scalar(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (0, 0.0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value), "")
    return (2, 0.0, repr(value))
