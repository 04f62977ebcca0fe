"""Feature capture (mmrazor's *recorder*): a forward hook that keeps a submodule's output, e.g. the FPN's,
so a detector's training forward yields its features without a second pass."""

from __future__ import annotations

from typing import Any

from torch import nn


class FeatureRecorder:
    """Keeps the output of ``root.<path>`` from every forward while registered.

    Use as a context manager (the hook is removed on exit) or call :meth:`remove`. ``output`` is the
    last output (with its autograd graph), ``calls`` how many forwards ran since registration.
    """

    def __init__(self, root: nn.Module, path: str) -> None:
        try:
            module = root.get_submodule(path)
        except AttributeError:
            names = [n for n, _ in root.named_children()]
            raise ValueError(f"{type(root).__name__} has no submodule {path!r} (top-level children: {names})") from None
        self.path = path
        self.output: Any = None
        self.calls = 0
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        self.output = output
        self.calls += 1

    def remove(self) -> None:
        self._handle.remove()

    def __enter__(self) -> FeatureRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
