"""Distillation methods by name: the per-level criterion class, its option defaults, per-detector presets and
display name, registered with ``@register_method`` on the criterion class where it is defined (``baselines/``,
``dfmsd/``), as torchvision's ``@register_model``. The criteria stay plain torch modules with no knowledge of
the harness; this module is the only part of it they import (it imports neither torch nor them at import time:
the registry loads ``baselines`` and ``dfmsd`` on its first lookup).

Options of a run resolve as constructor defaults < method defaults < preset for the student's kind
('one_stage' | 'two_stage') < the run's ``distill.options`` < the stage's options, and are checked against the
constructor signature (mmrazor style) before anything is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from benchmark.registry import Registry

if TYPE_CHECKING:
    from torch import nn

C = TypeVar("C", bound=type)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    criterion: type[nn.Module] | None  # None: plain training, no distillation
    display: str  # short name for tables and figures ("DFMSD", "FGD", "Student")
    defaults: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""
    weights: tuple[str, ...] = ()  # the options that weight its loss terms (all 0: the student alone)

    @property
    def needs_teacher(self) -> bool:
        return self.criterion is not None

    def _parameters(self) -> dict[str, inspect.Parameter]:
        if self.criterion is None:
            return {}
        params = inspect.signature(self.criterion.__init__).parameters
        return {
            n: p
            for n, p in params.items()
            if n not in ("self", "student_channels", "teacher_channels")
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def accepted_options(self) -> set[str]:
        """Keyword options the criterion constructor takes (besides the two channel counts)."""
        return set(self._parameters())

    def constructor_defaults(self) -> dict[str, Any]:
        return {n: p.default for n, p in self._parameters().items() if p.default is not p.empty}

    def option_defaults(self) -> dict[str, Any]:
        """Each option's value when a run does not set it, for options no per-detector preset sets:
        the method's ``defaults``, else the criterion constructor's default."""
        values = {**self.constructor_defaults(), **self.defaults}
        preset_keys = {k for preset in self.presets.values() for k in preset}
        return {k: v for k, v in values.items() if k not in preset_keys}

    def option_problems(self, options: Mapping[str, Any]) -> list[str]:
        """One line per option the criterion does not accept, or whose value is not of its default's kind (a
        number, true/false, a string): what would otherwise fail only in training."""
        params = self._parameters()
        problems = []
        for key, value in options.items():
            if key not in params:
                accepted = ", ".join(sorted(params)) or "none"
                problems.append(f"method {self.name!r} has no option {key!r} (accepted: {accepted})")
                continue
            default = params[key].default
            if isinstance(default, bool) and not isinstance(value, bool):
                problems.append(f"method {self.name!r} option {key!r}: expected true/false, got {value!r}")
            elif isinstance(default, int | float) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    problems.append(f"method {self.name!r} option {key!r}: expected a number, got {value!r}")
            elif isinstance(default, str) and not isinstance(value, str):
                problems.append(f"method {self.name!r} option {key!r}: expected a string, got {value!r}")
        return problems

    def resolve_options(self, student_kind: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every constructor option's value: constructor defaults, method defaults, the preset for
        ``student_kind`` ('one_stage' | 'two_stage'), then ``overrides``."""
        if self.criterion is None:
            return {}
        opts = {**self.constructor_defaults(), **self.defaults}
        opts.update(self.presets.get(student_kind, {}))
        opts.update(overrides or {})
        return opts

    def build(self, student_channels: int, teacher_channels: int, options: Mapping[str, Any]) -> nn.Module:
        if self.criterion is None:
            raise ValueError(f"method {self.name!r} has no criterion to build")
        problems = self.option_problems(options)
        if problems:
            raise ValueError("; ".join(problems))
        return self.criterion(student_channels, teacher_channels, **options)


METHODS: Registry[MethodSpec] = Registry("method", plugins=("baselines", "dfmsd"))


def register_method(
    name: str,
    *,
    display: str,
    description: str,
    weights: tuple[str, ...],
    defaults: Mapping[str, Any] | None = None,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[C], C]:
    """Class decorator: register the criterion class under ``name`` (it may carry several: ``dfmsd``, ``dmkd``)."""

    def wrap(cls: C) -> C:
        METHODS.register(
            name,
            MethodSpec(
                name=name,
                criterion=cls,
                display=display,
                defaults=dict(defaults or {}),
                presets={k: dict(v) for k, v in (presets or {}).items()},
                description=description,
                weights=tuple(weights),
            ),
        )
        return cls

    return wrap


METHODS.register("none", MethodSpec("none", None, display="Student", description="plain student training"))


def get_method(name: str) -> MethodSpec:
    return METHODS.get(name)
