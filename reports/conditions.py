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
from reports.methods import method_name, option_defaults
from reports.stats import Summary, summarize

STAGE_NOTE = (
    "S-a: stage-wise with a sequence of teachers; S-b: stage-wise with one teacher in every stage (with "
    "different options per stage)."
)


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


def pair_key(cond: Condition) -> tuple[str, str, str]:
    """The teacher→student pair a condition belongs to: (student, last-stage teacher, base key)."""
    return (str(cond.first["student"]), str(cond.first["teacher"]), str(cond.first["base_key"]))


def stage_reading(cond: Condition) -> str:
    """``S-a`` for a stage-wise run with a sequence of teachers, ``S-b`` for one with the same teacher in every
    stage (DFMSD's two readings of stage-wise training, any method), ``""`` for a run with one stage."""
    if int(cond.first.get("distill.n_stages") or 0) < 2:
        return ""
    return "S-a" if len(set(str(cond.first["teachers"]).split("→"))) > 1 else "S-b"


def variant_order(conds: Sequence[Condition]) -> dict[str, tuple]:
    """Sort key per condition: method name, stage reading, then the raw values of the axes that tell apart the
    conditions of the same method (so ✗ sorts before ✓ and 0.45 before 0.65), then the config key."""
    out: dict[str, tuple] = {}
    for group in _by_pair_and_method(conds):
        axes = _variant_axes(group)
        for c in group:
            values = tuple(_sortable(c.first.get(a)) for a in axes)
            out[c.key] = (c.method != "none", method_name(c.method), stage_reading(c), values, c.key)
    return out


def variant_suffixes(conds: Sequence[Condition]) -> dict[str, str]:
    """What tells a condition apart from the other conditions of its method in its pair (``""`` for none):
    the stage reading, then ``axis=value`` for each axis that differs, options at the method's default left
    out (``S-b α=1``); the teacher chain only when the rest does not tell them apart, the config key as a
    last resort."""
    out: dict[str, str] = {}
    for group in _by_pair_and_method(conds):
        axes = _variant_axes(group)
        plain = [a for a in axes if a not in ("teachers", "distill.n_stages")]
        for chosen in (plain, axes):
            suffixes = {c.key: _suffix(c, chosen) for c in group}
            if len(set(suffixes.values())) == len(group):
                break
        else:
            suffixes = {c.key: f"{s} [{c.key[:6]}]".strip() for c, s in zip(group, suffixes.values())}
        out.update(suffixes)
    return out


def variant_labels(conds: Sequence[Condition]) -> dict[str, str]:
    """Display name per condition, the same in every table and figure: the method's display name and its
    :func:`variant_suffixes` (``DFMSD S-a``, ``DFMSD S-b α=1``, ``FGD``)."""
    suffixes = variant_suffixes(conds)
    return {c.key: f"{method_name(c.method)} {suffixes[c.key]}".strip() for c in conds}


def reading(cond: Condition) -> str:
    """What a condition is on its own, without the others to compare with: its stage reading and every method
    option away from the method's registry default (``S-a``, ``Enhance=✗``; ``""`` for the default reading)."""
    axes = [
        a
        for a in sorted(cond.first.index)
        if a.startswith("distill.options.") and fmt_value(scalar(cond.first[a])) != "–"
    ]
    return _suffix(cond, axes)


def _suffix(cond: Condition, axes: Sequence[str]) -> str:
    """Stage reading and ``axis=value`` of ``axes``, leaving out method options at their registry default."""
    defaults = option_defaults(cond.method)
    parts = [stage_reading(cond)]
    for a in axes:
        value = scalar(cond.first.get(a))
        option = a.removeprefix("distill.options.")
        if a.startswith("distill.options.") and option in defaults and repr(defaults[option]) == repr(value):
            continue
        parts.append(f"{axis_label(a)}={fmt_value(value)}")
    return " ".join(p for p in parts if p)


def _by_pair_and_method(conds: Sequence[Condition]) -> list[list[Condition]]:
    out: dict[tuple[tuple[str, str, str], str], list[Condition]] = {}
    for c in conds:
        out.setdefault((pair_key(c), c.method), []).append(c)
    return list(out.values())


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
