"""The layout's import directions (README, "Layout"): no cycle between packages, and the lineage one way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("baselines", "dfmsd", "reports", "benchmark")


def _package(module: str) -> str | None:
    """``benchmark.run.train`` -> ``benchmark.run``, ``benchmark.errors`` -> itself (the harness's shared leaf
    modules are nodes of their own); ``dfmsd.loss`` -> ``dfmsd``; others None."""
    parts = module.split(".")
    if parts[0] not in TOP:
        return None
    return ".".join(parts[:2]) if parts[0] == "benchmark" and len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[str]]:
    """Package -> the packages its modules import (module level and inside functions alike)."""
    graph: dict[str, set[str]] = {}
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            source = _package(module)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = module.split(".")[: -node.level if path.name != "__init__.py" else None]
                        if path.name == "__init__.py" and node.level > 1:
                            base = base[: -(node.level - 1)]
                        names = [".".join(base + ([node.module] if node.module else []))]
                    else:
                        names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    target = _package(name)
                    if target and source and target != source:
                        graph.setdefault(source, set()).add(target)
    return graph


def test_no_import_cycle_between_packages():
    graph = _imports()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_lineage_points_one_way():
    """Published building blocks live with their method: dfmsd imports baselines, never the reverse; both see
    only the registration decorator of the harness; the harness's config and data know nothing of runs."""
    graph = _imports()
    assert "dfmsd" not in graph.get("baselines", set())
    for criteria in ("baselines", "dfmsd"):
        assert graph.get(criteria, set()) - {"baselines", "benchmark.distill"} == set(), graph.get(criteria)
    assert graph.get("benchmark.config", set()) - {"benchmark.errors"} == set(), graph.get("benchmark.config")
    leaves = {"benchmark.errors", "benchmark.paths", "benchmark.atomic", "benchmark.registry"}
    assert graph.get("benchmark.data", set()) - leaves <= {"benchmark.config"}, graph.get("benchmark.data")
    for low in ("benchmark.config", "benchmark.data", "benchmark.zoo", "benchmark.distill", "benchmark.cache"):
        assert not graph.get(low, set()) & {"benchmark.run", "benchmark.launch", "benchmark.commands"}, low
    assert "benchmark.launch" not in graph.get("benchmark.run", set())
