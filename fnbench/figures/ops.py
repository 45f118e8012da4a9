"""Figure of ops runs: achieved FLOPS per operator and feature map, measured beside the paper's
Table 1 (the paper's message: DWConv and GConv starve, PConv does not)."""

from __future__ import annotations

from typing import Any, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from fnbench.figures.base import (LABEL, NOTE, TICK, TITLE, as_run, error_bars, footnote,
                                  groups, mode_key, mode_words, new_figure, positive,
                                  ratio_range, say_nothing_to_plot, style_axes, text, where)
from fnbench.figures.labels import freeze_layout
from fnbench.records import Record
from fnbench.published import CITATION, PAPER_HARDWARE, table1_reference

#: Operator colours (by ``meta.op``); any other operator takes grey.
OP_COLORS = {"conv": "#1f77b4", "gconv": "#ff7f0e", "dwconv": "#9467bd", "pconv": "#d62728",
             "pwconv": "#2ca02c", "pconv_pwconv": "#8c564b"}
BAR = 0.4


def case_label(record: Record) -> str:
    """The operator as the tables name it: label, PConv's form unless split_cat, layers unless
    10 (escaped)."""
    meta = record.meta or {}
    label = str(meta.get("label") or meta.get("op") or record.name)
    if meta.get("impl") and meta["impl"] != "split_cat":
        label += f" ({meta['impl']})"
    if meta.get("layers") not in (None, 10):
        label += f" x{meta['layers']}"
    return text(label, 40)


def size_label(record: Record) -> str:
    """'96x56x56': channels x height x width (escaped)."""
    meta = record.meta or {}
    return text(f"{meta.get('channels')}x{meta.get('height')}x{meta.get('width')}", 24)


def _tick(record: Record) -> str:
    """A feature map on two lines, channels over height x width, so that ticks stay apart."""
    meta = record.meta or {}
    return text(f"{meta.get('channels')}\n{meta.get('height')}x{meta.get('width')}", 24)


def paper_gflops(record: Record) -> float | None:
    """The paper's Table 1 achieved GFLOPS for this case on this device's paper hardware, when
    the paper measured it in the record's mode; None otherwise."""
    meta = record.meta or {}
    try:
        reference = table1_reference(meta.get("label"), meta.get("channels"),
                                     meta.get("height"), meta.get("width"),
                                     meta.get("layers"), record.device)
    except (KeyError, TypeError, ValueError):
        return None
    if not reference or reference["mode"] != record.mode:
        return None
    return reference["gflops"]


def _ratios(records: Sequence[Record], measured: bool) -> list[float]:
    """PConv's achieved FLOPS over DWConv's at each feature map both ran at."""
    by_size: dict[str, dict[str, float]] = {}
    for record in records:
        value = record.achieved_flops / 1e9 if measured else paper_gflops(record)
        op = (record.meta or {}).get("op")
        if op in ("pconv", "dwconv") and positive(value):
            by_size.setdefault(size_label(record), {}).setdefault(op, value)
    return [v["pconv"] / v["dwconv"] for v in by_size.values() if len(v) == 2]


def operator_flops_figure(run: Any) -> Figure:
    """Achieved GFLOPS (10⁹ MAC/s) per operator and feature map: measured bars (with their
    95% re-run interval) beside the paper's published Table 1 bars; one panel per mode."""
    run = as_run(run)
    records = [r for r in run.records if r.status == "ok" and positive(r.achieved_flops)]
    panels = list(groups(records, mode_key).items())
    figure = new_figure(10.0, 0.9 + 4.6 * max(len(panels), 1))
    if not panels:
        return say_nothing_to_plot(figure,
                                   "No operator has an achieved FLOPS: nothing to plot.")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    hardware = PAPER_HARDWARE.get(run.device)
    any_paper = False
    for ax, ((mode, batch), plotted) in zip(axes, panels):
        cases = groups(plotted, case_label)
        x, centres, ticks, tick_labels = 0.0, [], [], []
        measured_x, measured_y, paper_x, paper_y, colors, order = [], [], [], [], [], []
        for case, members in cases.items():
            start = x
            for record in members:
                color = OP_COLORS.get((record.meta or {}).get("op"), "#7f7f7f")
                measured_x.append(x - BAR / 2)
                measured_y.append(record.achieved_flops / 1e9)
                colors.append(color)
                order.append(record)
                paper = paper_gflops(record)
                if paper is not None:
                    paper_x.append((x + BAR / 2, color))
                    paper_y.append(paper)
                ticks.append(x)
                tick_labels.append(_tick(record))
                x += 1.0
            centres.append(((start + x - 1.0) / 2, case))
            x += 0.6  # a gap between operators
        ax.bar(measured_x, measured_y, width=BAR, color=colors, edgecolor="white",
               linewidth=0.5, zorder=3, gid="measured")
        if paper_y:
            any_paper = True
            ax.bar([p[0] for p in paper_x], paper_y, width=BAR, color="white",
                   edgecolor=[p[1] for p in paper_x], hatch="////", linewidth=0.8, zorder=3,
                   gid="paper")
        error_bars(ax, order, measured_x, measured_y, "achieved_flops", "y", scale=1e-9)
        ax.set_xticks(ticks, tick_labels, fontsize=TICK - 1)
        # the operators under their feature maps: minor ticks at each group's centre
        ax.set_xticks([c for c, _ in centres], [case for _, case in centres], minor=True)
        ax.xaxis.remove_overlapping_locs = False  # a one-case operator sits on its major tick
        ax.tick_params(axis="x", which="minor", length=0, pad=30, labelsize=LABEL)
        for label in ax.get_xticklabels(minor=True):
            label.set_fontweight("bold")
        left, right = -0.7, x - 0.9
        if right - left < 8:  # few cases: keep bars as wide as in the full grid
            middle = (left + right) / 2
            left, right = middle - 4, middle + 4
        ax.set_xlim(left, right)
        ax.set_ylim(0, max(measured_y + paper_y) * 1.25)
        ax.set_ylabel("achieved GFLOPS\n(10⁹ multiply-accumulates/s)", fontsize=LABEL)
        ax.set_xlabel("feature map: channels, height x width", fontsize=LABEL)
        ax.set_title(f"Achieved FLOPS per operator: {where(run)} ({mode_words(mode, batch)})",
                     fontsize=TITLE)
        style_axes(ax)
        ax.grid(False, axis="x")
        handles = [Patch(facecolor="0.45", edgecolor="white",
                         label=f"measured here ({text(run.runtime, 20)})")]
        if paper_y:
            handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="////",
                                 label=f"paper, {hardware} (published)"))
        ax.legend(handles=handles, loc="upper right", fontsize=NOTE, framealpha=0.9)
        here, paper = _ratios(plotted, True), _ratios(plotted, False)
        if here:
            words = f"PConv / DWConv achieved FLOPS: {ratio_range(here)} here"
            if paper:
                words += f", {ratio_range(paper)} in the paper"
            ax.text(0.01, 0.97, words, transform=ax.transAxes, ha="left", va="top",
                    fontsize=NOTE, gid="ratio",
                    bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="0.7"))
    notes = ["FLOPs are counted as multiply-accumulates (MACs), as in the paper: 1 GFLOPS here "
             "= 10⁹ MAC/s. Error bars: each record's 95% re-run interval (none for runs "
             "without one)."]
    if any_paper:
        notes.append(f"Hatched: {CITATION}, Table 1, on {hardware}, as published (not "
                     "measured here).")
    footnote(figure, notes)
    freeze_layout(figure)
    return figure


__all__ = ["case_label", "operator_flops_figure", "paper_gflops"]
