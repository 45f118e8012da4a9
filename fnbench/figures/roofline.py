"""Roofline figure: each record at its arithmetic intensity and achieved MAC/s, under the run's
measured ceilings (peak MAC/s, copy bandwidth per cache level), with each record's own bound."""

from __future__ import annotations

import textwrap
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from fnbench.figures.base import (HIGHLIGHT, LABEL, NOTE, TITLE, as_run, error_bars, family_styles,
                                  footnote, log_axis, log_limits, new_figure, number, positive,
                                  style_axes, text, where)
from fnbench.figures.labels import freeze_layout, place_labels
from fnbench.records import Record
from fnbench.roofline.bounds import traffic_bytes

LEVEL_COLORS = {"L1": "#17becf", "L2": "#2ca02c", "L3": "#ff7f0e", "DRAM": "#8c564b"}
SIZE_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "h"]
NO_CEILINGS = ("No ceilings were measured for this run (run.json has no roofline: it ran with "
               "--no-roofline, or before fnbench measured rooflines). Records are placed at "
               "their arithmetic intensity only; `fnbench roofline` measures the ceilings.")


def intensity(record: Record) -> float | None:
    """MACs per byte of one call: the record's own field, else computed from its accounting the
    way :mod:`fnbench.roofline.bounds` does (weights read once per call)."""
    if positive(record.arithmetic_intensity):
        return record.arithmetic_intensity
    if not positive(record.flops) or not positive(record.memory_bytes):
        return None
    batch = record.batch if positive(record.batch) else 1
    return record.flops * batch / traffic_bytes(record.memory_bytes, record.params, batch)


def level_bandwidths(level: Mapping[str, Any]) -> list[float]:
    """Every copy bandwidth measured for a level (its ladder points, else its own), bytes/s."""
    values = [p.get("bytes_per_s") for p in level.get("points") or ()]
    values = [v for v in values if positive(v)]
    if not values and positive(level.get("bytes_per_s")):
        values = [level["bytes_per_s"]]
    return sorted(values)


def _series(suite: str, records: Sequence[Record]
            ) -> tuple[list[tuple[str, float, list[Record]]], list[Line2D]]:
    """The records as (colour, marker, marker size, records) series, and their legend
    entries: operators coloured by operator with the feature map as marker; models by family
    (the highlighted one larger)."""
    series, handles = [], []
    if suite == "ops":
        from fnbench.figures.ops import OP_COLORS, case_label, size_label

        cases = list(dict.fromkeys(case_label(r) for r in records))
        sizes = list(dict.fromkeys(size_label(r) for r in records))
        colors = {case_label(r): OP_COLORS.get((r.meta or {}).get("op"), "#7f7f7f")
                  for r in records}
        for record in records:
            marker = SIZE_MARKERS[sizes.index(size_label(record)) % len(SIZE_MARKERS)]
            series.append((colors[case_label(record)], marker, 7.0, [record]))
        handles += [Line2D([], [], linestyle="none", marker="o", markersize=7,
                           color=colors[case], label=case) for case in cases]
        handles += [Line2D([], [], linestyle="none", markersize=7, color="0.45",
                           marker=SIZE_MARKERS[i % len(SIZE_MARKERS)], label=size)
                    for i, size in enumerate(sizes)]
        return series, handles
    for family, (color, marker) in family_styles(r.family for r in records).items():
        members = [r for r in records if r.family == family]
        size = 12.0 if family == HIGHLIGHT else 7.0
        series.append((color, marker, size, members))
        handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=size,
                              color=color, label=text(family, 30)))
    return series, handles


def roofline_figure(run: Any) -> Figure:
    """Achieved MAC/s against arithmetic intensity (log-log) under the run's measured ceilings
    (``run.roofline``): the peak, one roof per cache level (a band over its ladder of working
    sets), and each record's own bound; without ceilings, the figure says so."""
    run = as_run(run)
    ceilings = run.roofline or None
    records = [r for r in run.records if r.status == "ok" and positive(r.achieved_flops)
               and intensity(r) is not None]
    figure = new_figure(10.5, 6.4)
    ax = figure.add_subplot()
    xs = [intensity(r) for r in records]
    ys = [r.achieved_flops / 1e9 for r in records]
    by_record = {id(r): (x, y) for r, x, y in zip(records, xs, ys)}
    series, handles = _series(run.suite, records)
    for color, marker, size, members in series:
        points = [by_record[id(r)] for r in members]
        ax.plot([p[0] for p in points], [p[1] for p in points], linestyle="none",
                marker=marker, color=color, markersize=size,
                markeredgecolor="black" if size > 7 else "white",
                markeredgewidth=0.6 if size > 7 else 0.5, zorder=4, gid="points")
    error_bars(ax, records, xs, ys, "achieved_flops", "y", scale=1e-9)
    notes = []
    x_range = [v for v in xs if positive(v)] or [1.0, 100.0]
    low, high = log_limits(x_range, 0.5)
    y_values = list(ys)
    if ceilings:
        peak = ceilings.get("peak_macs_per_s")
        grid = np.logspace(np.log10(low), np.log10(high), 200)
        if positive(peak):
            ax.axhline(peak / 1e9, color="black", linewidth=1.4, zorder=2, gid="peak")
            handles.append(Line2D([], [], color="black", linewidth=1.4,
                                  label=f"peak {number(peak / 1e9)} GMAC/s "
                                        f"({text(ceilings.get('peak_kernel'), 30)})"))
            y_values.append(peak / 1e9)
        for level in ceilings.get("levels") or ():
            values = level_bandwidths(level)
            if not values:
                continue
            name = text(level.get("level"), 10)
            color = LEVEL_COLORS.get(level.get("level"), "0.4")

            def roof(bandwidth: float) -> np.ndarray:
                out = grid * bandwidth / 1e9
                return np.minimum(out, peak / 1e9) if positive(peak) else out

            ax.plot(grid, roof(values[-1]), color=color, linewidth=1.1, zorder=2,
                    gid=f"roof:{level.get('level')}")
            if len(values) > 1:
                ax.fill_between(grid, roof(values[0]), roof(values[-1]), color=color,
                                alpha=0.12, linewidth=0, zorder=1)
            span = number(values[-1] / 1e9) if len(values) == 1 else \
                f"{number(values[0] / 1e9)}–{number(values[-1] / 1e9)}"
            handles.append(Line2D([], [], color=color, linewidth=1.1,
                                  label=f"{name} copy roof, {span} GB/s"))
            y_values.append(roof(values[0])[0])
        bounds = [(x, r.roofline_bound / 1e9) for r, x in zip(records, xs)
                  if positive(r.roofline_bound)]
        if bounds:
            ax.plot([b[0] for b in bounds], [b[1] for b in bounds], linestyle="none",
                    marker="_", markersize=12, markeredgewidth=1.6, color="0.25", zorder=3,
                    gid="bounds")
            handles.append(Line2D([], [], linestyle="none", marker="_", markersize=12,
                                  markeredgewidth=1.6, color="0.25",
                                  label="each record's bound (its level's roof)"))
        above = [r for r in records if positive(r.roofline_fraction) and r.roofline_fraction > 1]
        if above:
            notes.append(f"{len(above)} record(s) above their roof ("
                         + ", ".join(text(r.name, 30) for r in above[:4])
                         + "): the accounting or a ceiling is wrong.")
        measured = text(str(ceilings.get("measured_at") or "?")[:16].replace("T", " "), 20)
        notes.append(f"Ceilings measured {measured} UTC by fnbench roofline: peak = the best "
                     "kernel's MAC/s; a level's roof = MAC/byte x its copy bandwidth (band: "
                     "its ladder of working sets).")
        if ceilings.get("sizes") == "quick":
            notes.append("QUICK SIZES: these ceilings are not the machine's.")
        if any(str(n).startswith("the machine was busy") for n in ceilings.get("notes") or ()):
            notes.append("The machine was busy while the ceilings were measured: they may be "
                         "low.")
    else:
        ax.text(0.5, 0.97, "\n".join(textwrap.wrap(NO_CEILINGS, 80)), transform=ax.transAxes,
                ha="center", va="top", fontsize=LABEL, gid="no-ceilings",
                bbox=dict(boxstyle="round,pad=0.4", facecolor="#fff4e0", edgecolor="#d08000"))
    log_axis(ax, "x", (low, high))
    y_low, y_high = log_limits([v for v in y_values if positive(v)], 0.15)
    log_axis(ax, "y", (y_low, y_high * (3.0 if not ceilings else 1.0)))
    ax.set_xlabel("arithmetic intensity, MAC/byte (multiply-accumulates per byte moved; log "
                  "scale)", fontsize=LABEL)
    ax.set_ylabel("achieved GFLOPS (10⁹ MAC/s; log scale)", fontsize=LABEL)
    ax.set_title(f"Roofline: {where(run)}", fontsize=TITLE)
    style_axes(ax)
    if not records:
        ax.text(0.5, 0.5, "no record with an achieved FLOPS and a memory access",
                transform=ax.transAxes, ha="center", fontsize=LABEL, gid="message")
    figure.legend(handles=handles, loc="outside right upper", fontsize=NOTE, frameon=False)
    footnote(figure, notes + ["Error bars: each record's 95% re-run interval (none for runs "
                              "without one)."])
    freeze_layout(figure)
    if run.suite != "ops" and records:  # operators are told apart by colour and marker
        from fnbench.figures.models import model_label

        half = {id(r): size / 2 for _, _, size, members in series for r in members}
        order = sorted(range(len(records)), key=lambda i: records[i].family != HIGHLIGHT)
        boxes = [t for t in ax.texts if t.get_gid() == "no-ceilings"]
        place_labels(ax, [(xs[i], ys[i], half[id(records[i])]) for i in order],
                     [model_label(records[i]) for i in order],
                     markers=[(x, y, half[id(r)]) for r, x, y in zip(records, xs, ys)],
                     obstacles=boxes, bold=[records[i].family == HIGHLIGHT for i in order])
    return figure


__all__ = ["NO_CEILINGS", "intensity", "level_bandwidths", "roofline_figure"]
