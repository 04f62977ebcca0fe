"""The environment of a run (``env.json``): versions, host, device and the code's git state."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
import torchvision

from benchmark.run.record import now_iso, scrub

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_state(repo: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the checkout holding this code; ``(None, None)`` outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        porcelain = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(porcelain.strip())


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU a run computed on: the same code runs at different speeds and rounds differently on different
    CPUs, and cloud machines of "the same kind" differ, so a record says which one it had. ``model``, ``family``,
    ``model_id`` and ``stepping`` from ``/proc/cpuinfo`` (``None`` where absent, e.g. not Linux), the logical
    CPUs, and the vector instruction set PyTorch dispatches to (``torch.backends.cpu.get_cpu_capability``)."""
    fields = {"model name": "model", "cpu family": "family", "model": "model_id", "stepping": "stepping"}
    out: dict[str, Any] = dict.fromkeys(fields.values())
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        name = fields.get(key.strip())
        if not sep:
            if out["model"] is not None:
                break  # the end of the first processor's block
            continue
        if name is not None and out[name] is None:
            out[name] = value.strip()
    out["logical_cpus"] = os.cpu_count()
    out["capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def collect_env(device: torch.device, *, num_threads: int | None = None) -> dict[str, Any]:
    """What ``env.json`` holds (docs/record-format.md); argv is scrubbed of secrets."""
    commit, dirty = git_state()
    return scrub(
        {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "platform": platform.platform(),
            "hostname": socket.gethostname(),
            "device": str(device),
            "device_name": device_name(device),
            "cpu": cpu_info(),
            "cuda": torch.version.cuda if torch.cuda.is_available() else None,
            "num_threads": num_threads if num_threads is not None else torch.get_num_threads(),
            "git_commit": commit,
            "git_dirty": dirty,
            "started": now_iso(),
            "argv": list(sys.argv),
        }
    )
