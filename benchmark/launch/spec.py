"""Sweep files: a base run config, named teachers and grid axes, expanded into raw run mappings.

A sweep file (see ``docs/sweeps.md``) holds::

    name: smoke                    # W&B group and default output folder
    base: {...}                    # a RunConfig mapping shared by every run
    teachers: {frcnn: {...}}       # named TeacherConfig mappings, referenced by name
    grid: {distill.method: [none, mimic], seed: [0, 1], pair: [{...}, {...}]}
    zip: [{model.name: [a, b], distill.teacher: [t1, t2]}]
    include: [{distill.method: dfmsd, ...}]   # extra runs (base + these keys)
    exclude: [{distill.method: none, seed: 1}] # drop grid points matching all keys of a rule
    teacher_check: {expected: {frcnn: 41.0}, tolerance: 0.5, images: null}  # see TeacherCheck

Grid axes are either dotted config keys (values are the key's values) or *named axes* (any other name)
whose values are mappings of dotted keys ("bundles"); each zip group is one axis whose values advance
together. The grid is the cartesian product of all axes. Every key a point sets remembers where it
came from (axis and value, include entry, override), so problems found later name their origin.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.config import ConfigError, RunConfig, TeacherConfig, parse_dataclass, sanitize_name, to_plain
from benchmark.config.overrides import apply_overrides, parse_override
from benchmark.config.yaml_io import load_yaml_file

TOP_KEYS = (
    "name",
    "description",
    "base",
    "teachers",
    "grid",
    "zip",
    "include",
    "exclude",
    "ablation_order",
    "teacher_check",
)
CONFIG_ROOTS = frozenset(f.name for f in dataclasses.fields(RunConfig))


@dataclass(frozen=True)
class Assignment:
    """Dotted-key values applied to a point, and where they came from (for error messages)."""

    origin: str  # e.g. "grid distill.method='mgd'", "include[2]", "override 'seed=3'"
    values: dict[str, Any]
    label: str = ""  # short text for tables (the axis value)


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Assignment, ...]


@dataclass(frozen=True)
class Point:
    """One run of the grid before typing: its raw mapping and the origin of every key it set."""

    raw: dict[str, Any]
    origins: dict[str, str]  # dotted key -> origin label
    labels: dict[str, str] = field(default_factory=dict)  # axis name -> value label


@dataclass(frozen=True)
class TeacherCheck:
    """``teacher_check``: before any student, each named teacher's checkpoint is evaluated once (the first
    ``images`` images of the test split in file order; null: all of it) and the sweep's students are refused when
    its box AP (%) differs from ``expected[name]`` (e.g. the model zoo's) by more than ``tolerance`` AP points
    (:mod:`benchmark.launch.teacher_check`)."""

    expected: dict[str, float]
    tolerance: float = 0.5
    images: int | None = None


@dataclass(frozen=True)
class Sweep:
    name: str
    source: str  # the file, as named in messages
    base: dict[str, Any]
    teachers: dict[str, dict[str, Any]]  # name -> plain TeacherConfig mapping (parsed, defaults filled)
    axes: tuple[Axis, ...]
    include: tuple[Assignment, ...]
    exclude: tuple[dict[str, list[Any]], ...]
    overrides: tuple[str, ...] = ()
    ablation_order: tuple[str, ...] = ()  # switch keys in the order a cumulative ablation turns them on
    teacher_check: TeacherCheck | None = None

    def points(self) -> list[Point]:
        """Every point: the product of the axes minus excluded ones, then the include entries (a sweep with
        include entries and no axes is just those entries, not the bare base as well)."""
        out = []
        product = itertools.product(*(axis.values for axis in self.axes)) if self.axes or not self.include else ()
        for combo in product:
            point = self._point(combo, {axis.name: a.label for axis, a in zip(self.axes, combo)})
            if not any(_matches(rule, point.raw) for rule in self.exclude):
                out.append(point)
        out.extend(self._point((inc,), {"include": inc.label}) for inc in self.include)
        return out

    def _point(self, assignments: Iterable[Assignment], labels: dict[str, str]) -> Point:
        raw = copy.deepcopy(self.base)
        origins: dict[str, str] = {}
        for a in assignments:
            for key, value in a.values.items():
                _set_path(raw, key.split("."), copy.deepcopy(value))
                origins[key] = a.origin
        for text in self.overrides:
            path, _ = parse_override(text)
            if path[0] != "teachers":
                raw = apply_overrides(raw, [text])
                origins[".".join(path)] = f"override {text!r}"
        return Point(raw=raw, origins=origins, labels=labels)


def load_sweep(path: str | Path, overrides: Iterable[str] = ()) -> Sweep:
    """Read and structurally check a sweep file; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    data = load_yaml_file(path, "sweep file")
    if data is None:
        raise ConfigError([f"{path}: the sweep file is empty"])
    return sweep_from_dict(data, str(path), overrides, default_name=path.stem)


def sweep_from_dict(data: Any, source: str, overrides: Iterable[str] = (), *, default_name: str = "sweep") -> Sweep:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: <top>: expected a mapping with keys {', '.join(TOP_KEYS)}"])
    if not set(data) & set(TOP_KEYS[2:]) and set(data) & (CONFIG_ROOTS - {"name"}):
        data = {"name": default_name, "base": data}  # a plain run config is a sweep of one run
    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"{source}: {key}: unknown sweep key (allowed: {', '.join(TOP_KEYS)})")
    overrides = tuple(overrides)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{source}: name: expected a non-empty string, got {name!r}")
        name = default_name
    base = data.get("base") or {}
    if not isinstance(base, dict):
        problems.append(f"{source}: base: expected a mapping (a run config), got {type(base).__name__}")
        base = {}
    teachers = _teachers(data.get("teachers") or {}, overrides, source, problems)
    axes = _grid(data.get("grid") or {}, source, problems)
    axes += _zip(data.get("zip") or [], source, problems)
    include = _entries(data.get("include") or [], "include", source, problems)
    exclude = tuple(_rule(a.values) for a in _entries(data.get("exclude") or [], "exclude", source, problems))
    order = data.get("ablation_order") or []
    if not isinstance(order, list) or not all(isinstance(k, str) and k for k in order):
        problems.append(f"{source}: ablation_order: expected a list of option keys, got {order!r}")
        order = []
    for text in overrides:
        try:
            path, _ = parse_override(text)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if path[0] != "teachers" and path[0] not in CONFIG_ROOTS:
            problems.append(
                f"override {text!r}: unknown key {path[0]!r} (allowed: teachers, {', '.join(sorted(CONFIG_ROOTS))})"
            )
    check = _teacher_check(data.get("teacher_check"), teachers, source, problems)
    if problems:
        raise ConfigError(problems)
    return Sweep(
        name=sanitize_name(name),
        source=source,
        base=base,
        teachers=teachers,
        axes=tuple(axes),
        include=tuple(include),
        exclude=exclude,
        overrides=overrides,
        ablation_order=tuple(order),
        teacher_check=check,
    )


# ---------------------------------------------------------------------------- sections


def _teachers(data: Any, overrides: tuple[str, ...], source: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict):
        problems.append(f"{source}: teachers: expected a mapping name -> teacher config, got {type(data).__name__}")
        return {}
    teacher_overrides = [t[len("teachers.") :] for t in overrides if t.startswith("teachers.")]
    try:
        data = apply_overrides(data, teacher_overrides)
    except ConfigError as exc:
        problems.extend(exc.problems)
    out = {}
    for name, entry in data.items():
        if not isinstance(name, str) or sanitize_name(name) != name:
            problems.append(f"{source}: teachers.{name}: teacher names may use only letters, digits, '.', '_', '-'")
            continue
        cfg = parse_dataclass(TeacherConfig, entry, f"teachers.{name}", source, problems)
        out[name] = to_plain(cfg)
    return out


def _teacher_check(
    data: Any, teachers: Mapping[str, dict[str, Any]], source: str, problems: list[str]
) -> TeacherCheck | None:
    if data is None:
        return None
    where = f"{source}: teacher_check"
    if not isinstance(data, dict) or not isinstance(data.get("expected"), dict) or not data["expected"]:
        problems.append(f"{where}: expected a mapping with 'expected: {{teacher name: box AP (%)}}', got {data!r}")
        return None
    for key in sorted(set(data) - {"expected", "tolerance", "images"}):
        problems.append(f"{where}.{key}: unknown key (allowed: expected, images, tolerance)")
    expected = {}
    for name, value in data["expected"].items():
        if name not in teachers:
            problems.append(f"{where}.expected.{name}: unknown teacher (teachers: {', '.join(sorted(teachers))})")
        elif not teachers[name].get("checkpoint"):
            problems.append(f"{where}.expected.{name}: the check evaluates a checkpoint; this teacher has none")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            problems.append(f"{where}.expected.{name}: expected a box AP in % (0-100), got {value!r}")
        else:
            expected[str(name)] = float(value)
    tolerance = data.get("tolerance", TeacherCheck.tolerance)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        problems.append(f"{where}.tolerance: expected AP points >= 0, got {tolerance!r}")
        tolerance = TeacherCheck.tolerance
    images = data.get("images")
    if images is not None and (isinstance(images, bool) or not isinstance(images, int) or images < 1):
        problems.append(f"{where}.images: expected a number of test images >= 1 or null (all), got {images!r}")
        images = None
    return TeacherCheck(expected, float(tolerance), images)


def _grid(data: Any, source: str, problems: list[str]) -> list[Axis]:
    if not isinstance(data, dict):
        problems.append(f"{source}: grid: expected a mapping axis -> list of values, got {type(data).__name__}")
        return []
    axes = []
    for key, values in data.items():
        where = f"grid.{key}"
        if not isinstance(values, list) or not values:
            problems.append(f"{source}: {where}: expected a non-empty list of values, got {values!r}")
            continue
        if _is_config_key(key):
            axes.append(Axis(key, tuple(Assignment(f"grid {key}={_short(v)}", {key: v}, _short(v)) for v in values)))
            continue
        bundles = []
        for i, v in enumerate(values):
            if not isinstance(v, dict) or not v:
                problems.append(
                    f"{source}: {where}[{i}]: {key!r} is not a config key (those start with "
                    f"{', '.join(sorted(CONFIG_ROOTS))}), so it is a named axis whose values must be mappings "
                    f"of dotted keys; got {v!r}"
                )
                continue
            if _check_keys(v, f"{where}[{i}]", source, problems):
                bundles.append(Assignment(f"grid {key}[{i}]", dict(v), _bundle_label(v)))
        axes.append(Axis(key, tuple(bundles)))
    return axes


def _zip(data: Any, source: str, problems: list[str]) -> list[Axis]:
    if not isinstance(data, list):
        problems.append(f"{source}: zip: expected a list of groups (mappings key -> list), got {type(data).__name__}")
        return []
    axes = []
    for g, group in enumerate(data):
        where = f"zip[{g}]"
        if not isinstance(group, dict) or not group:
            problems.append(f"{source}: {where}: expected a mapping key -> list of values, got {group!r}")
            continue
        lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in group.items()}
        if any(n <= 0 for n in lengths.values()):
            bad = [k for k, n in lengths.items() if n <= 0]
            problems.append(f"{source}: {where}.{bad[0]}: expected a non-empty list of values")
            continue
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            problems.append(f"{source}: {where}: zipped lists differ in length ({sizes})")
            continue
        if not _check_keys(group, where, source, problems):
            continue
        keys = list(group)
        values = []
        for i in range(lengths[keys[0]]):
            bundle = {k: group[k][i] for k in keys}
            origin = f"zip[{g}] " + ", ".join(f"{k}={_short(v)}" for k, v in bundle.items())
            values.append(Assignment(origin, bundle, _bundle_label(bundle)))
        axes.append(Axis("+".join(keys), tuple(values)))
    return axes


def _entries(data: Any, section: str, source: str, problems: list[str]) -> list[Assignment]:
    if not isinstance(data, list):
        problems.append(f"{source}: {section}: expected a list of mappings (dotted key -> value), got {data!r}")
        return []
    out = []
    for i, entry in enumerate(data):
        where = f"{section}[{i}]"
        if not isinstance(entry, dict) or not entry:
            problems.append(f"{source}: {where}: expected a mapping of dotted keys to values, got {entry!r}")
        elif _check_keys(entry, where, source, problems):
            out.append(Assignment(where, dict(entry), _bundle_label(entry)))
    return out


def _rule(values: dict[str, Any]) -> dict[str, list[Any]]:
    """An exclude rule: each key matches any of its listed values (a scalar is a one-element list)."""
    return {k: v if isinstance(v, list) else [v] for k, v in values.items()}


def _check_keys(mapping: Mapping[Any, Any], where: str, source: str, problems: list[str]) -> bool:
    ok = True
    for key in mapping:
        if not isinstance(key, str) or not _is_config_key(key):
            problems.append(
                f"{source}: {where}.{key}: not a config key (dotted keys start with {', '.join(sorted(CONFIG_ROOTS))})"
            )
            ok = False
    return ok


# ---------------------------------------------------------------------------- helpers


def _is_config_key(key: Any) -> bool:
    return isinstance(key, str) and all(key.split(".")) and key.split(".")[0] in CONFIG_ROOTS


def _set_path(node: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


_MISSING = object()


def get_path(node: Any, path: str) -> Any:
    """The value at a dotted path of nested mappings, or a sentinel when absent."""
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _matches(rule: Mapping[str, list[Any]], raw: dict[str, Any]) -> bool:
    """A rule matches when every key's value (from the point, else the RunConfig default) is listed."""
    defaults = None
    for key, allowed in rule.items():
        value = get_path(raw, key)
        if value is _MISSING:
            defaults = defaults if defaults is not None else to_plain(RunConfig())
            value = get_path(defaults, key)
        if value not in allowed:
            return False
    return True


def _short(value: Any, max_len: int = 40) -> str:
    text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= max_len else text[: max_len - 3] + "..."


def _bundle_label(bundle: Mapping[str, Any]) -> str:
    return "/".join(_short(v, 24) for v in bundle.values() if not isinstance(v, dict | list)) or _short(dict(bundle))


def origin_of(key: str, origins: Mapping[str, str]) -> str | None:
    """Which assignment set ``key`` (or the mapping above/below it); None when it came from the base."""
    norm = key.replace("[", ".[")
    best, best_len = None, -1
    for assigned, origin in origins.items():
        a = assigned.replace("[", ".[")
        if (norm == a or norm.startswith(a + ".") or a.startswith(norm + ".")) and len(a) > best_len:
            best, best_len = origin, len(a)
    return best


def config_key_of_problem(problem: str, source: str) -> str | None:
    """The dotted key of a ``"<source>: <key>: <message>"`` problem line."""
    prefix = f"{source}: "
    if not problem.startswith(prefix):
        return None
    key, sep, _ = problem[len(prefix) :].partition(": ")
    return key if sep else None
