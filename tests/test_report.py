"""Tables from saved records, and the packaged paper data."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from rich.console import Console

from fnbench.report.paper import paper_table, table1_reference
from fnbench.report.table import ops_table, render_markdown, render_rich, run_table
from fnbench.results import records_frame


@pytest.mark.parametrize("name,rows", [("table1_operators", 16), ("table2_approximation", 4),
                                       ("table3_imagenet", 35), ("table5_ablation", 10)])
def test_packaged_paper_tables_have_the_papers_rows(name, rows):
    assert len(paper_table(name)) == rows
    assert not paper_table(name).duplicated().any()


def _one(table: pd.DataFrame, **where) -> pd.Series:
    match = table.loc[(table[list(where)] == pd.Series(where)).all(axis=1)]
    assert len(match) == 1, where
    return match.iloc[0]


# Published numbers typed in from the paper (Chen et al., CVPR 2023), not read from the CSVs.
@pytest.mark.parametrize("operator,channels,size,flops_m,cpu_ms,cpu_gflops", [
    ("conv3x3", 96, 56, 2601, 35.67, 72.90),
    ("conv3x3", 768, 7, 2601, 62.71, 41.47),
    ("gconv3x3_g16", 192, 28, 162, 7.58, 21.44),
    ("dwconv3x3", 768, 7, 3.38, 0.68, 4.93),
    ("pconv3x3_r1/4", 96, 56, 162, 5.46, 29.67),
])
def test_table1_holds_the_published_numbers(operator, channels, size, flops_m, cpu_ms,
                                            cpu_gflops):
    row = _one(paper_table("table1_operators"), operator=operator, channels=channels,
               height=size, width=size)
    assert (row.layers, row.flops_m, row.cpu_latency_ms, row.cpu_flops_g) == \
        (10, flops_m, cpu_ms, cpu_gflops)


def test_table1_flops_follow_the_papers_formula():
    # Conv 3x3 x 10 at 96x56x56: 56 * 56 * 9 * 96^2 * 10 MACs = 2601.1 M, printed as 2601
    assert round(56 * 56 * 9 * 96 ** 2 * 10 / 1e6, 1) == 2601.1
    row = _one(paper_table("table1_operators"), operator="conv3x3", channels=96)
    assert row.flops_m == round(2601.1)


@pytest.mark.parametrize("network,family,params_m,flops_g,cpu_ms,top1", [
    ("FasterNet-T0", "FasterNet", 3.9, 0.34, 9.2, 71.9),
    ("FasterNet-L", "FasterNet", 93.5, 15.52, 219.5, 83.5),
    ("MobileViT-XS", "ViT", 2.3, 1.05, 40.8, 74.8),
    ("EdgeNeXt-XS", "ViT", 2.3, 0.54, 24.4, 75.0),
    ("ResNet50", "CNN", 25.6, 4.11, 73.0, 78.8),
    ("CycleMLP-B1", "MLP", 15.2, 2.10, 116.1, 79.1),
])
def test_table3_holds_the_published_numbers(network, family, params_m, flops_g, cpu_ms, top1):
    row = _one(paper_table("table3_imagenet"), network=network)
    assert (row.family, row.params_m, row.flops_g, row.cpu_latency_ms, row.top1) == \
        (family, params_m, flops_g, cpu_ms, top1)


def test_table3_leaves_out_of_memory_arm_cells_blank():
    table = paper_table("table3_imagenet")
    blank = list(table[table.arm_latency_ms.isna()].network)
    assert blank == ["PoolFormer-M48", "ConvNeXt-B", "Swin-B", "FasterNet-L"]


def test_table5_holds_the_published_numbers():
    table = paper_table("table5_ablation")
    assert (_one(table, variant="T0 LN").cpu_latency_ms, _one(table, variant="T0 LN").top1) \
        == (10.7, 71.9)
    assert _one(table, variant="T2 GELU").top1 == 78.7
    assert _one(table, variant="T0* r=1/2").top1 == 71.7


def test_table1_reference_per_device():
    cpu = table1_reference("pconv3x3_r1/4", 96, 56, 56, 10, "cpu")
    assert cpu == {"speed": 5.46, "unit": "ms", "gflops": 29.67, "mode": "latency",
                   "hardware": "Intel i9-9900X"}
    assert table1_reference("pconv3x3_r1/4", 96, 56, 56, 10, "cuda")["unit"] == "fps"
    assert table1_reference("pconv3x3_r1/4", 96, 56, 56, 5, "cpu") is None
    assert table1_reference("pconv3x3_r1/2", 96, 56, 56, 10, "cpu") is None


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
    table = ops_table(records_frame([_record()]))
    row = dict(zip(table.columns, table.rows[0]))
    assert row["latency ms"] == "0.500" and row["paper ms"] == "0.68"
    assert row["GFLOPS"] == "6.77" and row["paper GFLOPS"] == "4.93"
    assert row["±95%"] == "±4.0%"
    assert any("as published" in note for note in table.notes)


def test_ops_table_marks_errors_and_unconverged_cases():
    frame = records_frame([_record(converged=False),
                           _record(status="error", channels=96, height=56, width=56)])
    table = ops_table(frame)
    assert table.rows[0][-1] == "not converged" and table.rows[0][5].endswith("*")
    assert table.rows[1][-1] == "error"
    assert any("RuntimeError: boom" in note for note in table.notes)


def test_paper_values_only_for_the_papers_mode():
    table = ops_table(records_frame([_record(mode="throughput")]))
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
    table = ops_table(records_frame([_record()]))
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
