"""``dfmsd-bench plan SWEEP.yaml [--out DIR] [key=value ...]``: the runs a sweep would train, without training."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from benchmark.commands import overrides_anywhere
from benchmark.errors import UserError
from benchmark.launch.gpu_rate import GpuRate
from benchmark.launch.plan import Plan, estimate_flops, load_plan
from benchmark.launch.scheduler import node_dir, run_state

DEFAULT_GPU_TFLOPS = 100.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan",
        help="show a sweep's runs, dependencies, what is done and a rough cost; runs nothing",
        description="Expand and validate a sweep file; print every run (teachers first) and teacher-feature cache "
        "node, its dependencies, its state in the output directory and a rough cost from the model cards (a cache "
        "node: its estimated disk size). Nothing is written or launched.",
    )
    p.add_argument("sweep", help="sweep file (sweeps/*.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any run-config key for every run")
    overrides_anywhere(p)
    p.add_argument("--out", help="output directory to compare against (default: runs/<sweep name>)")
    p.add_argument(
        "--gpu-tflops",
        type=float,
        default=DEFAULT_GPU_TFLOPS,
        help="effective training throughput of one GPU in TFLOP/s used to turn the FLOP estimate into GPU-hours "
        f"(default {DEFAULT_GPU_TFLOPS:g}: an assumption, not a measurement); ignored with --gpu-rate",
    )
    p.add_argument(
        "--gpu-rate",
        type=Path,
        help="a measured rate file (scripts/bench_gpu_step.py --out FILE on the GPU you will train on): GPU-hours "
        "from its effective TFLOP/s per method and train.amp instead of the assumed --gpu-tflops",
    )
    p.add_argument(
        "--check-teachers",
        action="store_true",
        help="evaluate every teacher of the sweep's teacher_check now (each checkpoint once: the result is kept in "
        "<out>/cache/teacher-checks/ and reused by run) and exit 1 if one misses its expected box AP",
    )
    p.set_defaults(func=main)


def default_out(plan: Plan) -> Path:
    return Path("runs") / plan.name


def main(args: argparse.Namespace) -> int:
    plan = load_plan(args.sweep, args.overrides, allow_missing_inputs=True)
    out = Path(args.out) if args.out else default_out(plan)
    if args.gpu_tflops <= 0:
        raise UserError(f"--gpu-tflops: expected a positive number, got {args.gpu_tflops}")
    rate = None
    if args.gpu_rate is not None:
        from benchmark.launch.gpu_rate import load_gpu_rate

        try:
            rate = load_gpu_rate(args.gpu_rate)
        except ValueError as exc:
            raise UserError(f"--gpu-rate: {exc}") from None
    print(render_plan(plan, out, gpu_tflops=args.gpu_tflops, rate=rate))
    if args.check_teachers:
        return check_teachers(plan, out)
    return 0


def check_teachers(plan: Plan, out: Path) -> int:
    """``--check-teachers``: every check node's evaluation, now, in this process; 1 if a teacher misses."""
    from benchmark.launch.teacher_check import run_check

    if not plan.checks:
        raise UserError(f"{plan.source}: --check-teachers: the sweep has no teacher_check section")
    if plan.missing_inputs:
        raise UserError("--check-teachers: inputs are missing (listed above); nothing can be evaluated yet")
    refused = []
    for nid, node in plan.checks.items():
        _, reason = run_check(node.config, out, plan.check_specs[nid], log=print)
        if reason is not None:
            refused.append(reason)
    for reason in refused:
        print(f"refused: {reason}")
    return 1 if refused else 0


def render_plan(
    plan: Plan, out: str | os.PathLike[str], *, gpu_tflops: float = 100.0, rate: GpuRate | None = None
) -> str:
    from benchmark.cache.policy import size_text

    order = plan.node_order()
    nodes = plan.nodes()
    number = {rid: i + 1 for i, rid in enumerate(order)}
    rows = [("#", "STATE", "ROLE", "RUN", "NEEDS", "COST", "GRID POINT")]
    todo_cost, todo_hours, states, cache_states, check_states = 0.0, 0.0, {}, {}, {}
    for rid in order:
        run = nodes[rid]
        path = node_dir(out, run)
        state = run_state(path) if path.is_dir() else "new"
        needs = ",".join(f"#{number[d]}" for d in (*run.deps, *run.caches)) or "-"
        if run.role == "check":
            check_states[state] = check_states.get(state, 0) + 1
            point = plan.check_specs[rid].describe()
            rows.append((str(number[rid]), state, run.role, rid, needs, "-", point))
            continue
        if run.role == "cache":
            cache_states[state] = cache_states.get(state, 0) + 1
            students = sum(rid in r.caches for r in plan.runs.values())
            point = f"teacher features of {run.config.distill.teacher.model.name} for {students} student run(s)"
            size = f"{size_text(plan.cache_bytes.get(rid, 0))} disk"
            rows.append((str(number[rid]), state, run.role, rid, needs, size, point))
            continue
        states[state] = states.get(state, 0) + 1
        flops = estimate_flops(run.config)
        if state != "done" and flops is not None:
            todo_cost += flops
            tflops = rate.for_run(run.method, run.config.train.amp)[0] if rate else gpu_tflops
            todo_hours += flops / (tflops * 1e12) / 3600
        point = " ".join(f"{k}={v}" for k, v in run.labels) or f"{run.config.model.name} s{run.config.seed}"
        rows.append((str(number[rid]), state, run.role, rid, needs, _flops(flops), point))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    teachers = sum(r.role == "teacher" for r in plan.runs.values())
    runs = len(plan.runs)
    caches = f" + {len(plan.caches)} teacher-cache node(s)" if plan.caches else ""
    caches += f" + {len(plan.checks)} teacher-check node(s)" if plan.checks else ""
    head = (
        f"sweep {plan.name} ({plan.source}): {runs} runs ({teachers} teacher, {runs - teachers} student){caches}; "
        f"output {out}"
    )
    tail = [
        "states: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
        f"cost of runs not done: ~{_flops(todo_cost)} (3 x student forward x iterations x batch + teacher forwards; "
        "card FLOPs scaled to the training input size; rough)",
        f"  = ~{todo_hours:.1f} GPU-hours "
        + (
            f"at the measured rates of {rate.describe()} (a run whose method/amp was not measured takes the plain "
            "student's rate)"
            if rate
            else f"at an ASSUMED {gpu_tflops:g} TFLOP/s effective per GPU (--gpu-tflops): no GPU rate was measured "
            "(no GPU was lent for it); measure one with scripts/bench_gpu_step.py --out FILE and pass --gpu-rate FILE"
        ),
    ]
    tail += training_lines(plan)
    students = [r.config for r in plan.runs.values() if r.role == "student"]
    from benchmark.launch.cache_budget import cache_plan_lines  # loads the zoo (torch): only when planning

    tail += cache_plan_lines(students, Path(out) / "cache")  # teacher-feature caches and their disk budget
    if plan.caches:
        tail.append(
            "cache nodes (role cache: build each cache once after its teacher, before its students; records in "
            f"{Path(out) / 'cache' / 'nodes'}): " + ", ".join(f"{n} {s}" for s, n in sorted(cache_states.items()))
        )
    if plan.checks:
        tail.append(
            "teacher checks (role check: evaluate each checked teacher once before its students, which `run` refuses "
            f"when it misses; records in {Path(out) / 'cache' / 'checks'}): "
            + ", ".join(f"{n} {s}" for s, n in sorted(check_states.items()))
        )
    if plan.missing_inputs:
        missing = _missing_items(plan.missing_inputs)
        tail.append(f"not runnable yet: {len(missing)} missing input(s); `run` refuses until they exist:")
        tail += [f"  {item} (named in {n} place{'s' if n > 1 else ''})" for item, n in missing.items()]
    return "\n".join([head, *lines, *tail])


def training_lines(plan: Plan) -> list[str]:
    """One line per distinct training data of the runs: the images used (mmdet protocol: those its
    ``filter_empty_gt`` keeps) and the epochs each schedule makes of them."""
    from benchmark.launch.cache_budget import train_sizes

    groups: dict[str, tuple[Any, set[tuple[int, int]]]] = {}
    for run in plan.runs.values():
        data, train = run.config.data, run.config.train
        groups.setdefault(repr(data), (data, set()))[1].add((train.iterations, train.batch_size))
    lines = []
    for data, schedules in groups.values():
        where = f"training images ({data.dataset} {data.train_ann}, protocol {data.protocol})"
        found = train_sizes(data)
        if found is None:
            lines.append(f"{where}: unknown until the annotation file is on disk")
            continue
        if not found.sizes:
            lines.append(f"{where}: none of the {found.listed:,} listed images is used")
            continue
        n = len(found.sizes)
        kept = f" (filter_empty_gt, min_size 32: {n:,} of {found.listed:,} kept)" if data.protocol == "mmdet" else ""
        epochs = ", ".join(f"{it:,} iterations x {b} = {it * b / n:.2f} epochs" for it, b in sorted(schedules))
        lines.append(f"{where}: {n:,}{kept}; {epochs}")
    return lines


def _missing_items(problems: tuple[str, ...]) -> dict[str, int]:
    """``missing item -> how many problem lines name it`` (the text from the marker on, e.g. 'no such file: x')."""
    from benchmark.launch.plan import MISSING_INPUT

    items: dict[str, int] = {}
    for problem in problems:
        start = min((problem.find(m) for m in MISSING_INPUT if m in problem), default=0)
        items[problem[start:]] = items.get(problem[start:], 0) + 1
    return items


def _flops(value: float | None) -> str:
    if value is None:
        return "?"
    if value == 0:
        return "0 FLOP"
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.2g} FLOP"
