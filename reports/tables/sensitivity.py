"""Sensitivity per sweep and swept numeric hyperparameter: mAP against the value, per setting of the other axes."""

from __future__ import annotations

import math

import pandas as pd

from reports.axes import joint_label, sensitivity_points
from reports.conditions import student_alone, sweep_students
from reports.formatting import CELL_NOTE, METRIC_HEADERS, bold_best, fmt_summary, fmt_value, summary_columns
from reports.render import Cell, Table
from reports.stats import Summary, paired_t_test


def sensitivity_table(sweep: str, frame: pd.DataFrame, axis: str, *, digits: int = 1) -> Table:
    runs = sweep_students(frame, sweep)
    points = sensitivity_points(runs, axis)
    label = joint_label(runs, axis)
    show_setting = any(p.setting for p in points)
    metrics = ("mAP", "AP50", "AP75")
    header = (*(("Setting",) if show_setting else ()), label, *(METRIC_HEADERS[m] for m in metrics), "Δ mAP")
    rows, records, breaks = [], [], []
    for setting in dict.fromkeys(p.setting for p in points):  # in the points' order
        group = [p for p in points if p.setting == setting]
        texts, means = [], []
        for p in group:
            alone = student_alone(frame, p.cond)
            delta = paired_t_test(p.cond.values("mAP"), alone.values("mAP")) if alone else None
            dsum = Summary(delta.mean_diff, delta.std_diff, delta.n) if delta else Summary(math.nan, math.nan, 0)
            sums = [p.cond.summary(m) for m in metrics]
            texts.append([fmt_summary(s, digits) for s in sums] + [fmt_summary(dsum, digits, sign=True)])
            means.append([s.mean for s in sums] + [dsum.mean])
            record = {"setting": setting, axis: p.value, "config_key": p.cond.key}
            for m, s in zip(metrics, sums):
                record.update(summary_columns(m, s))
            record.update(summary_columns("delta_mAP", dsum))
            records.append(record)
        cols = [bold_best([t[j] for t in texts], [m[j] for m in means], digits) for j in range(len(texts[0]))]
        breaks.append(len(rows))
        for i, p in enumerate(group):
            lead = (Cell(setting if i == 0 else ""),) if show_setting else ()
            rows.append((*lead, Cell(fmt_value(p.value)), *(col[i] for col in cols)))
    caption = (
        f"Sensitivity to {label} ({axis}) in sweep {sweep}. {CELL_NOTE}; best per setting and column in bold. "
        f"Δ mAP: per-seed difference to the student alone."
    )
    return Table(
        name=f"sensitivity_{sweep}_{axis.split('.')[-1]}",
        title=f"Sensitivity: {label} ({sweep})",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records),
        breaks=tuple(breaks),
        align=("l" if show_setting else "") + "r" * (len(metrics) + 2),
    )
