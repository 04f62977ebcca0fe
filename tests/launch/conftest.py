"""Sweep-plan tests (smoke_dict and fake_trainer come from tests/conftest.py): a throw-away data cache, and the
real one-node Slurm cluster for the tests marked ``slurm``."""

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _user_cache(tmp_path_factory, monkeypatch):
    """Synthetic data (and anything else the trainer caches) in a throw-away folder, not the user's."""
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "user-cache"))


SLURM_SCRIPT = Path(__file__).parents[2] / "scripts" / "slurm_local.sh"


@pytest.fixture(scope="session")
def slurm_cluster():
    """The one-node cluster of ``scripts/slurm_local.sh`` for the session, with ``SLURM_CONF`` exported; started
    here (and stopped afterwards) unless it runs already. Where the script says no cluster can run here
    (exit 3), the tests skip with its reason, or fail when ``DFMSD_SLURM_REQUIRED=1`` (CI, once it started)."""
    running = subprocess.run(["bash", SLURM_SCRIPT, "status"], capture_output=True).returncode == 0
    if not running:
        proc = subprocess.run(["bash", SLURM_SCRIPT, "start"], capture_output=True, text=True, timeout=900)
        reason = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        if proc.returncode == 3 and os.environ.get("DFMSD_SLURM_REQUIRED") != "1":
            pytest.skip(reason)
        if proc.returncode != 0:
            pytest.fail(f"scripts/slurm_local.sh start exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    conf = subprocess.run(["bash", SLURM_SCRIPT, "env"], capture_output=True, text=True, check=True).stdout
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf.strip().partition("=")[2]
    yield os.environ["SLURM_CONF"]
    if previous is None:
        os.environ.pop("SLURM_CONF")
    else:
        os.environ["SLURM_CONF"] = previous
    if not running:
        subprocess.run(["bash", SLURM_SCRIPT, "stop"], capture_output=True, timeout=300)
