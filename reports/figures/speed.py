"""Speed/accuracy: mAP against inference GFLOPs (top) and against training step time (bottom), one point per
condition (teachers included), each labelled directly; error bars ± 1 s.d. of mAP over seeds. A panel whose
cost no record has is left out."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from reports.figures.common import save_figure, shown_conditions
from reports.labels import PointLabel, label_points
from reports.stats import summarize
from reports.style import COLUMN_WIDTH, STYLE

AXES = (("gflops", "inference GFLOPs (log scale)"), ("step_ms", "training step (ms, log scale)"))


def speed_accuracy_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Per condition: label, look, GFLOPs, step time (ms), mAP mean and std (%). Teachers are labelled
    ``teacher`` over the model name; with several students each label names its student."""
    shown = shown_conditions(frame)
    students = {str(s.cond.first["student"]) for s in shown if not s.is_teacher}
    rows = []
    for s in shown:
        c = s.cond
        m = c.summary("mAP")
        model = str(c.first["student"])
        label = f"teacher\n{model}" if s.is_teacher else s.label + (f" ({model})" if len(students) > 1 else "")
        rows.append(
            {
                "method": c.method,
                "label": label,
                "look": s.look,
                "gflops": summarize(c.finished["cost.flops"].tolist()).mean / 1e9,
                "step_ms": summarize(c.finished["cost.step_time_s"].tolist()).mean * 1e3,
                "mAP": m.mean,
                "mAP_std": m.std if math.isfinite(m.std) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def _plain(x: float, _pos: int) -> str:
    return f"{x:g}"


def plot_speed_accuracy(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Two panels sharing the mAP axis; every point labelled next to it (leader lines where moved)."""
    points = speed_accuracy_points(frame)
    if points.empty:
        return []
    points = points[points["mAP"].map(math.isfinite)]
    panels = [(col, label) for col, label in AXES if points[col].map(lambda v: math.isfinite(v) and v > 0).any()]
    if not panels:
        return []
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(len(panels), 1, figsize=(COLUMN_WIDTH, 2.1 * len(panels)), squeeze=False)
        fig.subplots_adjust(left=0.14, right=0.97, top=0.98, bottom=0.18 / len(panels), hspace=0.38)
        for ax, (col, xlabel) in zip(axes[:, 0], panels):
            shown = points[points[col].map(lambda v: math.isfinite(v) and v > 0)]
            for _, r in shown.iterrows():
                look = r["look"]
                ax.errorbar(
                    r[col], r["mAP"], yerr=r["mAP_std"], fmt=look.marker, color=look.color, markersize=look.size(4.5),
                    markeredgecolor=look.edge(), markeredgewidth=0.4, elinewidth=0.6, capsize=1.5,
                )  # fmt: skip
            ax.set_xscale("log")
            lo, hi = shown[col].min(), shown[col].max()
            ax.set_xlim(lo / 1.9, hi * 2.6)  # room for the labels left of the smallest and right of the largest
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(_plain))
            ax.xaxis.set_minor_formatter(NullFormatter())
            top = float((shown["mAP"] + shown["mAP_std"]).max())
            ax.set_ylim(0, top * 1.12)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("mAP (%)")
            order = shown.sort_values(["mAP", "label"], ascending=[False, True])
            label_points(
                ax,
                [PointLabel(r[col], r["mAP"], r["label"], r["look"].edge(), r["mAP_std"]) for _, r in order.iterrows()],
                marker_size=4.5,
            )  # fmt: skip
        return save_figure(fig, out_dir, "speed_accuracy")
