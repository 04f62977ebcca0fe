"""How a method is shown in every table and figure: its display name (the method registry's ``display``),
which methods are the proposed ones, and the registry's option defaults (so that a label can leave out an
option at its default)."""

from __future__ import annotations

from typing import Any

from benchmark.distill.methods import METHODS

PROPOSED = ("dfmsd",)
ALONE = "student alone"  # the ``none`` run in a KD report: the student trained without a teacher


def method_name(method: str) -> str:
    """Display name of a registry method name; a method we do not implement (a published-only row such as
    ``head``) in capitals, as papers write these acronyms."""
    if method == "none":
        return ALONE
    return METHODS.get(method).display if method in METHODS else method.upper()


def option_defaults(method: str) -> dict[str, Any]:
    """Each option's value when a run of ``method`` leaves it out, from the method registry (``{}`` for an
    unknown method or one without options)."""
    return METHODS.get(method).option_defaults() if method in METHODS else {}
