"""The paper's packaged tables (fnbench.published): its numbers, and a layer below the zoo and
the reports."""

from __future__ import annotations

import ast
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO
from fnbench.published import model_reference, model_row, paper_table, rows, table1_reference


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


def test_rows_are_typed_and_blank_cells_are_none():
    (row,) = [r for r in rows("table3_imagenet") if r["network"] == "FasterNet-L"]
    assert row["arm_latency_ms"] is None  # out of memory on the Cortex-A72
    assert (row["gpu_throughput_fps"], row["cpu_latency_ms"], row["top1"]) == (323, 219.5, 83.5)
    assert isinstance(row["gpu_throughput_fps"], int) and isinstance(row["top1"], float)
    assert model_row("table5_ablation", "T0* r=1/2")["top1"] == 71.7
    with pytest.raises(TypeError):
        row["top1"] = 99.0  # shared, cached rows are read-only
    with pytest.raises(KeyError, match="table4"):
        rows("table4_detection")


def test_model_reference_per_device_and_blank_cells():
    assert model_reference("table3_imagenet", "FasterNet-T0", "cpu") == {
        "speed": 9.2, "unit": "ms", "mode": "latency", "hardware": "Intel i9-9900X"}
    assert model_reference("table3_imagenet", "FasterNet-T0", "cuda")["mode"] == "throughput"
    assert model_reference("table3_imagenet", "FasterNet-L", "arm") is None  # blank cell
    assert model_reference("table3_imagenet", "FasterNet-XL", "cpu") is None
    assert model_reference(None, None, "cpu") is None


def test_reading_the_tables_imports_neither_pandas_nor_torch():
    script = ("import sys; from fnbench.published import rows, table1_reference; "
              "assert table1_reference('conv3x3', 96, 56, 56, 10, 'arm')['speed'] == 779.57; "
              "assert len(rows('table2_approximation')) == 4; "
              "print(sorted(m for m in ('pandas', 'torch', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _fnbench_imports(path) -> set[str]:
    """The fnbench modules a source file imports, at any depth of it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("fnbench")}


#: What the reports, the commands and their libraries build on: none of it may import them.
LOWER = ("published.py", "records.py", "results.py", "specs.py", "measure.py", "workload.py",
         "accounting.py", "models", "operators", "devices", "roofline")


def test_the_paper_tables_sit_below_the_zoo_and_the_reports():
    package = REPO / "fnbench"
    assert _fnbench_imports(package / "published.py") == set()
    assert not (package / "report" / "paper.py").exists()
    lower = [path for name in LOWER for path in
             ([package / name] if name.endswith(".py") else (package / name).rglob("*.py"))]
    assert len(lower) > len(LOWER)  # every package above holds modules
    reaching_up = sorted(str(path.relative_to(REPO)) for path in lower
                         if any(name.startswith("fnbench.report")
                                for name in _fnbench_imports(path)))
    assert reaching_up == []
