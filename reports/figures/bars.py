"""Δ mAP over the student alone as horizontal bars, one panel per teacher→student pair: the methods sorted by
mean (largest on top), whiskers the 95 % t-interval over seeds of the per-seed differences (none for one
seed). Method names sit on the axis, so there is no legend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from reports.figures.common import Delta, deltas, pairs, save_figure
from reports.labels import text_size
from reports.style import COLUMN_WIDTH, STYLE

BAR_HEIGHT_IN = 0.17  # inches per bar


def delta_label(frame: pd.DataFrame) -> str:
    """The x label of the Δ bars, naming the split the frame's mAP comes from."""
    splits = sorted({str(s) for s in frame["split"].dropna()}) if "split" in frame else []
    split = f", {'/'.join(splits)} split" if splits else ""
    return f"Δ mAP vs student alone (%{split})\nbars: mean; whiskers: 95 % t-interval over seeds"


def draw_delta_bars(ax: Axes, rows: Sequence[Delta], *, xlabel: str | None = None) -> None:
    """Horizontal bars of ``rows`` (in the given order, first on top) with their t-interval whiskers and the
    x label ``xlabel`` (:func:`delta_label`; none when None)."""
    ys = list(range(len(rows)))[::-1]
    for y, d in zip(ys, rows):
        look = d.shown.look
        err = d.half_width if math.isfinite(d.half_width) else 0.0
        ax.barh(
            y, d.mean, height=0.72, color=look.color, edgecolor=look.edge(), linewidth=0.5, hatch=look.hatch,
            xerr=err or None, error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "0.15"},
        )  # fmt: skip
    ax.set_yticks(ys, [f"{d.shown.label}" + (" (n=1)" if d.n == 1 else "") for d in rows])
    ax.tick_params(axis="y", length=0)
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.grid(axis="y", visible=False)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    if xlabel:
        ax.set_xlabel(xlabel)


def plot_delta_bars(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One figure: a panel of Δ-mAP bars per pair (pairs stacked, sharing the x axis)."""
    panels = [(p, deltas(frame, p)) for p in pairs(frame)]
    panels = [(p, rows) for p, rows in panels if rows]
    if not panels:
        return []
    with matplotlib.rc_context(STYLE):
        fig = plt.figure(figsize=(COLUMN_WIDTH, 1.0))
        left = max(text_size(fig, d.shown.label + " (n=1)")[0] for _, rows in panels for d in rows) + 0.1
        title_h = text_size(fig, panels[0][0].label)[1] + 0.08
        label = delta_label(frame)
        xlabel_h = text_size(fig, label)[1] + 0.22
        heights = [len(rows) * BAR_HEIGHT_IN + 0.1 for _, rows in panels]
        total = sum(heights) + title_h * len(panels) + xlabel_h + 0.05
        fig.set_size_inches(COLUMN_WIDTH, total)
        top = total - 0.02
        axes = []
        for (pair, rows), h in zip(panels, heights):
            top -= title_h
            rect = (left / COLUMN_WIDTH, (top - h) / total, 1 - (left + 0.1) / COLUMN_WIDTH, h / total)
            ax = fig.add_axes(rect, sharex=axes[0] if axes else None)
            draw_delta_bars(ax, rows, xlabel=label if pair is panels[-1][0] else None)
            ax.set_title(pair.label, loc="center")
            axes.append(ax)
            top -= h
        for ax in axes[:-1]:
            ax.tick_params(axis="x", labelbottom=False)
        return save_figure(fig, out_dir, "delta_map")
