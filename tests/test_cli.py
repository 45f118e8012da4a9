"""The command line as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_usage_error, run_cli
from fnbench.results import OPS_COLUMNS, load_run

SMALL = ["--sizes", "32x14x14,64x7x7", "--layers", "2", "--quick"]
TINY = ["--sizes", "16x8x8", "--layers", "1", "--quick"]
#: results.csv's first columns: FLOPs are MACs, and the names say so.
CSV_COMMON = ["name", "suite", "family", "device", "runtime", "mode", "batch", "threads",
              "flops_macs", "params", "memory_bytes", "latency_ms", "latency_p90_ms",
              "throughput_samples_per_s", "achieved_flops_macs_per_s", "status"]


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
    assert list(frame.columns[:len(CSV_COMMON)]) == CSV_COMMON
    assert set(OPS_COLUMNS) <= set(frame.columns)
    assert len(frame) == 8 and set(frame["threads"]) == {1}
    conv = frame[frame["name"] == "conv3x3-32x14x14-L2"].iloc[0]
    assert conv["flops_macs"] == 2 * 14 * 14 * 3 * 3 * 32 * 32  # the paper's h w k^2 c^2
    assert conv["throughput_samples_per_s"] == pytest.approx(1e3 / conv["latency_ms"])
    assert conv["achieved_flops_macs_per_s"] == pytest.approx(
        conv["flops_macs"] * 1e3 / conv["latency_ms"])
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
    assert cpu["available"] and cpu["runtimes"] == ["torch", "onnxruntime"]
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
    (["--seed", "99999999999999999999999"],
     "--seed 99999999999999999999999 must lie between 0 and 18446744073709551615"),
    (["--seed", "-1"], "--seed -1 must lie between 0 and"),
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


def _one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


@pytest.mark.parametrize("command", [["ops"], ["models", "--models", "fasternet_t0"]])
def test_threads_above_the_usable_cpus_are_refused(tmp_path, command):
    limit = len(os.sched_getaffinity(0))
    out = tmp_path / "out"
    result = run_cli(*command, "--threads", str(limit + 1), "--out", str(out))
    assert_usage_error(result, f"--threads {limit + 1} is more than the {limit} CPU(s)",
                       f"use --threads {limit} or fewer")
    assert not out.exists()


def test_the_thread_limit_follows_the_affinity_and_is_recorded(tmp_path):
    out = tmp_path / "out"
    refused = run_cli("ops", "--threads", "2", "--out", str(out), preexec_fn=_one_cpu)
    assert_usage_error(refused, "--threads 2 is more than the 1 CPU(s)", "--threads 1 or fewer")
    assert not out.exists()
    result = run_cli("ops", "--ops", "dwconv", *TINY, "--out", str(out), preexec_fn=_one_cpu)
    assert result.returncode == 0, result.stderr
    run = load_run(only_run(out))
    assert run["threads"] == 1 and run["environment"]["threads"]["usable_cpus"] == 1
    assert len(run["environment"]["cpu"]["affinity"]) == 1


def test_the_largest_torch_seed_runs(tmp_path):
    result = run_cli("ops", "--ops", "pconv", *TINY, "--seed", str(2**64 - 1),
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run = load_run(only_run(tmp_path))
    assert run["settings"]["seed"] == 2**64 - 1
    assert [r["status"] for r in run["records"]] == ["ok"]


@pytest.mark.parametrize("args,message", [
    (["ops", "--min-time", "nan"], "--min-time nan must be a finite number of seconds"),
    (["ops", "--min-time", "-1"], "--min-time -1 must be a finite number of seconds, at least 0"),
    (["ops", "--max-time", "nan"], "--max-time nan must be a finite number of seconds"),
    (["ops", "--max-time", "inf"], "--max-time inf must be a finite number of seconds"),
    (["ops", "--max-time", "0.1"], "--max-time 0.1 s must be at least --min-time 0.5 s"),
    (["ops", "--quick", "--max-time", "0.01"],
     "--max-time 0.01 s must be at least --min-time 0.05 s"),
    (["ops", "--target-ci", "100"],
     "--target-ci 100 must lie between 0 and 100 percent (exclusive)"),
    (["ops", "--target-ci", "0"], "--target-ci 0 must lie between 0 and 100 percent"),
    (["ops", "--target-ci", "nan"], "--target-ci nan must lie between 0 and 100 percent"),
    (["ops", "--warmup", "-1"], "--warmup -1 must be at least 0 calls"),
    (["models", "--models", "fasternet_t0", "--max-time", "inf"], "--max-time inf must be"),
])
def test_protocol_errors_name_the_option_and_its_unit(tmp_path, args, message):
    out = tmp_path / "out"
    result = run_cli(*args, "--out", str(out))
    assert_usage_error(result, message)
    for field in ("min_time_s", "max_time_s", "target_rel_ci", "warmup_runs"):
        assert field not in result.stderr
    assert not out.exists()


def test_quick_takes_at_least_six_samples_however_slow_the_case(tmp_path):
    # the limit of 1 ms is over after the first ~3 ms call: the old loop stopped at 2 samples
    result = run_cli("ops", "--ops", "conv", "--sizes", "96x56x56", "--layers", "1", "--quick",
                     "--min-time", "0", "--max-time", "0.001", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (record,) = load_run(only_run(tmp_path))["records"]
    samples = record["measurement"]["samples"]
    assert record["samples"] == len(samples) == 6
    # with 6 samples min..max is an exact 95% interval of the median (1 - 2/64 >= 0.95)
    assert record["latency_ci_low_ms"] == pytest.approx(min(samples) * 1e3)
    assert record["latency_ci_high_ms"] == pytest.approx(max(samples) * 1e3)


def test_names_given_twice_run_once_in_the_order_first_given(tmp_path):
    result = run_cli("ops", "--ops", "pconv,conv,pconv", "--sizes", "16x8x8,8x4x4, 16 x 8 x 8",
                     "--impl", "slicing,split_cat,slicing", "--layers", "1", "--quick",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = [r["name"] for r in load_run(only_run(tmp_path))["records"]]
    assert names == ["pconv3x3_r1/4-slicing-16x8x8-L1", "pconv3x3_r1/4-split_cat-16x8x8-L1",
                     "pconv3x3_r1/4-slicing-8x4x4-L1", "pconv3x3_r1/4-split_cat-8x4x4-L1",
                     "conv3x3-16x8x8-L1", "conv3x3-8x4x4-L1"]


def test_result_files_follow_the_umask(tmp_path):
    result = run_cli("ops", "--ops", "dwconv", *TINY, "--out", str(tmp_path),
                     preexec_fn=lambda: os.umask(0o027))
    assert result.returncode == 0, result.stderr
    run_dir = only_run(tmp_path)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in run_dir.iterdir()}
    assert modes == {"run.json": 0o640, "results.csv": 0o640, "results.md": 0o640}


def test_an_ascii_only_terminal_gets_the_table_not_a_traceback(tmp_path):
    ascii_only = {"PYTHONIOENCODING": "ascii"}
    result = run_cli("ops", "--ops", "pconv", *TINY, "--out", str(tmp_path), env=ascii_only)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "pconv3x3_r1/4 x1" in result.stdout and "?CI" in result.stdout  # ± cannot print
    report = run_cli("report", str(only_run(tmp_path)), env=ascii_only)
    assert report.returncode == 0, report.stderr
    assert "pconv3x3_r1/4 x1" in report.stdout


def test_an_empty_out_is_refused_rather_than_meaning_here(tmp_path):
    result = run_cli("ops", "--out", "", *TINY, cwd=tmp_path)
    assert_usage_error(result, "'--out'", "is empty", "--out results")
    assert list(tmp_path.iterdir()) == []
