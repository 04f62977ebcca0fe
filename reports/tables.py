"""Report tables built from the run frame of :mod:`reports.load`: comparison per teacher→student pair,
ablation and sensitivity per sweep, cost per model and method, runs that did not finish.

Conventions shared by every table (our choices, stated in the captions):

* A *condition* is a set of seed replicates: runs with the same ``config_key``. Cells are mean ± sample
  std over its finished seeds with their count n: ``37.4 ± 0.3 (3)``; one seed gives ``37.4 (1)``.
* COCO metrics are shown in percent. The *student alone* of a distilled run is the ``none`` run with the
  same ``base_key`` (the same config apart from ``distill.*``); Δ and p are paired by seed against it.
* p is a two-sided paired t-test on mAP over seeds matched by seed (:func:`reports.stats.paired_t_test`).
* Rows are sorted deterministically; nothing depends on file order, time or the machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from reports.load import METRICS, done, not_finished, varying_axes
from reports.render import Cell, Table
from reports.stats import PairedTest, Summary, paired_t_test, summarize

TABLE_METRICS = ("mAP", "AP50", "AP75", "APs", "APm", "APl")
METRIC_HEADERS = {"mAP": "mAP", "AP50": "AP50", "AP75": "AP75", "APs": "APS", "APm": "APM", "APl": "APL"}
METHOD_NAMES = {
    "none": "student alone",
    "mimic": "Mimic",
    "fgd": "FGD",
    "mgd": "MGD",
    "fkd": "FKD",
    "fbkd": "FBKD",
    "pkd": "PKD",
    "dmkd": "DMKD",
    "dfmsd": "DFMSD",
    "head": "HEAD",
}
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
PROPOSED = ("dfmsd",)
P_TEST = (
    "p: two-sided paired t-test on mAP over seeds matched by seed (Student t CDF computed from the regularized "
    "incomplete beta function in reports/stats.py); n/a with fewer than two matched seeds"
)
CELL_NOTE = "COCO metrics in %, mean ± sample std over seeds (n seeds in parentheses)"


# ---------------------------------------------------------------------------- formatting


def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def axis_label(column: str) -> str:
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


# ---------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """Seed replicates of one config: its runs (any state) and the finished ones."""

    key: str
    runs: pd.DataFrame

    @property
    def first(self) -> pd.Series:
        return self.runs.iloc[0]

    @property
    def finished(self) -> pd.DataFrame:
        return done(self.runs)

    @property
    def method(self) -> str:
        return str(self.first["method"])

    def values(self, metric: str, scale: float = 100.0) -> dict[int, float]:
        """seed -> metric value of the finished runs (first run per seed, in run-id order)."""
        out: dict[int, float] = {}
        for _, row in self.finished.iterrows():
            seed = int(row["seed"]) if "seed" in row and pd.notna(row["seed"]) else 0
            value = row.get(metric, math.nan)
            if seed not in out and value is not None and pd.notna(value):
                out[seed] = float(value) * scale
        return out

    def summary(self, metric: str, scale: float = 100.0) -> Summary:
        return summarize(self.values(metric, scale).values())


def conditions(frame: pd.DataFrame) -> list[Condition]:
    """Conditions of ``frame`` sorted by (student, teachers, method, config key)."""
    out = [Condition(str(key), runs.sort_values("run_id")) for key, runs in frame.groupby("config_key", sort=True)]
    return sorted(out, key=lambda c: (str(c.first["student"]), str(c.first["teachers"]), c.method, c.key))


def student_alone(frame: pd.DataFrame, cond: Condition) -> Condition | None:
    """The ``none`` runs with the same base key (the same config apart from ``distill.*``), merged."""
    runs = frame[(frame["method"] == "none") & (frame["base_key"] == cond.first["base_key"])]
    return Condition(f"alone-{cond.first['base_key']}", runs.sort_values("run_id")) if len(runs) else None


def variant_order(conds: Sequence[Condition]) -> dict[str, tuple]:
    """Sort key per condition: method name, then the raw values of the axes that tell apart the conditions of
    the same method (so ✗ sorts before ✓ and 0.45 before 0.65), then the config key."""
    out: dict[str, tuple] = {}
    for method, group in _by_method(conds).items():
        axes = _variant_axes(group)
        for c in group:
            values = tuple(_sortable(c.first.get(a)) for a in axes)
            out[c.key] = (method != "none", method_name(method), values, c.key)
    return out


def variant_labels(conds: Sequence[Condition]) -> dict[str, str]:
    """Display label per condition: the method name, plus the axes that differ among the conditions of the
    same method (e.g. ``DFMSD (Enhance=✗)``)."""
    labels: dict[str, str] = {}
    for method, group in _by_method(conds).items():
        axes = _variant_axes(group)
        for c in group:
            parts = [f"{axis_label(a)}={fmt_value(_py(c.first.get(a)))}" for a in axes]
            suffix = f" ({', '.join(parts)})" if parts else (f" [{c.key}]" if len(group) > 1 else "")
            labels[c.key] = method_name(method) + suffix
    return labels


def _by_method(conds: Sequence[Condition]) -> dict[str, list[Condition]]:
    out: dict[str, list[Condition]] = {}
    for c in conds:
        out.setdefault(c.method, []).append(c)
    return out


def _variant_axes(group: Sequence[Condition]) -> list[str]:
    if len(group) < 2:
        return []
    return [a for a in varying_axes(pd.DataFrame([c.first for c in group])) if a != "distill.method"]


def _sortable(value: object) -> tuple:
    """Absent values first, then numbers (bools as 0/1) by value, then strings."""
    value = _py(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (0, 0.0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value), "")
    return (2, 0.0, repr(value))


def _axis_text(axis: str, value: object) -> str:
    return method_name(str(value)) if axis == "distill.method" else fmt_value(_py(value))


def _py(value: object) -> object:
    """numpy scalars → Python scalars (so bools print as ✓/✗ and floats in short form)."""
    if hasattr(value, "item") and not isinstance(value, str | tuple):
        return value.item()  # type: ignore[union-attr]
    return value


def _bold_best(texts: list[str], means: list[float], digits: int) -> list[Cell]:
    rounded = [round(m, digits) if m is not None and math.isfinite(m) else None for m in means]
    finite = [r for r in rounded if r is not None]
    best = max(finite) if len(set(finite)) > 1 else None  # nothing is best when every value is the same
    return [Cell(t, bold=best is not None and r == best) for t, r in zip(texts, rounded)]


def _summary_columns(prefix: str, s: Summary) -> dict[str, float]:
    return {f"{prefix}_mean": s.mean, f"{prefix}_std": s.std, f"{prefix}_n": s.n}


# ---------------------------------------------------------------------------- comparison


def comparison_table(frame: pd.DataFrame, *, digits: int = 1, proposed: Sequence[str] = PROPOSED) -> Table:
    """Per teacher→student pair: the student alone, then each method; metrics, Δ mAP and p-values.

    A pair is (student, final teacher, base key): a stage-wise run joins the pair of its last-stage teacher
    and its label names the stage chain (``DFMSD via a→b``)."""
    distilled = [c for c in conditions(frame) if c.method != "none" and len(c.finished)]
    pairs: dict[tuple[str, str, str], list[Condition]] = {}
    for c in distilled:
        pairs.setdefault((str(c.first["student"]), str(c.first["teacher"]), str(c.first["base_key"])), []).append(c)
    per_student_pair: dict[tuple[str, str], int] = {}
    for student, teacher, _ in pairs:
        per_student_pair[(student, teacher)] = per_student_pair.get((student, teacher), 0) + 1

    header = ("Teacher (mAP)", "Student (alone)", "Method", *(METRIC_HEADERS[m] for m in TABLE_METRICS))
    header = (*header, "Δ mAP", "p vs student", "p vs best baseline")
    rows: list[tuple[Cell, ...]] = []
    records: list[dict[str, object]] = []
    breaks: list[int] = []
    for (student, teacher, _), conds in sorted(pairs.items()):
        order = variant_order(conds)
        conds = sorted(conds, key=lambda c: (c.method in proposed, order[c.key]))
        alone = student_alone(frame, conds[0])
        base_labels = variant_labels(conds)
        via = {c.key: f" via {c.first['teachers']}" if c.first["teachers"] != teacher else "" for c in conds}
        labels = {c.key: base_labels[c.key] + via[c.key] for c in conds}
        teacher_summary = summarize(v * 100 for c in conds for v in c.finished["teacher_mAP"].tolist() if pd.notna(v))
        alone_summary = alone.summary("mAP") if alone else Summary(math.nan, math.nan, 0)
        schedule = str(conds[0].first["schedule"])
        student_label = student if per_student_pair[(student, teacher)] == 1 else f"{student} [{schedule}]"
        teacher_cell = f"{teacher}: {fmt_num(teacher_summary.mean, digits)}"
        student_cell = f"{student_label}: {fmt_summary(alone_summary, digits)}"

        baselines = [c for c in conds if c.method not in proposed]
        best = max(baselines, key=lambda c: (c.summary("mAP").mean, c.key), default=None)
        entries: list[tuple[str, Condition, PairedTest | None, PairedTest | None]] = []
        if alone is not None:
            entries.append(("student alone", alone, None, None))
        for c in conds:
            vs_alone = paired_t_test(c.values("mAP"), alone.values("mAP")) if alone else None
            vs_best = paired_t_test(c.values("mAP"), best.values("mAP")) if best and best is not c else None
            entries.append((labels[c.key], c, vs_alone, vs_best))

        columns: list[list[str]] = []
        column_means: list[list[float]] = []
        for metric in TABLE_METRICS:
            sums = [e[1].summary(metric) for e in entries]
            columns.append([fmt_summary(s, digits) for s in sums])
            column_means.append([s.mean for s in sums])
        deltas = [
            Summary(t.mean_diff, t.std_diff, t.n) if t else Summary(math.nan, math.nan, 0) for _, _, t, _ in entries
        ]
        columns.append([fmt_summary(s, digits, sign=True) if s.n else "–" for s in deltas])
        column_means.append([s.mean for s in deltas])
        bolded = [_bold_best(texts, means, digits) for texts, means in zip(columns, column_means)]

        breaks.append(len(rows))
        for i, (label, cond, vs_alone, vs_best) in enumerate(entries):
            first_cells = (Cell(teacher_cell), Cell(student_cell)) if i == 0 else (Cell(""), Cell(""))
            p_cells = (Cell(fmt_p(vs_alone.p) if vs_alone else "–"), Cell(fmt_p(vs_best.p) if vs_best else "–"))
            rows.append((*first_cells, Cell(label), *(col[i] for col in bolded), *p_cells))
            record: dict[str, object] = {
                "teacher": teacher,
                "teachers": str(cond.first["teachers"]),
                "teacher_mAP": teacher_summary.mean,
                "student": student,
                "schedule": schedule,
                "student_alone_mAP": alone_summary.mean,
                "method": cond.method,
                "variant": label,
                "config_key": cond.key,
            }
            for metric in TABLE_METRICS:
                record.update(_summary_columns(metric, cond.summary(metric)))
            record.update(_summary_columns("delta_mAP", deltas[i]))
            record["p_vs_student"] = vs_alone.p if vs_alone else math.nan
            record["p_vs_best_baseline"] = vs_best.p if vs_best else math.nan
            record["best_baseline"] = labels[best.key] if best else ""
            records.append(record)

    caption = (
        f"Teacher→student comparison. {CELL_NOTE}; best per pair and column in bold. Δ mAP: per-seed "
        f"difference to the same student trained alone. {P_TEST}; the best baseline is the non-proposed "
        f"method with the highest mean mAP in the pair."
    )
    return Table(
        name="comparison",
        title="Comparison per teacher→student pair",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records),
        breaks=tuple(breaks),
        align="lll" + "r" * (len(TABLE_METRICS) + 3),
    )


# ---------------------------------------------------------------------------- ablation


ON_VALUES = {"distill.options.dual": "both"}  # string switches whose "on" is one value (our DFMSD reading)


@dataclass(frozen=True)
class Switch:
    """One ``ablation_order`` entry resolved onto an axis; ``on`` is the value that means switched on
    (``None``: truthy = on, i.e. True, non-zero, more than one stage, a string other than none/off/false)."""

    axis: str
    on: str | None = None

    def is_on(self, value: object) -> bool:
        value = _py(value)
        if self.on is not None:
            return fmt_value(value) == self.on or str(value) == self.on
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.axis == "distill.n_stages":
            return int(value) > 1
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        return str(value).lower() not in ("", "none", "off", "false", "0")


def resolve_order(order: Sequence[str], axes: Sequence[str]) -> list[Switch]:
    """Map ``ablation_order`` entries onto detected axes. An entry is a dotted key or its last component
    (``enhance``), optionally with the value that means "on" (``dual=both``); ``stages`` means the stage
    count. Entries that match no varying axis are ignored."""
    aliases = {"distill.stages": "distill.n_stages", "stages": "distill.n_stages"}
    out: list[Switch] = []
    for entry in order:
        key, _, on = entry.partition("=")
        key = aliases.get(key.strip(), key.strip())
        for axis in axes:
            if (axis == key or axis.split(".")[-1] == key) and axis not in [s.axis for s in out]:
                out.append(Switch(axis, on.strip() or ON_VALUES.get(axis)))
    return out


def _ablation_sort_key(cond: Condition, switches: Sequence[Switch], axes: Sequence[str]) -> tuple:
    """Student alone first, then the cumulative rows (all off, +1st, +1st+2nd, ...), then the rest."""
    vector = [int(s.is_on(cond.first.get(s.axis))) for s in switches]
    lead = next((i for i, v in enumerate(vector) if not v), len(vector))
    cumulative = not any(vector[lead:])
    rest = tuple(repr(_py(cond.first.get(a))) for a in axes)
    return (cond.method != "none", not cumulative, lead if cumulative else sum(vector), tuple(vector), rest, cond.key)


def sweep_students(frame: pd.DataFrame, sweep: str) -> pd.DataFrame:
    """The student runs of ``sweep`` (its teacher runs are dependencies, not points of its grid)."""
    return frame[(frame["sweep"] == sweep) & (frame["role"] != "teacher")]


def ablation_axes(runs: pd.DataFrame) -> list[str]:
    """Axes varying among the distilled runs, plus the method when it varies (so that the ``none`` run's
    absent options and stage count do not count as axes of their own)."""
    axes = varying_axes(runs[runs["method"] != "none"])
    if runs["method"].nunique() > 1:
        axes = ["distill.method", *(a for a in axes if a != "distill.method")]
    return axes


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
    conds = sorted(conditions(runs), key=lambda c: _ablation_sort_key(c, switches, axes))
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
        record = {axis_label(a): _axis_text(a, c.first.get(a)) for a in axes}
        record["config_key"] = c.key
        record["runs"] = len(c.runs)
        for m, s in zip(TABLE_METRICS, sums):
            record.update(_summary_columns(m, s))
        record.update(_summary_columns("delta_mAP", dsum))
        records.append(record)
    metric_cols = [_bold_best([t[j] for t in texts], [m[j] for m in means], digits) for j in range(len(texts[0]))]
    rows = []
    for i, c in enumerate(conds):
        axis_cells = [Cell(_axis_text(a, c.first.get(a))) for a in axes]
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


# ---------------------------------------------------------------------------- sensitivity


def numeric_axes(runs: pd.DataFrame) -> list[str]:
    """Swept numeric hyperparameters (ints and floats, not bools, not the stage count); of axes swept jointly
    (a ``zip``: each determines the other) only the first, see :func:`joint_axes`."""
    out: list[str] = []
    for axis in _numeric_varying(runs):
        if not any(axis in joint_axes(runs, lead) for lead in out):
            out.append(axis)
    return out


def _numeric_varying(runs: pd.DataFrame) -> list[str]:
    out = []
    for axis in varying_axes(runs):
        if axis == "distill.n_stages":
            continue
        values = [_py(v) for v in runs[axis].tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
        if len({repr(v) for v in values}) > 1 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            out.append(axis)
    return out


def joint_axes(runs: pd.DataFrame, axis: str) -> list[str]:
    """``axis`` and the numeric axes swept jointly with it: one-to-one with its values over the runs."""
    out = [axis]
    for other in _numeric_varying(runs):
        if other == axis:
            continue
        pairs = {(repr(_py(a)), repr(_py(b))) for a, b in zip(runs[axis].tolist(), runs[other].tolist())}
        if len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}):
            out.append(other)
    return out


def joint_label(runs: pd.DataFrame, axis: str) -> str:
    """``ratio_spatial = ratio_channel`` for axes swept together with equal values, ``a / b`` otherwise."""
    axes = joint_axes(runs, axis)
    equal = all((runs[a].map(repr) == runs[axis].map(repr)).all() for a in axes)
    return (" = " if equal else " / ").join(axis_label(a) for a in axes)


@dataclass(frozen=True)
class SensitivityPoint:
    setting: str  # the other varying axes, "" when only this axis varies
    value: float
    cond: Condition


def sensitivity_points(runs: pd.DataFrame, axis: str) -> list[SensitivityPoint]:
    """Conditions that set ``axis``, with their value and a label of the other varying axes; sorted."""
    distilled = runs[runs["method"] != "none"]
    others = [a for a in varying_axes(distilled) if a not in joint_axes(runs, axis)]
    if distilled["method"].nunique() > 1:
        others = ["distill.method", *others]
    keyed = []
    for c in conditions(runs):
        value = _py(c.first.get(axis))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        setting = ", ".join(f"{axis_label(a)}={_axis_text(a, c.first.get(a))}" for a in others)
        order = tuple(repr(_py(c.first.get(a))) for a in others)
        keyed.append(((order, float(value), c.key), SensitivityPoint(setting, float(value), c)))
    return [p for _, p in sorted(keyed, key=lambda kp: kp[0])]


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
                record.update(_summary_columns(m, s))
            record.update(_summary_columns("delta_mAP", dsum))
            records.append(record)
        cols = [_bold_best([t[j] for t in texts], [m[j] for m in means], digits) for j in range(len(texts[0]))]
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


# ---------------------------------------------------------------------------- cost


def cost_table(frame: pd.DataFrame, *, digits: int = 2) -> Table:
    """Per model and method: parameters, FLOPs, step time, KD overhead, inference time (means over seeds).

    KD overhead = mean step time of the condition / mean step time of the ``none`` run of the same student
    (same base key); when that run is missing, the record's own ``cost.kd_overhead``.
    """
    header = ("Model", "Method", "Teacher", "Params (M)", "GFLOPs", "Step (ms)", "KD overhead", "Infer (ms/img)", "n")
    rows, records = [], []
    conds = [c for c in conditions(frame) if len(c.finished)]
    labels: dict[str, str] = {}
    for student in sorted({str(c.first["student"]) for c in conds}):
        labels.update(variant_labels([c for c in conds if str(c.first["student"]) == student]))
    order = variant_order(conds)
    for c in sorted(conds, key=lambda c: (str(c.first["student"]), c.method in PROPOSED, order[c.key])):
        fin = c.finished

        def mean(col: str, fin: pd.DataFrame = fin) -> float:
            return summarize(fin[col].tolist()).mean if col in fin else math.nan

        step = mean("cost.step_time_s")
        if c.method == "none":
            overhead = 1.0
        else:
            alone = student_alone(frame, c)
            base_step = summarize(done(alone.runs)["cost.step_time_s"].tolist()).mean if alone else math.nan
            overhead = step / base_step if math.isfinite(base_step) and base_step > 0 else mean("cost.kd_overhead")
        params, flops, infer = mean("cost.params"), mean("cost.flops"), mean("cost.infer_time_s")
        rows.append(
            (
                Cell(str(c.first["student"])),
                Cell(labels[c.key] if c.method != "none" else f"none ({c.first['role']})"),
                Cell(str(c.first["teachers"]) or "–"),
                Cell(fmt_num(params / 1e6, digits)),
                Cell(fmt_num(flops / 1e9, digits)),
                Cell(fmt_num(step * 1e3, 1)),
                Cell(f"{fmt_num(overhead, digits)}×" if math.isfinite(overhead) else "–"),
                Cell(fmt_num(infer * 1e3, 1)),
                Cell(str(len(fin))),
            )
        )
        records.append(
            {
                "model": c.first["student"],
                "method": c.method,
                "variant": labels[c.key],
                "teachers": c.first["teachers"],
                "role": c.first["role"],
                "params": params,
                "flops": flops,
                "step_time_s": step,
                "kd_overhead": overhead,
                "infer_time_s": infer,
                "n": len(fin),
                "config_key": c.key,
            }
        )
    caption = (
        "Cost per model and method, means over finished seeds: parameters and FLOPs of the detector at its card's "
        "input size (a multiply-add counts 2 FLOPs), median training step time, KD overhead = step time with KD "
        "/ step time of the same student trained alone, inference time per image."
    )
    return Table(
        name="cost",
        title="Cost",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records),
        align="lll" + "r" * 6,
    )


# ---------------------------------------------------------------------------- runs not finished


def not_finished_table(frame: pd.DataFrame) -> Table:
    """Every run that is not done (failed, running, queued, unreadable), with its reason."""
    pending = not_finished(frame).sort_values(["sweep", "run_id"], kind="stable")
    header = ("Sweep", "Run", "Method", "State", "Progress", "Reason")
    rows, records = [], []
    for _, r in pending.iterrows():
        it, total = r.get("iteration"), r.get("total_iterations")
        progress = f"{int(it)}/{int(total)}" if pd.notna(it) and pd.notna(total) else "–"
        reason = str(r["reason"]) if r.get("reason") is not None and pd.notna(r.get("reason")) else ""
        rows.append(tuple(Cell(x) for x in (r["sweep"], r["run_id"], r["method"], r["state"], progress, reason)))
        records.append(
            {
                "sweep": r["sweep"],
                "run_id": r["run_id"],
                "method": r["method"],
                "state": r["state"],
                "progress": progress,
                "reason": reason,
            }
        )
    caption = f"Runs not finished: {len(rows)} of {len(frame)} (excluded from every other table)."
    return Table(
        name="not_finished",
        title="Not finished",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records, columns=["sweep", "run_id", "method", "state", "progress", "reason"]),
    )


# ---------------------------------------------------------------------------- all tables


def build_tables(
    frame: pd.DataFrame,
    *,
    orders: Mapping[str, Sequence[str]] | None = None,
    paper_rows: Sequence[object] = (),
    digits: int = 1,
) -> list[Table]:
    """Every table of a report, in report order (empty tables are left out, except "Not finished")."""
    from reports.paper import paper_table  # local: paper.py imports the formatting helpers above

    orders = orders or {}
    tables: list[Table] = []
    comparison = comparison_table(frame, digits=digits)
    if comparison.rows:
        tables.append(comparison)
    for sweep in sorted(frame["sweep"].unique()):
        ablation = ablation_table(sweep, frame, order=orders.get(sweep, ()), digits=digits)
        if ablation is not None:
            tables.append(ablation)
        for axis in numeric_axes(sweep_students(frame, sweep)):
            tables.append(sensitivity_table(sweep, frame, axis, digits=digits))
    if paper_rows:
        tables.append(paper_table(frame, paper_rows, digits=digits))
    cost = cost_table(frame)
    if cost.rows:
        tables.append(cost)
    tables.append(not_finished_table(frame))
    return tables


def run_overview(frame: pd.DataFrame) -> str:
    """One deterministic line: how many runs from which sweeps, how many finished."""
    sweeps = ", ".join(sorted(frame["sweep"].unique()))
    states = frame["state"].value_counts().sort_index()
    counts = ", ".join(f"{n} {s}" for s, n in states.items())
    return f"{len(frame)} runs from {sweeps}: {counts}. Metrics: {', '.join(METRICS[:6])} (COCO, %)."
