"""Other dfmsd-bench training processes on this machine, read from Linux's ``/proc``.

A run of several CPU threads beside other busy processes slows many-fold (its threads wait for each other at
every parallel region), so ``dfmsd-bench run`` says so before it starts a local sweep. A trainer is a process
whose command line is ``python -m benchmark.run.train ...`` (what every worker starts) or ``dfmsd-bench train``
/ ``dfmsd-bench quickstart`` (which train in their own process or start workers). Off Linux the list is empty.
"""

from __future__ import annotations

import os
from pathlib import Path

TRAINER_MODULE = "benchmark.run.train"
TRAINING_COMMANDS = ("train", "quickstart")


def is_trainer(argv: list[str]) -> bool:
    """Whether a command line (``argv``) trains a dfmsd-bench run: its first ``-m MODULE`` or ``dfmsd-bench
    COMMAND`` decides (a worker's command line ends with the trainer it starts, which is not itself)."""
    for a, b in zip(argv, argv[1:]):
        if a == "-m":
            return b == TRAINER_MODULE
        if Path(a).name == "dfmsd-bench":
            return b in TRAINING_COMMANDS
    return False


def other_trainers(proc: Path = Path("/proc"), own: int | None = None) -> list[int]:
    """The process ids of the trainers on this machine other than process ``own`` (default: this one), sorted;
    processes that end or cannot be read while we look are left out."""
    own = os.getpid() if own is None else own
    found = []
    for entry in proc.glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(entry.name) != own and is_trainer(argv):
            found.append(int(entry.name))
    return sorted(found)
