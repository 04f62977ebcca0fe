"""Command-line overrides ``key.sub=value`` applied to a raw config mapping (Hydra style).

Values are parsed as YAML scalars/flow collections (``lr=1e-3``, ``milestones=[0.5,0.8]``, ``ckpt=null``);
dotted keys create nested mappings as needed. A malformed override is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import yaml

from benchmark.config import ConfigError


def parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError([f"override {text!r}: expected key.sub=value"])
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError([f"override {text!r}: value is not valid YAML ({exc.__class__.__name__})"]) from None
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
