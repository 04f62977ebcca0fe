"""Planning: sweep points → fully resolved, validated RunConfigs → a DAG of runs keyed by run id.

A student depends on one teacher run per stage teacher that has no explicit checkpoint
(:func:`benchmark.config.teacher_run_config`); equal configs share one run id, so a teacher used by
many students is trained once. Methods without a criterion (``none``) drop any teacher, so a plain
student is shared by every pair it appears in. Nothing here touches the output directory.

Before the students of a checked teacher sits a *check node* (``Plan.checks``, a sweep's ``teacher_check``,
:mod:`benchmark.launch.teacher_check`): it evaluates the teacher checkpoint once and its students depend on it
(hard: a teacher that misses its expected AP fails them).

Between a teacher and its students sits a *cache node* (``Plan.caches``) wherever the students would read
a teacher-feature cache (:mod:`benchmark.cache.policy` says it is exact and fits
``distill.teacher_cache_max_gb``): it builds the cache once, in its own process
(``python -m benchmark.launch.cache_node --node``), and the students wait for it. It is a soft dependency: a failed
cache node does not fail its students, which then build or read the cache at their start as without it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import heapq
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.config import (
    ConfigError,
    DataConfig,
    RunConfig,
    TeacherConfig,
    TrackingConfig,
    parse_dataclass,
    sanitize_name,
    teacher_run_config,
    to_plain,
)
from benchmark.data.protocol import Resize
from benchmark.launch.spec import Point, Sweep, config_key_of_problem, load_sweep, origin_of
from benchmark.launch.teacher_check import CHECK_NODES_DIR, CheckSpec
from benchmark.run.resolve import run_id
from benchmark.run.validate import problems as run_problems

TAG_PREFIXES = ("role:", "method:", "pair:", "model:", "seed:")
TRAIN_FLOPS_FACTOR = 3.0  # forward + backward ≈ 3 forwards
# what a cache node runs (not the trainer)
CACHE_BUILDER = (sys.executable, "-m", "benchmark.launch.cache_node", "--node")
CACHE_NODES_DIR = ("cache", "nodes")  # cache-node records: <out>/cache/nodes/<id>/, outside <out>/runs


@dataclass(frozen=True)
class PlannedRun:
    """A node of the plan: a training run (``teacher``/``student``), a teacher-feature ``cache`` build or a teacher
    ``check``."""

    run_id: str
    config: RunConfig  # a cache node's: its first student's, reduced to the one teacher it caches
    role: str  # "teacher" | "student" | "cache"
    deps: tuple[str, ...] = ()  # runs and checks that must be done first (a failed one fails this node)
    labels: tuple[tuple[str, str], ...] = ()  # (axis, value) of the grid point, for tables
    caches: tuple[str, ...] = ()  # cache nodes to wait for (soft: a failed one does not fail this run)
    argv: tuple[str, ...] = ()  # the command the worker runs instead of the executor's trainer

    def record_dir(self, runs_root: str | Path) -> Path:
        """Where this node's record lives: ``<runs_root>/<id>``, ``<out>/cache/nodes/<id>`` for a cache,
        ``<out>/cache/checks/<id>`` for a teacher check."""
        if self.role == "cache":
            return Path(runs_root).parent.joinpath(*CACHE_NODES_DIR, self.run_id)
        if self.role == "check":
            return Path(runs_root).parent.joinpath(*CHECK_NODES_DIR, self.run_id)
        return Path(runs_root) / self.run_id

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
    caches: dict[str, PlannedRun] = field(default_factory=dict)  # cache nodes (role "cache"), not runs
    cache_bytes: dict[str, int] = field(default_factory=dict)  # cache node -> estimated disk size
    checks: dict[str, PlannedRun] = field(default_factory=dict)  # teacher-check nodes (role "check"), not runs
    check_specs: dict[str, CheckSpec] = field(default_factory=dict)  # check node -> what it checks

    def order(self) -> list[str]:
        """Run ids, every run after its dependencies (ties: plan order); cache and check nodes are not runs."""
        return topological_order(
            list(self.runs), {rid: [d for d in r.deps if d in self.runs] for rid, r in self.runs.items()}
        )

    def nodes(self) -> dict[str, PlannedRun]:
        """Runs, cache and check nodes: what the scheduler executes."""
        return {**self.runs, **self.caches, **self.checks}

    def node_order(self) -> list[str]:
        """Runs and cache nodes, each after its dependencies and the cache nodes it waits for."""
        nodes = self.nodes()
        return topological_order(list(nodes), {n: (*r.deps, *r.caches) for n, r in nodes.items()})

    def dependents(self) -> dict[str, list[str]]:
        """Node -> the nodes that wait for it (hard or soft)."""
        nodes = self.nodes()
        out: dict[str, list[str]] = {n: [] for n in nodes}
        for n, run in nodes.items():
            for dep in (*run.deps, *run.caches):
                out[dep].append(n)
        return out

    def seed_rank(self) -> dict[str, int]:
        """The smallest seed among each node and everything that waits for it: with ``run --order seed`` the
        scheduler finishes every condition of the lowest seed first, so a sweep stopped early leaves complete
        seeds (paired comparisons) rather than all seeds of the costliest conditions."""
        deps_of = self.dependents()
        nodes = self.nodes()
        memo: dict[str, int] = {}
        for n in reversed(self.node_order()):
            own = nodes[n].config.seed if n in self.runs else None
            seeds = [memo[d] for d in deps_of[n]] + ([own] if own is not None else [])
            memo[n] = min(seeds, default=0)
        return memo

    def critical_cost(self) -> dict[str, float]:
        """Estimated FLOPs of each node plus its most expensive chain of dependents (scheduling priority)."""
        deps_of = self.dependents()
        nodes = self.nodes()
        memo: dict[str, float] = {}
        for n in reversed(self.node_order()):
            if n in self.checks:
                own = 1.0  # an evaluation: cheap next to what waits for it
            else:
                cfg = nodes[n].config
                own = (estimate_cache_flops(cfg) if n in self.caches else estimate_flops(cfg)) or 1.0
            memo[n] = own + max((memo[d] for d in deps_of[n]), default=0.0)
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
    shared_tags: dict[str, list[str]] = {}  # teacher -> the user's tags every one of its students has
    for cfg, point in resolved:
        deps = []
        for stage in cfg.distill.stage_list():
            if stage.teacher.checkpoint is not None:
                continue
            teacher = teacher_run_config(cfg, stage.teacher)
            tid = run_id(teacher)
            teachers.setdefault(tid, PlannedRun(tid, teacher, "teacher"))
            tags = shared_tags.setdefault(tid, list(teacher.tracking.tags))
            tags[:] = [t for t in tags if t in cfg.tracking.tags]
            if tid not in deps:
                deps.append(tid)
        student = dataclasses.replace(cfg, tracking=_tracking(cfg, cfg.role))
        rid = run_id(student)
        labels = tuple((k, v) for k, v in point.labels.items())
        students.setdefault(rid, PlannedRun(rid, student, cfg.role, tuple(deps), labels))
    for tid, tags in shared_tags.items():  # a grid point's own tags (a condition's name) are not the teacher's
        cfg = teachers[tid].config
        cfg = dataclasses.replace(cfg, tracking=dataclasses.replace(cfg.tracking, tags=tuple(tags)))
        teachers[tid] = dataclasses.replace(
            teachers[tid], config=dataclasses.replace(cfg, tracking=_tracking(cfg, "teacher"))
        )
    plan = Plan(sweep.name, sweep.source, ablation_order=sweep.ablation_order, missing_inputs=tuple(missing))
    plan.runs.update(teachers)
    for rid, run in students.items():
        plan.runs.setdefault(rid, run)  # a student equal to a teacher run is that run
    add_cache_nodes(plan)
    if sweep.teacher_check is not None:
        add_check_nodes(plan, sweep)
    return plan


def cache_node_config(student: RunConfig, teacher: TeacherConfig) -> RunConfig:
    """The config a cache node builds from: the student's data, eval and cache settings (which fix the teacher
    run and the cache key) with only this one teacher, in one process."""
    distill = dataclasses.replace(student.distill, teacher=teacher, stages=())
    train = dataclasses.replace(student.train, processes=1)
    name = sanitize_name(f"cache-{teacher.model.name}", max_len=120)
    return dataclasses.replace(student, name=name, distill=distill, train=train)


def cache_node_id(student: RunConfig, teacher: TeacherConfig, dtype: str) -> str:
    """``cache-<teacher model>-<hash10>``: a hash of what the cache key hashes except the teacher's weights
    (unknown before the teacher is trained): the teacher run (or checkpoint), the teacher model, the data
    config, the transforms and the storage dtype (:func:`benchmark.cache.key.cache_key`)."""
    from benchmark.cache.key import transforms_of

    source = teacher.checkpoint or run_id(teacher_run_config(student, teacher))
    fields = {
        "teacher": source,
        "teacher_model": {"name": teacher.model.name, "options": to_plain(teacher.model.options)},
        "data": to_plain(student.data),
        "transforms": [t.key() for t in transforms_of(student.data)],
        "dtype": dtype,
    }
    if student.train.amp != "off":  # the teacher's autocast (hashed by the cache key too)
        fields["amp"] = student.train.amp
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:10]
    return f"{sanitize_name(f'cache-{teacher.model.name}')}-{digest}"


def add_cache_nodes(plan: Plan) -> None:
    """One cache node per distinct teacher cache that some student would read (exact and within its size
    limit, as :func:`benchmark.cache.policy.decide` judges from the model card and the image sizes); its
    students wait for it. Students whose cache is off, inexact, too big or undecidable now (data not on
    disk, model without a card) get no node: they run the live teacher or build the cache themselves."""
    from benchmark.cache.key import transforms_of
    from benchmark.cache.policy import card_levels, decide
    from benchmark.launch.cache_budget import known_train_shapes
    from benchmark.zoo import known_model

    waits: dict[str, list[str]] = {}
    for rid, run in plan.runs.items():
        cfg = run.config
        if run.role != "student" or cfg.distill.teacher_cache == "off" or not cfg.distill.stage_list():
            continue
        shapes = known_train_shapes(cfg.data)
        if shapes is None:
            continue
        for stage in cfg.distill.stage_list():
            if not known_model(stage.teacher.model.name):
                continue
            decision = decide(
                cfg.distill,
                cfg.data,
                cfg.train.batch_size,
                card_levels(stage.teacher.model),
                shapes,
                len(transforms_of(cfg.data)),
            )
            if not decision.cached:
                continue
            nid = cache_node_id(cfg, stage.teacher, decision.dtype)
            if nid not in plan.caches:
                deps = () if stage.teacher.checkpoint else (run_id(teacher_run_config(cfg, stage.teacher)),)
                node_cfg = cache_node_config(cfg, stage.teacher)
                plan.caches[nid] = PlannedRun(nid, node_cfg, "cache", deps, argv=CACHE_BUILDER)
                plan.cache_bytes[nid] = decision.budget.total if decision.budget else 0
            if nid not in waits.setdefault(rid, []):
                waits[rid].append(nid)
    for rid, nids in waits.items():
        plan.runs[rid] = dataclasses.replace(plan.runs[rid], caches=tuple(nids))


def check_node_id(student: RunConfig, teacher: TeacherConfig, spec: CheckSpec) -> str:
    """``check-<teacher model>-<hash10>``: a hash of the checkpoint path, the teacher model, the test data, the
    protocol, the evaluation settings and the spec (what decides the check's verdict)."""
    data = student.data
    fields = {
        "checkpoint": teacher.checkpoint,
        "teacher_model": {"name": teacher.model.name, "options": to_plain(teacher.model.options)},
        "test": [data.dataset, data.root, data.test_ann, data.test_images, data.synthetic_seed],
        "resize": Resize.of(data).key(),
        "eval": [student.eval.score_thresh, student.eval.max_detections],
        "spec": [spec.expected, spec.tolerance, spec.images],
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{sanitize_name(f'check-{teacher.model.name}')}-{digest}"


def add_check_nodes(plan: Plan, sweep: Sweep) -> None:
    """One check node per (checked teacher, test data) of the sweep's ``teacher_check``; every student with that
    teacher in a stage depends on it, and so does that teacher's cache node. A teacher is the named one when its
    config equals the sweep's entry."""
    check = sweep.teacher_check
    for rid, run in list(plan.runs.items()):
        if run.role != "student":
            continue
        added = []
        for stage in run.config.distill.stage_list():
            name = next((n for n in check.expected if to_plain(stage.teacher) == sweep.teachers.get(n)), None)
            if name is None:
                continue
            spec = CheckSpec(name, check.expected[name], check.tolerance, check.images)
            nid = check_node_id(run.config, stage.teacher, spec)
            if nid not in plan.checks:
                node_cfg = cache_node_config(run.config, stage.teacher)
                node_cfg = dataclasses.replace(node_cfg, name=sanitize_name(f"check-{name}", max_len=120))
                plan.checks[nid] = PlannedRun(nid, node_cfg, "check", argv=spec.argv())
                plan.check_specs[nid] = spec
            if nid not in run.deps and nid not in added:
                added.append(nid)
        if added:
            plan.runs[rid] = dataclasses.replace(plan.runs[rid], deps=(*run.deps, *added))
            for cid in run.caches:  # no teacher cache is built before its teacher passed
                node = plan.caches[cid]
                teacher = to_plain(node.config.distill.teacher)
                checked = [n for n in added if to_plain(plan.checks[n].config.distill.teacher) == teacher]
                plan.caches[cid] = dataclasses.replace(node, deps=tuple(dict.fromkeys((*node.deps, *checked))))


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
    from benchmark.distill.methods import METHODS

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


def estimate_cache_flops(cfg: RunConfig) -> float | None:
    """Rough FLOPs of a cache node: one teacher forward per training image and transform."""
    from benchmark.cache.key import transforms_of
    from benchmark.launch.cache_budget import known_train_shapes
    from benchmark.zoo import get_card, known_model

    (stage,) = cfg.distill.stage_list()
    shapes = known_train_shapes(cfg.data)
    if not known_model(stage.teacher.model.name) or shapes is None:
        return None
    card = get_card(stage.teacher.model.name)
    h, w = card.flops_input
    return card.flops * sum(a * b for a, b in shapes) / (h * w) * len(transforms_of(cfg.data))


def train_pixels(data: DataConfig) -> float:
    """Pixels of a typical training input: ``input_size``² (native); under the mmdet protocol the mean resized
    area of the (filtered) training images when the annotation file is on disk, else ``long x short`` of
    ``data.scale`` (an upper bound)."""
    from benchmark.launch.cache_budget import known_train_shapes

    if data.protocol != "mmdet":
        return float(data.input_size**2)
    shapes = known_train_shapes(data)
    if shapes:
        return sum(h * w for h, w in shapes) / len(shapes)
    return float(max(data.scale) * min(data.scale))


def estimate_flops(cfg: RunConfig) -> float | None:
    """Rough training FLOPs from the cards: :func:`image_flops` at :func:`train_pixels` x iterations x batch."""
    from benchmark.zoo import known_model

    stages = cfg.distill.stage_list()
    if any(not known_model(n) for n in [cfg.model.name, *(s.teacher.model.name for s in stages)]):
        return None
    weight = sum(s.fraction for s in stages) or 1.0
    teachers = [(s.teacher.model.name, s.fraction / weight) for s in stages]
    per_image = image_flops(cfg.model.name, teachers, train_pixels(cfg.data))
    return per_image * cfg.train.iterations * cfg.train.batch_size


def image_flops(student: str, teachers: Sequence[tuple[str, float]], pixels: float) -> float:
    """FLOPs of one training image of ``pixels`` pixels: 3 x the student's forward (forward + backward) plus each
    teacher's forward over its share of the iterations; card FLOPs scaled from the card's input by area."""
    from benchmark.zoo import get_card

    def forward(name: str) -> float:
        card = get_card(name)
        h, w = card.flops_input
        return card.flops * pixels / (h * w)

    return TRAIN_FLOPS_FACTOR * forward(student) + sum(forward(name) * share for name, share in teachers)
