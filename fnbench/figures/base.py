"""What every figure shares: the run as typed records, new figures on the Agg canvas, text from
data drawn as text, the families' colours and markers, intervals as error bars, log axes with
plain numbers.

No pyplot: every figure is a ``matplotlib.figure.Figure`` on its own Agg canvas, so nothing here
touches matplotlib's global backend or state, and figures are freed like any other object.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from fnbench.records import READABLE_SCHEMAS, SCHEMA, Record, Run, is_finite, upgrade

#: Font sizes, in points.
TITLE, LABEL, TICK, NOTE, POINT_LABEL = 11, 10, 9, 8, 8
#: Known families first, in a fixed style; any other family takes the next free one.
FAMILY_STYLES = {"FasterNet": ("#d62728", "*"), "CNN": ("#1f77b4", "o"),
                 "ViT": ("#2ca02c", "^"), "MLP": ("#9467bd", "s")}
SPARE_STYLES = [("#ff7f0e", "D"), ("#8c564b", "v"), ("#e377c2", "P"), ("#17becf", "X"),
                ("#7f7f7f", "h"), ("#bcbd22", "<"), ("#393b79", ">"), ("#637939", "p")]
#: The highlighted family (the paper's own networks).
HIGHLIGHT = "FasterNet"


def as_run(run: Run | Mapping[str, Any] | str | Path) -> Run:
    """A typed run from a ``Run``, the dict of :func:`fnbench.results.load_run` (any readable
    schema), or a run directory / run.json path."""
    if isinstance(run, Run):
        return run
    if isinstance(run, (str, Path)):
        from fnbench.results import load_run

        run = load_run(run)
    data = dict(run)
    if data.get("schema") in READABLE_SCHEMAS and data["schema"] != SCHEMA:
        data = upgrade(data)
    return Run.from_dict(data)


def as_runs(runs: Any) -> list[Run]:
    """One run or several, typed."""
    if isinstance(runs, (Run, Mapping, str, Path)):
        return [as_run(runs)]
    return [as_run(run) for run in runs]


def text(value: Any, limit: int = 60) -> str:
    """A string from data, safe to draw: ``$`` escaped so that it never starts mathtext, and
    cut to ``limit`` characters."""
    value = str(value)
    if len(value) > limit:
        value = value[:limit - 1] + "…"
    return value.replace("$", r"\$")


def finite(value: Any) -> bool:
    return is_finite(value)


def positive(value: Any) -> bool:
    return is_finite(value) and value > 0


def groups(items: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    """``items`` (records, indices) grouped by ``key``, in first-seen order."""
    out: dict[Any, list[Any]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return out


def mode_key(record: Record) -> tuple[str, int]:
    return record.mode, record.batch


def mode_words(mode: str, batch: int) -> str:
    return text(f"{mode} mode, batch {batch}", 40)


def where(run: Run) -> str:
    """'cpu, torch, 1 thread' (with the board and a non-fp32 dtype when there are any)."""
    host = next((r.host for r in run.records if r.host), None)
    dtype = next((r.dtype for r in run.records if r.dtype and r.dtype != "fp32"), None)
    parts = [run.device + (f" on {host}" if host else ""), run.runtime]
    if dtype:
        parts.append(dtype)
    parts.append(f"{run.threads} thread{'s' if run.threads != 1 else ''}")
    return text(", ".join(parts), 80)


def day(run: Run) -> str:
    return text(str(run.started or "")[:10], 20)


def family_styles(families: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) per family: the known ones fixed, the others in sorted order."""
    out = {}
    spare = iter(SPARE_STYLES * 4)
    for family in sorted(set(families), key=lambda f: (f not in FAMILY_STYLES, f)):
        out[family] = FAMILY_STYLES.get(family) or next(spare)
    return out


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas, laid out by constrained layout."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def say_nothing_to_plot(figure: Figure, message: str) -> Figure:
    """``figure`` holding only ``message`` (gid ``message``), for runs with nothing to plot."""
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=LABEL,
            transform=ax.transAxes, gid="message")
    return figure


def plain_number(value: float, _pos: Any = None) -> str:
    """Tick labels of a log axis as plain numbers: 0.5, 2, 10, 200, 5k."""
    if value <= 0:
        return ""
    if value >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def log_axis(ax: Axes, which: str, limits: tuple[float, float]) -> None:
    """Make ``ax``'s ``which`` axis ('x' or 'y') logarithmic over ``limits``, its ticks
    labelled with plain numbers: 1-2-5 per decade, more when the axis spans less than about
    a decade (minor ticks unlabelled)."""
    getattr(ax, f"set_{which}scale")("log")
    getattr(ax, f"set_{which}lim")(*limits)
    decades = math.log10(limits[1] / limits[0])
    subs = (1.0, 2.0, 5.0) if decades > 1.3 else (1.0, 2.0, 3.0, 5.0) if decades > 0.7 \
        else tuple(float(i) for i in range(1, 10))
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_formatter(NullFormatter())


def style_axes(ax: Axes) -> None:
    ax.tick_params(labelsize=TICK)
    ax.grid(True, which="major", color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)


def interval_ms(record: Record) -> tuple[float, float] | None:
    """The record's 95% re-run interval of the latency per call, ms; None where it has none."""
    lo, hi = record.latency_lo_ms, record.latency_hi_ms
    if positive(lo) and positive(hi) and lo <= hi:
        return lo, hi
    return None


def interval_of(record: Record, quantity: str) -> tuple[float, float] | None:
    """The interval of ``quantity`` (latency_ms, throughput or achieved_flops), derived from the
    latency interval: throughput and achieved FLOPS are batch / time per call, so the low end
    comes from the high latency."""
    interval = interval_ms(record)
    if interval is None:
        return None
    lo, hi = interval
    if quantity == "latency_ms":
        return lo, hi
    value, latency = getattr(record, quantity), record.latency_ms
    if not positive(value) or not positive(latency):
        return None
    return value * latency / hi, value * latency / lo


def error_bars(ax: Axes, records: Sequence[Record], x: Sequence[float], y: Sequence[float],
               quantity: str, axis: str, scale: float = 1.0, color: Any = "0.35",
               gid: str = "interval") -> Any:
    """Error bars along ``axis`` ('x' or 'y') from each record's interval of ``quantity``
    (scaled by ``scale``), drawn only for the records that have one; None when none has."""
    rows = [(xi, yi, interval_of(r, quantity)) for r, xi, yi in zip(records, x, y)]
    rows = [(xi, yi, iv) for xi, yi, iv in rows if iv is not None]
    if not rows:
        return None
    xs = [row[0] for row in rows]
    ys = [row[1] for row in rows]
    centre = xs if axis == "x" else ys
    low = [max(c - iv[0] * scale, 0.0) for c, (_, _, iv) in zip(centre, rows)]
    high = [max(iv[1] * scale - c, 0.0) for c, (_, _, iv) in zip(centre, rows)]
    err = [low, high]
    container = ax.errorbar(xs, ys, xerr=err if axis == "x" else None,
                            yerr=err if axis == "y" else None, fmt="none", ecolor=color,
                            elinewidth=0.8, capsize=2, capthick=0.8, zorder=4)
    for collection in container.lines[2]:
        collection.set_gid(gid)
    return container


def footnote(figure: Figure, lines: Sequence[str]) -> None:
    """Small grey lines under the axes (already escaped text), wrapped to the figure's
    width."""
    width = int(figure.get_figwidth() * 15)  # characters of NOTE size per inch, about
    wrapped = [part for line in lines for part in textwrap.wrap(line, width)]
    if wrapped:
        figure.supxlabel("\n".join(wrapped), fontsize=NOTE, color="0.35", ha="left", x=0.01)


def number(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if finite(value) else "–"


def ratio_range(values: Sequence[float]) -> str:
    values = sorted(v for v in values if finite(v))
    if not values:
        return "–"
    low, high = f"{values[0]:.1f}", f"{values[-1]:.1f}"
    return f"{low}x" if low == high else f"{low}–{high}x"


def log_limits(values: Sequence[float], pad: float = 0.12) -> tuple[float, float]:
    """Limits of a log axis around positive ``values``, ``pad`` decades wider on both sides."""
    values = [v for v in values if positive(v)]
    if not values:
        return 1.0, 10.0
    low, high = math.log10(min(values)), math.log10(max(values))
    if high - low < 0.3:
        middle = (low + high) / 2
        low, high = middle - 0.15, middle + 0.15
    return 10 ** (low - pad), 10 ** (high + pad)
