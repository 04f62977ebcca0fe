"""The per-level mask/attention figure of one image (inputs from :func:`reports.masks.mask_inputs_from_run`):
a row per FPN level with the image and its boxes (the level's masked cells in red), the teacher spatial
attention, the enhanced attention, the spatial mask (dark = masked) and the channel attention (bars; masked
channels dark when given). Pure plotting: no model, no files read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap

from reports.figures.common import save_figure
from reports.style import COLUMN_WIDTH, STYLE

COLUMNS = ("image\n+ mask", "teacher\nattention", "enhanced\nattention", "spatial\nmask", "channel\nattention")
BOX_COLOR = "#DDCC77"  # sand: visible on the red mask and on vegetation
CHANNEL_COLOR = "#332288"


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _image(image: Any) -> np.ndarray:
    img = _np(image)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)
    return np.clip(img, 0.0, 1.0)


def draw_masks(axes: np.ndarray, image: Any, boxes: Any, per_level: Mapping[str, Mapping[str, Any]]) -> None:
    """Fill ``axes`` (levels × 5) with the mask figure's cells.

    ``image``: (3, H, W) in [0, 1] or (H, W, 3); ``boxes``: (n, 4) xyxy in image pixels; ``per_level``:
    level name → {``attention_spatial`` (h, w), ``attention_enhanced`` (h, w), ``mask_spatial`` (h, w),
    ``attention_channel`` (C,), optional ``mask_channel`` (C,)}; arrays or tensors.
    """
    img = _image(image)
    box_arr = _np(boxes).reshape(-1, 4)
    h, w = img.shape[:2]
    for r, level in enumerate(per_level):
        d = per_level[level]
        spatial, enhanced = _np(d["attention_spatial"]), _np(d["attention_enhanced"])
        mask, channel = _np(d["mask_spatial"]), _np(d["attention_channel"]).reshape(-1)
        ax: Axes = axes[r, 0]
        ax.imshow(img, interpolation="nearest")
        masked = np.ma.masked_where(mask >= 0.5, np.ones_like(mask))  # only masked cells are drawn
        ax.imshow(
            masked, cmap=ListedColormap(["red"]), alpha=0.4, vmin=0, vmax=1, extent=(0, w, h, 0),
            interpolation="nearest",
        )  # fmt: skip
        for x1, y1, x2, y2 in box_arr:
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=BOX_COLOR, linewidth=0.5))
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        finite = np.concatenate([spatial[np.isfinite(spatial)], enhanced[np.isfinite(enhanced)]])
        vmax = float(finite.max()) if finite.size else 1.0  # NaN cells (a 1x1 level of one image) stay blank
        axes[r, 1].imshow(spatial, cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        axes[r, 2].imshow(enhanced, cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        axes[r, 3].imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        mask_c = d.get("mask_channel")
        colors = (
            ["0.25" if mc < 0.5 else CHANNEL_COLOR for mc in _np(mask_c).reshape(-1)]
            if mask_c is not None
            else CHANNEL_COLOR
        )
        axes[r, 4].bar(np.arange(channel.size), channel, width=1.0, color=colors, linewidth=0)
        axes[r, 4].set_xlim(-0.5, channel.size - 0.5)
        top = float(np.nanmax(channel)) if channel.size and np.isfinite(channel).any() else 1.0
        axes[r, 4].set_ylim(0, top * 1.05)
        axes[r, 4].set_yticks([top], [f"{top:.2g}"])  # the bars start at 0: the top is the scale
        axes[r, 4].yaxis.tick_right()
        axes[r, 0].set_ylabel(level)
        for c in range(5):
            axes[r, c].set_xticks([])
            axes[r, c].grid(False)
            if c < 4:
                axes[r, c].set_yticks([])
            for side in ("top", "right", "left", "bottom"):
                axes[r, c].spines[side].set_visible(c == 4 and side in ("bottom", "right"))
    for c, name in enumerate(COLUMNS):
        axes[0, c].set_title(name)


def plot_masks(
    image: Any,
    boxes: Any,
    per_level: Mapping[str, Mapping[str, Any]],
    out: str | Path,
    *,
    title: str = "",
) -> list[Path]:
    """The mask figure as its own file: ``out`` is a path without suffix (``.png`` and ``.pdf`` are written);
    the arguments are those of :func:`draw_masks`."""
    levels = len(per_level)
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(levels, len(COLUMNS), figsize=(COLUMN_WIDTH, 0.68 * levels + 0.45), squeeze=False)
        draw_masks(axes, image, boxes, per_level)
        if title:
            fig.suptitle(title)
        top = 1 - (0.2 if title else 0.0) / fig.get_figheight()
        fig.tight_layout(pad=0.2, w_pad=0.3, h_pad=0.3, rect=(0, 0, 1, top))
        out = Path(out)
        return save_figure(fig, out.parent, out.name)
