"""``fnbench compare`` output: a rich table, Markdown for a pull-request comment, or JSON.

Strings from the runs (names, keys, errors, paths) are printed verbatim in the table and
escaped in Markdown. Torch-free.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from fnbench.compare import (FORMAT, Comparison, Row, Side, SideSpread, busy,
                             reference_latency)
from fnbench.errors import printable
from fnbench.records import Run
from fnbench.report.table import TextTable, render_rich as render_table

#: Characters escaped with a backslash in Markdown (GitHub-flavoured: every ASCII punctuation
#: character may be escaped); line breaks become spaces.
MD_SPECIAL = frozenset("\\`*_[]<>|#&~!")


def md_escape(text: Any) -> str:
    """``text`` as literal Markdown on one line: pipes, backticks, emphasis, links and HTML
    escaped, line breaks made spaces."""
    one_line = printable(" ".join(str(text).splitlines()))
    return "".join("\\" + c if c in MD_SPECIAL else c for c in one_line)


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4g}"


def _ratio(row: Row) -> str:
    return "–" if row.ratio is None else f"{row.ratio:.3f}"


def _interval(row: Row) -> str:
    if row.low is None or row.high is None:
        return "–"
    return f"{row.low:.3f}–{row.high:.3f}"


def _threshold(row: Row) -> str:
    return "–" if row.ratio is None else f"{row.threshold * 100:g}%"


def _describe_run(file: Path, run: Run) -> str:
    from fnbench.report.status import run_state

    git = ((run.environment or {}).get("fnbench") or {}).get("git") or {}
    commit = git.get("commit")
    where = f", commit {commit[:10]}{' (dirty)' if git.get('dirty') else ''}" if commit else ""
    data = run.to_dict()
    if not run.planned and run.upgraded_from == "fnbench.run/1":
        data["planned"] = None  # fnbench 0.1 recorded no plan
    state = run_state(data)
    return (f"{file} ({run.upgraded_from or run.schema}; {state.status}, {state.counts()}; "
            f"started {run.started}{where})")


def _describe_spread(spread: SideSpread) -> str:
    return f"{spread.sd * 100:.1f}% ({spread.source}; df {spread.df})"


def header_lines(comparison: Comparison) -> list[str]:
    """What was compared, how, and what differs between the runs (plain text)."""
    what = ("relative latency (to each run's reference workload)" if comparison.relative
            else "latency (ms)")
    thresholds = comparison.thresholds
    rules = (f"; {len(thresholds.rules)} override(s) from {thresholds.source}"
             if thresholds.source else "")
    lines = [f"NEW vs BASE, {what}; threshold {thresholds.default * 100:g}%{rules}"]
    for side in (comparison.base, comparison.new):
        for file, run in zip(side.files, side.runs):
            lines.append(f"{side.label}: {_describe_run(file, run)}")
    base, new = comparison.spreads
    lines.append(f"run-to-run spread: BASE {_describe_spread(base)}, NEW "
                 f"{_describe_spread(new)}")
    ref_base, ref_new = reference_latency(comparison.base), reference_latency(comparison.new)
    if ref_base and ref_new:
        lines.append(f"reference workload: BASE {ref_base:.4g} ms, NEW {ref_new:.4g} ms "
                     f"({ref_new / ref_base:.3f}x: how much the machine itself moved)")
    for difference in comparison.differences:
        lines.append(f"fingerprint differs: {difference.text()}")
    for side in (comparison.base, comparison.new):
        for file, run in zip(side.files, side.runs):
            load = busy(run)
            if load:
                lines.append(f"busy machine: {side.label} {file} started at load "
                             f"{load[0]:.1f} on {load[1]} CPUs; its run-to-run spread is "
                             "likely wider than recorded (expect false alarms)")
    for pattern in comparison.unused_rules:
        lines.append(f"threshold rule {pattern!r} applied to no record")
    return [_plain(line) for line in lines]


def _columns(comparison: Comparison) -> tuple[list[str], bool]:
    unit = "" if comparison.relative else " ms"
    several_modes = len({r.mode for r in comparison.rows}) > 1
    columns = ["verdict", "workload", *(["mode"] if several_modes else []), f"BASE{unit}",
               f"NEW{unit}", "NEW/BASE", "95% CI", "threshold", "note"]
    return columns, several_modes


def _cells(row: Row, several_modes: bool) -> list[str]:
    return [row.verdict, row.name, *([row.mode] if several_modes else []), _number(row.base),
            _number(row.new), _ratio(row), _interval(row), _threshold(row), row.reason or ""]


def _plain(cell: str) -> str:
    """A cell as one line of plain terminal text: line breaks made spaces, controls escaped."""
    return printable(" ".join(cell.splitlines()))


FOOTNOTE = ("NEW/BASE is the ratio of the estimates with its 95% confidence interval, from each "
            "run's rounds and the machine's run-to-run spread; slower/faster: the whole interval "
            "lies beyond the threshold; noisy: too wide to decide at the threshold "
            "(see README, Comparing runs and CI)")


def render_rich(comparison: Comparison, width: int | None = None) -> tuple[list[str], Table]:
    """The summary and header lines, and the table for a terminal ``width`` cells wide (None:
    any width): where it does not fit, the note, threshold and the sides' estimates are left
    out in that order (the caption says which), never the verdict, the name or the ratio."""
    columns, several_modes = _columns(comparison)
    kinds = ["fixed", "text", *(["fixed"] if several_modes else []), "number", "number",
             "number", "number", "number", "words"]
    text = TextTable(title="fnbench compare", columns=columns,
                     rows=[[_plain(cell) for cell in _cells(row, several_modes)]
                           for row in comparison.ordered_rows()],
                     notes=[FOOTNOTE], drop_order=["note", "threshold", *(
                         c for c in columns if c.startswith(("BASE", "NEW "))), "95% CI"],
                     kinds=kinds)
    table = render_table(text, width, complete_in="--format md and --format json show")
    return [comparison.summary(), *header_lines(comparison)], table


def render_markdown(comparison: Comparison) -> str:
    """Markdown for a pull-request comment: the summary line first, then what was compared,
    a table of everything but the unchanged records, and those folded away."""
    columns, several_modes = _columns(comparison)
    lines = [md_escape(comparison.summary()), ""]
    lines += [f"- {md_escape(line)}" for line in header_lines(comparison)]

    def table(rows: list[Row]) -> list[str]:
        out = ["| " + " | ".join(md_escape(c) for c in columns) + " |",
               "|" + "|".join("---" for _ in columns) + "|"]
        for row in rows:
            cells = [md_escape(c) for c in _cells(row, several_modes)]
            if row.verdict in ("slower", "errored"):
                cells[0] = f"**{cells[0]}**"
            out.append("| " + " | ".join(cells) + " |")
        return out

    rows = comparison.ordered_rows()
    shown = [r for r in rows if r.verdict != "unchanged"]
    unchanged = [r for r in rows if r.verdict == "unchanged"]
    if shown:
        lines += ["", *table(shown)]
    if unchanged:
        lines += ["", f"<details><summary>{len(unchanged)} unchanged</summary>", "",
                  *table(unchanged), "", "</details>"]
    lines += ["", md_escape(FOOTNOTE)]
    return "\n".join(lines) + "\n"


def _side(side: Side, spread: SideSpread) -> dict[str, Any]:
    runs = []
    for file, run in zip(side.files, side.runs):
        git = ((run.environment or {}).get("fnbench") or {}).get("git") or {}
        runs.append({"path": str(file), "schema": run.upgraded_from or run.schema,
                     "status": run.status, "started": run.started, "suite": run.suite,
                     "device": run.device, "runtime": run.runtime, "threads": run.threads,
                     "fnbench_version": run.fnbench_version, "commit": git.get("commit"),
                     "busy": busy(run) is not None})
    return {"runs": runs, "spread": spread.to_dict()}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison as the documented JSON object (format ``fnbench.compare/1``)."""
    thresholds = comparison.thresholds
    return _finite({
        "format": FORMAT, "summary": comparison.summary(), "counts": comparison.counts(),
        "exit_code": comparison.exit_code,
        "measure": "relative_latency" if comparison.relative else "latency_ms",
        "unit": comparison.unit, "threshold": thresholds.default,
        "thresholds_file": thresholds.source,
        "threshold_rules": [{"pattern": p, "threshold": v} for p, v in thresholds.rules],
        "unused_threshold_rules": list(comparison.unused_rules),
        "base": _side(comparison.base, comparison.spreads[0]),
        "new": _side(comparison.new, comparison.spreads[1]),
        "reference_ms": {"base": reference_latency(comparison.base),
                         "new": reference_latency(comparison.new)},
        "fingerprint_differences": [d.to_dict() for d in comparison.differences],
        "records": [row.to_dict() for row in comparison.ordered_rows()]})


def render_json(comparison: Comparison) -> str:
    return json.dumps(to_json(comparison), indent=1) + "\n"
