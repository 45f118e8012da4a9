"""Figures of models runs: speed against published top-1 with its Pareto frontier (the paper's
Figure 1 on your hardware), and latency against FLOPs with their rank correlation."""

from __future__ import annotations

import math
from typing import Any, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fnbench.figures.base import (HIGHLIGHT, LABEL, NOTE, TITLE, as_run, as_runs, day,
                                  error_bars, family_styles, footnote, groups, interval_of,
                                  log_axis, log_limits, mode_key, mode_words, new_figure,
                                  positive, say_nothing_to_plot, style_axes, text, where)
from fnbench.figures.labels import freeze_layout, place_labels
from fnbench.records import Record, Run

#: Marker sizes (points): the highlighted family is drawn larger.
MARKER, HIGHLIGHT_MARKER = 7.0, 13.0
SPEED = {"latency": ("latency_ms", "latency per call, ms (log scale; lower is better)"),
         "throughput": ("throughput", "throughput, samples/s (log scale; higher is better)")}


def pareto_front(speed: Sequence[float], accuracy: Sequence[float],
                 higher_speed_is_better: bool = False) -> list[int]:
    """Indices of the Pareto set: the points no other point beats, that is, none is at least as
    fast and at least as accurate while strictly better in one of the two. Identical points are
    all in the set (none beats the other)."""
    sign = -1.0 if higher_speed_is_better else 1.0
    cost = [sign * s for s in speed]  # lower cost is better
    front = []
    for i, (ci, ai) in enumerate(zip(cost, accuracy)):
        beaten = any(cj <= ci and aj >= ai and (cj < ci or aj > ai)
                     for j, (cj, aj) in enumerate(zip(cost, accuracy)) if j != i)
        if not beaten:
            front.append(i)
    return front


def model_label(record: Record) -> str:
    """The paper's name of the model (meta ``model``), else the registry name; escaped."""
    return text((record.meta or {}).get("model") or record.name, 40)


def _draw_families(ax: Axes, records: Sequence[Record], xs: Sequence[float],
                   ys: Sequence[float], styles: dict[str, tuple[str, str]]) -> None:
    """One Line2D of markers per family (gid ``points:FAMILY``), the highlighted one on top."""
    by_family = groups(range(len(records)), lambda i: records[i].family)
    for family, (color, marker) in styles.items():
        index = by_family.get(family, [])
        if not index:
            continue
        big = family == HIGHLIGHT
        ax.plot([xs[i] for i in index], [ys[i] for i in index], linestyle="none",
                marker=marker, color=color, markersize=HIGHLIGHT_MARKER if big else MARKER,
                markeredgecolor="black" if big else "white",
                markeredgewidth=0.8 if big else 0.5, zorder=4 if big else 3,
                label=text(family, 30) + (" (highlighted)" if big else ""),
                gid=f"points:{family}")


def _label_order(records: Sequence[Record], first: Sequence[int] = ()) -> list[int]:
    """Highlighted family first, then ``first`` (the frontier), then the rest."""
    order = [i for i, r in enumerate(records) if r.family == HIGHLIGHT]
    order += [i for i in first if i not in order]
    return order + [i for i in range(len(records)) if i not in order]


def _label_points(ax: Axes, records: Sequence[Record], xs: Sequence[float],
                  ys: Sequence[float], styles: dict[str, tuple[str, str]],
                  order: Sequence[int], obstacles: Sequence[Any]) -> None:
    def half(record: Record) -> float:
        return (HIGHLIGHT_MARKER if record.family == HIGHLIGHT else MARKER) / 2

    place_labels(
        ax, [(xs[i], ys[i], half(records[i])) for i in order],
        [model_label(records[i]) for i in order],
        markers=[(x, y, half(r)) for x, y, r in zip(xs, ys, records)],
        obstacles=obstacles, colors=["black" if records[i].family == HIGHLIGHT else "0.2"
                                     for i in order],
        bold=[records[i].family == HIGHLIGHT for i in order])


def _speed_range(records: Sequence[Record], quantity: str) -> list[float]:
    values = []
    for record in records:
        values.append(getattr(record, quantity))
        values.extend(interval_of(record, quantity) or ())
    return values


def _panels(runs: Sequence[Run]) -> list[tuple[Run, str, int, list[Record], list[Record]]]:
    """(run, mode, batch, plotted records, records without a published top-1) per panel."""
    out = []
    for run in runs:
        ok = [r for r in run.records if r.status == "ok"]
        for (mode, batch), records in groups(ok, mode_key).items():
            quantity = SPEED.get(mode, SPEED["latency"])[0]
            with_speed = [r for r in records if positive(getattr(r, quantity))]
            plotted = [r for r in with_speed if positive((r.meta or {}).get("top1"))]
            missing = [r for r in with_speed if r not in plotted]
            out.append((run, mode, batch, plotted, missing))
    return out


def pareto_figure(runs: Any) -> Figure:
    """Speed (latency in latency mode, throughput in throughput mode; log axis) against
    published top-1, one panel per run and mode (device/runtime), with each model labelled,
    families as colours and markers, FasterNet highlighted and the Pareto frontier drawn.

    ``runs``: one run or several (typed ``Run``, ``load_run`` dicts or run directories)."""
    runs = as_runs(runs)
    panels = _panels(runs)
    titles = [f"{where(run)} ({mode_words(mode, batch)})" for run, mode, batch, _, _ in panels]
    if len(set(titles)) < len(titles):
        titles = [f"{t}, run of {day(p[0])}" for t, p in zip(titles, panels)]
    figure = new_figure(9.0, 0.8 + 5.6 * max(len(panels), 1))
    if not panels:
        return say_nothing_to_plot(figure, "No successful model records: nothing to plot.")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    styles = family_styles(r.family for p in panels for r in p[3])
    limits = {}  # one speed axis per quantity, shared by every panel that plots it
    for run, mode, batch, plotted, _ in panels:
        quantity = SPEED.get(mode, SPEED["latency"])[0]
        limits.setdefault(quantity, []).extend(_speed_range(plotted, quantity))
    top1 = [r.meta["top1"] for p in panels for r in p[3]]
    low, high = (min(top1), max(top1)) if top1 else (0.0, 100.0)
    pad = max((high - low) * 0.06, 0.5)
    to_label = []
    for ax, title, (run, mode, batch, plotted, missing) in zip(axes, titles, panels):
        quantity, axis_label = SPEED.get(mode, SPEED["latency"])
        higher = mode == "throughput"
        xs = [getattr(r, quantity) for r in plotted]
        ys = [float(r.meta["top1"]) for r in plotted]
        _draw_families(ax, plotted, xs, ys, styles)
        error_bars(ax, plotted, xs, ys, quantity, "x")
        front = pareto_front(xs, ys, higher)
        front.sort(key=lambda i: (xs[i], ys[i] if not higher else -ys[i]))
        if front:
            ax.plot([xs[i] for i in front], [ys[i] for i in front], color="0.25",
                    linestyle="--", linewidth=1.1, zorder=2.5, gid="frontier",
                    label="Pareto frontier (no model both faster and more accurate)")
        log_axis(ax, "x", log_limits(limits[quantity], 0.08))
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel(axis_label, fontsize=LABEL)
        ax.set_ylabel("ImageNet-1k top-1, % (published)", fontsize=LABEL)
        ax.set_title(f"Speed against published top-1: {title}", fontsize=TITLE)
        style_axes(ax)
        legend = ax.legend(loc="best", fontsize=NOTE, framealpha=0.9)
        if missing:
            names = ", ".join(text(r.name, 30) for r in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            ax.text(0.01, 0.01, f"not plotted, no published top-1: {names}{more}",
                    transform=ax.transAxes, fontsize=NOTE, color="0.35", gid="note")
        if not plotted:
            ax.text(0.5, 0.5, "no model with a published top-1", transform=ax.transAxes,
                    ha="center", fontsize=LABEL, gid="message")
        to_label.append((ax, plotted, xs, ys, front, legend))
    footnote(figure, [
        "top-1: published ImageNet-1k accuracy (the FasterNet paper's Tables 3 and 5, or the "
        "model's own paper), not measured by fnbench; speed: measured here.",
        "Error bars: each record's 95% re-run interval (none for runs without one). "
        "Frontier: the models that no other model beats on both speed and top-1."])
    freeze_layout(figure)
    for ax, plotted, xs, ys, front, legend in to_label:
        notes = [t for t in ax.texts if t.get_gid() == "note"]
        _label_points(ax, plotted, xs, ys, styles, _label_order(plotted, front),
                      [legend, *notes])
    return figure


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Spearman's rank correlation of ``x`` and ``y`` and its p-value; None with fewer than 3
    points or when a side is constant."""
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    result = spearmanr(x, y)
    rho, p = float(result.statistic), float(result.pvalue)
    return None if math.isnan(rho) else (rho, p)


def latency_flops_figure(run: Any) -> Figure:
    """Latency per call against FLOPs (MACs) per sample, one point per model (log-log), with
    Spearman's rank correlation printed on the plot; one panel per mode."""
    run = as_run(run)
    records = [r for r in run.records if r.status == "ok" and positive(r.latency_ms)
               and positive(r.flops)]
    panels = list(groups(records, mode_key).items())
    figure = new_figure(9.0, 0.8 + 5.6 * max(len(panels), 1))
    if not panels:
        return say_nothing_to_plot(
            figure, "No model has both a latency and a FLOP count: nothing to plot.")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    styles = family_styles(r.family for r in records)
    to_label = []
    for ax, ((mode, batch), plotted) in zip(axes, panels):
        xs = [r.flops / 1e9 for r in plotted]
        ys = [r.latency_ms for r in plotted]
        _draw_families(ax, plotted, xs, ys, styles)
        error_bars(ax, plotted, xs, ys, "latency_ms", "y")
        log_axis(ax, "x", log_limits(xs, 0.1))
        log_axis(ax, "y", log_limits(_speed_range(plotted, "latency_ms"), 0.1))
        ax.set_xlabel("FLOPs per sample, G (10⁹ multiply-accumulates, as in the paper; log "
                      "scale)", fontsize=LABEL)
        ax.set_ylabel(f"latency per call, ms (batch {batch}; log scale)", fontsize=LABEL)
        ax.set_title(f"Latency against FLOPs: {where(run)} ({mode_words(mode, batch)})",
                     fontsize=TITLE)
        style_axes(ax)
        correlation = spearman(xs, ys)
        if correlation is None:
            words = f"Spearman rank correlation: undefined (n = {len(xs)})"
        else:
            p = correlation[1]
            words = (f"Spearman rank correlation ρ = {correlation[0]:.2f} (n = {len(xs)}, "
                     + (f"p = {p:.3f})" if p >= 0.001 else "p < 0.001)"))
        box = ax.text(0.015, 0.975, words, transform=ax.transAxes, va="top", ha="left",
                      fontsize=LABEL, gid="spearman",
                      bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="0.6"))
        legend = ax.legend(loc="best", fontsize=NOTE, framealpha=0.9)
        to_label.append((ax, plotted, xs, ys, legend, box))
    footnote(figure, [
        "FLOPs: multiply-accumulates per sample, counted by fnbench; latency: time per call "
        "(geometric mean of round medians).",
        "Error bars: each record's 95% re-run interval. ρ ranks the models by FLOPs and by "
        "latency: 1 = FLOPs order them exactly as latency does."])
    freeze_layout(figure)
    for ax, plotted, xs, ys, legend, box in to_label:
        _label_points(ax, plotted, xs, ys, styles, _label_order(plotted), [legend, box])
    return figure


__all__ = ["latency_flops_figure", "model_label", "pareto_figure", "pareto_front", "spearman"]
