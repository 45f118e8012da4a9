"""Tables from saved records."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from fnbench.report.runs import run_table
from fnbench.report.table import render_markdown, render_rich


def _record(mode="latency", status="ok", converged=True, **meta):
    meta = {"op": "dwconv", "label": "dwconv3x3", "channels": 768, "height": 7, "width": 7,
            "layers": 10, "ratio": None, "groups": 768, "impl": None, **meta}
    return {"name": "x", "suite": "ops", "family": "operator", "device": "cpu",
            "runtime": "torch", "mode": mode, "batch": 1, "threads": 1, "flops": 3.38688e6,
            "params": 1, "memory_bytes": 3.3e6, "latency_ms": 0.5, "latency_p90_ms": 0.6,
            "throughput": 2000.0, "achieved_flops": 6.77e9, "status": status,
            "error": None if status == "ok" else "RuntimeError: boom",
            "latency_lo_ms": 0.49, "latency_hi_ms": 0.52, "converged": converged,
            "meta": meta}


def test_ops_table_puts_the_paper_beside_the_measurement():
    table = run_table({"suite": "ops", "records": [_record()]})
    row = dict(zip(table.columns, table.rows[0]))
    assert row["latency ms"] == "0.500" and row["paper ms"] == "0.68"
    assert row["GFLOPS"] == "6.77" and row["paper GFLOPS"] == "4.93"
    assert row["±95%"] == "±4.0%"
    assert any("as published" in note for note in table.notes)


def test_ops_table_marks_errors_and_unconverged_cases():
    table = run_table({"suite": "ops", "records": [
        _record(converged=False), _record(status="error", channels=96, height=56, width=56)]})
    assert table.rows[0][-1] == "not converged" and table.rows[0][5].endswith("*")
    assert table.rows[1][-1] == "error"
    assert any("RuntimeError: boom" in note for note in table.notes)


def test_paper_values_only_for_the_papers_mode():
    table = run_table({"suite": "ops", "records": [_record(mode="throughput")]})
    assert dict(zip(table.columns, table.rows[0]))["paper"] == "–"


def test_markdown_rendering_is_a_table():
    markdown = render_markdown(run_table({"suite": "ops", "records": [_record()]}))
    lines = markdown.splitlines()
    assert lines[0].startswith("# fnbench ops on cpu")
    assert lines[2].startswith("| operator | size |") and lines[3].startswith("|---|")
    assert lines[4].count("|") == lines[2].count("|")


def test_unknown_suite_has_no_layout():
    with pytest.raises(ValueError):
        run_table({"suite": "nope", "records": []})


def test_status_and_what_did_not_run_come_before_the_table():
    run = {"suite": "ops", "status": "interrupted", "interrupted_by": "SIGTERM",
           "planned": [{"name": "x", "mode": "latency"}, {"name": "y", "mode": "latency"}],
           "records": [_record()]}
    lines = render_markdown(run_table(run)).splitlines()
    assert lines[2] == "status: interrupted (SIGTERM), 1 of 2 planned record(s)"
    assert lines[4] == "not run (1): y (latency)"
    assert lines[6].startswith("| operator |")


def test_a_narrow_terminal_drops_columns_in_their_order_and_says_which():
    table = run_table({"suite": "ops", "records": [_record()]})
    console = Console(width=80, file=io.StringIO())
    console.print(render_rich(table, width=80))
    text = console.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "not shown at this width: mem MB, samples/s, paper GFLOPS (results.md" in text
    assert all(cell in text for cell in ("3.4", "0.500", "±4.0%", "0.68", "6.77"))
    assert "3.30" not in text and "4.93" not in text  # mem MB and paper GFLOPS
    wide = Console(width=200, file=io.StringIO())
    wide.print(render_rich(table, width=200))
    assert "not shown" not in wide.file.getvalue() and "3.30" in wide.file.getvalue()
