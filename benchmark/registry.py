"""Name → object registries (timm / torchvision style): objects register themselves where they are defined.

Two registries hold everything a run config can name: ``MODELS`` (detector builders with their model cards,
:mod:`benchmark.zoo.registry`, filled by ``@register_model`` in each builder module) and ``METHODS``
(distillation criteria, :mod:`benchmark.distill.methods`, filled by ``@register_method`` on each criterion
class in ``baselines/`` and ``dfmsd/``). A registry may name *plugin* modules that it imports on its first
lookup, so defining modules can import the registry without an import cycle. Registering twice under one
name is an error, so a typo in a plugin cannot silently shadow a built-in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    """An unknown or duplicate name; the message lists what is available."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """A flat mapping from lower-case names to registered objects; ``plugins`` are imported on first lookup."""

    def __init__(self, kind: str, *, plugins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.plugins = plugins
        self._items: dict[str, T] = {}
        self._loaded = not plugins

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.plugins:
                importlib.import_module(module)

    def register(self, name: str, obj: T) -> T:
        key = name.lower()
        if key in self._items:
            raise RegistryError(f"{self.kind} {name!r} is already registered")
        self._items[key] = obj
        return obj

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name.lower()]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        self._load()
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)
