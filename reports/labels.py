"""Direct labels instead of legends: text next to points (:func:`label_points`) or at the right end of lines
(:func:`label_line_ends`), placed so that labels neither overlap each other nor the points, nor leave the axes.

Placement is greedy and deterministic: labels are placed one after the other (the longest first, then in the
given order); each takes the candidate position of least cost (overlap with labels placed before, with the
points and their error bars, area outside the axes, distance to its point). A label moved away from its
point gets a thin leader line. Call these after the axes limits are final (they are read, not changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

GAP = 3.0  # points between a point and its label
PAD = 1.0  # points kept free around every label


@dataclass(frozen=True)
class PointLabel:
    x: float  # data coordinates of the point
    y: float
    text: str
    color: str = "black"
    yerr: float = 0.0  # half-length of the point's vertical error bar (kept free of labels too)


def text_size(fig: Figure, text: str, **kwargs: object) -> tuple[float, float]:
    """Width and height in inches of ``text`` drawn in ``fig`` at the current font settings."""
    probe = fig.text(0, 0, text, **kwargs)
    box = probe.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    probe.remove()
    return box.width / fig.dpi, box.height / fig.dpi


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Bbox, frame: Bbox) -> float:
    return box.width * box.height - _overlap(box, frame)


def _candidates(step: float) -> list[tuple[float, float, str, str]]:
    """(dx, dy, ha, va) offsets in points: beside the point, just above or below it, diagonally beside it, then
    beside it shifted up or down by multiples of 0.6 text heights (``step``)."""
    out = [(GAP + 2, 0.0, "left", "center"), (-GAP - 2, 0.0, "right", "center")]
    out += [(0.0, GAP + 1, "center", "bottom"), (0.0, -GAP - 1, "center", "top")]
    out += [(GAP, 1.0, "left", "bottom"), (GAP, -1.0, "left", "top"), (-GAP, 1.0, "right", "bottom")]
    out += [(-GAP, -1.0, "right", "top")]
    for k in range(1, 13):
        for sign in (1, -1):
            out.append((GAP + 6, sign * k * step * 0.6, "left", "center"))
            out.append((-GAP - 6, sign * k * step * 0.6, "right", "center"))
    return out


def label_points(ax: Axes, points: Sequence[PointLabel], *, marker_size: float = 4.0) -> None:
    """Label each point of ``ax`` with its text, avoiding the other labels, the points and their error bars,
    and the axes edge; a label shifted up or down from its point gets a leader line."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    to_px = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    half = marker_size * to_px / 2 + 1
    markers: list[Bbox] = []
    bars: list[Bbox] = []
    for p in points:
        x, y = ax.transData.transform((p.x, p.y))
        markers.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
        if p.yerr > 0:
            _, lo = ax.transData.transform((p.x, p.y - p.yerr))
            _, hi = ax.transData.transform((p.x, p.y + p.yerr))
            bars.append(Bbox.from_extents(x - 2 * to_px, lo - 2 * to_px, x + 2 * to_px, hi + 2 * to_px))  # with caps
    pad = PAD * to_px
    placed: list[Bbox] = []
    # the longest labels first: they have the fewest places to go
    for i in sorted(range(len(points)), key=lambda i: -len(max(points[i].text.split("\n"), key=len))):
        point = points[i]
        text = ax.annotate(
            point.text, (point.x, point.y), xytext=(0, 0), textcoords="offset points", color=point.color,
            annotation_clip=False,
        )  # fmt: skip
        step = text.get_window_extent(renderer).height / to_px
        best: tuple[float, tuple[float, float, str, str], Bbox] | None = None
        for dx, dy, ha, va in _candidates(step):
            text.set_position((dx, dy))
            text.set_ha(ha)
            text.set_va(va)
            box = text.get_window_extent(renderer).padded(pad)
            cost = sum(_overlap(box, b) for b in placed) * 50 + sum(_overlap(box, m) for m in markers) * 40
            cost += sum(_overlap(box, b) for b in bars) * 25 + _outside(box, frame) * 30 + (abs(dx) + abs(dy)) * to_px
            if best is None or cost < best[0]:
                best = (cost, (dx, dy, ha, va), box)
        assert best is not None
        dx, dy, ha, va = best[1]
        text.set_position((dx, dy))
        text.set_ha(ha)
        text.set_va(va)
        if abs(dy) >= step * 0.3 and ha != "center":
            ax.annotate(
                "", (point.x, point.y), xytext=(dx, dy), textcoords="offset points", annotation_clip=False,
                arrowprops={"arrowstyle": "-", "color": "0.55", "linewidth": 0.4, "shrinkA": 0, "shrinkB": 2.5},
            )  # fmt: skip
        placed.append(best[2])


def label_line_ends(ax: Axes, ends: Sequence[PointLabel], *, pad: float = 4.0) -> None:
    """Labels in the right margin of ``ax`` at the height of each line's last point, pushed apart vertically
    so that none overlap (a leader line joins a moved label to its point)."""
    if not ends:
        return
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    to_px = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    probe = ax.text(0, 0, "Xg", transform=None)
    height = probe.get_window_extent(renderer).height * 1.05
    probe.remove()
    heights = [height * (e.text.count("\n") + 1) for e in ends]
    wanted = [float(ax.transData.transform((e.x, e.y))[1]) for e in ends]
    order = sorted(range(len(ends)), key=lambda i: wanted[i])
    ys = [0.0] * len(ends)
    for rank, i in enumerate(order):  # bottom-up: at least half a height above the previous label
        low = ys[order[rank - 1]] + (heights[order[rank - 1]] + heights[i]) / 2 if rank else frame.y0 + heights[i] / 2
        ys[i] = max(wanted[i], low)
    overflow = max(ys[i] + heights[i] / 2 for i in order) - frame.y1
    if overflow > 0:  # shift down as a block, but never below the axes' bottom
        top = frame.y1
        for i in reversed(order):
            ys[i] = min(ys[i], top - heights[i] / 2)
            top = ys[i] - heights[i] / 2
    x_px = frame.x1 + pad * to_px
    for e, y in zip(ends, ys):
        px, py = ax.transData.transform((e.x, e.y))
        ax.annotate(
            e.text, (e.x, e.y), xytext=((x_px - px) / to_px, (y - py) / to_px), textcoords="offset points",
            ha="left", va="center", color=e.color, annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.4, "shrinkA": 1, "shrinkB": 2},
        )  # fmt: skip
