"""Running a plan: one launch per output directory, records prepared, runs started as their teachers finish.

Crash safety rests on the records and two kinds of lock:

* ``<out>/.sweep.lock`` (filelock): one launch per output directory; a second launch fails at once.
* ``<run>/.lock`` (flock, held by :mod:`benchmark.launch.worker` while the trainer runs): a run is never trained
  twice at once. A ``running`` status whose lock is free is an interrupted run; the next launch resumes it.

A relaunch skips ``done`` runs, waits for runs still trained by processes of an earlier (killed) launch,
resumes interrupted ones and retries ``failed`` ones only with ``retry_failed``. A failed run's dependents
are marked failed with reason ``dependency <id> failed``; the sweep goes on with everything else.

Cache nodes (:attr:`benchmark.launch.plan.Plan.caches`) are scheduled the same way, with their small record
(``status.json``, ``attempts.jsonl``, ``worker.log``) in ``<out>/cache/nodes/<id>/``. Their students wait
for them to end; a failed cache node is reported but fails nobody: its students build or read the cache
themselves at their start (the trainer's path), or run the live teacher. Teacher-check nodes
(:attr:`~benchmark.launch.plan.Plan.checks`, records in ``<out>/cache/checks/<id>/``) are hard dependencies: a
failed check fails its students.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from filelock import FileLock, Timeout
from tqdm import tqdm

from benchmark.atomic import atomic_write_text
from benchmark.config import sanitize_name
from benchmark.launch.executors import Executor, Outcome
from benchmark.launch.plan import Plan, PlannedRun
from benchmark.launch.worker import is_locked
from benchmark.run.record import RunRecord, now_iso, one_line, scrub

SWEEP_LOCK = ".sweep.lock"
PLAN_FILE = "plan.json"
EVENTS_FILE = "events.jsonl"
UNNEEDED = "unneeded"  # prepare_records: a cache/check node none of whose students will run now (not executed)
ORDERS = ("cost", "seed")  # execute(order=...): which ready node starts first
AUX_ROLES = ("cache", "check")  # nodes that are not runs: their records live outside <out>/runs


class SweepLockedError(RuntimeError):
    """Another launch holds the output directory."""


def run_dir(out: str | os.PathLike[str], run_id: str) -> Path:
    """``<out>/runs/<run_id>``, refusing any id that would leave ``<out>/runs``."""
    root = Path(out) / "runs"
    if sanitize_name(run_id, max_len=len(run_id) or 1) != run_id:
        raise ValueError(f"run id {run_id!r} is not a safe directory name")
    path = root / run_id
    if path.resolve().parent != root.resolve():
        raise ValueError(f"run id {run_id!r} would leave {root}")
    return path


def sweep_lock(out: str | os.PathLike[str]) -> FileLock:
    """The held lock of ``out`` (release it, or use it as a context manager); SweepLockedError if taken."""
    Path(out).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(out) / SWEEP_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SweepLockedError(
            f"{out}: another dfmsd-bench launch is running on this output directory "
            f"(lock {Path(out) / SWEEP_LOCK}); wait for it or choose another --out"
        ) from None
    return lock


def node_dir(out: str | os.PathLike[str], node: PlannedRun) -> Path:
    """The record directory of a plan node: :func:`run_dir` for runs, ``<out>/cache/nodes/<id>`` for caches,
    ``<out>/cache/checks/<id>`` for teacher checks."""
    if node.role not in AUX_ROLES:
        return run_dir(out, node.run_id)
    if sanitize_name(node.run_id, max_len=len(node.run_id) or 1) != node.run_id:
        raise ValueError(f"{node.role} node id {node.run_id!r} is not a safe directory name")
    return node.record_dir(Path(out) / "runs")


def run_state(path: str | os.PathLike[str]) -> str:
    """State from the record: missing | queued | starting | running | interrupted | done | failed."""
    status = RunRecord(path).read_status()
    if status is None:
        return "missing"
    state = status.get("state", "queued")
    if state == "running" and not is_locked(path):
        return "interrupted"
    if state == "queued" and is_locked(path):
        return "starting"
    return state


def prepare_records(plan: Plan, out: str | os.PathLike[str], *, retry_failed: bool = False) -> dict[str, str]:
    """Write a queued record for every new run and cache node (and re-queue failed ones if asked); return each
    node's state."""
    states: dict[str, str] = {}
    nodes = plan.nodes()
    for rid in [*plan.order(), *plan.caches, *plan.checks]:
        path = node_dir(out, nodes[rid])
        record = RunRecord(path)
        state = run_state(path)
        if rid in plan.caches or rid in plan.checks:
            students = [states[s] for s, run in plan.runs.items() if rid in run.caches or rid in run.deps]
            if state != "done" and students and all(s in ("done", "failed") for s in students):
                states[rid] = UNNEEDED  # nobody would wait for it now (e.g. a sweep finished before such nodes)
                continue
        if state == "missing" or (state == "failed" and retry_failed):
            _write_config(record, nodes[rid])
            record.mark_queued()
            state = "queued"
        elif state == "queued":
            _write_config(record, nodes[rid])  # unhashed fields (tracking, name) may have changed
        states[rid] = state
    write_plan_file(plan, out)
    return states


def _write_config(record: RunRecord, node: PlannedRun) -> None:
    """The node's config.yaml; a cache or check node's names the node (its config is a reduced student's)."""
    if node.role not in AUX_ROLES:
        from benchmark.run.resolve import resolve

        record.write_config(resolve(node.config))
        return
    data = {"run_id": node.run_id, **node.config.to_dict()}
    atomic_write_text(record.config_path, yaml.safe_dump(scrub(data), sort_keys=False))


def write_plan_file(plan: Plan, out: str | os.PathLike[str]) -> None:
    """``<out>/plan.json``: every planned run and cache node (merged with earlier plans into the same directory)."""
    path = Path(out) / PLAN_FILE
    previous = json.loads(path.read_text()) if path.exists() else {}
    sweeps = dict(previous.get("sweeps", {}))
    sweeps[plan.name] = {"source": plan.source, "ablation_order": list(plan.ablation_order)}
    entries = {e["run_id"]: e for e in previous.get("runs", [])}
    for rid in plan.order():
        run = plan.runs[rid]
        entries[rid] = {
            "run_id": rid,
            "sweep": plan.name,
            "role": run.role,
            "method": run.method,
            "model": run.config.model.name,
            "teachers": list(run.teachers),
            "seed": run.config.seed,
            "deps": list(run.deps),
            "labels": dict(run.labels),
        }
    caches = {e["id"]: e for e in previous.get("caches", [])}
    for nid, node in plan.caches.items():
        (stage,) = node.config.distill.stage_list()
        caches[nid] = {
            "id": nid,
            "sweep": plan.name,
            "teacher": stage.teacher.model.name,
            "dtype": node.config.distill.teacher_cache,
            "deps": list(node.deps),
            "students": [rid for rid, run in plan.runs.items() if nid in run.caches],
            "bytes": plan.cache_bytes.get(nid),
        }
    checks = {e["id"]: e for e in previous.get("checks", [])}
    for nid, spec in plan.check_specs.items():
        checks[nid] = {
            "id": nid,
            "sweep": plan.name,
            "teacher": spec.teacher,
            "expected": spec.expected,
            "tolerance": spec.tolerance,
            "images": spec.images,
            "students": [rid for rid, run in plan.runs.items() if nid in run.deps],
        }
    data = {
        "updated": now_iso(),
        "sweeps": sweeps,
        "runs": list(entries.values()),
        "caches": list(caches.values()),
        "checks": list(checks.values()),
    }
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def read_plan_file(out: str | os.PathLike[str], key: str = "runs") -> list[dict]:
    """The ``runs`` (or ``caches``) entries of ``<out>/plan.json``."""
    path = Path(out) / PLAN_FILE
    if not path.exists():
        return []
    return json.loads(path.read_text()).get(key, [])


@dataclass
class SweepResult:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # run id -> reason
    started: list[str] = field(default_factory=list)  # run ids this launch started (attempts)
    skipped: list[str] = field(default_factory=list)  # already done before the launch
    wall_s: float = 0.0
    busy_s: float = 0.0  # summed seconds of worker processes started by this launch (cache nodes included)
    cache_started: list[str] = field(default_factory=list)  # cache nodes this launch started
    cache_done: list[str] = field(default_factory=list)
    cache_failed: dict[str, str] = field(default_factory=dict)  # cache node -> reason (its students went on)
    check_done: list[str] = field(default_factory=list)  # teacher checks passed (this launch or before)
    check_failed: dict[str, str] = field(default_factory=dict)  # teacher check -> reason (its students refused)

    @property
    def ok(self) -> bool:
        return not self.failed


def execute(
    plan: Plan,
    out: str | os.PathLike[str],
    executor: Executor,
    *,
    retry_failed: bool = False,
    poll_s: float = 0.05,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    order: str = "cost",
) -> SweepResult:
    """Run every run and cache node of ``plan`` not yet done, teachers before their cache nodes before their
    students, under the sweep lock. Among the ready nodes, ``order="cost"`` starts the longest chain of work
    first (the shortest sweep); ``order="seed"`` the lowest seed first, then the longest chain."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.monotonic()
    lock = sweep_lock(out)
    try:
        return _Loop(plan, Path(out), executor, retry_failed, poll_s, progress, log, t0, order).run()
    finally:
        lock.release()


class _Loop:
    def __init__(self, plan, out, executor, retry_failed, poll_s, progress, log, t0, order) -> None:  # noqa: ANN001
        self.plan, self.out, self.executor, self.poll_s, self.log, self.t0 = plan, out, executor, poll_s, log, t0
        self.result = SweepResult()
        states = prepare_records(plan, out, retry_failed=retry_failed)
        self.nodes = plan.nodes()
        self.order = plan.node_order()
        priority = plan.critical_cost()
        rank = {rid: i for i, rid in enumerate(self.order)}
        seed = plan.seed_rank() if order == "seed" else dict.fromkeys(rank, 0)
        self.key = lambda rid: (seed[rid], -priority[rid], rank[rid])
        self.done = {rid for rid, s in states.items() if s == "done"}
        self.result.skipped = sorted((r for r in self.done if r in plan.runs), key=rank.get)
        self.failed: dict[str, str] = {}
        for rid, s in states.items():
            if s == "failed":
                self.failed[rid] = (RunRecord(self._dir(rid)).read_status() or {}).get("reason") or "failed"
        skip = self.done | self.failed.keys() | {rid for rid, s in states.items() if s == UNNEEDED}
        self.pending = {rid for rid in self.order if rid not in skip}
        self.external: set[str] = set()  # trained right now by a process this launch did not start
        self.active: set[str] = set()
        total = len(self.order) - sum(s == UNNEEDED for s in states.values())
        self.bar = tqdm(total=total, initial=len(self.done), desc=plan.name, unit="node", disable=not progress)

    def run(self) -> SweepResult:
        try:
            while self.pending or self.active or self.external:
                self._fail_orphans()
                self._start_ready()
                for outcome in self.executor.poll(self.poll_s if (self.active or self.external) else 0):
                    self._finish(outcome)
                self._check_external()
        finally:
            self.executor.stop()
            self.bar.close()
        runs, caches = self.plan.runs, self.plan.caches
        self.result.done = [rid for rid in self.order if rid in self.done and rid in runs]
        self.result.failed = {rid: self.failed[rid] for rid in self.order if rid in self.failed and rid in runs}
        self.result.cache_done = [n for n in self.order if n in self.done and n in caches]
        self.result.cache_failed = {n: self.failed[n] for n in self.order if n in self.failed and n in caches}
        checks = self.plan.checks
        self.result.check_done = [n for n in self.order if n in self.done and n in checks]
        self.result.check_failed = {n: self.failed[n] for n in self.order if n in self.failed and n in checks}
        self.result.wall_s = time.monotonic() - self.t0
        return self.result

    def _dir(self, rid: str) -> Path:
        return node_dir(self.out, self.nodes[rid])

    def _fail_orphans(self) -> None:
        """Pending runs with a failed dependency fail too (and so on down the DAG, in order)."""
        for rid in self.order:
            if rid not in self.pending:
                continue
            bad = next((d for d in self.nodes[rid].deps if d in self.failed), None)
            if bad is not None:
                reason = f"dependency {bad} failed"
                RunRecord(self._dir(rid)).mark_failed(reason)
                self._settle(rid, reason)

    def _start_ready(self) -> None:
        ready = []
        for rid in sorted(self.pending, key=self.key):
            node = self.nodes[rid]
            if not all(d in self.done for d in node.deps):
                continue
            if not all(c in self.done or c in self.failed for c in node.caches):  # soft: ended either way
                continue
            if is_locked(self._dir(rid)):
                self.pending.discard(rid)
                self.external.add(rid)
                self.log(f"{rid}: trained by another process; waiting for it")
            else:
                ready.append(node)
        if not ready:
            return
        for rid in self.executor.start(ready):
            self.pending.discard(rid)
            self.active.add(rid)
            if rid not in self.plan.checks:
                (self.result.cache_started if rid in self.plan.caches else self.result.started).append(rid)
            self._event("start", rid)

    def _finish(self, outcome: Outcome) -> None:
        rid = outcome.run_id
        self.active.discard(rid)
        self.result.busy_s += outcome.busy_s
        self._event("end", rid, rc=outcome.rc, busy_s=round(outcome.busy_s, 3))
        path = self._dir(rid)
        if outcome.busy_lock:  # another process took the run between our check and the worker's start
            self.external.add(rid)
            return
        status = RunRecord(path).read_status() or {}
        state = status.get("state")
        if state == "done":
            self._settle(rid, None)
            return
        reason = status.get("reason") if state == "failed" else None
        if not reason:
            reason = one_line(outcome.reason or f"worker exited with status {outcome.rc}; run left {state}")
            if not is_locked(path):
                RunRecord(path).mark_failed(reason)
        self._settle(rid, reason)

    def _check_external(self) -> None:
        for rid in sorted(self.external):
            path = self._dir(rid)
            if is_locked(path):
                continue
            self.external.discard(rid)
            state = run_state(path)
            if state == "done":
                self._settle(rid, None)
            elif state == "failed":
                self._settle(rid, (RunRecord(path).read_status() or {}).get("reason") or "failed")
            else:
                self.pending.add(rid)  # interrupted: resume it ourselves

    def _settle(self, rid: str, failure: str | None) -> None:
        self.pending.discard(rid)
        if failure is None:
            self.done.add(rid)
        else:
            self.failed[rid] = failure
            if rid in self.plan.caches:
                self.log(f"{rid}: cache node failed: {failure}; its students read or build the cache themselves")
            elif rid in self.plan.checks:
                self.log(f"{rid}: teacher check failed: {failure}; its students are not trained")
            else:
                self.log(f"{rid}: failed: {failure}")
        self.bar.update(1)
        self.bar.set_postfix(failed=len(self.failed), running=len(self.active) + len(self.external), refresh=False)

    def _event(self, event: str, rid: str, **fields: object) -> None:
        if rid in self.plan.caches or rid in self.plan.checks:  # cache-start, check-end, ...: not runs
            event = f"{self.nodes[rid].role}-{event}"
        line = json.dumps({"event": event, "run_id": rid, "t": time.time(), "pid": os.getpid(), **fields})
        with (self.out / EVENTS_FILE).open("a") as fh:
            fh.write(line + "\n")
