"""Paper vs measured: each published number beside ours for the same (teacher, student, method, schedule)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.formatting import fmt_num, fmt_summary
from reports.methods import method_name
from reports.paper import TOLERANCE_AP, PaperRow, paper_entries, reproduction_tolerance
from reports.render import Cell, Table
from reports.stats import Summary


def _pv(value: float | None, digits: int, sign: bool = False) -> str:
    return "n/a" if value is None else fmt_num(value, digits, sign=sign)


def _side(paper: float | None, measured: Summary, digits: int) -> str:
    return f"{_pv(paper, digits)} / {fmt_summary(measured, digits)}"


def paper_table(frame: pd.DataFrame, rows: Sequence[PaperRow], *, digits: int = 1) -> Table:
    """Per published row and metric: paper | measured | measured − paper | reproduction status, the gain over the
    student alone (paper | measured), and the student alone and the teacher (paper / measured); then the source."""
    header = (
        "Method",
        "Teacher → student",
        "Sched.",
        "Metric",
        "Paper",
        "Measured",
        "Diff",
        "Status",
        "Paper Δ",
        "Measured Δ",
        "Student alone (paper / ours)",
        "Teacher (paper / ours)",
        "Source",
    )
    table_rows, records, breaks = [], [], []
    last_student = None
    for e in paper_entries(frame, rows):
        r = e.row
        if r.student != last_student:
            breaks.append(len(table_rows))
            last_student = r.student
        cells = (
            method_name(r.method),
            f"{r.teacher or '?'} → {r.student or '?'}",
            r.schedule or "–",
            e.metric,
            _pv(e.paper, digits),
            fmt_summary(e.measured, digits),
            fmt_num(e.diff, digits, sign=True),
            e.status + (" (Δ)" if e.judged == "gain" else ""),
            _pv(e.paper_gain, digits, sign=True),
            fmt_summary(e.measured_gain, digits, sign=True),
            _side(e.paper_alone, e.measured_alone, digits),
            _side(e.paper_teacher, e.measured_teacher, digits),
            r.source,
        )
        table_rows.append(tuple(Cell(x) for x in cells))
        nan = math.nan
        records.append(
            {
                "method": r.method,
                "teacher": r.teacher or "",
                "student": r.student or "",
                "schedule": r.schedule or "",
                "metric": e.metric,
                "paper": nan if e.paper is None else e.paper,
                "measured_mean": e.measured.mean,
                "measured_std": e.measured.std,
                "measured_n": e.measured.n,
                "diff": e.diff,
                "status": e.status,
                "status_on": e.judged,
                "tolerance": reproduction_tolerance(e.measured if e.judged == "value" else e.measured_gain)
                if e.judged
                else nan,
                "paper_gain": nan if e.paper_gain is None else e.paper_gain,
                "measured_gain_mean": e.measured_gain.mean,
                "measured_gain_std": e.measured_gain.std,
                "measured_gain_n": e.measured_gain.n,
                "paper_student_alone": nan if e.paper_alone is None else e.paper_alone,
                "measured_student_alone": e.measured_alone.mean,
                "paper_teacher": nan if e.paper_teacher is None else e.paper_teacher,
                "measured_teacher": e.measured_teacher.mean,
                "source": r.source,
                "note": r.note,
            }
        )
    caption = (
        "Published COCO val2017 box AP (%) beside ours (mean ± sample std over seeds, n in parentheses), matched by "
        "(teacher, student, method, schedule). n/a: not available; DFMSD's result tables could not be read and no "
        "number is quoted from memory. Diff = measured − paper; Δ = gain over the student alone (measured: paired "
        f"by seed). Status: reproduced when |measured mean − paper| ≤ max({TOLERANCE_AP:g} AP, 2 × the standard error "
        "of the mean over seeds), else below or above; not run: no finished run of that key; n/a: no published "
        "number; (Δ): the row publishes only a gain, which is judged (paired by seed) instead."
    )
    return Table(
        name="paper_vs_measured",
        title="Paper vs measured",
        caption=caption,
        header=header,
        rows=tuple(table_rows),
        data=pd.DataFrame(records),
        breaks=tuple(breaks),
        align="llll" + "rrrl" + "rrrr" + "l",
    )
