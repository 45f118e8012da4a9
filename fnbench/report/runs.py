"""The table of a saved run: its records joined with the paper, its suite's columns, its title,
status and notes. Reads run files only (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from fnbench.errors import UsageError
from fnbench.published import CITATION, PAPER_HARDWARE
from fnbench.records import Run
from fnbench.report.columns import SUITES, Layout
from fnbench.report.join import JoinedRow, join_run
from fnbench.report.roofline import roof_notes
from fnbench.report.status import run_state
from fnbench.report.table import TextTable

FLOPS_NOTE = ("FLOPs are MACs per sample, as in the paper; GFLOPS = 1e9 MAC/s; latency per call "
              "is the geometric mean of the round medians; ±95% is the 95% re-run interval "
              "(where a repeat on this machine is expected to land), from the variation "
              "between rounds and the machine's run-to-run spread; * = not converged")


def _title(suite: str, rows: Sequence[JoinedRow]) -> str:
    """'fnbench ops on cpu (torch, 1 thread(s), latency batch 1)'."""
    device = rows[0].get("device") if rows else "cpu"
    runtimes = ", ".join(sorted({row.get("runtime") for row in rows}))
    threads = ", ".join(str(t) for t in sorted({row.get("threads") for row in rows}))
    batches = ", ".join(f"{mode} batch {batch}" for mode, batch in
                        {row.get("mode"): row.get("batch") for row in rows}.items())
    precision = "".join(f", {d}" for d in sorted({row.get("dtype") for row in rows})
                        if d != "fp32")
    return (f"fnbench {suite} on {device} ({runtimes}, {threads} thread(s){precision}, "
            f"{batches})")


def compile_note(records: Sequence[Mapping[str, Any]]) -> str | None:
    """A footnote on torch.compile's compile times (notes ``compile_s``), or None."""
    times = {f"{r['name']} ({r['mode']})": r["notes"]["compile_s"] for r in records
             if (r.get("notes") or {}).get("compile_s") is not None}
    if not times:
        return None
    slowest = max(times, key=times.get)
    return (f"torch.compile: {len(times)} workload(s) compiled in {sum(times.values()):.1f} s "
            f"in all (slowest {slowest}: {times[slowest]:.1f} s), before timing: no latency "
            "includes it")


def _notes(data: Mapping[str, Any], rows: Sequence[JoinedRow], layout: Layout) -> list[str]:
    """The columns' meaning, the paper's source, errors, the suite's notes, the roofline, the
    compile times, the run-to-run spread and an older format, in that order."""
    suite = SUITES[data["suite"]]
    notes = [FLOPS_NOTE]
    if layout.paper_unit:
        device = rows[0].get("device")
        notes.append(f"paper column: {CITATION} {suite.paper_source} on "
                     f"{PAPER_HARDWARE[device]} (PyTorch eager), as published, not measured "
                     "here")
    notes += [f"{row['name']} ({row['mode']}): {row.get('error')}" for row in rows
              if row.get("status") != "ok"]
    for note in suite.notes:
        notes += note(rows)
    if layout.roofline:
        notes += roof_notes(rows, data.get("roofline"))
    compiled = compile_note(list(data.get("records") or ()))
    if compiled:
        notes.append(compiled)
    spread = (data.get("settings") or {}).get("spread")
    if spread:
        notes.append(spread_note(spread))
    if data.get("upgraded_from"):
        notes.append(f"written by an older fnbench (schema "
                     f"{data['upgraded_from'].rsplit('/', 1)[-1]}): its interval did not "
                     "take the run-to-run spread and did not describe a re-run, so none "
                     "is shown (kept in run.json)")
    return notes


def spread_note(spread: Mapping[str, Any]) -> str:
    """How the run-to-run spread behind the intervals was known."""
    sd, runs = spread.get("sd"), spread.get("runs", 0)
    basis = (f"{runs} earlier run(s) on this machine and a prior" if runs
             else "the prior alone (no earlier runs on this machine yet; intervals narrow as "
                  "runs accumulate)")
    return (f"run-to-run spread: {sd * 100:.1f}% (standard deviation of an estimate between "
            f"runs) from {basis}")


def run_table(run: Run | Mapping[str, Any], format: str = "table") -> TextTable:
    """The table of a saved run in ``format`` (table, md, csv or html: the csv has a few more
    columns), after the run's status."""
    data = run.to_dict() if isinstance(run, Run) else run
    if data.get("suite") not in SUITES:
        raise ValueError(f"no table layout for suite {data.get('suite')!r}")
    rows = join_run(data)
    layout = Layout.of(rows)
    columns = SUITES[data["suite"]].layout_columns(layout, format)
    ordered = sorted((c for c in columns if c.drop is not None), key=lambda c: c.drop)
    return TextTable(
        title=_title(data["suite"], rows), columns=[c.header for c in columns],
        rows=[[c.cell(row) for c in columns] for row in rows], notes=_notes(data, rows, layout),
        status=run_state(data).lines() if "status" in data else [],
        drop_order=[c.header for c in ordered], kinds=[c.kind for c in columns],
        keys=[c.name for c in columns], values=[[c.value(row) for c in columns] for row in rows])


def reportable_run(path: Path | str) -> dict[str, Any]:
    """The run at ``path`` if it has a table to show; UsageError naming the problem and the
    fix otherwise (see :func:`fnbench.results.load_run`; a run without records has none)."""
    from fnbench.results import load_run

    data = load_run(path)
    if not data["records"]:
        state = run_state(data)
        raise UsageError(f"{path} has no records ({state.status}, {state.counts()}): nothing "
                         "to report; rerun the benchmark")
    return data
