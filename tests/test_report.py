"""Tables from saved records."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from rich.console import Console

from conftest import REPO
from fnbench.report.columns import SUITES, Suite, number, text
from fnbench.report.join import join_record, join_run
from fnbench.report.runs import run_table
from fnbench.report.table import KINDS, render_csv, render_html, render_markdown, render_rich
from fnbench.results import load_run, read_run

REFERENCE = REPO / "results" / "reference"


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


def _model(paper_table=None, paper_row=None, device="cpu", mode="latency", latency_ms=8.0,
           **meta):
    return {"name": "m", "suite": "models", "family": "FasterNet", "device": device,
            "runtime": "torch", "mode": mode, "batch": 1, "threads": 1, "flops": 0.34e9,
            "params": 3.9e6, "memory_bytes": 55e6, "latency_ms": latency_ms,
            "throughput": 1e3 / latency_ms, "achieved_flops": 0.34e12 / latency_ms,
            "status": "ok", "converged": True,
            "meta": {"resolution": 224, "paper_table": paper_table, "paper_row": paper_row,
                     **meta}}


def test_join_carries_the_papers_numbers_for_the_same_case_and_device():
    row = join_record(_record())  # DWConv 768x7x7 x10: 0.5 ms and 6.77 GFLOPS here
    # Table 1 on the i9-9900X: 3.38 M FLOPs, 0.68 ms, 4.93 GFLOPS
    assert (row.paper_speed, row.paper_unit, row.paper_gflops) == (0.68, "ms", 4.93)
    assert (row.published.source, row.published.hardware) == ("Table 1", "Intel i9-9900X")
    assert row.published.flops == pytest.approx(3.38e6)
    assert row.speed_ratio == pytest.approx(0.5 / 0.68)
    assert row.gflops_ratio == pytest.approx(6.77 / 4.93)
    assert row.to_dict()["paper_speed"] == 0.68 and row.to_dict()["label"] == "dwconv3x3"


def test_join_leaves_out_another_mode_another_grid_and_compares_fps_on_the_gpu():
    throughput = join_record(_record(mode="throughput"))
    assert throughput.published is not None  # the case is in Table 1 ...
    assert throughput.paper_speed is throughput.speed_ratio is None  # ... in latency mode
    assert join_record(_record(layers=5)).published is None
    assert join_record(_record(channels=100)).published is None
    gpu = join_record({**_record(mode="throughput"), "device": "cuda", "throughput": 5000.0})
    assert (gpu.published.hardware, gpu.paper_unit) == ("RTX 2080Ti", "fps")
    assert gpu.measured_speed == 5000.0  # samples/s against the paper's fps
    assert gpu.speed_ratio == pytest.approx(5000.0 / gpu.paper_speed)


def test_join_of_models_top1_and_blank_cells():
    t0 = join_record(_model("table3_imagenet", "FasterNet-T0", latency_ms=7.96))
    assert (t0.paper_speed, t0.top1, t0.published.params) == (9.2, 71.9, pytest.approx(3.9e6))
    assert t0.published.flops == pytest.approx(0.34e9) and t0.paper_gflops is None
    ln = join_record(_model("table5_ablation", "T0 LN"))
    assert (ln.paper_speed, ln.top1, ln.published.source) == (10.7, 71.9, "Table 5")
    large = join_record(_model("table3_imagenet", "FasterNet-L", device="arm"))
    assert large.published.top1 == 83.5 and large.paper_speed is None  # out of memory there
    own = join_record(_model(top1=76.6, top1_source="ResMLP paper"))
    assert own.published is None and own.top1 == 76.6


def test_join_reads_a_typed_run_and_its_dict_alike():
    run_dir = REFERENCE / "models-cpu-torch-20261201T155712Z"
    # Table 3, CPU: FasterNet-T0 to -L
    published = [9.2, 17.7, 33.5, 71.2, 129.5, 219.5]
    assert [row.paper_speed for row in join_run(read_run(run_dir))] == published
    assert [row.paper_speed for row in join_run(load_run(run_dir))] == published


def test_each_suites_columns_have_unique_names_headers_and_drop_priorities():
    for suite in SUITES.values():
        for values in ([c.name for c in suite.columns], [c.header for c in suite.columns],
                       [c.drop for c in suite.columns if c.drop is not None]):
            assert len(values) == len(set(values)), values
        assert {c.kind for c in suite.columns} <= set(KINDS)


def test_the_drop_order_is_the_documented_one():
    ops = run_table({"suite": "ops", "records": [_record()]})
    assert ops.drop_order == ["mem MB", "samples/s", "paper GFLOPS", "FLOPs M", "GFLOPS",
                              "±95%", "paper ms"]
    models = run_table({"suite": "models", "records": [_model("table3_imagenet",
                                                              "FasterNet-T0")]})
    assert models.drop_order == ["mem MB", "samples/s", "family", "res", "GFLOPS", "params M",
                                 "top-1", "FLOPs G", "±95%", "paper ms"]


def test_a_column_added_to_the_registry_appears_in_every_rendering(monkeypatch):
    extra = number("kilo_channels", "kilo-channels", "1e3", "channels", 3, 1e3)
    suite = SUITES["ops"]
    monkeypatch.setitem(SUITES, "ops", replace(suite, columns=(*suite.columns, extra)))
    run = {"suite": "ops", "records": [_record()]}
    assert "| kilo-channels |" in render_markdown(run_table(run, "md"))
    assert render_markdown(run_table(run, "md")).count("| 0.768 |") == 1
    console = Console(width=200, file=io.StringIO())
    console.print(render_rich(run_table(run), width=200))
    assert "kilo-channels" in console.file.getvalue() and "0.768" in console.file.getvalue()
    (row,) = csv.DictReader(io.StringIO(render_csv(run_table(run, "csv"))))
    assert row["kilo_channels"] == "0.768"
    page = render_html(run_table(run, "html"))
    assert "<th>kilo-channels</th>" in page and '<td class="number">0.768</td>' in page


def test_a_new_suite_is_a_registry_entry(monkeypatch):
    monkeypatch.setitem(SUITES, "toy", Suite(
        (text("name", "name", lambda row: row["name"]),
         number("latency_ms", "latency ms", "ms", "latency_ms", 1)), "no table"))
    table = run_table({"suite": "toy", "records": [{**_record(), "suite": "toy"}]})
    assert (table.columns, table.rows) == (["name", "latency ms"], [["x", "0.5"]])


class _Cells(HTMLParser):
    """The text of every th and td, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append("".join(self._cell))
            self._cell = None


def test_html_holds_the_same_cells_as_markdown():
    run = load_run(REFERENCE / "ops-cpu-torch-20261201T171213Z")
    parser = _Cells()
    parser.feed(render_html(run_table(run, "html")))
    markdown = render_markdown(run_table(run, "md")).splitlines()
    table = [line.strip("| ").split(" | ") for line in markdown if line.startswith("| ")]
    assert parser.rows == table and len(table) == 1 + len(run["records"])


def test_csv_leaves_missing_values_empty_and_keeps_full_precision():
    record = {**_record(), "latency_ms": 1 / 3, "memory_bytes": None}
    (row,) = csv.DictReader(io.StringIO(render_csv(run_table(
        {"suite": "ops", "records": [record]}, "csv"))))
    assert row["memory_mb"] == "" and float(row["latency_ms"]) == 1 / 3
