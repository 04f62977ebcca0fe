"""Published COCO numbers (``reports/paper/*.yaml``) and the measured ones of the same key (the table that
shows them side by side is :mod:`reports.tables.paper_vs_measured`).

Schema of a YAML file (one file per source method)::

    rows:
      - method: fgd                 # registry name of the method the number belongs to
        teacher: retinanet_x101_64x4d_fpn_1x   # model names as our zoo would name them; null if unstated
        student: retinanet_r50_fpn
        schedule: 2x                # the paper's schedule label; measured runs carry it as a
                                    # ``schedule:<label>`` tag in tracking.tags
        metrics: {mAP: 40.7}        # distilled student, in %; a null value = published nowhere we could read
        student_alone: {mAP: 37.4}  # the source's baseline (optional)
        teacher_metrics: {mAP: 41.0}   # optional
        gain: {mAP: 4.1}            # optional: a published gain when only the gain is given
        source: "yzd-v/FGD @ c03a6cf, README.md, COCO results table"
        note: "..."                 # optional
        match: {student: my_r50}    # optional: run-frame columns → values, overriding the key fields

A row matches measured runs by its (teacher, student, method, schedule) key, i.e. the run-frame columns of
:mod:`reports.load`; a null key field matches nothing unless ``match`` sets it. No number in these files is
computed or remembered: each is transcribed from the named source, and DFMSD's are absent (not available).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from reports.conditions import Condition
from reports.load import done
from reports.methods import method_name
from reports.stats import Summary, paired_t_test, summarize

PAPER_DIR = Path(__file__).parent / "paper"
TOLERANCE_AP = 0.3  # AP points: the floor of the reproduction tolerance (see reproduction_status)
STATUSES = ("reproduced", "below", "above", "not run", "n/a")
KEY_FIELDS = ("teacher", "student", "method", "schedule")
_ROW_FIELDS = {*KEY_FIELDS, "metrics", "student_alone", "teacher_metrics", "gain", "source", "note", "match"}


@dataclass(frozen=True)
class PaperRow:
    method: str
    teacher: str | None
    student: str | None
    schedule: str | None
    source: str
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    student_alone: Mapping[str, float | None] = field(default_factory=dict)
    teacher_metrics: Mapping[str, float | None] = field(default_factory=dict)
    gain: Mapping[str, float | None] = field(default_factory=dict)
    note: str = ""
    match: Mapping[str, Any] = field(default_factory=dict)

    def key(self, *fields: str) -> dict[str, Any]:
        """Run-frame column → value for ``fields`` (``match`` overrides; None = unmatched)."""
        return {f: self.match.get(f, getattr(self, f)) for f in fields}


def _metric_map(value: Any, where: str) -> dict[str, float | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a mapping metric -> number or null, got {value!r}")
    out: dict[str, float | None] = {}
    for k, v in value.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise ValueError(f"{where}.{k}: expected a number or null, got {v!r}")
        out[str(k)] = None if v is None else float(v)
    return out


def load_paper_rows(paths: Iterable[str | Path] | None = None) -> list[PaperRow]:
    """Rows of every ``*.yaml`` in ``paths`` (files or folders; default ``reports/paper``), in file order."""
    files: list[Path] = []
    for p in [PAPER_DIR] if paths is None else [Path(x) for x in paths]:
        if p.is_dir():
            files.extend(sorted(p.glob("*.yaml")))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such paper-results file or folder")
    rows: list[PaperRow] = []
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = data.get("rows") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a top-level 'rows' list")
        for i, entry in enumerate(entries):
            where = f"{path}: rows[{i}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: expected a mapping")
            unknown = sorted(set(entry) - _ROW_FIELDS)
            if unknown:
                raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
            if not entry.get("method") or not entry.get("source"):
                raise ValueError(f"{where}: 'method' and 'source' are required")
            rows.append(
                PaperRow(
                    method=str(entry["method"]),
                    teacher=entry.get("teacher"),
                    student=entry.get("student"),
                    schedule=None if entry.get("schedule") is None else str(entry["schedule"]),
                    source=str(entry["source"]),
                    metrics=_metric_map(entry.get("metrics"), f"{where}.metrics"),
                    student_alone=_metric_map(entry.get("student_alone"), f"{where}.student_alone"),
                    teacher_metrics=_metric_map(entry.get("teacher_metrics"), f"{where}.teacher_metrics"),
                    gain=_metric_map(entry.get("gain"), f"{where}.gain"),
                    note=str(entry.get("note") or ""),
                    match=dict(entry.get("match") or {}),
                )
            )
    return rows


def _select(frame: pd.DataFrame, key: Mapping[str, Any]) -> pd.DataFrame:
    if any(v is None for v in key.values()):
        return frame.iloc[0:0]
    mask = pd.Series(True, index=frame.index)
    for col, value in key.items():
        if col not in frame:
            return frame.iloc[0:0]
        mask &= frame[col].astype(str) == str(value)
    return frame[mask]


def _pooled(runs: pd.DataFrame, name: str) -> Condition:
    return Condition(name, runs.sort_values("run_id"))


@dataclass(frozen=True)
class PaperEntry:
    """One published number of one row and what we measured for the same key."""

    row: PaperRow
    metric: str
    paper: float | None
    measured: Summary
    paper_gain: float | None
    measured_gain: Summary
    paper_alone: float | None
    measured_alone: Summary
    paper_teacher: float | None
    measured_teacher: Summary

    @property
    def diff(self) -> float:
        return self.measured.mean - self.paper if self.paper is not None and self.measured.n else math.nan

    @property
    def judged(self) -> str:
        """What the status judges: ``value`` (the published number), ``gain`` (a row that publishes only the gain
        over the student alone, e.g. DMKD's abstract) or ``""`` (nothing published)."""
        if self.paper is not None:
            return "value"
        return "gain" if self.paper_gain is not None else ""

    @property
    def status(self) -> str:
        """:func:`reproduction_status` of the published value, else of the published gain."""
        if self.judged == "value":
            return reproduction_status(self.paper, self.measured)
        return reproduction_status(self.paper_gain, self.measured_gain)


def reproduction_tolerance(measured: Summary) -> float:
    """``max(TOLERANCE_AP, 2 x standard error of the mean over seeds)``; with one seed (no spread) the floor."""
    se = measured.std / math.sqrt(measured.n) if measured.n > 1 and math.isfinite(measured.std) else 0.0
    return max(TOLERANCE_AP, 2.0 * se)


def reproduction_status(paper: float | None, measured: Summary) -> str:
    """``n/a`` without a published number, ``not run`` without a measured one, ``reproduced`` when
    ``|mean - paper| <= max(0.3 AP, 2 SE)`` (:func:`reproduction_tolerance`), else ``below`` or ``above``."""
    if paper is None:
        return "n/a"
    if measured.n == 0 or not math.isfinite(measured.mean):
        return "not run"
    diff = measured.mean - paper
    if abs(diff) <= reproduction_tolerance(measured) + 1e-9:  # the float noise of values read from records
        return "reproduced"
    return "below" if diff < 0 else "above"


def paper_entries(frame: pd.DataFrame, rows: Sequence[PaperRow]) -> list[PaperEntry]:
    """One entry per (row, metric) for every metric the row publishes (distilled value or gain), sorted by
    (student, teacher, schedule, method, metric). A published gain is taken as given, else computed from the
    row's distilled and student-alone values when it has both."""
    fin = done(frame)
    out = []
    for row in rows:
        runs = _pooled(_select(fin, row.key(*KEY_FIELDS)), "method")
        alone = _pooled(_select(fin[fin["method"] == "none"], row.key("student", "schedule")), "alone")
        for metric in dict.fromkeys([*row.metrics, *row.gain]):
            paper, base = row.metrics.get(metric), row.student_alone.get(metric)
            gain = row.gain.get(metric)
            if gain is None and paper is not None and base is not None:
                gain = round(paper - base, 6)
            test = paired_t_test(runs.values(metric), alone.values(metric))
            teacher = [v * 100 for v in runs.runs.get(f"teacher_{metric}", pd.Series(dtype=float)) if pd.notna(v)]
            out.append(
                PaperEntry(
                    row=row,
                    metric=metric,
                    paper=paper,
                    measured=runs.summary(metric),
                    paper_gain=gain,
                    measured_gain=Summary(test.mean_diff, test.std_diff, test.n),
                    paper_alone=base,
                    measured_alone=alone.summary(metric),
                    paper_teacher=row.teacher_metrics.get(metric),
                    measured_teacher=summarize(teacher),
                )
            )
    return sorted(
        out,
        key=lambda e: (
            e.row.student or "",
            e.row.teacher or "",
            e.row.schedule or "",
            method_name(e.row.method),
            e.metric,
            e.row.source,
        ),
    )
