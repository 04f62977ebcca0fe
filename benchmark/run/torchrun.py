"""The command line that starts a multi-process (DDP) run on one machine with ``torch.distributed.run``; kept
free of torch imports so launchers can build it cheaply."""

from __future__ import annotations

import sys


def launch_command(processes: int, module: str, python: str = sys.executable) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node P -m MODULE`` (one machine, free port)."""
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", module]
