"""How a method is shown in every table and figure: its display name and which methods are the proposed ones."""

from __future__ import annotations

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
