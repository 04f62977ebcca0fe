"""The stability table of one or more stability sweeps' output folders (sweeps/stability*.yaml), as Markdown.

    .venv/bin/python scripts/stability_table.py OUT [OUT ...] > docs/stability.md

Per recipe (role, model, method, iterations): runs, how many diverged (the divergence guard stopped them or their
loss went non-finite), the largest ratio of a loss to the running median of the previous 50 losses, and the
final test mAP (mean ± sample sd); then each distilled student recipe paired with the student alone of the same
schedule over (seed, threads) — in how many pairs it scored higher, the paired Δ mAP with its 95 % t-interval and
two-sided p —; then one line per run (seed, threads, the CPU it trained on, max loss, max ratio at iteration, mAP,
state). Only the run records are read.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.conditions import Condition, reading  # noqa: E402
from reports.load import load_runs  # noqa: E402
from reports.stats import paired_t_test, summarize, t_interval  # noqa: E402

DIVERGED = ("diverged at iteration", "non-finite loss")


def _num(x: float, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def recipe_of(row) -> str:
    """Role, model, method with its reading (``dfmsd S-a``, ``dfmsd Enhance=✗``), optimizer, lr, iterations."""
    method = " ".join(filter(None, (row["method"], reading(Condition(str(row["run_id"]), row.to_frame().T)))))
    what = f"teacher {row['model.name']}" if row["role"] == "teacher" else f"student {row['model.name']} + {method}"
    if row["role"] != "teacher" and row["method"] == "none":
        what = f"student {row['model.name']} alone"
    return f"{what}, {row['train.optimizer']} lr {row['train.lr']:g}, {int(row['train.iterations'])} it"


def paired_with_alone(frame) -> list[str]:
    """Each distilled student recipe against the student alone with the same model and schedule, paired by
    (seed, threads): the pairs, how many the distilled run won, mean Δ mAP ± 95 % t-interval, paired p."""
    done = frame[frame["state"] == "done"]
    by_recipe = {
        recipe: {(int(r["seed"]), int(r["train.num_threads"])): r["mAP"] * 100 for _, r in group.iterrows()}
        for recipe, group in done.groupby("recipe")
    }
    lines = [
        "| distilled recipe | pairs with the student alone (seed, threads) | distilled higher | Δ mAP % (95 % CI) "
        "| paired p |",
        "|---|---:|---:|---:|---:|",
    ]
    for recipe, kd in sorted(by_recipe.items()):
        head, sep, tail = recipe.partition(" + ")
        if not sep or not head.startswith("student "):
            continue
        alone = by_recipe.get(f"{head} alone, {tail.partition(', ')[2]}")
        if not alone:
            continue
        keys = sorted(set(kd) & set(alone))
        index = {k: i for i, k in enumerate(keys)}
        test = paired_t_test({index[k]: kd[k] for k in keys}, {index[k]: alone[k] for k in keys})
        wins = sum(kd[k] > alone[k] for k in keys)
        half = t_interval(summarize(kd[k] - alone[k] for k in keys))
        ci = f"{test.mean_diff:+.1f} ± {half:.1f}" if math.isfinite(half) else f"{test.mean_diff:+.1f}"
        p = "< 0.001" if test.p < 0.001 else _num(test.p, 3)
        lines.append(f"| {recipe} | {len(keys)} | {wins} | {ci} | {p} |")
    return lines if len(lines) > 2 else []


def table(paths: list[str]) -> str:
    frame = load_runs(paths)
    frame = frame[frame["state"].isin(["done", "failed"])].copy()
    frame["recipe"] = [recipe_of(r) for _, r in frame.iterrows()]
    frame["diverged"] = frame["reason"].fillna("").map(lambda r: r.startswith(DIVERGED))
    lines = [
        "| recipe | runs (seeds x threads, per thread count) | diverged | other failures "
        "| max loss / running median | test mAP % |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for recipe, group in sorted(frame.groupby("recipe"), key=lambda kv: kv[0]):
        seeds = group.groupby("train.num_threads")["seed"].nunique()
        other = int(((group["state"] == "failed") & ~group["diverged"]).sum())
        ratio = group["stability.max_ratio"].max()
        s = summarize(v * 100 for v in group.loc[group["state"] == "done", "mAP"])
        mAP = f"{s.mean:.1f} ± {s.std:.1f} (n {s.n})" if s.n > 1 else _num(s.mean * 1.0 if s.n else None, 1)
        lines.append(
            f"| {recipe} | {len(group)} ({', '.join(f'{n} x {int(t)}' for t, n in seeds.items())}) | "
            f"{int(group['diverged'].sum())} | {other} | {_num(ratio)} | {mAP} |"
        )
    paired = paired_with_alone(frame)
    if paired:
        lines += ["", "Distilled against the student alone (test mAP, paired by seed and thread count):", "", *paired]
    lines += [
        "",
        "Per run:",
        "",
        "| recipe | seed | threads | CPU | max loss | max ratio (iteration) | test mAP % | state |",
        "|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for _, r in frame.sort_values(["recipe", "train.num_threads", "seed"]).iterrows():
        at = "" if math.isnan(r["stability.max_ratio_iter"]) else f" ({int(r['stability.max_ratio_iter'])})"
        state = r["state"] if r["state"] == "done" else f"{r['state']}: {r['reason']}"
        lines.append(
            f"| {r['recipe']} | {int(r['seed'])} | {int(r['train.num_threads'])} | {r['env.cpu'] or '–'} | "
            f"{_num(r['stability.max_loss'])} | "
            f"{_num(r['stability.max_ratio'])}{at} | {_num(r['mAP'] * 100, 1)} | {state} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="+", metavar="OUT", help="a sweep output folder (or its runs/ folder)")
    args = parser.parse_args()
    try:
        sys.stdout.write(table(args.out))
    except FileNotFoundError as err:
        sys.exit(f"stability_table: {err}")
