"""Ablation per sweep: one row per condition, one column per axis that varies, then the metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.axes import ablation_axes, ablation_sort_key, resolve_order
from reports.conditions import conditions, student_alone, sweep_students
from reports.formatting import (
    CELL_NOTE,
    METRIC_HEADERS,
    TABLE_METRICS,
    axis_label,
    axis_text,
    bold_best,
    fmt_summary,
    summary_columns,
)
from reports.render import Cell, Table
from reports.stats import Summary, paired_t_test


def ablation_table(sweep: str, frame: pd.DataFrame, *, order: Sequence[str] = (), digits: int = 1) -> Table | None:
    """One row per condition of ``sweep``, one column per axis that varies in it, then the metrics.

    With an ``ablation_order`` (axis keys in the order the components are switched on) the rows read as a
    cumulative ablation: all off, +first, +first+second, ...; other combinations follow. Without one the
    rows are sorted by the axis values. ``None`` when nothing but the seed varies.
    """
    runs = sweep_students(frame, sweep)
    axes = ablation_axes(runs)
    if not axes:
        return None
    switches = resolve_order(order, axes)
    ordered = [s.axis for s in switches]
    lead = ["distill.method"] if "distill.method" in axes else []
    axes = lead + [a for a in ordered if a not in lead] + [a for a in axes if a not in ordered and a not in lead]
    conds = sorted(conditions(runs), key=lambda c: ablation_sort_key(c, switches, axes))
    header = (*(axis_label(a) for a in axes), *(METRIC_HEADERS[m] for m in TABLE_METRICS), "Δ mAP")
    texts: list[list[str]] = []
    means: list[list[float]] = []
    records = []
    for c in conds:
        alone = student_alone(frame, c) if c.method != "none" else None
        delta = paired_t_test(c.values("mAP"), alone.values("mAP")) if alone else None
        sums = [c.summary(m) for m in TABLE_METRICS]
        dsum = Summary(delta.mean_diff, delta.std_diff, delta.n) if delta else Summary(math.nan, math.nan, 0)
        texts.append([fmt_summary(s, digits) for s in sums] + [fmt_summary(dsum, digits, sign=True)])
        means.append([s.mean for s in sums] + [dsum.mean])
        record = {axis_label(a): axis_text(a, c.first.get(a)) for a in axes}
        record["config_key"] = c.key
        record["runs"] = len(c.runs)
        for m, s in zip(TABLE_METRICS, sums):
            record.update(summary_columns(m, s))
        record.update(summary_columns("delta_mAP", dsum))
        records.append(record)
    metric_cols = [bold_best([t[j] for t in texts], [m[j] for m in means], digits) for j in range(len(texts[0]))]
    rows = []
    for i, c in enumerate(conds):
        axis_cells = [Cell(axis_text(a, c.first.get(a))) for a in axes]
        rows.append((*axis_cells, *(col[i] for col in metric_cols)))
    how = (
        "rows ordered as a cumulative ablation (" + " → ".join(axis_label(a) for a in ordered) + ")"
        if ordered
        else "rows sorted by the axis values"
    )
    caption = (
        f"Ablation over the axes that vary in sweep {sweep} (✓/✗ for switches, values otherwise); {how}. "
        f"{CELL_NOTE}; best per column in bold. Δ mAP: per-seed difference to the student alone."
    )
    return Table(
        name=f"ablation_{sweep}",
        title=f"Ablation: {sweep}",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records),
        align="c" * len(axes) + "r" * (len(TABLE_METRICS) + 1),
    )
