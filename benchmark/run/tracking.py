"""Weights & Biases mirror of a run record.

The record on disk is the source of truth; W&B is a view of it. A run is one W&B run with
``id = run_id`` and ``resume="allow"``, so a resumed run continues the same W&B run. Its local files live
under ``<run_dir>/wandb/``. Any W&B failure is reported as one warning line and tracking switches off: it
never stops training.

Mode: ``tracking.wandb: false`` (or ``--no-wandb``) disables it; ``tracking.mode: auto`` follows
``WANDB_MODE`` when set, else ``online`` when ``WANDB_API_KEY`` is set, else ``offline``. An online run first
checks that the W&B host answers (``REACH_TIMEOUT_S``); when it does not, the run logs offline and says so once
(upload later with ``dfmsd-bench sync``), instead of waiting on W&B's retry loop.

Secrets: every W&B run of the suite starts through :func:`init_wandb`, which hides the environment variables
named like a secret (:func:`benchmark.run.record.secret_names`; ``WANDB_API_KEY`` stays, W&B needs it and does not
store it) from the W&B process while it starts, so they cannot reach W&B's metadata (it records ``SLURM_*``
variables, job tokens included), and scrubs the config, name and tags it is given.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmark.config import RunConfig, TrackingConfig
from benchmark.run.record import one_line, scrub, secret_names, secret_values
from benchmark.run.resolve import run_id

MODES = ("online", "offline", "disabled")
REACH_TIMEOUT_S = 3.0
DEFAULT_HOST = "https://api.wandb.ai"


def reachable(url: str, timeout: float = REACH_TIMEOUT_S) -> bool:
    """Whether the W&B server at ``url`` answers its health check (``GET <url>/healthz`` with status 200) within
    ``timeout`` seconds; name lookup and proxies included (the request runs in a thread that is abandoned when it
    takes longer). An error status, e.g. a proxy's 403/404 for a host it cannot reach, counts as not reachable."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=timeout) as response:
                result.append(response.status == 200)
        except (OSError, ValueError):  # HTTP error status, no route, refused, lookup failed, timed out, bad URL
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def init_wandb(
    *, mode: str, warn: Callable[[str], None], config: Mapping[str, Any] | None = None, **kwargs: Any
) -> Any:
    """``wandb.init`` the suite's way (see the module docstring); returns the run (exceptions propagate)."""
    import wandb

    if mode == "online" and not reachable(os.environ.get("WANDB_BASE_URL", DEFAULT_HOST)):
        host = os.environ.get("WANDB_BASE_URL", DEFAULT_HOST)
        warn(
            f"warning: W&B host {host} did not answer within {REACH_TIMEOUT_S:g} s: logging offline "
            "(upload later with dfmsd-bench sync DIR)"
        )
        mode = "offline"
    secrets = secret_values()
    kwargs = {k: scrub(v, secrets) for k, v in kwargs.items()}
    hidden = {k: os.environ.pop(k) for k in secret_names() if k != "WANDB_API_KEY"}
    try:
        return wandb.init(
            config=scrub(dict(config or {}), secrets),
            mode=mode,
            settings=wandb.Settings(console="off", silent=True),
            **kwargs,
        )
    finally:
        os.environ.update(hidden)


def resolve_mode(tracking: TrackingConfig, *, no_wandb: bool = False, environ: Mapping[str, str] | None = None) -> str:
    """``online`` | ``offline`` | ``disabled`` for this run."""
    env = os.environ if environ is None else environ
    if no_wandb or not tracking.wandb or tracking.mode == "disabled":
        return "disabled"
    if tracking.mode in ("online", "offline"):
        return tracking.mode
    if tracking.mode != "auto":
        raise ValueError(f"tracking.mode: unknown mode {tracking.mode!r} (auto|online|offline|disabled)")
    forced = env.get("WANDB_MODE", "").strip().lower()
    if forced in ("online", "offline", "disabled"):
        return forced
    if forced == "dryrun":
        return "offline"
    return "online" if env.get("WANDB_API_KEY") else "offline"


class Tracker:
    """Start/log/summary/finish on one W&B run; every call is a no-op once tracking is off."""

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        *,
        role: str,
        no_wandb: bool = False,
        warn: Callable[[str], None] = print,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.role = role
        self.mode = resolve_mode(cfg.tracking, no_wandb=no_wandb)
        self.warn = warn
        self.run: Any = None

    @property
    def active(self) -> bool:
        return self.run is not None

    def _fail(self, what: str, exc: BaseException) -> None:
        self.warn(f"warning: W&B {what} failed, continuing without W&B: {one_line(f'{type(exc).__name__}: {exc}')}")
        self.run = None

    def start(self) -> None:
        if self.mode == "disabled":
            return
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            tc = self.cfg.tracking
            self.run = init_wandb(
                mode=self.mode,
                warn=self.warn,
                config={"run_id": run_id(self.cfg), **self.cfg.to_dict()},
                project=tc.project,
                entity=tc.entity,
                group=tc.group,
                job_type=self.role,
                tags=list(tc.tags),
                name=self.cfg.name,
                id=run_id(self.cfg),
                resume="allow",
                dir=str(self.run_dir),
            )
            self.run.define_metric("iter")
            self.run.define_metric("train/*", step_metric="iter")
            self.run.define_metric("eval/*", step_metric="iter")
            self.run.define_metric("eval/mAP", step_metric="iter", summary="max")
        except Exception as exc:  # tracking must never stop a run
            self._fail("init", exc)

    def log(self, values: Mapping[str, Any], *, iteration: int) -> None:
        if self.run is None:
            return
        try:
            self.run.log({"iter": iteration, **values})
        except Exception as exc:
            self._fail("log", exc)

    def summary(self, values: Mapping[str, Any]) -> None:
        if self.run is None:
            return
        try:
            for key, value in values.items():
                self.run.summary[key] = value
        except Exception as exc:
            self._fail("summary", exc)

    def finish(self, exit_code: int = 0) -> None:
        if self.run is None:
            return
        try:
            self.run.finish(exit_code=exit_code)
        except Exception as exc:
            self._fail("finish", exc)
        self.run = None


def prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a": 1}`` → ``{"<prefix>/a": 1}`` for numeric values only."""
    return {f"{prefix}/{k}": v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
