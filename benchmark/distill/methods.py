"""Distillation methods by name: the per-level criterion class, its option defaults and per-detector presets.

Criteria live in ``dfmsd/`` and ``baselines/`` as plain torch modules with no knowledge of this harness.
Each of those packages exposes ``METHOD_PRESETS``: ``name -> {"criterion": cls, "defaults": {...},
"presets": {"one_stage": {...}, "two_stage": {...}}, "description": str}``; this module turns them into
:class:`MethodSpec` entries of the ``METHODS`` registry. Options of a run are resolved as
constructor defaults < method defaults < preset for the student's kind < the run's ``distill.options``,
and checked against the constructor signature (mmrazor style) before anything is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from benchmark.registry import Registry


@dataclass(frozen=True)
class MethodSpec:
    name: str
    criterion: type[nn.Module] | None  # None: plain training, no distillation
    defaults: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""

    @property
    def needs_teacher(self) -> bool:
        return self.criterion is not None

    def accepted_options(self) -> set[str]:
        """Keyword options the criterion constructor takes (besides the two channel counts)."""
        if self.criterion is None:
            return set()
        params = inspect.signature(self.criterion.__init__).parameters
        return {
            n
            for n, p in params.items()
            if n not in ("self", "student_channels", "teacher_channels")
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def option_defaults(self) -> dict[str, Any]:
        """Each option's value when a run does not set it, for options no per-detector preset sets:
        the method's ``defaults``, else the criterion constructor's default."""
        if self.criterion is None:
            return {}
        params = inspect.signature(self.criterion.__init__).parameters
        values = {n: params[n].default for n in self.accepted_options() if params[n].default is not params[n].empty}
        values.update(self.defaults)
        preset_keys = {k for preset in self.presets.values() for k in preset}
        return {k: v for k, v in values.items() if k not in preset_keys}

    def option_problems(self, options: Mapping[str, Any]) -> list[str]:
        """One line per option the criterion does not accept."""
        accepted = self.accepted_options()
        return [
            f"method {self.name!r} has no option {k!r} (accepted: {', '.join(sorted(accepted)) or 'none'})"
            for k in options
            if k not in accepted
        ]

    def resolve_options(self, student_kind: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Method defaults, then the preset for ``student_kind`` ('one_stage' | 'two_stage'), then overrides."""
        opts = dict(self.defaults)
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


METHODS: Registry[MethodSpec] = Registry("method")


def _register_presets(presets: Mapping[str, Mapping[str, Any]]) -> None:
    for name, entry in presets.items():
        METHODS.register(
            name,
            MethodSpec(
                name=name,
                criterion=entry["criterion"],
                defaults=dict(entry.get("defaults", {})),
                presets={k: dict(v) for k, v in entry.get("presets", {}).items()},
                description=entry.get("description", ""),
            ),
        )


def _load_builtins() -> None:
    from baselines.mimic import MimicLoss

    METHODS.register("none", MethodSpec("none", None, description="plain student training, no teacher"))
    METHODS.register(
        "mimic",
        MethodSpec(
            "mimic",
            MimicLoss,
            defaults={"loss_weight": 1.0},
            description="FitNets feature imitation: 1x1 adapter + MSE on every matched FPN level",
        ),
    )
    import importlib

    for package in ("baselines", "dfmsd"):
        module = importlib.import_module(package)
        _register_presets(getattr(module, "METHOD_PRESETS", {}))


def get_method(name: str) -> MethodSpec:
    return METHODS.get(name)


_load_builtins()
