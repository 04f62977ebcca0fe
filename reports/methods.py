"""How a method is shown in every table and figure: its display name, which methods are the proposed ones,
and the option defaults of the method registry (so that a label can leave out an option at its default)."""

from __future__ import annotations

from typing import Any

METHOD_NAMES = {
    "none": "student alone",
    "mimic": "Mimic",
    "fgd": "FGD",
    "mgd": "MGD",
    "fkd": "FKD",
    "fbkd": "FBKD",
    "pkd": "PKD",
    "dmkd": "DMKD",
    "dfmsd": "DFMSD",
    "head": "HEAD",
}
PROPOSED = ("dfmsd",)


def method_name(method: str) -> str:
    """Display name of a registry method name (unknown names are shown as they are)."""
    return METHOD_NAMES.get(method, method)


def option_defaults(method: str) -> dict[str, Any]:
    """Each option's value when a run of ``method`` leaves it out, from the method registry (``{}`` for an
    unknown method or one without options)."""
    from benchmark.distill.methods import METHODS

    return METHODS.get(method).option_defaults() if method in METHODS else {}
