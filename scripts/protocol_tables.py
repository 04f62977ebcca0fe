"""Tables of the converged NEON protocol (docs/protocol.md), from the run records alone.

    .venv/bin/python scripts/protocol_tables.py schedule OUT      # the schedule study (sweeps/protocol/schedule.yaml)
    .venv/bin/python scripts/protocol_tables.py hypotheses OUT    # H1-H3 on the protocol's runs (neon_converged.yaml)

``schedule``: per recipe and iteration count, the VALIDATION mAP (mean ± sd over seeds; the choice is made on
it) and its ratio to the best schedule's mean (the plateau); the test mAP is shown but not used.
``hypotheses``: the abstract's three findings as paired comparisons over the same seeds, on the validation and
the test split: Δ mAP (points), its 95 % t-interval, the paired t-test's p and the minimal detectable difference
at 80 % power.
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
    minimal_detectable_difference,
    paired_t_test,
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


def hypotheses(out: str) -> str:
    """H1: DFMSD (validated reading) vs the best baseline (chosen on validation); H2: stage-wise vs one stage;
    H3: masking enhancement vs none. Which runs are compared is read from the protocol's condition names
    (the ``protocol:<name>`` tag of sweeps/neon_converged.yaml)."""
    lines = [
        "| hypothesis | split | A | B | n | Δ mAP (A − B) | 95 % CI | p | MDD (80 %) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for split in ("val", "test"):
        frame = done(load_runs([out], split=split))
        frame = frame[frame["role"] == "student"]
        tag = frame["tracking.tags"].map(lambda tags: next((t[9:] for t in tags or () if t[:9] == "protocol:"), ""))
        frame = frame.assign(condition=tag)
        conds = {c: _by_seed(frame, condition=c) for c in sorted(set(tag) - {""})}
        baselines = [c for c in conds if c.startswith("baseline:")]
        best = max(baselines, key=lambda c: summarize(conds[c].values()).mean, default=None) if baselines else None
        pairs = [("H1 DFMSD beats the best baseline", "dfmsd:validated", best)]
        pairs += [("H2 stage-wise beats one stage", "dfmsd:stagewise", "dfmsd:one_stage")]
        pairs += [("H3 masking enhancement beats none", "dfmsd:enhance", "dfmsd:no_enhance")]
        for name, a, b in pairs:
            if a not in conds or b not in conds:
                lines.append(f"| {name} | {split} | {a} | {b} | 0 | not run | | | |")
                continue
            test_ = paired_t_test(conds[a], conds[b])
            ci = t_interval(Summary(test_.mean_diff, test_.std_diff, test_.n))
            mdd = minimal_detectable_difference(test_.std_diff, test_.n)
            lines.append(
                f"| {name} | {split} | {a} | {b} | {test_.n} | {test_.mean_diff:+.2f} | ±{ci:.2f} | {test_.p:.3f} | "
                f"{mdd:.2f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("schedule", "hypotheses"):
        sys.exit(__doc__)
    sys.stdout.write({"schedule": schedule, "hypotheses": hypotheses}[sys.argv[1]](sys.argv[2]))
