"""Running a plan: one launch per output directory, records prepared, runs started as their teachers finish.

Crash safety rests on the records and two kinds of lock:

* ``<out>/.sweep.lock`` (filelock): one launch per output directory; a second launch fails at once.
* ``<run>/.lock`` (flock, held by :mod:`benchmark.worker` while the trainer runs): a run is never trained
  twice at once. A ``running`` status whose lock is free is an interrupted run; the next launch resumes it.

A relaunch skips ``done`` runs, waits for runs still trained by processes of an earlier (killed) launch,
resumes interrupted ones and retries ``failed`` ones only with ``retry_failed``. A failed run's dependents
are marked failed with reason ``dependency <id> failed``; the sweep goes on with everything else.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm

from benchmark.config import sanitize_name
from benchmark.executors import Executor, Outcome
from benchmark.record import RunRecord, atomic_write_text, now_iso, one_line
from benchmark.sweep.plan import Plan
from benchmark.worker import is_locked

SWEEP_LOCK = ".sweep.lock"
PLAN_FILE = "plan.json"
EVENTS_FILE = "events.jsonl"


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
    """Write a queued record for every new run (and re-queue failed ones if asked); return each run's state."""
    states = {}
    for rid in plan.order():
        path = run_dir(out, rid)
        record = RunRecord(path)
        state = run_state(path)
        if state == "missing" or (state == "failed" and retry_failed):
            record.write_config(plan.runs[rid].config)
            record.mark_queued()
            state = "queued"
        elif state == "queued":
            record.write_config(plan.runs[rid].config)  # unhashed fields (tracking, name) may have changed
        states[rid] = state
    write_plan_file(plan, out)
    return states


def write_plan_file(plan: Plan, out: str | os.PathLike[str]) -> None:
    """``<out>/plan.json``: every planned run (merged with earlier plans into the same directory)."""
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
    data = {"updated": now_iso(), "sweeps": sweeps, "runs": list(entries.values())}
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def read_plan_file(out: str | os.PathLike[str]) -> list[dict]:
    path = Path(out) / PLAN_FILE
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("runs", [])


@dataclass
class SweepResult:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # run id -> reason
    started: list[str] = field(default_factory=list)  # run ids this launch started (attempts)
    skipped: list[str] = field(default_factory=list)  # already done before the launch
    wall_s: float = 0.0
    busy_s: float = 0.0  # summed seconds of worker processes started by this launch

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
) -> SweepResult:
    """Run every run of ``plan`` not yet done, teachers before their students, under the sweep lock."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.monotonic()
    lock = sweep_lock(out)
    try:
        return _Loop(plan, Path(out), executor, retry_failed, poll_s, progress, log, t0).run()
    finally:
        lock.release()


class _Loop:
    def __init__(self, plan, out, executor, retry_failed, poll_s, progress, log, t0) -> None:  # noqa: ANN001
        self.plan, self.out, self.executor, self.poll_s, self.log, self.t0 = plan, out, executor, poll_s, log, t0
        self.result = SweepResult()
        states = prepare_records(plan, out, retry_failed=retry_failed)
        self.order = plan.order()
        priority = plan.critical_cost()
        rank = {rid: i for i, rid in enumerate(self.order)}
        self.key = lambda rid: (-priority[rid], rank[rid])
        self.done = {rid for rid, s in states.items() if s == "done"}
        self.result.skipped = sorted(self.done, key=rank.get)
        self.failed: dict[str, str] = {}
        for rid, s in states.items():
            if s == "failed":
                self.failed[rid] = (RunRecord(run_dir(out, rid)).read_status() or {}).get("reason") or "failed"
        self.pending = {rid for rid in self.order if rid not in self.done and rid not in self.failed}
        self.external: set[str] = set()  # trained right now by a process this launch did not start
        self.active: set[str] = set()
        self.bar = tqdm(total=len(self.order), initial=len(self.done), desc=plan.name, unit="run", disable=not progress)

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
        self.result.done = [rid for rid in self.order if rid in self.done]
        self.result.failed = {rid: self.failed[rid] for rid in self.order if rid in self.failed}
        self.result.wall_s = time.monotonic() - self.t0
        return self.result

    def _fail_orphans(self) -> None:
        """Pending runs with a failed dependency fail too (and so on down the DAG, in order)."""
        for rid in self.order:
            if rid not in self.pending:
                continue
            bad = next((d for d in self.plan.runs[rid].deps if d in self.failed), None)
            if bad is not None:
                reason = f"dependency {bad} failed"
                RunRecord(run_dir(self.out, rid)).mark_failed(reason)
                self._settle(rid, reason)

    def _start_ready(self) -> None:
        ready = []
        for rid in sorted(self.pending, key=self.key):
            if not all(d in self.done for d in self.plan.runs[rid].deps):
                continue
            if is_locked(run_dir(self.out, rid)):
                self.pending.discard(rid)
                self.external.add(rid)
                self.log(f"{rid}: trained by another process; waiting for it")
            else:
                ready.append(self.plan.runs[rid])
        if not ready:
            return
        for rid in self.executor.start(ready):
            self.pending.discard(rid)
            self.active.add(rid)
            self.result.started.append(rid)
            self._event("start", rid)

    def _finish(self, outcome: Outcome) -> None:
        rid = outcome.run_id
        self.active.discard(rid)
        self.result.busy_s += outcome.busy_s
        self._event("end", rid, rc=outcome.rc, busy_s=round(outcome.busy_s, 3))
        path = run_dir(self.out, rid)
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
            path = run_dir(self.out, rid)
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
            self.log(f"{rid}: failed: {failure}")
        self.bar.update(1)
        self.bar.set_postfix(failed=len(self.failed), running=len(self.active) + len(self.external), refresh=False)

    def _event(self, event: str, rid: str, **fields: object) -> None:
        line = json.dumps({"event": event, "run_id": rid, "t": time.time(), "pid": os.getpid(), **fields})
        with (self.out / EVENTS_FILE).open("a") as fh:
            fh.write(line + "\n")
