"""Figures from the run frame (matplotlib, Agg): training curves, Δ-mAP bars, speed/accuracy, sensitivity
lines, and the per-level mask/attention figure.

One style for all (``STYLE``): sized for a paper column (``COLUMN_WIDTH`` = 3.4 in), 7 pt fonts, a fixed
colour per method. Each figure is saved as PNG (300 dpi) and PDF with deterministic metadata (no creation
date), so the same records give byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from benchmark.config import sanitize_name  # noqa: E402
from reports.axes import joint_label, numeric_axes, sensitivity_points  # noqa: E402
from reports.conditions import conditions, student_alone, sweep_students, variant_labels  # noqa: E402
from reports.load import done, load_curves  # noqa: E402
from reports.methods import method_name  # noqa: E402
from reports.stats import summarize  # noqa: E402
from reports.tables.comparison import comparison_table  # noqa: E402

COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "legend.fontsize": 6,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "lines.linewidth": 1.0,
    "lines.markersize": 3,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.3,
    "grid.alpha": 0.5,
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "svg.hashsalt": "dfmsd-bench",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}
METHOD_ORDER = ("none", "mimic", "fgd", "mgd", "fkd", "pkd", "dmkd", "dfmsd")
_PALETTE = plt.get_cmap("tab10").colors


def method_color(method: str) -> tuple[float, float, float]:
    """A fixed colour per method (grey for the student alone); unknown methods get a stable spare colour."""
    if method == "none":
        return (0.45, 0.45, 0.45)
    if method in METHOD_ORDER:
        return _PALETTE[METHOD_ORDER.index(method) - 1]
    return _PALETTE[7 + sum(map(ord, method)) % 3]


def save_figure(fig: Figure, out_dir: str | Path, name: str) -> list[Path]:
    """``<out_dir>/<name>.png`` and ``.pdf`` with no date in their metadata; closes the figure."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = sanitize_name(name.replace("✓", "on").replace("✗", "off"), max_len=120)
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    fig.savefig(png, dpi=300, metadata={"Software": None})
    fig.savefig(pdf, metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return [png, pdf]


# ---------------------------------------------------------------------------- training curves


def _kd_group(term: str) -> str:
    """``kd/<term>/<level>`` → ``kd/<term>`` (levels summed); other names unchanged."""
    parts = term.split("/")
    return "/".join(parts[:2]) if parts[0] == "kd" and len(parts) > 2 else term


def curve_series(run_dirs: Sequence[str]) -> dict[str, pd.DataFrame]:
    """term -> frame (index: iteration, one column per run) of the runs' train curves (KD levels summed)
    and ``mAP`` of their eval curves; only iterations every run has are kept."""
    per_term: dict[str, list[pd.Series]] = {}
    for i, run_dir in enumerate(run_dirs):
        curves = load_curves(run_dir)
        train = pd.DataFrame(curves["train"])
        if not train.empty and "iter" in train:
            train = train.set_index("iter")
            grouped: dict[str, pd.Series] = {}
            for col in train.columns:
                if col in ("lr", "time_s"):
                    continue
                key = _kd_group(col)
                grouped[key] = grouped[key].add(train[col], fill_value=0) if key in grouped else train[col]
            for key, series in grouped.items():
                per_term.setdefault(key, []).append(series.rename(i))
        evals = pd.DataFrame(curves["eval"])
        if not evals.empty and {"iter", "mAP"} <= set(evals.columns):
            per_term.setdefault("mAP", []).append((evals.set_index("iter")["mAP"] * 100).rename(i))
    return {k: pd.concat(v, axis=1, join="inner").sort_index() for k, v in per_term.items()}


def _term_order(term: str) -> tuple[int, str]:
    if term == "loss":
        return (0, term)
    if term == "mAP":
        return (4, term)
    if term == "kd":
        return (2, term)
    return (3 if term.startswith("kd/") else 1, term)


def plot_curves_panel(series: Mapping[str, pd.DataFrame], title: str, color: Any) -> Figure:
    terms = sorted(series, key=_term_order)
    ncols = 2
    nrows = max(1, math.ceil(len(terms) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH, 1.15 * nrows + 0.4), squeeze=False)
    for ax, term in zip(axes.flat, terms):
        data = series[term]
        x = data.index.to_numpy(dtype=float)
        mean = data.mean(axis=1).to_numpy()
        ax.plot(x, mean, color=color, marker="o" if len(x) < 5 else None)
        if data.shape[1] > 1:
            std = data.std(axis=1, ddof=1).to_numpy()
            ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.25, linewidth=0)
        ax.set_title(f"{term} (%)" if term == "mAP" else term)
        ax.set_xlabel("iteration")
    for ax in list(axes.flat)[len(terms) :]:
        ax.set_visible(False)
    height = fig.get_figheight()
    fig.suptitle(title, fontsize=7)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - 0.3 / height))
    return fig


def plot_training_curves(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One figure per condition: each loss term and mAP over iterations, mean with a ±std band over seeds."""
    written: list[Path] = []
    conds = [c for c in conditions(done(frame)) if len(c.finished)]
    labels: dict[str, str] = {}
    for student in sorted({str(c.first["student"]) for c in conds}):
        labels.update(variant_labels([c for c in conds if str(c.first["student"]) == student]))
    with matplotlib.rc_context(STYLE):
        for c in conds:
            series = curve_series(c.finished["run_dir"].tolist())
            if not series:
                continue
            teacher = f"{c.first['teachers']} → " if c.first["teachers"] else ""
            label = "teacher run" if c.first["role"] == "teacher" else labels[c.key]
            title = f"{label} (n={len(c.finished)})\n{teacher}{c.first['student']}"
            fig = plot_curves_panel(series, title, method_color(c.method))
            written += save_figure(fig, out_dir, f"curves_{c.first['student']}_{label}_{c.key[:6]}")
    return written


# ---------------------------------------------------------------------------- Δ mAP bars


def plot_delta_bars(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Δ mAP over the student alone per pair (groups) and method (bars), error bars = std of the per-seed
    differences."""
    data = comparison_table(frame).data
    if data.empty:
        return []
    data = data[(data["method"] != "none") & (data["delta_mAP_n"] > 0)]
    if data.empty:
        return []
    pairs = sorted({(t, s) for t, s in zip(data["teacher"], data["student"])})
    with matplotlib.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.0))
        seen: set[str] = set()
        for gi, (teacher, student) in enumerate(pairs):
            group = data[(data["teacher"] == teacher) & (data["student"] == student)]
            width = 0.8 / max(len(group), 1)
            for bi, (_, r) in enumerate(group.iterrows()):
                x = gi - 0.4 + width * (bi + 0.5)
                err = r["delta_mAP_std"] if math.isfinite(r["delta_mAP_std"]) else 0.0
                label = r["variant"] if r["variant"] not in seen else None
                seen.add(r["variant"])
                ax.bar(
                    x,
                    r["delta_mAP_mean"],
                    width * 0.9,
                    yerr=err,
                    color=method_color(r["method"]),
                    label=label,
                    error_kw={"elinewidth": 0.6, "capsize": 1.5},
                )
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_xticks(range(len(pairs)), [f"{t}\n→ {s}" for t, s in pairs])
        ax.set_ylabel("Δ mAP vs student alone (%)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="best", ncol=2)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir, "delta_map")


# ---------------------------------------------------------------------------- speed / accuracy


def speed_accuracy_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Per condition: method, label, GFLOPs, step time (ms), mAP mean and std (%)."""
    conds = [c for c in conditions(done(frame)) if len(c.finished)]
    labels: dict[str, str] = {}
    for student in sorted({str(c.first["student"]) for c in conds}):
        labels.update(variant_labels([c for c in conds if str(c.first["student"]) == student]))
    rows = []
    for c in conds:
        m = c.summary("mAP")
        rows.append(
            {
                "method": c.method,
                "label": f"{labels[c.key]} ({c.first['student']})",
                "gflops": summarize(c.finished["cost.flops"].tolist()).mean / 1e9,
                "step_ms": summarize(c.finished["cost.step_time_s"].tolist()).mean * 1e3,
                "mAP": m.mean,
                "mAP_std": m.std if math.isfinite(m.std) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def plot_speed_accuracy(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """mAP against FLOPs (left) and against training step time (right), one marker per condition."""
    points = speed_accuracy_points(frame)
    if points.empty:
        return []
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 1.9), sharey=True)
        for ax, col, xlabel in ((axes[0], "gflops", "GFLOPs (inference)"), (axes[1], "step_ms", "train step (ms)")):
            seen: set[str] = set()
            for _, r in points.iterrows():
                if not math.isfinite(r[col]):
                    continue
                name = method_name(r["method"])
                ax.errorbar(
                    r[col],
                    r["mAP"],
                    yerr=r["mAP_std"],
                    fmt="o",
                    color=method_color(r["method"]),
                    elinewidth=0.6,
                    capsize=1.5,
                    label=name if name not in seen and ax is axes[1] else None,
                )
                seen.add(name)
            ax.set_xlabel(xlabel)
        axes[0].set_ylabel("mAP (%)")
        if axes[1].get_legend_handles_labels()[0]:
            axes[1].legend(loc="best")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir, "speed_accuracy")


# ---------------------------------------------------------------------------- sensitivity


def plot_sensitivity(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One line plot per sweep and numeric axis: mAP against the value, error bars = std over seeds, one line
    per setting of the other axes; dashed: the student alone."""
    written: list[Path] = []
    with matplotlib.rc_context(STYLE):
        for sweep in sorted(frame["sweep"].unique()):
            runs = sweep_students(frame, sweep)
            for axis in numeric_axes(runs):
                points = sensitivity_points(runs, axis)
                if not points:
                    continue
                fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.0))
                for k, setting in enumerate(dict.fromkeys(p.setting for p in points)):
                    group = [p for p in points if p.setting == setting]
                    sums = [p.cond.summary("mAP") for p in group]
                    x = [p.value for p in group]
                    y = [s.mean for s in sums]
                    err = [s.std if math.isfinite(s.std) else 0.0 for s in sums]
                    ax.errorbar(
                        x,
                        y,
                        yerr=err,
                        marker="o",
                        color=_PALETTE[k % 10],
                        elinewidth=0.6,
                        capsize=1.5,
                        label=setting or None,
                    )
                alone = student_alone(frame, points[0].cond)
                if alone is not None and alone.summary("mAP").n:
                    ax.axhline(
                        alone.summary("mAP").mean,
                        color=method_color("none"),
                        linestyle="--",
                        linewidth=0.8,
                        label="student alone",
                    )
                ax.set_xlabel(joint_label(runs, axis))
                ax.set_ylabel("mAP (%)")
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(loc="best")
                fig.tight_layout(pad=0.3)
                written += save_figure(fig, out_dir, f"sensitivity_{sweep}_{axis.split('.')[-1]}")
    return written


# ---------------------------------------------------------------------------- masks


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def plot_masks(
    image: Any,
    boxes: Any,
    per_level: Mapping[str, Mapping[str, Any]],
    out: str | Path,
    *,
    title: str = "",
) -> list[Path]:
    """Mask/attention figure for one image: a row per FPN level with the image and its boxes (the level's
    selected spatial mask overlaid), the teacher spatial attention, the enhanced attention, the spatial mask
    (dark = masked) and the channel attention (bars; masked channels dark when given).

    ``image``: (3, H, W) in [0, 1] or (H, W, 3); ``boxes``: (n, 4) xyxy in image pixels; ``per_level``:
    level name → {``attention_spatial`` (h, w), ``attention_enhanced`` (h, w), ``mask_spatial`` (h, w),
    ``attention_channel`` (C,), optional ``mask_channel`` (C,)}; arrays or tensors. ``out`` is a file path
    without suffix (``.png`` and ``.pdf`` are written). Pure plotting: no model, no files read.
    """
    img = _np(image)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)
    img = np.clip(img, 0.0, 1.0)
    box_arr = _np(boxes).reshape(-1, 4)
    levels = list(per_level)
    columns = ("image\n+ mask", "teacher\nattention", "enhanced\nattention", "spatial\nmask", "channel\nattention")
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(levels), len(columns), figsize=(COLUMN_WIDTH, 0.75 * len(levels) + 0.3), squeeze=False
        )
        h, w = img.shape[:2]
        for r, level in enumerate(levels):
            d = per_level[level]
            spatial, enhanced = _np(d["attention_spatial"]), _np(d["attention_enhanced"])
            mask, channel = _np(d["mask_spatial"]), _np(d["attention_channel"]).reshape(-1)
            ax = axes[r, 0]
            ax.imshow(img, interpolation="nearest")
            masked = np.ma.masked_where(mask >= 0.5, np.ones_like(mask))  # only masked cells are drawn
            ax.imshow(
                masked,
                cmap=ListedColormap(["red"]),
                alpha=0.4,
                vmin=0,
                vmax=1,
                extent=(0, w, h, 0),
                interpolation="nearest",
            )
            for x1, y1, x2, y2 in box_arr:
                ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=0.6))
            ax.set_xlim(0, w)
            ax.set_ylim(h, 0)
            finite = np.concatenate([spatial[np.isfinite(spatial)], enhanced[np.isfinite(enhanced)]])
            vmax = float(finite.max()) if finite.size else 1.0  # NaN cells (a 1x1 level of one image) stay blank
            axes[r, 1].imshow(spatial, cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
            axes[r, 2].imshow(enhanced, cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
            axes[r, 3].imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            mask_c = d.get("mask_channel")
            colors = (
                ["0.2" if mc < 0.5 else "tab:blue" for mc in _np(mask_c).reshape(-1)]
                if mask_c is not None
                else "tab:blue"
            )
            axes[r, 4].bar(np.arange(channel.size), channel, width=1.0, color=colors, linewidth=0)
            axes[r, 4].set_xlim(-0.5, channel.size - 0.5)
            axes[r, 0].set_ylabel(level)
            for c in range(4):
                axes[r, c].set_xticks([])
                axes[r, c].set_yticks([])
                axes[r, c].grid(False)
            axes[r, 4].set_xticks([])
            axes[r, 4].tick_params(axis="y", labelsize=5)
        for c, name in enumerate(columns):
            axes[0, c].set_title(name, fontsize=6)
        if title:
            fig.suptitle(title, fontsize=6)
        fig.tight_layout(pad=0.2, rect=(0, 0, 1, 1 - 0.15 / fig.get_figheight()) if title else None)
        out = Path(out)
        return save_figure(fig, out.parent, out.name)


# ---------------------------------------------------------------------------- all


def plot_all(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Every figure the records allow (masks need a model: see :mod:`reports.masks`)."""
    written = plot_training_curves(frame, out_dir)
    written += plot_delta_bars(frame, out_dir)
    written += plot_speed_accuracy(frame, out_dir)
    written += plot_sensitivity(frame, out_dir)
    return sorted(written)
