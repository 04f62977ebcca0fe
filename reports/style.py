"""The visual language of every figure (and of the W&B report run): sizes, fonts, and a fixed colour and
marker per method.

* Colours: Paul Tol's colour-blind-safe "muted" scheme, one per method; the student alone is grey and teachers
  black. A variant of a method (``DFMSD S-a`` / ``DFMSD S-b``) keeps the method's colour family in another
  shade, with its own marker, bar hatch and line style, so two variants never look identical. Variants are
  numbered per method in display order over all conditions of a report, so a variant looks the same in every
  figure of it.
* Sizes: one column of a two-column paper (``COLUMN_WIDTH`` = 3.4 in), every font 7 pt.

Plain data (hex strings, marker codes, an rc mapping): nothing here imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper
FONT_SIZE = 7  # points, every text of a figure
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "legend.fontsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE,
    "figure.titlesize": FONT_SIZE,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.3,
    "grid.alpha": 0.5,
    "hatch.linewidth": 0.6,
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "svg.hashsalt": "dfmsd-bench",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}

# Paul Tol's "muted" qualitative scheme (colour-blind safe; SRON colour schemes note), one colour per method
METHOD_COLORS = {
    "mimic": "#88CCEE",  # cyan
    "fgd": "#44AA99",  # teal
    "mgd": "#117733",  # green
    "fkd": "#999933",  # olive
    "fbkd": "#DDCC77",  # sand
    "pkd": "#332288",  # indigo
    "dmkd": "#AA4499",  # purple
    "dfmsd": "#CC6677",  # rose
    "head": "#882255",  # wine
}
ALONE_COLOR = "#777777"
TEACHER_COLOR = "#000000"
METHOD_MARKERS = {
    "none": "o",
    "mimic": "s",
    "fgd": "^",
    "mgd": "v",
    "fkd": "D",
    "fbkd": "<",
    "pkd": "P",
    "dmkd": "X",
    "dfmsd": "*",
    "head": "h",
}
TEACHER_MARKER = "H"
MARKER_SCALE = {"*": 1.6, "P": 1.15, "X": 1.15, "h": 1.1, "H": 1.1}
_SPARE_COLORS = ("#882255", "#DDCC77", "#999933")
_SPARE_MARKERS = ("p", ">", "d")
_VARIANT_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_HATCHES = ("", "////", "....", "xxxx", "\\\\\\\\")
_LINESTYLES = ("-", "--", ":", "-.")
_SHADES = (0.0, 0.45, -0.35, 0.7, -0.55)  # > 0: towards white, < 0: towards black


def method_color(method: str) -> str:
    """The method's colour as ``#RRGGBB`` (grey for the student alone, a stable spare for unknown names)."""
    if method == "none":
        return ALONE_COLOR
    return METHOD_COLORS.get(method) or _SPARE_COLORS[sum(map(ord, method)) % len(_SPARE_COLORS)]


def method_marker(method: str) -> str:
    return METHOD_MARKERS.get(method) or _SPARE_MARKERS[sum(map(ord, method)) % len(_SPARE_MARKERS)]


def shade(color: str, amount: float) -> str:
    """``color`` mixed towards white (``amount`` > 0) or black (< 0) by ``|amount|``."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    target = 255 if amount > 0 else 0
    mixed = [round(c + (target - c) * abs(amount)) for c in rgb]
    return "#" + "".join(f"{c:02X}" for c in mixed)


@dataclass(frozen=True)
class Look:
    """How one condition is drawn: colour, marker, bar hatch, line style."""

    color: str
    marker: str
    hatch: str = ""
    linestyle: str = "-"

    def size(self, base: float = 4.0) -> float:
        """Marker size that makes this marker look as large as a circle of size ``base``."""
        return base * MARKER_SCALE.get(self.marker, 1.0)

    def edge(self) -> str:
        """Edge colour of bars and hatches: the darker shade of the colour."""
        return shade(self.color, -0.45)


TEACHER_LOOK = Look(TEACHER_COLOR, TEACHER_MARKER, linestyle="--")


def method_look(method: str, variant: int = 0) -> Look:
    """Variant ``variant`` (0 = the first in display order) of ``method``."""
    base, marker = method_color(method), method_marker(method)
    if variant == 0:
        return Look(base, marker)
    markers = [m for m in _VARIANT_MARKERS if m != marker]
    return Look(
        shade(base, _SHADES[variant % len(_SHADES)]),
        markers[(variant - 1) % len(markers)],
        _HATCHES[variant % len(_HATCHES)],
        _LINESTYLES[variant % len(_LINESTYLES)],
    )


def looks(methods: Mapping[str, str], suffixes: Mapping[str, str], order: Sequence[str]) -> dict[str, Look]:
    """Look per condition key, given its method, its variant suffix and the keys in display order: the plain
    variant of a method (no suffix) is its first, the others are numbered in the order they first appear."""
    numbers: dict[tuple[str, str], int] = {}
    out: dict[str, Look] = {}
    for key in sorted(order, key=lambda k: suffixes[k] != ""):  # stable: display order otherwise
        method, suffix = methods[key], suffixes[key]
        if (method, suffix) not in numbers:
            numbers[(method, suffix)] = sum(m == method for m, _ in numbers)
        out[key] = method_look(method, numbers[(method, suffix)])
    return out


def pair_label(teacher: str, student: str) -> str:
    """A teacher→student pair on two lines (``teacher →`` above the student)."""
    return f"{teacher} →\n{student}" if teacher else student
