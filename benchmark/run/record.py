"""The run record: one directory per run, the only thing schedulers, ``status`` and reports read.

Format: ``docs/record-format.md``. Every file is written atomically (temp file in the same directory,
fsync, ``os.replace``), so a reader never sees half a file; readers return ``None`` for a file that is not
there yet. Nothing written here may contain a secret: every string passes :func:`scrub`, which replaces
the value of any environment variable named like a secret (:func:`secret_names`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from benchmark.atomic import atomic_write_text
from benchmark.config import RunConfig, run_config_from_dict
from benchmark.config.yaml_io import load_yaml_file
from benchmark.run.metrics import RunMetrics

if TYPE_CHECKING:
    from benchmark.run.resolve import ResolvedRun

STATES = ("queued", "running", "done", "failed")
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASS", "CREDENTIAL", "AUTH")
REDACTED = "<redacted>"
MIN_SECRET_LEN = 6  # shorter values ("1", "true") are flags, not secrets, and would mangle every file


# ---------------------------------------------------------------------------- secrets


def secret_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of environment variables named like a secret (KEY, TOKEN, SECRET, PASS(WORD), CREDENTIAL, AUTH:
    API keys, cloud credentials, cluster job tokens such as ``SLURM_JOB_TOKEN``)."""
    env = os.environ if environ is None else environ
    return sorted(k for k in env if any(m in k.upper() for m in SECRET_MARKERS))


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables named like a secret, longest first."""
    env = os.environ if environ is None else environ
    values = {env[k] for k in secret_names(env) if len(env[k]) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def scrub_text(text: str, secrets: list[str] | None = None) -> str:
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, REDACTED)
    return text


def scrub(obj: Any, secrets: list[str] | None = None) -> Any:
    """``obj`` with every secret value replaced inside its strings (keys included), recursively."""
    secrets = secret_values() if secrets is None else secrets
    if not secrets:
        return obj
    if isinstance(obj, str):
        return scrub_text(obj, secrets)
    if isinstance(obj, Mapping):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v, secrets) for v in obj]
    return obj


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(text: str, max_len: int = 400) -> str:
    """Collapse whitespace and newlines into one bounded line (status reasons)."""
    line = " ".join(str(text).split())
    return line if len(line) <= max_len else line[: max_len - 3] + "..."


# ---------------------------------------------------------------------------- the record


class RunRecord:
    """Reader/writer of one run directory (``<out>/runs/<run_id>/``)."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(run_dir)

    # paths
    @property
    def config_path(self) -> Path:
        return self.dir / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.json"

    @property
    def env_path(self) -> Path:
        return self.dir / "env.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "log.txt"

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def final_weights(self) -> Path:
        return self.checkpoints / "model_final.pt"

    def stage_checkpoint(self, stage: int) -> Path:
        return self.checkpoints / f"stage{stage}_end.pt"

    @property
    def resolved_path(self) -> Path:
        return self.dir / "resolved.yaml"

    # config
    def write_config(self, run: ResolvedRun | RunConfig) -> None:
        """``config.yaml`` (the config as given, plus ``run_id``) and ``resolved.yaml`` (what the code filled in)."""
        if isinstance(run, RunConfig):
            from benchmark.run.resolve import resolve

            run = resolve(run)
        data = {"run_id": run.run_id, **run.config.to_dict()}
        atomic_write_text(self.config_path, yaml.safe_dump(scrub(data), sort_keys=False))
        atomic_write_text(self.resolved_path, yaml.safe_dump(scrub(run.to_dict()), sort_keys=False))

    def read_resolved(self) -> dict[str, Any] | None:
        """``resolved.yaml`` as a mapping (None for a record written before it existed)."""
        if not self.resolved_path.exists():
            return None
        data = load_yaml_file(self.resolved_path, "resolved run")
        return data if isinstance(data, dict) else None

    def read_config(self) -> dict[str, Any] | None:
        if not self.config_path.exists():
            return None
        data = load_yaml_file(self.config_path, "run config")
        if not isinstance(data, dict):
            raise ValueError(f"{self.config_path}: expected a mapping")
        return data

    def load_config(self) -> RunConfig:
        """The typed :class:`RunConfig` of this run (FileNotFoundError when there is no config.yaml)."""
        data = self.read_config()
        if data is None:
            raise FileNotFoundError(f"{self.config_path}: no run config (is this a run directory?)")
        data.pop("run_id", None)
        return run_config_from_dict(data, source=str(self.config_path))

    # json files
    def _write_json(self, path: Path, data: Mapping[str, Any]) -> None:
        atomic_write_text(path, json.dumps(scrub(dict(data)), indent=2, sort_keys=False, default=str) + "\n")

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any] | None:
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None

    def read_status(self) -> dict[str, Any] | None:
        return self._read_json(self.status_path)

    def read_metrics(self) -> RunMetrics | None:
        data = self._read_json(self.metrics_path)
        return None if data is None else RunMetrics.from_dict(data)

    def read_env(self) -> dict[str, Any] | None:
        return self._read_json(self.env_path)

    def write_metrics(self, metrics: RunMetrics) -> None:
        self._write_json(self.metrics_path, metrics.to_dict())

    def write_env(self, env: Mapping[str, Any]) -> None:
        self._write_json(self.env_path, env)

    def update_status(self, state: str | None = None, *, reason: str | None = None, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json (``reason`` is reset unless given); returns the new status."""
        if state is not None and state not in STATES:
            raise ValueError(f"status state must be one of {STATES}, got {state!r}")
        status = self.read_status() or {
            "state": "queued",
            "reason": None,
            "started": None,
            "finished": None,
            "iteration": 0,
            "total_iterations": None,
            "stage": 0,
            "eta_s": None,
            "pid": None,
            "host": None,
            "attempt": 0,
        }
        if state is not None:
            status["state"] = state
            status["reason"] = one_line(reason) if reason else None
        elif reason is not None:
            status["reason"] = one_line(reason)
        status.update(fields)
        status["updated"] = now_iso()
        self._write_json(self.status_path, status)
        return status

    def mark_queued(self) -> dict[str, Any]:
        return self.update_status("queued")

    def mark_running(self, *, total_iterations: int) -> dict[str, Any]:
        """A new attempt starts in this process (attempt counter + 1)."""
        previous = self.read_status() or {}
        return self.update_status(
            "running",
            started=now_iso(),
            finished=None,
            total_iterations=total_iterations,
            eta_s=None,
            pid=os.getpid(),
            host=socket.gethostname(),
            attempt=int(previous.get("attempt") or 0) + 1,
        )

    def mark_done(self) -> dict[str, Any]:
        return self.update_status("done", finished=now_iso(), eta_s=0.0)

    def mark_failed(self, reason: str) -> dict[str, Any]:
        return self.update_status("failed", reason=reason, finished=now_iso(), eta_s=None)

    @property
    def state(self) -> str | None:
        status = self.read_status()
        return None if status is None else status.get("state")

    def is_done(self) -> bool:
        return self.state == "done"

    # log
    def log(self, message: str) -> None:
        """Append timestamped lines to log.txt (secrets scrubbed)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        stamp = now_iso()
        text = scrub_text(str(message))
        with self.log_path.open("a", encoding="utf-8") as fh:
            for line in text.splitlines() or [""]:
                fh.write(f"{stamp} {line}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""


class RankRecord(RunRecord):
    """The run record as a DDP rank other than 0 sees it: reads work, writes are dropped (rank 0 writes the
    record), and its log lines go to ``log.rank<r>.txt``."""

    def __init__(self, run_dir: str | os.PathLike[str], rank: int) -> None:
        super().__init__(run_dir)
        self.rank = rank

    @property
    def log_path(self) -> Path:
        return self.dir / f"log.rank{self.rank}.txt"

    def write_config(self, run: ResolvedRun | RunConfig) -> None:
        pass

    def _write_json(self, path: Path, data: Mapping[str, Any]) -> None:
        pass
