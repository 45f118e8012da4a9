"""Result tables built from a run's records, rendered for the terminal (rich) or as Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from fnbench.records import Run
from fnbench.results import records_frame
from fnbench.published import CITATION, PAPER_HARDWARE, model_reference, table1_reference
from fnbench.report.status import run_state

#: Columns of text that may wrap; every other column holds a number and never does.
TEXT_COLUMNS = ("operator", "model", "family", "status", "ceiling", "note", "layer")


@dataclass
class TextTable:
    """Headers, string cells and footnotes: one table, two renderings.

    ``status`` lines (the run's status, what did not run) come first; ``drop_order`` names the
    columns a narrow terminal may leave out, first dropped first.
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    drop_order: list[str] = field(default_factory=list)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, digits: int = 2, scale: float = 1.0) -> str:
    """A number scaled and rounded, or an en dash when there is none."""
    if _missing(value):
        return "–"
    return f"{float(value) * scale:,.{digits}f}"


def fmt_ci(row: pd.Series) -> str:
    """Relative half-width of the 95% re-run interval; '*' marks a case that did not converge."""
    median, lo, hi = (row.get(k) for k in ("latency_ms", "latency_lo_ms", "latency_hi_ms"))
    if any(_missing(v) for v in (median, lo, hi)) or median <= 0:
        return "–"
    star = "" if row.get("converged") in (True, 1, "True") else "*"
    return f"±{max(median - lo, hi - median) / median * 100:.1f}%{star}"


def _status(row: pd.Series, notes: list[str]) -> str:
    if row.get("status") != "ok":
        notes.append(f"{row['name']} ({row['mode']}): {row.get('error')}")
        return "error"
    return "ok" if row.get("converged") in (True, 1, "True") else "not converged"


def _paper_speed(ref: dict[str, Any] | None, row: pd.Series) -> tuple[str, str | None]:
    """The paper's number for this row's device when it measured in the row's mode."""
    if not ref or ref["mode"] != row["mode"]:
        return "–", None
    return fmt(ref["speed"], 0 if ref["unit"] == "fps" else 2), ref["unit"]


def _mode_cells(row: pd.Series, several_modes: bool) -> list[str]:
    return [f"{row['mode']} b{row['batch']}"] if several_modes else []


def _finish(table: TextTable, frame: pd.DataFrame, suite: str, paper_unit: str | None,
            paper_source: str) -> TextTable:
    """Title, the paper column's unit and the footnotes every suite's table shares."""
    device = frame["device"].iloc[0] if not frame.empty else "cpu"
    runtimes = ", ".join(sorted(set(frame["runtime"]))) if not frame.empty else ""
    threads = ", ".join(str(t) for t in sorted(set(frame["threads"]))) if not frame.empty else ""
    batches = ", ".join(f"{m} batch {b}" for m, b in
                        dict(zip(frame["mode"], frame["batch"])).items())
    dtypes = sorted(set(frame["dtype"])) if "dtype" in frame and not frame.empty else []
    precision = "".join(f", {d}" for d in dtypes if d != "fp32")
    table.title = (f"fnbench {suite} on {device} ({runtimes}, {threads} thread(s){precision}, "
                   f"{batches})")
    if paper_unit:
        table.columns[table.columns.index("paper")] = f"paper {paper_unit}"
        table.drop_order = [f"paper {paper_unit}" if c == "paper" else c
                            for c in table.drop_order]
        table.notes.insert(0, f"paper column: {CITATION} {paper_source} on "
                              f"{PAPER_HARDWARE[device]} (PyTorch eager), as published, not "
                              "measured here")
    table.notes.insert(0, "FLOPs are MACs per sample, as in the paper; GFLOPS = 1e9 MAC/s; "
                          "latency per call is the geometric mean of the round medians; ±95% "
                          "is the 95% re-run interval (where a repeat on this machine is "
                          "expected to land), from the variation between rounds and the "
                          "machine's run-to-run spread; * = not converged")
    return table


def ops_table(frame: pd.DataFrame) -> TextTable:
    """Table 1 layout: FLOPs, memory, latency, throughput, achieved FLOPS, with the paper's
    published number for the same device beside each measured one where the case is in its
    grid."""
    from fnbench.report.roofline import has_roofline, roof_cell

    several_modes = frame["mode"].nunique() > 1 if not frame.empty else False
    roof = has_roofline(frame)
    table = TextTable(title="", columns=(
        ["operator", "size"] + (["mode"] if several_modes else [])
        + ["FLOPs M", "mem MB", "latency ms", "±95%", "paper", "samples/s", "GFLOPS",
           "paper GFLOPS"] + (["% roof"] if roof else []) + ["status"]))
    paper_unit = None
    for _, row in frame.iterrows():
        ref = table1_reference(row.get("label"), row["channels"], row["height"], row["width"],
                               row["layers"], row["device"])
        paper, unit = _paper_speed(ref, row)
        paper_unit = paper_unit or unit
        label = row.get("label") or row["op"]
        if not _missing(row.get("impl")) and row["impl"] != "split_cat":
            label += f" ({row['impl']})"
        if row.get("layers") != 10:
            label += f" x{row['layers']}"
        table.rows.append(
            [label, f"{row['channels']}x{row['height']}x{row['width']}"]
            + _mode_cells(row, several_modes)
            + [fmt(row["flops"], 1, 1e-6), fmt(row["memory_bytes"], 2, 1e-6),
               fmt(row.get("latency_ms"), 3), fmt_ci(row), paper,
               fmt(row.get("throughput"), 0), fmt(row.get("achieved_flops"), 2, 1e-9),
               fmt(ref["gflops"]) if unit else "–"]
            + ([roof_cell(row)] if roof else []) + [_status(row, table.notes)])
    table.drop_order = ["mem MB", "samples/s", "paper GFLOPS", "% roof", "FLOPs M", "GFLOPS",
                        "±95%", "paper"]
    return _finish(table, frame, "ops", paper_unit, "Table 1")


def models_table(frame: pd.DataFrame) -> TextTable:
    """Table 3 layout: params, FLOPs, memory, latency, throughput, achieved FLOPS and the
    published top-1, with the paper's measured value for the same device beside ours."""
    from fnbench.report.roofline import has_roofline, roof_cell

    several_modes = frame["mode"].nunique() > 1 if not frame.empty else False
    roof = has_roofline(frame)
    table = TextTable(title="", columns=(
        ["model", "family", "res"] + (["mode"] if several_modes else [])
        + ["params M", "FLOPs G", "mem MB", "latency ms", "±95%", "paper", "samples/s",
           "GFLOPS"] + (["% roof"] if roof else []) + ["top-1", "status"]))
    paper_unit = None
    for _, row in frame.iterrows():
        ref = model_reference(None if _missing(row.get("paper_table")) else row["paper_table"],
                              None if _missing(row.get("paper_row")) else row["paper_row"],
                              row["device"])
        paper, unit = _paper_speed(ref, row)
        paper_unit = paper_unit or unit
        table.rows.append(
            [row["name"], row["family"], str(row["resolution"])]
            + _mode_cells(row, several_modes)
            + [fmt(row["params"], 2, 1e-6), fmt(row["flops"], 3, 1e-9),
               fmt(row["memory_bytes"], 1, 1e-6), fmt(row.get("latency_ms"), 2), fmt_ci(row),
               paper, fmt(row.get("throughput"), 1), fmt(row.get("achieved_flops"), 2, 1e-9)]
            + ([roof_cell(row)] if roof else [])
            + [fmt(row.get("top1"), 1), _status(row, table.notes)])
    if frame.get("uncounted_ops") is not None and (frame["uncounted_ops"].fillna("") != "").any():
        table.notes.append("ops fvcore has no formula for are not in FLOPs; each record lists "
                           "them (uncounted_ops in run.json and results.csv)")
    table.notes.append("top-1: published ImageNet-1k accuracy (source in run.json), not "
                       "measured here")
    table.drop_order = ["mem MB", "samples/s", "family", "res", "% roof", "GFLOPS", "params M",
                        "top-1",
                        "FLOPs G", "±95%", "paper"]
    return _finish(table, frame, "models", paper_unit, "Table 3 / Table 5")


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _compact_width(table: TextTable, index: int) -> int:
    """The narrowest width that splits no number: the widest cell (the longest word in a text
    column), or the longest word of the header."""
    text = table.columns[index] in TEXT_COLUMNS + ("mode",)
    cells = [_longest_word(row[index]) if text else cell_len(row[index]) for row in table.rows]
    return max([_longest_word(table.columns[index])] + cells)


def _fitting_columns(table: TextTable, width: int | None) -> tuple[list[int], list[int] | None]:
    """Indexes of the columns to show in ``width`` cells, and their widths (None: natural).

    Columns of ``drop_order`` go first dropped first until the rest fits; then any dropped one
    that still fits comes back, most important first.
    """
    every = list(range(len(table.columns)))
    natural = [max(cell_len(cell) for cell in [table.columns[i]] + [r[i] for r in table.rows])
               for i in every]
    compact = [_compact_width(table, i) for i in every]
    fits = lambda shown, widths: sum(widths[i] + 3 for i in shown) + 1 <= width  # noqa: E731
    if width is None or fits(every, natural):
        return every, None
    droppable = [table.columns.index(c) for c in table.drop_order if c in table.columns]
    shown, dropped = set(every), []
    for index in droppable:
        if fits(shown, compact):
            break
        shown.discard(index)
        dropped.append(index)
    for index in reversed(dropped):
        if fits(shown | {index}, compact):
            shown.add(index)
    spare = width - sum(compact[i] + 3 for i in shown) - 1
    for index in sorted(shown):  # text columns wrap less with what is left over
        grow = max(0, min(spare, natural[index] - compact[index]))
        compact[index] += grow
        spare -= grow
    return sorted(shown), [compact[i] for i in sorted(shown)]


def render_rich(table: TextTable, width: int | None = None,
                complete_in: str = "results.md and results.csv in the run directory have"
                ) -> Table:
    """A rich Table for a terminal ``width`` cells wide (None: any width).

    Every string is plain text, never markup. When the whole table does not fit, the columns
    of ``drop_order`` are left out until it does, and the caption says which (and, after
    ``complete_in``, where every column is); each column is then as wide as its widest number,
    so no number is ever wrapped or folded.
    """
    shown, widths = _fitting_columns(table, width)
    notes = list(table.notes)
    dropped = [c for i, c in enumerate(table.columns) if i not in shown]
    if dropped:
        notes.append(f"not shown at this width: {', '.join(dropped)} ({complete_in} every "
                     "column)")
    out = Table(title=Text(table.title), caption=Text("\n".join(notes)) if notes else None,
                caption_justify="left")
    for position, index in enumerate(shown):
        column = table.columns[index]
        text = column in TEXT_COLUMNS
        out.add_column(Text(column), justify="left" if text or column in ("size", "mode")
                       else "right", overflow="fold" if text else "ellipsis",
                       width=widths[position] if widths else None)
    for row in table.rows:
        out.add_row(*(Text(row[i]) for i in shown))
    return out


def render_markdown(table: TextTable) -> str:
    """A GitHub-flavoured Markdown table with its title, the run's status and footnotes."""
    escape = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = [f"# {table.title}", ""]
    for line in table.status:
        lines += [line, ""]
    lines += ["| " + " | ".join(map(escape, table.columns)) + " |",
              "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def compile_note(records: list[dict[str, Any]]) -> str | None:
    """A footnote on torch.compile's compile times (notes ``compile_s``), or None."""
    times = {f"{r['name']} ({r['mode']})": r["notes"]["compile_s"] for r in records
             if (r.get("notes") or {}).get("compile_s") is not None}
    if not times:
        return None
    slowest = max(times, key=times.get)
    return (f"torch.compile: {len(times)} workload(s) compiled in {sum(times.values()):.1f} s "
            f"in all (slowest {slowest}: {times[slowest]:.1f} s), before timing: no latency "
            "includes it")


def run_table(run: Run | dict[str, Any]) -> TextTable:
    """The table of a saved run, in its suite's layout, after the run's status."""
    from fnbench.report.roofline import has_roofline, roof_notes

    data = run.to_dict() if isinstance(run, Run) else run
    suite = data.get("suite")
    frame = records_frame(data)
    if suite == "ops":
        table = ops_table(frame)
    elif suite == "models":
        table = models_table(frame)
    else:
        raise ValueError(f"no table layout for suite {suite!r}")
    if has_roofline(frame):
        table.notes += roof_notes(frame, data.get("roofline"))
    note = compile_note(list(data.get("records") or ()))
    if note:
        table.notes.append(note)
    if "status" in data:
        table.status = run_state(data).lines()
    spread = (data.get("settings") or {}).get("spread")
    if spread:
        table.notes.append(spread_note(spread))
    if data.get("upgraded_from"):
        table.notes.append(f"written by an older fnbench (schema "
                           f"{data['upgraded_from'].rsplit('/', 1)[-1]}): its interval did not "
                           "take the run-to-run spread and did not describe a re-run, so none "
                           "is shown (kept in run.json)")
    return table


def spread_note(spread: dict[str, Any]) -> str:
    """How the run-to-run spread behind the intervals was known."""
    sd, runs = spread.get("sd"), spread.get("runs", 0)
    basis = (f"{runs} earlier run(s) on this machine and a prior" if runs
             else "the prior alone (no earlier runs on this machine yet; intervals narrow as "
                  "runs accumulate)")
    return (f"run-to-run spread: {sd * 100:.1f}% (standard deviation of an estimate between "
            f"runs) from {basis}")
