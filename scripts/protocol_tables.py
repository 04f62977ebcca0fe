"""Tables of the converged NEON protocol (docs/protocol.md), from the run records alone.

    .venv/bin/python scripts/protocol_tables.py schedule OUT      # the schedule study (sweeps/protocol/schedule.yaml)
    .venv/bin/python scripts/protocol_tables.py hypotheses OUT    # H1-H3 on the protocol's runs (neon_converged.yaml)
    .venv/bin/python scripts/protocol_tables.py cost OUT          # what those runs cost: core-hours per condition

``schedule``: per recipe and iteration count, the VALIDATION mAP (mean ± sd over seeds; the choice is made on
it) and its ratio to the best schedule's mean (the plateau); the test mAP is shown but not used.
``hypotheses``: the abstract's three findings as paired comparisons over the same seeds; which conditions are
compared is chosen on the validation split only, then the same pairs are shown on validation and on test: Δ mAP
(points), its 95 % t-interval, the paired t-test's p, the minimal detectable difference at 80 % power and the
seeds needed for 1 point.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.load import done, load_runs  # noqa: E402
from reports.stats import (  # noqa: E402
    Summary,
    best_on_shared_seeds,
    minimal_detectable_difference,
    paired_t_test,
    seeds_for_difference,
    summarize,
    t_interval,
)

PLATEAU = 0.9  # a schedule is converged when its mean is within 10 % (relative) of the plateau


def _fmt(s: Summary) -> str:
    return "–" if not s.n else f"{s.mean:.1f} ± {s.std:.1f} (n {s.n})" if s.n > 1 else f"{s.mean:.1f} (n 1)"


def schedule(out: str) -> str:
    val, test = done(load_runs([out], split="val")), done(load_runs([out], split="test"))
    lines = [
        "| model (role) | iterations | val mAP % | / plateau | test mAP % | converged (>= 90 % of plateau) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for model, group in sorted(val.groupby("model.name")):
        role = group["role"].iloc[0]
        sums = {int(it): summarize(g["mAP"] * 100) for it, g in sorted(group.groupby("train.iterations"))}
        plateau = max(s.mean for s in sums.values())
        for it, s in sums.items():
            t = summarize(test[(test["model.name"] == model) & (test["train.iterations"] == it)]["mAP"] * 100)
            ratio = s.mean / plateau if plateau > 0 else math.nan
            lines.append(
                f"| {model} ({role}) | {it} | {_fmt(s)} | {ratio:.2f} | {_fmt(t)} | "
                f"{'yes' if ratio >= PLATEAU else 'no'} |"
            )
    return "\n".join(lines) + "\n"


def _by_seed(frame, **match) -> dict[int, float]:
    rows = frame
    for key, value in match.items():
        rows = rows[rows[key].map(repr) == repr(value)] if key in rows else rows.iloc[0:0]
    return {int(r["seed"]): float(r["mAP"]) * 100 for _, r in rows.iterrows()}


ONE_STAGE = "dfmsd:default"  # DFMSD's default reading: one stage on the Faster R-CNN teacher, enhancement on
NO_ENHANCE = "dfmsd:no_enhance"
STAGE_WISE = ("dfmsd:S-a", "dfmsd:S-b")


def _conditions(out: str, split: str) -> dict[str, dict[int, float]]:
    """Condition name (the ``protocol:<name>`` tag of sweeps/neon_converged.yaml) -> seed -> mAP % on ``split``,
    finished student runs only."""
    frame = done(load_runs([out], split=split))
    frame = frame[frame["role"] == "student"]
    tag = frame["tracking.tags"].map(lambda tags: next((t[9:] for t in tags or () if t[:9] == "protocol:"), ""))
    frame = frame.assign(condition=tag)
    return {c: _by_seed(frame, condition=c) for c in sorted(set(tag) - {""})}


def _best(conds: dict[str, dict[int, float]], names) -> tuple[str | None, list[int]]:
    """The candidate with the highest mean over the seeds every candidate has, and those seeds."""
    present = [c for c in names if conds.get(c)]
    index, common = best_on_shared_seeds([conds[c] for c in present])
    return (None if index is None else present[index]), common


def _on(seeds: list[int]) -> str:
    return f" (seeds {', '.join(map(str, seeds))})" if seeds else ""


def hypotheses(out: str) -> str:
    """The abstract's findings as paired comparisons over the same seeds. Every choice is made on the VALIDATION
    split and then held fixed for the test split: the best baseline, DFMSD's reading (the best of its conditions)
    and the stage-wise reading (S-a or S-b), each judged on the seeds all its candidates have (a screen on seed 0
    followed by more seeds for the chosen conditions compares the candidates on seed 0 only).
    H1: the validated DFMSD reading vs the best baseline; H2: the better stage-wise reading vs one stage
    (``dfmsd:default``); H3: masking enhancement (``dfmsd:default``) vs none (``dfmsd:no_enhance``). Per row: Δ mAP
    (points), its 95 % t-interval, the two-sided paired p, the minimal detectable difference at 80 % power
    (α = 0.05) from the observed paired sd, and the seeds that would detect 1.0 point."""
    val, test = _conditions(out, "val"), _conditions(out, "test")
    best_baseline, seeds_b = _best(val, [c for c in val if c.startswith("baseline:")])
    dfmsd, seeds_d = _best(val, [c for c in val if c.startswith("dfmsd:")])
    stage_wise, seeds_s = _best(val, STAGE_WISE)
    pairs = [
        ("H1 DFMSD beats the best baseline", dfmsd, best_baseline),
        ("H2 stage-wise beats one stage", stage_wise, ONE_STAGE),
        ("H3 masking enhancement beats none", ONE_STAGE, NO_ENHANCE),
    ]
    lines = [
        f"Chosen on validation: best baseline {best_baseline or '–'}{_on(seeds_b)}, DFMSD reading {dfmsd or '–'}"
        f"{_on(seeds_d)}, stage-wise reading {stage_wise or '–'}{_on(seeds_s)}.",
        "",
        "| hypothesis | split | A | B | n | Δ mAP (A − B) | 95 % CI | p | MDD (80 %) | seeds for 1 pt |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for split, conds in (("val", val), ("test", test)):
        for name, a, b in pairs:
            if not (a and b and conds.get(a) and conds.get(b)):
                lines.append(f"| {name} | {split} | {a or '–'} | {b or '–'} | 0 | not run | | | | |")
                continue
            res = paired_t_test(conds[a], conds[b])
            if res.n < 2:  # one matched seed: a difference, no spread to test it against
                lines.append(f"| {name} | {split} | {a} | {b} | {res.n} | {res.mean_diff:+.2f} | – | – | – | – |")
                continue
            ci = t_interval(Summary(res.mean_diff, res.std_diff, res.n))
            mdd = minimal_detectable_difference(res.std_diff, res.n)
            need = seeds_for_difference(res.std_diff, 1.0)
            lines.append(
                f"| {name} | {split} | {a} | {b} | {res.n} | {res.mean_diff:+.2f} | ±{ci:.2f} | {res.p:.3f} | "
                f"{mdd:.2f} | {need if need is not None else '> 1000'} |"
            )
    return "\n".join(lines) + "\n"


def cost(out: str) -> str:
    """What the protocol's finished runs cost, from their records: per condition (a student's ``protocol:`` tag;
    else the role, model and schedule), the runs, the median step time, the mean minutes per run (training plus periodic
    evaluation) and the core-hours (minutes x ``train.num_threads``); then the total."""
    frame = done(load_runs([out], split="test"))
    tag = frame["tracking.tags"].map(lambda tags: next((t[9:] for t in tags or () if t[:9] == "protocol:"), ""))
    label = [
        t if r == "student" and t else f"{r} {m} {int(i)} it"
        for t, r, m, i in zip(tag, frame["role"], frame["model.name"], frame["train.iterations"])
    ]
    minutes = (frame["cost.train_time_s"].fillna(0) + frame["cost.eval_time_s"].fillna(0)) / 60
    frame = frame.assign(label=label, minutes=minutes, core_h=minutes * frame["train.num_threads"] / 60)
    lines = [
        "| condition | runs | median step s | min per run | core-hours |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, g in sorted(frame.groupby("label"), key=lambda kv: -kv[1]["core_h"].sum()):
        lines.append(
            f"| {name} | {len(g)} | {g['cost.step_time_s'].median():.2f} | {g['minutes'].mean():.1f} | "
            f"{g['core_h'].sum():.2f} |"
        )
    total = frame["core_h"].sum()
    lines.append(f"| **all** | {len(frame)} | | | **{total:.1f}** (= {total / 2:.1f} h on 2 cores) |")
    return "\n".join(lines) + "\n"


COMMANDS = {"schedule": schedule, "hypotheses": hypotheses, "cost": cost}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    sys.stdout.write(COMMANDS[sys.argv[1]](sys.argv[2]))
