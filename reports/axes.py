"""Swept axes of a sweep's runs: the ablation axes and the ``ablation_order`` switches onto them, the numeric
hyperparameters of a sensitivity analysis (with the axes swept jointly with them) and their points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from reports.conditions import Condition, conditions
from reports.formatting import axis_label, axis_text, fmt_value, scalar
from reports.load import varying_axes

ON_VALUES = {"distill.options.dual": "both"}  # string switches whose "on" is one value (our DFMSD reading)


# ---------------------------------------------------------------------------- ablation axes


@dataclass(frozen=True)
class Switch:
    """One ``ablation_order`` entry resolved onto an axis; ``on`` is the value that means switched on
    (``None``: truthy = on, i.e. True, non-zero, more than one stage, a string other than none/off/false)."""

    axis: str
    on: str | None = None

    def is_on(self, value: object) -> bool:
        value = scalar(value)
        if self.on is not None:
            return fmt_value(value) == self.on or str(value) == self.on
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.axis == "distill.n_stages":
            return int(value) > 1
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        return str(value).lower() not in ("", "none", "off", "false", "0")


def resolve_order(order: Sequence[str], axes: Sequence[str]) -> list[Switch]:
    """Map ``ablation_order`` entries onto detected axes. An entry is a dotted key or its last component
    (``enhance``), optionally with the value that means "on" (``dual=both``); ``stages`` means the stage
    count. Entries that match no varying axis are ignored."""
    aliases = {"distill.stages": "distill.n_stages", "stages": "distill.n_stages"}
    out: list[Switch] = []
    for entry in order:
        key, _, on = entry.partition("=")
        key = aliases.get(key.strip(), key.strip())
        for axis in axes:
            if (axis == key or axis.split(".")[-1] == key) and axis not in [s.axis for s in out]:
                out.append(Switch(axis, on.strip() or ON_VALUES.get(axis)))
    return out


def ablation_sort_key(cond: Condition, switches: Sequence[Switch], axes: Sequence[str]) -> tuple:
    """Student alone first, then the cumulative rows (all off, +1st, +1st+2nd, ...), then the rest."""
    vector = [int(s.is_on(cond.first.get(s.axis))) for s in switches]
    lead = next((i for i, v in enumerate(vector) if not v), len(vector))
    cumulative = not any(vector[lead:])
    rest = tuple(repr(scalar(cond.first.get(a))) for a in axes)
    return (cond.method != "none", not cumulative, lead if cumulative else sum(vector), tuple(vector), rest, cond.key)


def ablation_axes(runs: pd.DataFrame) -> list[str]:
    """Axes varying among the distilled runs, plus the method when it varies (so that the ``none`` run's
    absent options and stage count do not count as axes of their own)."""
    axes = varying_axes(runs[runs["method"] != "none"])
    if runs["method"].nunique() > 1:
        axes = ["distill.method", *(a for a in axes if a != "distill.method")]
    return axes


# ---------------------------------------------------------------------------- sensitivity axes


def numeric_axes(runs: pd.DataFrame) -> list[str]:
    """Swept numeric hyperparameters (ints and floats, not bools, not the stage count); of axes swept jointly
    (a ``zip``: each determines the other) only the first, see :func:`joint_axes`."""
    out: list[str] = []
    for axis in _numeric_varying(runs):
        if not any(axis in joint_axes(runs, lead) for lead in out):
            out.append(axis)
    return out


def _numeric_varying(runs: pd.DataFrame) -> list[str]:
    """Numeric axes that vary among the runs of one method (an option two methods set differently, e.g.
    DFMSD's and DMKD's default alpha, is not a swept axis)."""
    out = []
    for axis in varying_axes(runs):
        if axis == "distill.n_stages":
            continue
        values = [
            scalar(v) for v in runs[axis].tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))
        ]
        numeric = values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        within = any(group[axis].map(repr).nunique() > 1 for _, group in runs.groupby("method"))
        if numeric and within:
            out.append(axis)
    return out


def joint_axes(runs: pd.DataFrame, axis: str) -> list[str]:
    """``axis`` and the numeric axes swept jointly with it: one-to-one with its values over the runs."""
    out = [axis]
    for other in _numeric_varying(runs):
        if other == axis:
            continue
        pairs = {(repr(scalar(a)), repr(scalar(b))) for a, b in zip(runs[axis].tolist(), runs[other].tolist())}
        if len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}):
            out.append(other)
    return out


def joint_label(runs: pd.DataFrame, axis: str) -> str:
    """``ratio_spatial = ratio_channel`` for axes swept together with equal values, ``a / b`` otherwise."""
    axes = joint_axes(runs, axis)
    equal = all((runs[a].map(repr) == runs[axis].map(repr)).all() for a in axes)
    return (" = " if equal else " / ").join(axis_label(a) for a in axes)


@dataclass(frozen=True)
class SensitivityPoint:
    setting: str  # the other varying axes, "" when only this axis varies
    value: float
    cond: Condition


def sensitivity_points(runs: pd.DataFrame, axis: str) -> list[SensitivityPoint]:
    """Conditions that set ``axis``, with their value and a label of the other varying axes; sorted."""
    distilled = runs[runs["method"] != "none"]
    others = [a for a in varying_axes(distilled) if a not in joint_axes(runs, axis)]
    if distilled["method"].nunique() > 1:
        others = ["distill.method", *others]
    keyed = []
    for c in conditions(runs):
        value = scalar(c.first.get(axis))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        setting = ", ".join(f"{axis_label(a)}={axis_text(a, c.first.get(a))}" for a in others)
        order = tuple(repr(scalar(c.first.get(a))) for a in others)
        keyed.append(((order, float(value), c.key), SensitivityPoint(setting, float(value), c)))
    return [p for _, p in sorted(keyed, key=lambda kp: kp[0])]
