"""The command line as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_usage_error, run_cli
from fnbench.results import COMMON_COLUMNS, OPS_COLUMNS, load_run

SMALL = ["--sizes", "32x14x14,64x7x7", "--layers", "2", "--quick"]


def only_run(out: Path) -> Path:
    runs = list(out.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_ops_writes_a_complete_run(tmp_path, runtime):
    result = run_cli("ops", "--runtime", runtime, "--out", str(tmp_path), *SMALL)
    assert result.returncode == 0, result.stderr
    run_dir = only_run(tmp_path)
    assert run_dir.name.startswith(f"ops-cpu-{runtime}-")
    run = load_run(run_dir)
    assert run["status"] == "complete" and run["runtime"] == runtime
    assert len(run["records"]) == 4 * 2
    env = run["environment"]
    assert env["cpu"]["logical_cores"] >= 1 and env["threads"]["requested"] == 1
    assert env["packages"]["torch"] and env["packages"]["onnxruntime"]
    assert run["settings"]["protocol"]["min_runs"] == 6  # --quick
    for record in run["records"]:
        assert record["status"] == "ok", record.get("error")
        stats = record["measurement"]["stats"]
        assert stats["count"] == len(record["measurement"]["samples"]) >= 6
        assert record["latency_ms"] == pytest.approx(stats["median"] * 1e3)
        assert record["achieved_flops"] == pytest.approx(record["flops"] / stats["median"])
        if runtime == "onnxruntime":
            assert record["notes"]["parity_ok"]
    frame = pd.read_csv(run_dir / "results.csv")
    assert list(frame.columns[:len(COMMON_COLUMNS)]) == COMMON_COLUMNS
    assert set(OPS_COLUMNS) <= set(frame.columns)
    assert len(frame) == 8 and set(frame["threads"]) == {1}
    table = (run_dir / "results.md").read_text()
    assert table.count("\n| ") == 1 + 8  # header and one row per record
    assert "pconv3x3_r1/4" in result.stdout  # the table is printed on stdout


def test_throughput_and_both_modes(tmp_path):
    result = run_cli("ops", "--ops", "pconv", "--mode", "both", "--batch", "4",
                     "--out", str(tmp_path), *SMALL)
    assert result.returncode == 0, result.stderr
    records = load_run(only_run(tmp_path))["records"]
    assert [(r["mode"], r["batch"]) for r in records] == [("latency", 1), ("throughput", 4)] * 2
    thr = records[1]
    assert thr["throughput"] == pytest.approx(4 / (thr["latency_ms"] / 1e3))
    assert thr["measurement"]["calls_per_sample"] >= 1


def test_paper_column_appears_for_paper_cases(tmp_path):
    result = run_cli("ops", "--ops", "dwconv", "--sizes", "768x7x7", "--quick",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    markdown = (only_run(tmp_path) / "results.md").read_text()
    assert "paper ms" in markdown and "| 0.68 |" in markdown  # Table 1: DWConv 768x7x7 CPU
    assert "as published, not measured here" in markdown


def test_report_reprints_a_saved_run(tmp_path):
    assert run_cli("ops", "--ops", "conv", "--out", str(tmp_path), *SMALL).returncode == 0
    result = run_cli("report", str(only_run(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "conv3x3 x2" in result.stdout


def test_report_needs_no_torch(tmp_path):
    assert run_cli("ops", "--ops", "dwconv", "--out", str(tmp_path), *SMALL).returncode == 0
    script = ("import sys; sys.modules['torch'] = None; from fnbench.cli import main; "
              "main(sys.argv[1:])")
    result = subprocess.run([sys.executable, "-c", script, "report", str(only_run(tmp_path))],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "dwconv3x3 x2" in result.stdout


def test_devices_lists_cpu_with_fingerprint():
    result = run_cli("devices", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    cpu = next(d for d in listing["devices"] if d["device"] == "cpu")
    assert cpu["available"] and cpu["runtimes"] == ["torch", "torch-compile", "onnxruntime"]
    assert listing["environment"]["cpu"]["model"]
    table = run_cli("devices")
    assert table.returncode == 0 and "cpu" in table.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--ops", "pconvv"], "unknown operator 'pconvv'"),
    (["--sizes", "96x56"], "malformed size '96x56'"),
    (["--ratio", "0"], "outside (0, 1]"),
    (["--ratio", "2"], "outside (0, 1]"),
    (["--impl", "fast"], "unknown PConv forward form"),
    (["--mode", "fastest"], "unknown mode"),
    (["--batch", "8"], "latency mode is batch 1"),
    (["--threads", "0"], "--threads 0"),
    (["--target-ci", "0"], "bad protocol options"),
    (["--runtime", "tensorrt"], "does not offer --runtime tensorrt"),
    (["--host", "pi@board"], "not built yet"),
    (["--layers", "x"], "Invalid value for '--layers'"),
    (["--frobnicate"], "No such option"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, fragment):
    out = tmp_path / "out"
    result = run_cli("ops", "--out", str(out), *args)
    assert_usage_error(result, fragment)
    assert not out.exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu(tmp_path):
    result = run_cli("ops", "--device", "cuda", "--out", str(tmp_path / "out"))
    assert_usage_error(result, "--device cuda", "no CUDA GPU")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(__import__("platform").machine() in ("aarch64", "arm64"),
                    reason="this host is ARM")
def test_arm_on_x86(tmp_path):
    result = run_cli("ops", "--device", "arm", "--out", str(tmp_path / "out"))
    assert_usage_error(result, "--device arm", "not an ARM CPU", "--device cpu")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("keep me")
    result = run_cli("ops", "--out", str(blocker / "runs"), *SMALL)
    assert_usage_error(result, "cannot write to --out")
    assert blocker.read_text() == "keep me"


def test_report_of_a_missing_or_broken_run(tmp_path):
    assert_usage_error(run_cli("report", str(tmp_path / "nope")), "no run at")
    (tmp_path / "run.json").write_text("{")
    assert_usage_error(run_cli("report", str(tmp_path)), "not a readable fnbench run")


def test_ctrl_c_keeps_finished_records_and_marks_the_run_interrupted(tmp_path):
    command = [sys.executable, "-m", "fnbench", "ops", "--ops", "conv,dwconv,pconv",
               "--sizes", "16x8x8", "--layers", "1", "--min-time", "1.5", "--max-time", "1.5",
               "--target-ci", "0.0001", "--out", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            runs = list(tmp_path.iterdir())
            if runs and (runs[0] / "run.json").exists():
                if json.loads((runs[0] / "run.json").read_text())["records"]:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("no record was written in time")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    run = load_run(runs[0])
    assert run["status"] == "interrupted" and run["finished"]
    assert 1 <= len(run["records"]) < 3
    assert all(r["status"] == "ok" for r in run["records"])
    frame = pd.read_csv(runs[0] / "results.csv")
    assert len(frame) == len(run["records"])
