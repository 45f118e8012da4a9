"""Point labels that do not overlap: a greedy search over candidate places, measured by the
renderer.

Each label is measured once (its size in pixels), then tried at places around its point, ring
after ring outwards (right first, then above/below, then left); the first place that stays
inside the axes and clears every placed label, every marker and every other obstacle (legend,
notes) wins. A label that had to move away from its point gets a thin leader line. When no place
is free, the one with the least overlap is taken (tests check that the committed runs need
none of those).

The figure's layout must be final before labels are placed (:func:`freeze_layout`): labels are
placed in pixels, and a layout that moved afterwards would move points and labels apart.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from fnbench.figures.base import POINT_LABEL

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
#: Pixels kept free between two labels, and between a label and the axes' frame.
GAP = 1.5
#: Rings of candidate places tried around a point.
RINGS = 16


def freeze_layout(figure: Figure) -> None:
    """Lay the figure out once (constrained layout) and keep that layout from now on; legends
    placed "best" (where they hide the fewest data) stay where that first layout put them, so
    that labels placed afterwards cannot move them."""
    figure.draw_without_rendering()
    figure.set_layout_engine("none")
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
            legend.set_loc((box.x0, box.y0))


def _box(bbox: Bbox) -> Box:
    return bbox.x0, bbox.y0, bbox.x1, bbox.y1


def _overlap(a: Box, b: Box, gap: float = GAP) -> float:
    """Area of overlap of ``a`` and ``b`` grown by ``gap`` (0 when they are apart)."""
    width = min(a[2], b[2]) - max(a[0], b[0]) + gap
    height = min(a[3], b[3]) - max(a[1], b[1]) + gap
    return width * height if width > 0 and height > 0 else 0.0


def _inside(box: Box, frame: Box) -> bool:
    return box[0] >= frame[0] + GAP and box[1] >= frame[1] + GAP and \
        box[2] <= frame[2] - GAP and box[3] <= frame[3] - GAP


def _offsets(width: float, height: float, marker: float) -> Iterable[tuple[int, float, float]]:
    """(ring, dx, dy): offsets of a label's centre from its point, nearest ring first."""
    step = 0.8 * height
    for ring in range(RINGS):
        g = marker + 2 + ring * step
        d = 0.7 * g
        right, left = g + width / 2, -(g + width / 2)
        above, below = g + height / 2, -(g + height / 2)
        start = width / 2 - marker  # the label begins where the marker does
        for dx, dy in ((right, 0), (d + width / 2, d + height / 2),
                       (d + width / 2, -(d + height / 2)), (start, above), (start, below),
                       (0, above), (0, below), (left, 0), (-(d + width / 2), d + height / 2),
                       (-(d + width / 2), -(d + height / 2)), (-start, above), (-start, below)):
            yield ring, dx, dy


def _interval_boxes(ax: Axes, thickness: float) -> list[Box]:
    """A thin box around every error bar (collections with gid ``interval``), caps included,
    in pixels."""
    boxes = []
    for collection in ax.collections:
        if collection.get_gid() != "interval":
            continue
        for segment in collection.get_segments():
            (x0, y0), (x1, y1) = ax.transData.transform(segment[[0, -1]])
            boxes.append((min(x0, x1) - thickness, min(y0, y1) - thickness,
                          max(x0, x1) + thickness, max(y0, y1) + thickness))
    return boxes


def _nearest(box: Box, x: float, y: float) -> tuple[float, float]:
    return min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])


def place_labels(ax: Axes, points: Sequence[tuple[float, ...]], labels: Sequence[str],
                 *, markers: Sequence[tuple[float, ...]] = (), marker_pt: float = 4.0,
                 obstacles: Sequence[Any] = (), colors: Sequence[Any] | None = None,
                 bold: Sequence[bool] | None = None, fontsize: float = POINT_LABEL
                 ) -> list[Text]:
    """Label each of ``points`` (data coordinates; a third item is the point's marker
    half-size in points, else ``marker_pt``) with ``labels`` (already escaped), in the given
    order of priority, without overlaps. ``markers`` (the same form, default the points) are
    kept clear, and so are the window extents of ``obstacles`` (artists: a legend, a note)
    and the axes' error bars (collections with gid ``interval``).
    The texts have gid ``label``; leader lines are Line2D with gid ``leader``."""
    figure = ax.figure
    renderer = figure.canvas.get_renderer()
    to_px = ax.transData.transform
    to_data = ax.transData.inverted().transform
    frame = _box(ax.get_window_extent(renderer))
    scale = figure.dpi / 72.0

    def half(item: Sequence[float]) -> float:
        return (item[2] if len(item) > 2 else marker_pt) * scale

    taken: list[Box] = []
    for marker in (markers or points):
        px, py = to_px(marker[:2])
        taken.append((px - half(marker), py - half(marker), px + half(marker),
                      py + half(marker)))
    for artist in obstacles:
        if artist is not None and artist.get_visible():
            taken.append(_box(artist.get_window_extent(renderer)))
    taken += _interval_boxes(ax, 2.5 * scale)
    placed: list[Text] = []
    for i, (point, label) in enumerate(zip(points, labels)):
        x, y = point[:2]
        own = half(point)
        color = colors[i] if colors is not None else "0.15"
        weight = "bold" if bold is not None and bold[i] else "normal"
        item = ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, color=color,
                       fontweight=weight, zorder=6, gid="label", clip_on=False,
                       bbox=dict(boxstyle="square,pad=0.08", facecolor="white", edgecolor="none",
                                 alpha=0.75))
        item.set_in_layout(False)
        extent = item.get_window_extent(renderer)
        width, height = extent.width, extent.height
        px, py = to_px((x, y))
        best: tuple[float, int, Box] | None = None
        for ring, dx, dy in _offsets(width, height, own):
            box = (px + dx - width / 2, py + dy - height / 2, px + dx + width / 2,
                   py + dy + height / 2)
            if not _inside(box, frame):
                continue
            overlap = sum(_overlap(box, other) for other in taken)
            if overlap == 0:
                best = (0.0, ring, box)
                break
            if best is None or overlap < best[0]:
                best = (overlap, ring, box)
        if best is None:  # no place inside the axes at all: right of the point
            best = (0.0, 0, (px + own + 2, py - height / 2, px + own + 2 + width,
                             py + height / 2))
        _, ring, box = best
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        item.set_position(tuple(to_data((cx, cy))))
        taken.append(box)
        placed.append(item)
        if ring >= 1:  # away from its point: a leader line to the label's nearest edge
            end = to_data(_nearest(box, px, py))
            ax.plot([x, end[0]], [y, end[1]], color="0.55", linewidth=0.5, zorder=1.5,
                    gid="leader", scalex=False, scaley=False)
    return placed


def text_box(item: Text, renderer: Any = None) -> Bbox:
    """The window extent of a label's text (not of its background patch)."""
    renderer = renderer or item.figure.canvas.get_renderer()
    return Text.get_window_extent(item, renderer)


def overlaps(boxes: Sequence[Bbox]) -> list[tuple[int, int]]:
    """Pairs of indices of ``boxes`` that overlap (touching edges do not count)."""
    out = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            if min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0):
                out.append((i, j))
    return out
