"""One figure per teacher→student pair that a paper can take as it is, one column wide: (a) mAP against
iteration for every method, (b) Δ mAP bars with 95 % t-intervals, and (c) the per-level masks of one DFMSD
(or DMKD) run of the pair when its run directory still holds its checkpoints (else the figure has no (c))."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.figures.bars import delta_label, draw_delta_bars
from reports.figures.common import DPI, Delta, Pair, deltas, pairs, save_figure
from reports.figures.curves import draw_map_curves, end_label_width
from reports.figures.masks import COLUMNS, draw_masks
from reports.labels import text_size
from reports.style import COLUMN_WIDTH, STYLE

if TYPE_CHECKING:
    from reports.masks import MaskInputs

CURVES_IN = 1.75  # height of panel (a)
BAR_IN = 0.17  # per bar of panel (b)
MASK_LEVELS = 3  # rows of panel (c): the finest levels
ROW_GAP = 0.06  # inches between the rows of panel (c)


def pair_figure(frame: pd.DataFrame, pair: Pair, masks: MaskInputs | None = None) -> Figure:
    """The figure of ``pair`` (not saved); ``masks`` adds panel (c)."""
    rows: list[Delta] = deltas(frame, pair)
    fig = plt.figure(figsize=(COLUMN_WIDTH, 4.0))
    line_h = text_size(fig, "Xg")[1]
    width = COLUMN_WIDTH
    bars_left = max((text_size(fig, d.shown.label + " (n=1)")[0] for d in rows), default=0.5) + 0.1
    heights = {
        "title": 2 * line_h + 0.08,
        "a": CURVES_IN,
        "a_x": 0.32,
        "b": len(rows) * BAR_IN + 0.1 if rows else 0.0,
        "b_x": text_size(fig, delta_label(frame))[1] + 0.22 if rows else 0.0,
    }
    levels = list(masks.per_level)[:MASK_LEVELS] if masks is not None else []
    cell = (width - 0.45) / len(COLUMNS)
    heights["c_head"] = 3 * line_h + 0.16 if levels else 0.0
    heights["c"] = len(levels) * (cell + ROW_GAP)
    total = sum(heights.values()) + 0.1 * (1 + bool(rows) + bool(levels))
    fig.set_size_inches(width, total)

    def rect(left: float, top: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (left / width, (total - top - h) / total, w / width, h / total)

    def letter(name: str, top: float) -> None:
        fig.text(0.02 / width, 1 - top / total, name, weight="bold", ha="left", va="top")

    fig.text(0.5, 1 - 0.02 / total, pair.label, ha="center", va="top")
    top = heights["title"]
    right = end_label_width(fig, pair)
    ax_a = fig.add_axes(rect(0.45, top, width - 0.45 - right, heights["a"]))
    letter("a", top - 0.05)
    draw_map_curves(ax_a, pair)
    top += heights["a"] + heights["a_x"] + 0.1
    if rows:
        ax_b = fig.add_axes(rect(bars_left, top, width - bars_left - 0.1, heights["b"]))
        letter("b", top - 0.05)
        draw_delta_bars(ax_b, rows, xlabel=delta_label(frame))
        top += heights["b"] + heights["b_x"] + 0.1
    if levels and masks is not None:
        letter("c", top)
        fig.text(0.2 / width, 1 - top / total, masks.title.splitlines()[0], ha="left", va="top")
        top += heights["c_head"]
        grid = np.empty((len(levels), len(COLUMNS)), dtype=object)
        for r in range(len(levels)):
            for c in range(len(COLUMNS)):
                grid[r, c] = fig.add_axes(rect(0.35 + c * cell, top + r * (cell + ROW_GAP), cell * 0.9, cell))
        draw_masks(grid, masks.image, masks.boxes, {k: masks.per_level[k] for k in levels})
    return fig


def plot_pair_figures(
    frame: pd.DataFrame, out_dir: str | Path, masks: dict[str, MaskInputs] | None = None, *, dpi: int = DPI
) -> list[Path]:
    """``pair_<teacher>_to_<student>`` for every pair; ``masks``: pair name → mask inputs for panel (c)."""
    written: list[Path] = []
    with matplotlib.rc_context(STYLE):
        for pair in pairs(frame):
            fig = pair_figure(frame, pair, (masks or {}).get(pair.name))
            written += save_figure(fig, out_dir, f"pair_{pair.name}", dpi=dpi)
    return written


def mask_run(pair: Pair) -> Path | None:
    """The run directory panel (c) shows: the first DFMSD, else DMKD, condition of ``pair`` in display order,
    its lowest seed whose ``checkpoints/`` still hold ``last.pt`` and ``model_final.pt``."""
    for method in ("dfmsd", "dmkd"):
        for s in pair.methods:
            if s.method != method:
                continue
            for _, run in s.cond.finished.sort_values(["seed", "run_id"]).iterrows():
                ckpt = Path(str(run["run_dir"])) / "checkpoints"
                if (ckpt / "last.pt").is_file() and (ckpt / "model_final.pt").is_file():
                    return Path(str(run["run_dir"]))
    return None
