"""The Slurm job of each run launched with ``--executor slurm``: a job-id file in the run's record
(``<run>/slurm_job.json``), so that a relaunch attaches to jobs still queued or running instead of
submitting them again, and job states read back from the cluster's accounting (``sacct``) for
``dfmsd-bench status``."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_text
from benchmark.run.record import now_iso

JOB_FILE = "slurm_job.json"
# states of a job that has not ended (a requeued job goes back to PENDING under the same id)
LIVE_STATES = frozenset(
    (
        "PENDING",
        "RUNNING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "CONFIGURING",
        "COMPLETING",
        "RESIZING",
        "SUSPENDED",
        "SIGNALING",
        "STAGE_OUT",
        "PREEMPTED",
    )
)


def write_job(record_dir: str | os.PathLike[str], job_id: str, tasks: int) -> None:
    """Note the job that runs the record's run (``job_id`` as submitit names it: ``123`` or ``123_4``)."""
    data = {"job_id": job_id, "tasks": tasks, "submitted": now_iso()}
    atomic_write_text(Path(record_dir) / JOB_FILE, json.dumps(data) + "\n")


def read_job(record_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record's job-id file (``job_id``, ``tasks``, ``submitted``), or None."""
    path = Path(record_dir) / JOB_FILE
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("job_id"), str) else None


def base_state(state: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``."""
    return state.split()[0] if state.strip() else "UNKNOWN"


def job_states(job_ids: Iterable[str]) -> dict[str, str]:
    """Each job's state from one ``sacct`` call (array ranges expanded); empty when sacct is missing or fails."""
    mains = sorted({j.split("_")[0] for j in job_ids})
    if not mains:
        return {}
    cmd = ["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", f"--jobs={','.join(mains)}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    states: dict[str, str] = {}
    for line in out.splitlines():
        jid, _, state = line.partition("|")
        state = base_state(state)
        ranges = re.fullmatch(r"(\d+)_\[([\d,-]+)(?:%\d+)?\]", jid)
        if ranges is None:
            states[jid] = state
            continue
        for part in ranges.group(2).split(","):
            first, _, last = part.partition("-")
            for index in range(int(first), int(last or first) + 1):
                states[f"{ranges.group(1)}_{index}"] = state
    return states


def format_job_table(record_dirs: Iterable[str | os.PathLike[str]]) -> str:
    """``SLURM JOB  STATE  RUN`` for the records that have a job-id file (empty string when none has)."""
    jobs = [(Path(d).name, job) for d in record_dirs if (job := read_job(d)) is not None]
    if not jobs:
        return ""
    states = job_states(job["job_id"] for _, job in jobs)
    lines = [("SLURM JOB", "STATE", "RUN")]
    lines += [(job["job_id"], states.get(job["job_id"], "?"), name) for name, job in jobs]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    if not states:
        text.append("(job states unknown: sacct failed or is missing here; is SLURM_CONF set?)")
    return "\n".join(text)
