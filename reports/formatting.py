"""Numbers, summaries, p-values and axis values as table text; column headers and axis labels.

Cells are mean ± sample std over seeds with their count n: ``37.4 ± 0.3 (3)``; one seed gives ``37.4 (1)``;
nothing gives ``–``. Negative numbers use the minus sign ``−``.
"""

from __future__ import annotations

import math

from reports.methods import method_name
from reports.render import Cell
from reports.stats import Summary

TABLE_METRICS = ("mAP", "AP50", "AP75", "APs", "APm", "APl")
METRIC_HEADERS = {"mAP": "mAP", "AP50": "AP50", "AP75": "AP75", "APs": "APS", "APm": "APM", "APl": "APL"}
AXIS_LABELS = {
    "distill.method": "Method",
    "distill.n_stages": "Stages",
    "teachers": "Teachers",
    "distill.options.dual": "Dual",
    "distill.options.enhance": "Enhance",
    "distill.options.sem_align": "Align",
    "distill.options.mask_ratio": "Mask ratio",
    "distill.options.temp": "T",
    "distill.options.temperature": "T",
    "distill.options.alpha": "α",
    "distill.options.beta": "β",
    "distill.options.gamma": "γ",
    "distill.options.loss_weight": "Loss weight",
}
P_TEST = (
    "p: two-sided paired t-test on mAP over seeds matched by seed (Student t CDF computed from the regularized "
    "incomplete beta function in reports/stats.py); n/a with fewer than two matched seeds"
)
CELL_NOTE = "COCO metrics in %, mean ± sample std over seeds (n seeds in parentheses)"


def axis_label(column: str) -> str:
    """Short header of a config column: ``distill.options.alpha`` → ``α``, ``distill.stages.1.options.gamma``
    → ``stage2 gamma``, else the last dotted component."""
    if column in AXIS_LABELS:
        return AXIS_LABELS[column]
    parts = column.split(".")
    if parts[:2] == ["distill", "stages"] and len(parts) > 3:
        return f"stage{int(parts[2]) + 1} {parts[-1]}"
    return parts[-1]


def fmt_num(x: float, digits: int, *, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    text = f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"
    return "0.0" if text in ("-0.0", "+0.0") and not sign else text.replace("-", "−")


def fmt_summary(s: Summary, digits: int, *, sign: bool = False) -> str:
    if s.n == 0:
        return "–"
    if s.n == 1 or not math.isfinite(s.std):
        return f"{fmt_num(s.mean, digits, sign=sign)} ({s.n})"
    return f"{fmt_num(s.mean, digits, sign=sign)} ± {fmt_num(s.std, digits)} ({s.n})"


def fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def scalar(value: object) -> object:
    """numpy scalars → Python scalars (so bools print as ✓/✗ and floats in short form)."""
    if hasattr(value, "item") and not isinstance(value, str | tuple):
        return value.item()  # type: ignore[union-attr]
    return value


def fmt_value(value: object) -> str:
    """An axis value in a cell: ✓/✗ for switches, numbers in short form, "–" for absent."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ", ".join(fmt_value(v) for v in value)
    return str(value)


def axis_text(axis: str, value: object) -> str:
    """The cell of ``axis`` for ``value``: the method's display name for the method axis, else :func:`fmt_value`."""
    return method_name(str(value)) if axis == "distill.method" else fmt_value(scalar(value))


def bold_best(texts: list[str], means: list[float], digits: int) -> list[Cell]:
    """Cells of one column with the highest mean (as rounded for display) in bold; none when all are equal."""
    rounded = [round(m, digits) if m is not None and math.isfinite(m) else None for m in means]
    finite = [r for r in rounded if r is not None]
    best = max(finite) if len(set(finite)) > 1 else None  # nothing is best when every value is the same
    return [Cell(t, bold=best is not None and r == best) for t, r in zip(texts, rounded)]


def summary_columns(prefix: str, s: Summary) -> dict[str, float]:
    """Tidy CSV columns of a summary: ``<prefix>_mean``, ``<prefix>_std``, ``<prefix>_n``."""
    return {f"{prefix}_mean": s.mean, f"{prefix}_std": s.std, f"{prefix}_n": s.n}
