"""Command-line overrides ``key.sub=value`` applied to a raw config mapping (Hydra style).

Values are parsed as YAML scalars/flow collections (``lr=1e-3``, ``milestones=[0.5,0.8]``, ``ckpt=null``);
dotted keys create nested mappings as needed. A malformed override is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from benchmark.config.schema import ConfigError
from benchmark.config.yaml_io import load_yaml_text


def parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError([f"override {text!r}: expected key.sub=value"])
    try:
        value = load_yaml_text(raw, f"override {text!r}") if raw.strip() else ""
    except ConfigError as exc:
        detail = exc.problems[0].split(": ", 2)[-1]
        raise ConfigError([f"override {text!r}: value is not valid YAML ({detail})"]) from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with every ``key.sub=value`` override set."""
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError([f"override {text!r}: {part!r} is not a mapping"])
            node = child
        node[path[-1]] = value
    return out
