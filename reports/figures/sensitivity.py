"""Sensitivity: mAP against each swept numeric hyperparameter of a sweep, one line per setting of the other
axes (in the colour family of its method), error bars ± 1 s.d. over seeds; dashed grey: the student alone.
The legend sits below the axes."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from reports.axes import joint_label, numeric_axes, sensitivity_points
from reports.conditions import student_alone, sweep_students
from reports.figures.common import save_figure
from reports.style import COLUMN_WIDTH, STYLE, method_look


def plot_sensitivity(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One line plot per sweep and numeric axis."""
    written: list[Path] = []
    with matplotlib.rc_context(STYLE):
        for sweep in sorted(frame["sweep"].unique()):
            runs = sweep_students(frame, sweep)
            for axis in numeric_axes(runs):
                points = sensitivity_points(runs, axis)
                if not points:
                    continue
                fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.2))
                per_method: dict[str, int] = {}
                for setting in dict.fromkeys(p.setting for p in points):
                    group = [p for p in points if p.setting == setting]
                    method = group[0].cond.method
                    look = method_look(method, per_method.get(method, 0))
                    per_method[method] = per_method.get(method, 0) + 1
                    sums = [p.cond.summary("mAP") for p in group]
                    ax.errorbar(
                        [p.value for p in group], [s.mean for s in sums],
                        yerr=[s.std if math.isfinite(s.std) else 0.0 for s in sums], marker=look.marker,
                        linestyle=look.linestyle, color=look.color, markeredgecolor=look.edge(),
                        markeredgewidth=0.4, elinewidth=0.6, capsize=1.5, label=setting or None,
                    )  # fmt: skip
                alone = student_alone(frame, points[0].cond)
                if alone is not None and alone.summary("mAP").n:
                    none = method_look("none")
                    ax.axhline(
                        alone.summary("mAP").mean, color=none.color, linestyle="--", linewidth=0.8,
                        label="student alone",
                    )  # fmt: skip
                ax.set_xlabel(joint_label(runs, axis))
                ax.set_ylabel("mAP (%)")
                handles, labels = ax.get_legend_handles_labels()
                if handles:
                    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, borderaxespad=0.0)
                fig.tight_layout(pad=0.3)
                written += save_figure(fig, out_dir, f"sensitivity_{sweep}_{axis.split('.')[-1]}")
    return written
