"""Benchmark scripts of other parts of the suite (``scripts/*.py`` in a source checkout), loaded by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str) -> ModuleType | None:
    """``scripts/<name>.py`` as a module, or None when this is not a source checkout that has it."""
    path = SCRIPTS / f"{name}.py"
    if not path.is_file():
        return None
    module_name = f"_dfmsd_bench_script_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
