"""What every figure shares: the conditions as drawn (display name and look), the teacher→student pairs, and
saving (PNG at 300 dpi and vector PDF, no date in the metadata, so the same records give the same bytes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from benchmark.config import sanitize_name  # noqa: E402
from reports.conditions import (  # noqa: E402
    Condition,
    conditions,
    pair_key,
    student_alone,
    variant_labels,
    variant_order,
    variant_suffixes,
)
from reports.load import done  # noqa: E402
from reports.methods import PROPOSED, method_name  # noqa: E402
from reports.stats import Summary, paired_t_test, summarize, t_interval  # noqa: E402
from reports.style import TEACHER_LOOK, Look, looks, method_look, pair_label  # noqa: E402

DPI = 300


@dataclass(frozen=True)
class Shown:
    """A condition as every figure draws it."""

    cond: Condition
    label: str
    look: Look

    @property
    def method(self) -> str:
        return self.cond.method

    @property
    def is_teacher(self) -> bool:
        return str(self.cond.first["role"]) == "teacher"


@dataclass(frozen=True)
class Pair:
    """A teacher→student pair: the student alone (if trained) and the distilled conditions, in display order."""

    student: str
    teacher: str
    base_key: str
    alone: Shown | None
    methods: tuple[Shown, ...]
    name: str  # file-name part, unique among the pairs of a report

    @property
    def label(self) -> str:
        return pair_label(self.teacher, self.student)

    @property
    def shown(self) -> tuple[Shown, ...]:
        return ((self.alone,) if self.alone else ()) + self.methods

    def teacher_map(self) -> Summary:
        """Teacher mAP (%) as the distilled runs recorded it (the last-stage teacher on the same split)."""
        return summarize(v * 100 for s in self.methods for v in s.cond.finished["teacher_mAP"].tolist() if pd.notna(v))


def shown_conditions(frame: pd.DataFrame) -> list[Shown]:
    """Every condition with a finished run, in display order (student, then per method: student alone,
    baselines, the proposed method last), with its display name and its look."""
    conds = [c for c in conditions(done(frame)) if len(c.finished)]
    labels, suffixes, order = variant_labels(conds), variant_suffixes(conds), variant_order(conds)
    conds = sorted(conds, key=lambda c: (str(c.first["student"]), c.method in PROPOSED, order[c.key]))
    drawn = looks({c.key: c.method for c in conds}, suffixes, [c.key for c in conds])
    out = []
    for c in conds:
        teacher = str(c.first["role"]) == "teacher"
        out.append(Shown(c, "teacher" if teacher else labels[c.key], TEACHER_LOOK if teacher else drawn[c.key]))
    return out


def pairs(frame: pd.DataFrame) -> list[Pair]:
    """The teacher→student pairs of the comparison table (student, last-stage teacher, base key), sorted."""
    shown = shown_conditions(frame)
    grouped: dict[tuple[str, str, str], list[Shown]] = {}
    for s in shown:
        if s.method != "none":
            grouped.setdefault(pair_key(s.cond), []).append(s)
    counts: dict[tuple[str, str], int] = {}
    for student, teacher, _ in grouped:
        counts[(student, teacher)] = counts.get((student, teacher), 0) + 1
    out = []
    for (student, teacher, base), methods in sorted(grouped.items()):
        alone_cond = student_alone(done(frame), methods[0].cond)
        alone = Shown(alone_cond, method_name("none"), method_look("none")) if alone_cond is not None else None
        name = f"{teacher}_to_{student}" + (f"_{base[:6]}" if counts[(student, teacher)] > 1 else "")
        out.append(Pair(student, teacher, base, alone, tuple(methods), name))
    return out


@dataclass(frozen=True)
class Delta:
    """Δ mAP of one condition over its student alone, paired by seed: mean, 95 % t-interval half-width, n."""

    shown: Shown
    mean: float
    half_width: float
    n: int


def deltas(frame: pd.DataFrame, pair: Pair) -> list[Delta]:
    """Δ mAP (%) of each distilled condition of ``pair`` with at least one seed matched to the student alone,
    sorted by mean (largest first)."""
    if pair.alone is None:
        return []
    alone = pair.alone.cond.values("mAP")
    out = []
    for s in pair.methods:
        test = paired_t_test(s.cond.values("mAP"), alone)
        if test.n:
            half = t_interval(Summary(test.mean_diff, test.std_diff, test.n))
            out.append(Delta(s, test.mean_diff, half, test.n))
    return sorted(out, key=lambda d: (-d.mean, d.shown.label))


def save_figure(fig: Figure, out_dir: str | Path, name: str, *, dpi: int = DPI) -> list[Path]:
    """``<out_dir>/<name>.png`` and ``.pdf`` with no date in their metadata; closes the figure."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = sanitize_name(name.replace("✓", "on").replace("✗", "off"), max_len=120)
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    fig.savefig(png, dpi=dpi, metadata={"Software": None})
    fig.savefig(pdf, metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return [png, pdf]
