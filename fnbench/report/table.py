"""Result tables built from a run's records, rendered for the terminal (rich) or as Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.table import Table

from fnbench.results import records_frame
from fnbench.report.paper import CITATION, PAPER_HARDWARE, table1_reference


@dataclass
class TextTable:
    """Headers, string cells and footnotes: one table, two renderings."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, digits: int = 2, scale: float = 1.0) -> str:
    """A number scaled and rounded, or an en dash when there is none."""
    if _missing(value):
        return "–"
    return f"{float(value) * scale:,.{digits}f}"


def fmt_ci(row: pd.Series) -> str:
    """Relative half-width of the median's 95% CI; '*' marks a case that did not converge."""
    median, lo, hi = (row.get(k) for k in ("latency_ms", "latency_ci_low_ms",
                                             "latency_ci_high_ms"))
    if any(_missing(v) for v in (median, lo, hi)) or median <= 0:
        return "–"
    star = "" if row.get("converged") in (True, 1, "True") else "*"
    return f"±{max(median - lo, hi - median) / median * 100:.1f}%{star}"


def _status(row: pd.Series, notes: list[str]) -> str:
    if row.get("status") != "ok":
        notes.append(f"{row['name']} ({row['mode']}): {row.get('error')}")
        return "error"
    return "ok" if row.get("converged") in (True, 1, "True") else "not converged"


def ops_table(frame: pd.DataFrame) -> TextTable:
    """Table 1 layout: FLOPs, memory, latency, throughput, achieved FLOPS, with the paper's
    published number for the same device beside each measured one where the case is in its
    grid."""
    device = frame["device"].iloc[0] if not frame.empty else "cpu"
    modes = list(dict.fromkeys(frame["mode"])) if not frame.empty else []
    several_modes = len(modes) > 1
    table = TextTable(title="", columns=(
        ["operator", "size"] + (["mode"] if several_modes else [])
        + ["FLOPs M", "mem MB", "latency ms", "±CI", "paper", "samples/s", "GFLOPS",
           "paper GFLOPS", "status"]))
    paper_unit = None
    for _, row in frame.iterrows():
        ref = table1_reference(row.get("label"), row["channels"], row["height"], row["width"],
                               row["layers"], row["device"])
        paper, paper_gflops = "–", "–"
        if ref and ref["mode"] == row["mode"]:
            paper_unit = ref["unit"]
            paper = fmt(ref["speed"], 0 if ref["unit"] == "fps" else 2)
            paper_gflops = fmt(ref["gflops"])
        label = row.get("label") or row["op"]
        if not _missing(row.get("impl")) and row["impl"] != "split_cat":
            label += f" ({row['impl']})"
        if row.get("layers") != 10:
            label += f" x{row['layers']}"
        cells = [label, f"{row['channels']}x{row['height']}x{row['width']}"]
        if several_modes:
            cells.append(f"{row['mode']} b{row['batch']}")
        cells += [fmt(row["flops"], 1, 1e-6), fmt(row["memory_bytes"], 2, 1e-6),
                  fmt(row.get("latency_ms"), 3), fmt_ci(row), paper,
                  fmt(row.get("throughput"), 0), fmt(row.get("achieved_flops"), 2, 1e-9),
                  paper_gflops, _status(row, table.notes)]
        table.rows.append(cells)
    runtimes = ", ".join(sorted(set(frame["runtime"]))) if not frame.empty else ""
    threads = ", ".join(str(t) for t in sorted(set(frame["threads"]))) if not frame.empty else ""
    batches = ", ".join(f"{m} batch {b}" for m, b in
                        dict(zip(frame["mode"], frame["batch"])).items()) if modes else ""
    table.title = f"fnbench ops on {device} ({runtimes}, {threads} thread(s), {batches})"
    paper_column = table.columns.index("paper")
    if paper_unit:
        table.columns[paper_column] = f"paper {paper_unit}"
        table.notes.insert(0, f"paper columns: {CITATION} Table 1 on {PAPER_HARDWARE[device]}, "
                              "as published, not measured here")
    table.notes.insert(0, "FLOPs are MACs per sample, as in the paper; GFLOPS = 1e9 MAC/s; "
                          "latency is the median per call, ±CI the 95% CI of the median; "
                          "* = not converged")
    return table


def render_rich(table: TextTable) -> Table:
    """A rich Table for the terminal."""
    out = Table(title=table.title, caption="\n".join(table.notes) or None, caption_justify="left")
    for column in table.columns:
        numeric = column not in ("operator", "size", "mode", "status", "model", "family")
        out.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in table.rows:
        out.add_row(*row)
    return out


def render_markdown(table: TextTable) -> str:
    """A GitHub-flavoured Markdown table with its title and footnotes."""
    escape = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = [f"# {table.title}", "", "| " + " | ".join(map(escape, table.columns)) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def run_table(run: dict[str, Any]) -> TextTable:
    """The table of a saved run, in its suite's layout."""
    suite = run.get("suite")
    if suite == "ops":
        return ops_table(records_frame(run))
    raise ValueError(f"no table layout for suite {suite!r}")
