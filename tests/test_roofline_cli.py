"""``fnbench roofline`` and the roofline of ``fnbench ops`` as a user runs them: real
subprocesses, real measurements at quick sizes (FNBENCH_ROOFLINE_QUICK), a private cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import assert_usage_error, run_cli
from fnbench.results import ROOFLINE_COLUMNS, load_run

SMALL = ["--sizes", "32x14x14,96x28x28", "--layers", "2", "--quick", "--ops", "conv,dwconv"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FNBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FNBENCH_ROOFLINE_QUICK", "1")
    return tmp_path / "cache" / "rooflines"


def roofline_json(*args: str) -> dict:
    result = run_cli("roofline", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_roofline_measures_caches_and_refreshes(runtime, private_cache):
    first = roofline_json("--device", "cpu", "--runtime", runtime)
    assert first["cached"] is False and Path(first["cache_path"]).parent == private_cache
    assert (first["device"], first["runtime"], first["threads"]) == ("cpu", runtime, 1)
    assert first["sizes"] == "quick"
    kernels = {k["name"]: k["macs_per_s"] for k in first["kernels"]}
    assert len(kernels) == 3 and all(v > 1e8 for v in kernels.values())
    assert first["peak_macs_per_s"] == max(kernels.values())
    assert kernels[first["peak_kernel"]] == first["peak_macs_per_s"]
    assert [lv["level"] for lv in first["levels"]] == ["L2", "L3", "DRAM"]
    for level in first["levels"]:
        assert level["bytes_per_s"] > 1e8 and level["working_set_bytes"] > 0
    assert first["caches"]["L2"] > 0  # read from sysfs on this Linux machine
    again = roofline_json("--device", "cpu", "--runtime", runtime)
    assert again["cached"] is True and again["measured_at"] == first["measured_at"]
    fresh = roofline_json("--device", "cpu", "--runtime", runtime, "--refresh")
    assert fresh["cached"] is False and fresh["measured_at"] != first["measured_at"]
    other = roofline_json("--device", "cpu", "--runtime", runtime, "--threads", "2")
    assert other["cached"] is False and other["cache_path"] != first["cache_path"]


def test_roofline_prints_a_table():
    result = run_cli("roofline")
    assert result.returncode == 0, result.stderr
    assert "matmul_256" in result.stdout and "copy DRAM" in result.stdout
    assert "peak" in result.stdout and "measuring the roofline" in result.stderr


def test_ops_attaches_the_roofline_to_every_record(tmp_path):
    result = run_cli("ops", "--out", str(tmp_path / "runs"), *SMALL)
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    run = load_run(run_dir)
    ceilings = run["roofline"]
    assert ceilings["device"] == "cpu" and ceilings["runtime"] == "torch"
    assert ceilings["peak_macs_per_s"] > 0
    for record in run["records"] + [run["reference"]]:
        assert record["arithmetic_intensity"] == pytest.approx(
            record["flops"] / record["memory_bytes"])
        assert record["roofline_level"] in ("L2", "L3", "DRAM")
        assert 0 < record["roofline_bound"] <= ceilings["peak_macs_per_s"]
        assert record["roofline_fraction"] == pytest.approx(
            record["achieved_flops"] / record["roofline_bound"])
        assert record["notes"].get("above_roofline", False) == (record["roofline_fraction"] > 1)
    frame = pd.read_csv(run_dir / "results.csv")
    assert set(ROOFLINE_COLUMNS) <= set(frame.columns)
    assert frame["roofline_fraction"].notna().all()
    markdown = (run_dir / "results.md").read_text()
    assert "% roof" in markdown and "roofline: peak" in markdown
    # the second run reuses the cached ceilings
    assert run_cli("ops", "--out", str(tmp_path / "runs"), *SMALL).returncode == 0
    runs = sorted((tmp_path / "runs").iterdir())
    assert load_run(runs[-1])["roofline"]["measured_at"] == ceilings["measured_at"]
    report = run_cli("report", str(run_dir))
    assert report.returncode == 0 and "% roof" in report.stdout


def test_no_roofline_leaves_the_fields_out(tmp_path, private_cache):
    result = run_cli("ops", "--out", str(tmp_path / "runs"), "--no-roofline", *SMALL)
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    run = load_run(run_dir)
    assert run["roofline"] is None
    for record in run["records"]:
        assert all(record[name] is None for name in ROOFLINE_COLUMNS)
    frame = pd.read_csv(run_dir / "results.csv")
    assert frame["roofline_fraction"].isna().all()
    assert "% roof" not in (run_dir / "results.md").read_text()
    assert not private_cache.exists()  # nothing was measured


def test_models_attach_the_roofline_per_leaf_layer(tmp_path):
    result = run_cli("models", "--models", "fasternet_t0", "--quick", "--no-reference",
                     "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    record = load_run(next((tmp_path / "runs").iterdir()))["records"][0]
    assert record["meta"]["layers"] > 50  # leaf-module calls of FasterNet-T0
    assert record["roofline_level"] in ("L2", "L3", "DRAM")
    assert math.isfinite(record["roofline_fraction"])


@pytest.mark.parametrize("args,fragments", [
    (["--device", "tpu"], ["unknown device 'tpu'", "--device"]),
    (["--device", "cuda", "--runtime", "onnxruntime"],
     ["CUDAExecutionProvider", "pip install onnxruntime-gpu"]),
    (["--threads", "0"], ["--threads 0"]),
    (["--device", "cuda", "--host", "pi@board"], ["--host works with --device cpu or arm"]),
])
def test_bad_input_is_one_line_and_exit_2(args, fragments):
    assert_usage_error(run_cli("roofline", *args), *fragments)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_cuda_without_a_gpu_is_one_line_and_exit_2():
    assert_usage_error(run_cli("roofline", "--device", "cuda"), "no CUDA GPU", "--device cpu")
