"""Where dfmsd-bench keeps downloaded and generated files: one per-user cache directory.

``$DFMSD_BENCH_CACHE`` overrides the default ``~/.cache/dfmsd-bench``. Prepared datasets, pinned wheels and
generated synthetic data live below it; deleting it is always safe (everything is rebuilt on demand).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "DFMSD_BENCH_CACHE"


def cache_dir() -> Path:
    """The cache root (``$DFMSD_BENCH_CACHE`` or ``~/.cache/dfmsd-bench``), created if missing."""
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "dfmsd-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path
