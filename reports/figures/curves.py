"""Training curves: each loss term per condition (:func:`plot_loss_curves`), and mAP against iteration for all
methods of a pair on one axis (:func:`draw_map_curves`, :func:`plot_map_curves`), mean ± 1 s.d. over seeds.

The mAP curve is the ``curves.eval`` rows of metrics.json (``{"iter": N, "mAP": ..., "split": ...}``). Rows may
carry a ``split``: a condition's curve is the split with the most rows (the periodic evaluation during
training); rows of other splits (a final test evaluation) are left out of it and the axis names the split.
A condition with one evaluated iteration (only the final one) is drawn as a point, never as a line.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.figures.common import Pair, pairs, save_figure, shown_conditions
from reports.labels import PointLabel, label_line_ends, text_size
from reports.load import last_eval_map, load_curves, stage_starts, teacher_run_dir
from reports.style import COLUMN_WIDTH, STYLE, TEACHER_LOOK, Look, pair_label

BAND_ALPHA = 0.2
DODGE = 0.025  # of the x range: spacing of conditions that have only their final evaluation
FINAL_ONLY = "only the final evaluation\nwas recorded (points\ndodged around it)"

# ---------------------------------------------------------------------------- loss terms per condition


def _kd_group(term: str) -> str:
    """``kd/<term>/<level>`` → ``kd/<term>`` (levels summed); other names unchanged."""
    parts = term.split("/")
    return "/".join(parts[:2]) if parts[0] == "kd" and len(parts) > 2 else term


def loss_series(run_dirs: Sequence[str]) -> dict[str, pd.DataFrame]:
    """term -> frame (index: iteration, one column per run) of the runs' train curves (KD levels summed);
    only iterations every run has are kept; terms that are 0 throughout (``kd`` of a run without a teacher)
    and the ``kd`` total of a method with one KD term are left out."""
    per_term: dict[str, list[pd.Series]] = {}
    for i, run_dir in enumerate(run_dirs):
        train = pd.DataFrame(load_curves(run_dir)["train"])
        if train.empty or "iter" not in train:
            continue
        train = train.set_index("iter")
        grouped: dict[str, pd.Series] = {}
        for col in train.columns:
            if col in ("lr", "time_s"):
                continue
            key = _kd_group(col)
            grouped[key] = grouped[key].add(train[col], fill_value=0) if key in grouped else train[col]
        for key, series in grouped.items():
            per_term.setdefault(key, []).append(series.rename(i))
    frames = {k: pd.concat(v, axis=1, join="inner").sort_index() for k, v in per_term.items()}
    frames = {k: f for k, f in frames.items() if not (f.fillna(0) == 0).all().all()}
    if sum(k.startswith("kd/") for k in frames) == 1:
        frames.pop("kd", None)  # the total of a single KD term is that term: one panel, not two
    return frames


def _term_order(term: str) -> tuple[int, str]:
    if term == "loss":
        return (0, term)
    if term == "kd":
        return (2, term)
    return (3 if term.startswith("kd/") else 1, term)


def _band(ax: Axes, data: pd.DataFrame, color: str, look: Look | None = None) -> None:
    """Mean over the columns of ``data`` as a line (in ``look``'s line style and markers), ± 1 s.d. as a band
    where two or more runs have a value."""
    x = data.index.to_numpy(dtype=float)
    mean = data.mean(axis=1).to_numpy()
    style = {"linestyle": look.linestyle, "marker": look.marker, "markersize": look.size()} if look else {}
    ax.plot(x, mean, color=color, markevery=max(1, len(x) // 8), **style)
    std = data.std(axis=1, ddof=1).to_numpy()
    if data.shape[1] > 1 and np.isfinite(std).any():
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=BAND_ALPHA, linewidth=0)


def plot_loss_panel(
    series: Mapping[str, pd.DataFrame], title: str, color: str, stage_starts: Sequence[int] = ()
) -> Figure:
    """A panel per loss term; dotted vertical lines where a stage of a stage-wise run begins."""
    terms = sorted(series, key=_term_order)
    ncols = 2
    nrows = max(1, math.ceil(len(terms) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH, 1.05 * nrows + 0.6), squeeze=False)
    for i, (ax, term) in enumerate(zip(axes.flat, terms)):
        _band(ax, series[term], color)
        for start in stage_starts:
            ax.axvline(start, color="0.4", linestyle=":", linewidth=0.7)
        ax.set_title(term)
        if i + ncols >= len(terms):  # the lowest panel of its column
            ax.set_xlabel("iteration")
    for ax in list(axes.flat)[len(terms) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout(pad=0.3, h_pad=0.5, rect=(0, 0, 1, 1 - 0.06 / fig.get_figheight()))
    return fig


def plot_loss_curves(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One figure per condition: each loss term over iterations, mean with a ± 1 s.d. band over seeds, and
    the stage boundaries of a stage-wise run."""
    written: list[Path] = []
    with matplotlib.rc_context(STYLE):
        for s in shown_conditions(frame):
            c = s.cond
            series = loss_series(c.finished["run_dir"].tolist())
            if not series:
                continue
            name = f"{s.label}, {len(c.finished)} seed{'s' if len(c.finished) > 1 else ''}"
            title = f"{name}\n{pair_label(str(c.first['teachers']), str(c.first['student']))}"
            if s.is_teacher:
                title = f"teacher run, {len(c.finished)} seed{'s' if len(c.finished) > 1 else ''}\n{c.first['student']}"
            starts = stage_starts(str(c.finished["run_dir"].iloc[0]))
            fig = plot_loss_panel(series, title, s.look.color if not s.is_teacher else TEACHER_LOOK.color, starts)
            written += save_figure(fig, out_dir, f"curves_{c.first['student']}_{s.label}_{c.key[:6]}")
    return written


# ---------------------------------------------------------------------------- mAP vs iteration


@dataclass(frozen=True)
class EvalSeries:
    """mAP (%) per evaluated iteration (index) and run (columns) on one split (``""``: rows without a split)."""

    data: pd.DataFrame
    split: str

    @property
    def single(self) -> bool:
        return len(self.data.index) == 1


def eval_series(run_dirs: Sequence[str]) -> EvalSeries | None:
    """The runs' ``curves.eval`` mAP on the split with the most rows over the runs (None without any row)."""
    rows = [
        (i, r)
        for i, run_dir in enumerate(run_dirs)
        for r in load_curves(run_dir)["eval"]
        if isinstance(r.get("iter"), int | float) and isinstance(r.get("mAP"), int | float) and r["mAP"] >= 0
    ]
    if not rows:
        return None
    counts = Counter(str(r.get("split") or "") for _, r in rows)
    split = sorted(counts, key=lambda s: (-counts[s], s))[0]
    per_run: dict[int, dict[float, float]] = {}
    for i, r in rows:
        if str(r.get("split") or "") == split:
            per_run.setdefault(i, {})[float(r["iter"])] = float(r["mAP"]) * 100
    data = pd.DataFrame({i: pd.Series(v) for i, v in sorted(per_run.items())}).sort_index()
    return EvalSeries(data, split)


def draw_map_curves(ax: Axes, pair: Pair, *, end_labels: bool = True) -> list[PointLabel]:
    """mAP against iteration for the student alone and every method of ``pair`` (mean ± 1 s.d. over seeds),
    and the teacher's mAP on the same split as a dashed line (:func:`teacher_level`). Returns the end labels
    (drawn in the right margin when ``end_labels``; the caller leaves room for them, see
    :func:`end_label_width`)."""
    curves = [(s, eval_series(s.cond.finished["run_dir"].tolist())) for s in pair.shown]
    curves = [(s, e) for s, e in curves if e is not None]
    singles = [s for s, e in curves if e.single]
    x_max = max((float(e.data.index.max()) for _, e in curves), default=1.0)
    dodge = DODGE * x_max
    ends: list[PointLabel] = []
    for s, e in curves:
        look = s.look
        mean = e.data.mean(axis=1)
        if e.single:
            x = float(e.data.index[0]) + (singles.index(s) - (len(singles) - 1) / 2) * dodge
            std = float(e.data.iloc[0].std(ddof=1)) if e.data.shape[1] > 1 else 0.0
            ax.errorbar(
                [x], [float(mean.iloc[0])], yerr=[std if math.isfinite(std) else 0.0], fmt=look.marker,
                markersize=look.size(), color=look.color, markeredgecolor=look.edge(), markeredgewidth=0.4,
                elinewidth=0.6, capsize=1.5,
            )  # fmt: skip
            ends.append(PointLabel(x, float(mean.iloc[0]), s.label, look.edge()))
        else:
            _band(ax, e.data, look.color, look)
            ends.append(PointLabel(float(e.data.index[-1]), float(mean.iloc[-1]), s.label, look.edge()))
    splits = sorted({e.split for _, e in curves if e.split})
    teacher, label = teacher_level(pair, splits[0] if len(splits) == 1 else "")
    if teacher is not None:
        ax.axhline(teacher, color=TEACHER_LOOK.color, linestyle=TEACHER_LOOK.linestyle, linewidth=0.7)
        ends.append(PointLabel(x_max, teacher, label, TEACHER_LOOK.color))
    ax.set_xlim(0, x_max + max(0.04 * x_max, (len(singles) / 2 + 0.5) * dodge))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("mAP (%)" + (f", {'/'.join(splits)} split" if splits else ""))
    ax.set_xlabel("iteration")
    if curves and len(singles) == len(curves):
        ax.text(0.02, 0.03, FINAL_ONLY, transform=ax.transAxes, ha="left", va="bottom", color="0.35")
    if end_labels:
        label_line_ends(ax, ends)
    return ends


def teacher_level(pair: Pair, split: str) -> tuple[float | None, str]:
    """The teacher's dashed line (mAP %) and its label: on the curves' ``split``, from the last-stage teacher
    runs' own records (their last evaluation on that split); else the final (test) mAP the distilled runs
    recorded for their teacher, labelled with its split when the curves are on another one."""
    teachers = {teacher_run_dir(d) for s in pair.methods for d in s.cond.finished["run_dir"].tolist()}
    values = [v for t in sorted(p for p in teachers if p) if (v := last_eval_map(t, split)) is not None]
    if split and values:
        return 100 * sum(values) / len(values), "teacher"
    final = pair.teacher_map()
    if not final.n:
        return None, "teacher"
    return final.mean, "teacher" if split in ("", "test") else "teacher (test)"


def end_label_width(fig: Figure, pair: Pair) -> float:
    """Inches of right margin the end labels of ``pair`` need."""
    labels = [s.label for s in pair.shown] + ["teacher (test)"]
    return max(text_size(fig, t)[0] for t in labels) + 0.12


def plot_map_curves(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One figure per pair: mAP against iteration for every method of the pair on one axis."""
    written: list[Path] = []
    with matplotlib.rc_context(STYLE):
        for pair in pairs(frame):
            if not any(eval_series(s.cond.finished["run_dir"].tolist()) for s in pair.shown):
                continue
            fig = plt.figure(figsize=(COLUMN_WIDTH, 2.3))
            right = end_label_width(fig, pair)
            ax = fig.add_axes((0.45 / COLUMN_WIDTH, 0.35 / 2.3, 1 - (0.45 + right) / COLUMN_WIDTH, 1 - 0.75 / 2.3))
            ax.set_title(pair.label)
            draw_map_curves(ax, pair)
            written += save_figure(fig, out_dir, f"map_curves_{pair.name}")
    return written
