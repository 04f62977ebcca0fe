"""Planning: sweep points → fully resolved, validated RunConfigs → a DAG of runs keyed by run id.

A student depends on one teacher run per stage teacher that has no explicit checkpoint
(:func:`benchmark.config.teacher_run_config`); equal configs share one run id, so a teacher used by
many students is trained once. Methods without a criterion (``none``) drop any teacher, so a plain
student is shared by every pair it appears in. Nothing here touches the output directory.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.config import (
    ConfigError,
    RunConfig,
    TrackingConfig,
    parse_dataclass,
    sanitize_name,
    teacher_run_config,
)
from benchmark.sweep.spec import Point, Sweep, config_key_of_problem, load_sweep, origin_of
from benchmark.sweep.validate import run_problems

TAG_PREFIXES = ("role:", "method:", "pair:", "model:", "seed:")
TRAIN_FLOPS_FACTOR = 3.0  # forward + backward ≈ 3 forwards


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    config: RunConfig
    role: str  # "teacher" | "student"
    deps: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # (axis, value) of the grid point, for tables

    @property
    def method(self) -> str:
        return self.config.distill.method

    @property
    def teachers(self) -> tuple[str, ...]:
        return tuple(s.teacher.model.name for s in self.config.distill.stage_list())


@dataclass
class Plan:
    name: str
    source: str
    runs: dict[str, PlannedRun] = field(default_factory=dict)
    ablation_order: tuple[str, ...] = ()
    missing_inputs: tuple[str, ...] = ()  # see build_plan(allow_missing_inputs=True)

    def order(self) -> list[str]:
        """Run ids, every run after its dependencies (ties: plan order)."""
        return topological_order(list(self.runs), {rid: r.deps for rid, r in self.runs.items()})

    def dependents(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {rid: [] for rid in self.runs}
        for rid, run in self.runs.items():
            for dep in run.deps:
                out[dep].append(rid)
        return out

    def critical_cost(self) -> dict[str, float]:
        """Estimated FLOPs of each run plus its most expensive chain of dependents (scheduling priority)."""
        deps_of = self.dependents()
        memo: dict[str, float] = {}
        for rid in reversed(self.order()):
            own = estimate_flops(self.runs[rid].config) or 1.0
            memo[rid] = own + max((memo[d] for d in deps_of[rid]), default=0.0)
        return memo


# problems that only say an input is not on disk yet
MISSING_INPUT = ("no such file", "no such folder", "needs data.root")


def load_plan(path: str | Path, overrides: Iterable[str] = (), *, allow_missing_inputs: bool = False) -> Plan:
    return build_plan(load_sweep(path, overrides), allow_missing_inputs=allow_missing_inputs)


def build_plan(sweep: Sweep, *, allow_missing_inputs: bool = False) -> Plan:
    """Resolve and validate every point; raise :class:`ConfigError` with every problem, one line each.

    With ``allow_missing_inputs`` (``plan``: show a grid before its data and checkpoints are in place) a
    problem that only says a file or folder is missing goes to ``Plan.missing_inputs`` instead.
    """
    problems: list[str] = []
    resolved: list[tuple[RunConfig, Point]] = []
    for point in sweep.points():
        cfg, point_problems = resolve_point(sweep, point)
        problems.extend(point_problems)
        if cfg is not None:
            resolved.append((cfg, point))
    problems = list(dict.fromkeys(problems))
    missing = [p for p in problems if allow_missing_inputs and any(m in p for m in MISSING_INPUT)]
    problems = [p for p in problems if p not in missing]
    if problems:
        raise ConfigError(problems)
    teachers: dict[str, PlannedRun] = {}
    students: dict[str, PlannedRun] = {}
    for cfg, point in resolved:
        deps = []
        for stage in cfg.distill.stage_list():
            if stage.teacher.checkpoint is not None:
                continue
            teacher = teacher_run_config(cfg, stage.teacher)
            teacher = dataclasses.replace(teacher, tracking=_tracking(teacher, "teacher"))
            tid = teacher.run_id()
            teachers.setdefault(tid, PlannedRun(tid, teacher, "teacher"))
            if tid not in deps:
                deps.append(tid)
        student = dataclasses.replace(cfg, tracking=_tracking(cfg, "student"))
        rid = student.run_id()
        labels = tuple((k, v) for k, v in point.labels.items())
        students.setdefault(rid, PlannedRun(rid, student, "student", tuple(deps), labels))
    plan = Plan(sweep.name, sweep.source, ablation_order=sweep.ablation_order, missing_inputs=tuple(missing))
    plan.runs.update(teachers)
    for rid, run in students.items():
        plan.runs.setdefault(rid, run)  # a student equal to a teacher run is that run
    return plan


def resolve_point(sweep: Sweep, point: Point) -> tuple[RunConfig | None, list[str]]:
    """The typed config of one point (teacher names resolved, group/name set) or its problems."""
    raw = copy.deepcopy(point.raw)
    keyed: list[tuple[str, str]] = []
    _resolve_teacher_refs(raw, sweep.teachers, keyed)
    parse_problems: list[str] = []
    cfg = parse_dataclass(RunConfig, raw, "", sweep.source, parse_problems)
    for line in parse_problems:
        key = config_key_of_problem(line, sweep.source) or "<top>"
        keyed.append((key, line[len(sweep.source) + len(key) + 4 :]))
    if not keyed:
        cfg = _finish(cfg, sweep)
        keyed = run_problems(cfg)
    lines = []
    for key, message in keyed:
        origin = origin_of(key, point.origins)
        lines.append(f"{sweep.source}: {origin}: {key}: {message}" if origin else f"{sweep.source}: {key}: {message}")
    only_missing = lines and not parse_problems and all(any(m in line for m in MISSING_INPUT) for line in lines)
    return (cfg if not lines or only_missing else None), lines


def _resolve_teacher_refs(raw: dict, teachers: Mapping[str, dict], keyed: list[tuple[str, str]]) -> None:
    distill = raw.get("distill")
    if not isinstance(distill, dict):
        return
    slots = [("distill.teacher", distill)]
    stages = distill.get("stages")
    if isinstance(stages, list):
        slots += [(f"distill.stages[{i}].teacher", s) for i, s in enumerate(stages) if isinstance(s, dict)]
    for key, holder in slots:
        ref = holder.get("teacher")
        if not isinstance(ref, str):
            continue
        if ref in teachers:
            holder["teacher"] = copy.deepcopy(teachers[ref])
        else:
            known = ", ".join(sorted(teachers)) or "none defined"
            keyed.append((key, f"unknown teacher {ref!r} (teachers: {known})"))
            del holder["teacher"]  # reported once, not again as "expected a mapping"


def _finish(cfg: RunConfig, sweep: Sweep) -> RunConfig:
    """Drop teachers that cannot matter (methods without one; ``teacher`` beside ``stages``), set the W&B
    group and a readable name."""
    from benchmark.methods import METHODS

    distill = cfg.distill
    if distill.method in METHODS and not METHODS.get(distill.method).needs_teacher:
        distill = dataclasses.replace(distill, teacher=None, stages=())
    elif distill.stages:
        distill = dataclasses.replace(distill, teacher=None)  # stages override the single teacher
    cfg = dataclasses.replace(cfg, distill=distill)
    tracking = cfg.tracking if cfg.tracking.group else dataclasses.replace(cfg.tracking, group=sweep.name)
    name = cfg.name
    if name == RunConfig.name:
        teachers = "+".join(s.teacher.model.name for s in distill.stage_list())
        name = f"{distill.method}-{teachers + '-to-' if teachers else ''}{cfg.model.name}-s{cfg.seed}"
    return dataclasses.replace(cfg, tracking=tracking, name=sanitize_name(name, max_len=120))


def _tracking(cfg: RunConfig, role: str) -> TrackingConfig:
    """W&B tags role/method/pair/seed (replacing generated ones, keeping the user's)."""
    user = [t for t in cfg.tracking.tags if not t.startswith(TAG_PREFIXES)]
    teachers = "+".join(s.teacher.model.name for s in cfg.distill.stage_list())
    tags = [f"role:{role}", f"model:{cfg.model.name}", f"seed:{cfg.seed}"]
    if role == "student":
        tags.insert(1, f"method:{cfg.distill.method}")
        if teachers:
            tags.insert(2, f"pair:{teachers}->{cfg.model.name}")
    return dataclasses.replace(cfg.tracking, tags=tuple(user + tags))


def topological_order(nodes: list[str], deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Kahn's algorithm, ties broken by position in ``nodes``; ValueError on a cycle or unknown dependency."""
    index = {n: i for i, n in enumerate(nodes)}
    pending = {n: set(deps.get(n, ())) for n in nodes}
    for n, ds in pending.items():
        unknown = ds - index.keys()
        if unknown:
            raise ValueError(f"run {n} depends on unknown run(s) {sorted(unknown)}")
    users: dict[str, list[str]] = {n: [] for n in nodes}
    for n, ds in pending.items():
        for d in ds:
            users[d].append(n)
    heap = [index[n] for n, ds in pending.items() if not ds]
    heapq.heapify(heap)
    out = []
    while heap:
        n = nodes[heapq.heappop(heap)]
        out.append(n)
        for u in users[n]:
            pending[u].discard(n)
            if not pending[u]:
                heapq.heappush(heap, index[u])
    if len(out) != len(nodes):
        raise ValueError(f"dependency cycle among runs {sorted(set(nodes) - set(out))}")
    return out


def estimate_flops(cfg: RunConfig) -> float | None:
    """Rough training FLOPs from the cards: 3 × student forward × iterations × batch, plus the teachers'
    forwards over their share of the iterations; forwards scaled from the card's input to ``input_size``²."""
    from benchmark.zoo import get_card, known_model

    names = [cfg.model.name, *(s.teacher.model.name for s in cfg.distill.stage_list())]
    if any(not known_model(n) for n in names):
        return None
    images = cfg.train.iterations * cfg.train.batch_size

    def forward(name: str) -> float:
        card = get_card(name)
        h, w = card.flops_input
        return card.flops * cfg.data.input_size**2 / (h * w)

    total = TRAIN_FLOPS_FACTOR * forward(cfg.model.name) * images
    stages = cfg.distill.stage_list()
    weight = sum(s.fraction for s in stages) or 1.0
    total += sum(forward(s.teacher.model.name) * images * s.fraction / weight for s in stages)
    return total
