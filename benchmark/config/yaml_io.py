"""Reading YAML that a user wrote (run configs, sweeps, overrides) and that records hold, safely and strictly.

:func:`load_yaml_file` / :func:`load_yaml_text` use ``yaml.SafeLoader`` (no Python objects) with limits, and
report a problem as one :class:`~benchmark.config.ConfigError` line naming the file (and line):

* size at most ``MAX_BYTES``, nesting at most ``MAX_DEPTH``, at most ``MAX_ALIASES`` aliases (an alias bomb, a
  deep or huge file is refused at once instead of keeping a command busy);
* a key twice in one mapping is an error (YAML keeps the last one silently);
* text that is not UTF-8 is an error;
* numbers as YAML 1.2 writes them: ``1e-3`` and ``1.0e39`` are floats (PyYAML's YAML 1.1 rules read them as
  strings); ``.nan``/``.inf`` stay floats (the validator refuses non-finite values where numbers are expected).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from benchmark.config.schema import ConfigError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_ALIASES = 100

_FLOAT_12 = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$"  # 1e-3, 1.0e39, 0.5, 3. (not 3: an int)
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats, duplicate-key errors and depth / alias limits."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (line {mark.line + 1})")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # PyYAML reports unhashable keys itself
            if key in seen:
                lines = f"lines {seen[key] + 1} and {key_node.start_mark.line + 1}"
                raise yaml.YAMLError(f"key {key!r} appears twice in one mapping ({lines})")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 floats: replace PyYAML's float resolver (which needs a dot and a signed exponent) by the 1.2 form.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def load_yaml_text(text: str, source: str) -> Any:
    """The YAML document in ``text``; :class:`ConfigError` with one line ``<source>: <problem>`` otherwise."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise ConfigError([f"{source}: larger than {MAX_BYTES // 1000} kB: not a config file"])
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except RecursionError:
        raise ConfigError([f"{source}: not valid YAML (nested too deeply)"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        detail = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{source}: not valid YAML{where}: {detail}"]) from None


def load_yaml_file(path: str | Path, what: str = "YAML file") -> Any:
    """The YAML document in ``path`` (see the module docstring); FileNotFoundError naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.stat().st_size > MAX_BYTES:
        size = path.stat().st_size // 1000
        raise ConfigError([f"{path}: {size} kB, larger than {MAX_BYTES // 1000} kB: not a {what}"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start}): not a {what}"]) from None
    return load_yaml_text(text, str(path))
