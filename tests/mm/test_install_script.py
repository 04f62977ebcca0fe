"""scripts/install_mm.sh: the mmcv wheel cache and its sha256 checks (``--resolve-only``: nothing is installed)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.mm

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_mm.sh"
WHEEL = "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"


def run(cache: Path, *args: str, timeout: str = "60", **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "DFMSD_MMCV_WHEEL"}
    full.update(DFMSD_BENCH_CACHE=str(cache), **env)
    if not full.get("DFMSD_MMCV_WHEEL"):
        full.pop("DFMSD_MMCV_WHEEL", None)
    cmd = ["bash", str(SCRIPT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=int(timeout))


def test_refuses_cached_wheel_with_wrong_hash(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / WHEEL).write_bytes(b"not the prebuilt wheel")  # no record: must be the pinned prebuilt hash
    proc = run(tmp_path, "--resolve-only")
    assert proc.returncode == 1
    assert "refusing it" in proc.stderr and WHEEL in proc.stderr
    assert proc.stdout == ""


def test_refuses_cached_wheel_that_differs_from_its_record(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / WHEEL).write_bytes(b"a wheel that was changed after caching")
    (wheels / f"{WHEEL}.sha256").write_text(hashlib.sha256(b"the wheel as built").hexdigest() + "\n")
    proc = run(tmp_path, "--resolve-only")
    assert proc.returncode == 1 and "refusing it" in proc.stderr


def test_reuses_cached_wheel_matching_its_record(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    data = b"a locally built wheel"
    (wheels / WHEEL).write_bytes(data)
    (wheels / f"{WHEEL}.sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")
    proc = run(tmp_path, "--resolve-only")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(wheels / WHEEL)


def test_refuses_given_wheel_with_wrong_hash(tmp_path):
    given = tmp_path / WHEEL
    given.write_bytes(b"tampered")
    proc = run(tmp_path / "cache", "--resolve-only", DFMSD_MMCV_WHEEL=str(given))
    assert proc.returncode == 1 and "DFMSD_MMCV_WHEEL" in proc.stderr and "refusing it" in proc.stderr
    assert not list((tmp_path / "cache" / "wheels").glob("*.whl"))  # nothing was cached


def test_cuda_wheels_are_cached_apart(tmp_path):
    """A CPU-ops wheel in the cache is never taken for --cuda (which then needs its own build)."""
    wheels = tmp_path / "wheels" / "cuda"
    wheels.mkdir(parents=True)
    (wheels / WHEEL).write_bytes(b"bad")
    proc = run(tmp_path, "--cuda", "--resolve-only")
    assert proc.returncode == 1 and str(wheels / WHEEL) in proc.stderr


def test_unknown_option(tmp_path):
    proc = run(tmp_path, "--bogus")
    assert proc.returncode == 1 and "unknown option --bogus" in proc.stderr


PREBUILT = SCRIPT.parents[2] / "shared" / "wheels" / WHEEL


@pytest.mark.skipif(not PREBUILT.is_file(), reason="no prebuilt wheel next to the repository")
def test_copies_verified_prebuilt_wheel_into_the_cache(tmp_path):
    proc = run(tmp_path, "--resolve-only")
    assert proc.returncode == 0, proc.stderr
    cached = tmp_path / "wheels" / WHEEL
    assert proc.stdout.strip() == str(cached)
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    assert (tmp_path / "wheels" / f"{WHEEL}.sha256").read_text().strip() == digest
    assert run(tmp_path, "--resolve-only").stdout.strip() == str(cached)  # second time: from the cache


def test_prepares_the_patched_sdist_with_no_wheel_cache(tmp_path):
    """What a fresh machine without ../shared does before compiling: download the pinned sdist (pip prepares its
    metadata without build isolation, so pkg_resources is there), check it, unpack it, patch it for C++20."""
    proc = run(tmp_path / "empty-cache", "--prepare-only", str(tmp_path / "src"), timeout="300")
    assert proc.returncode == 0, proc.stderr
    src = Path(proc.stdout.strip())
    assert src == tmp_path / "src" / "mmcv-2.1.0" and "-std=c++20" in (src / "setup.py").read_text()
    assert "-std=c++17" not in (src / "setup.py").read_text()
    assert not list((tmp_path / "empty-cache" / "wheels").glob("*.whl"))  # nothing cached or built


VERIFIED = SCRIPT.with_name("mmcv_recipe.verified")


@pytest.mark.slow
def test_full_build_after_a_recipe_change(tmp_path):
    """The full 11-minute compile runs again only when the recipe differs from the one whose full build was last
    verified (scripts/mmcv_recipe.verified: '<recipe sha256> <date> <seconds>'); update that file after it passes."""
    recipe = run(tmp_path, "--recipe-hash").stdout.strip()
    verified = VERIFIED.read_text().split()[0] if VERIFIED.is_file() else ""
    if recipe == verified:
        pytest.skip(f"mmcv build recipe {recipe[:12]} unchanged since its verified full build ({VERIFIED.name})")
    proc = run(tmp_path / "cache", "--from-source", "--resolve-only", timeout="3600")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(proc.stdout.strip()).is_file()
