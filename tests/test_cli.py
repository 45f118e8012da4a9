"""The command line as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import socket
import stat
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, assert_usage_error, cli_env, run_cli
from fnbench.report.runs import run_table
from fnbench.report.table import render_markdown
from fnbench.results import OPS_COLUMNS, load_run, read_run

SMALL = ["--sizes", "32x14x14,64x7x7", "--layers", "2", "--quick"]
TINY = ["--sizes", "16x8x8", "--layers", "1", "--quick"]
REFERENCE = REPO / "results" / "reference"
#: results.csv's first columns: FLOPs are MACs, and the names say so.
CSV_COMMON = ["name", "suite", "family", "device", "runtime", "mode", "batch", "threads", "dtype",
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
    assert run["settings"]["protocol"]["min_rounds"] == 4  # --quick
    for record in run["records"]:
        assert record["status"] == "ok", record.get("error")
        rounds = record["measurement"]["rounds"]
        assert record["rounds"] == len(rounds) >= 4
        assert record["samples"] == sum(len(r["samples"]) for r in rounds)
        medians = [statistics.median(r["samples"]) for r in rounds]
        assert record["latency_ms"] == pytest.approx(statistics.geometric_mean(medians) * 1e3)
        assert record["latency_lo_ms"] < record["latency_ms"] < record["latency_hi_ms"]
        assert record["achieved_flops"] == pytest.approx(record["flops"]
                                                         / (record["latency_ms"] / 1e3))
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
                            capture_output=True, text=True, timeout=120, env=cli_env())
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
    (["--seed", "99999999999999999999999"],
     "--seed 99999999999999999999999 must lie between 0 and 18446744073709551615"),
    (["--seed", "-1"], "--seed -1 must lie between 0 and"),
    (["--runtime", "tensorrt"], "does not offer --runtime tensorrt"),
    (["--host", "pi@nowhere.invalid"], "cannot connect to --host pi@nowhere.invalid"),
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
    assert_usage_error(result, "--device arm", "not an ARM (aarch64) CPU", "--device arm --host", "--device cpu")
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


# The big case spends its 1.5 s of rounds (a call is ~25 ms) long before the two small ones
# reach their round limit: its record is written while they are still measured.
SLOW_THREE = ["ops", "--ops", "conv", "--sizes", "256x56x56,16x8x8,8x8x8", "--layers", "1",
              "--round-time", "0.001", "--min-rounds", "2", "--max-rounds", "1000",
              "--max-time", "1.5", "--target-ci", "0.0001"]


def start_and_wait_for_a_record(out: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """Start a three-case run in ``out``; return once its first record is on disk."""
    process = subprocess.Popen([sys.executable, "-m", "fnbench", *SLOW_THREE, *args,
                                "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=cli_env())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = list(out.iterdir()) if out.exists() else []
        if runs and (runs[0] / "run.json").exists():
            if json.loads((runs[0] / "run.json").read_text())["records"]:
                return process, runs[0]
        time.sleep(0.1)
    process.kill()
    pytest.fail("no record was written in time")


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_keeps_finished_records_and_marks_the_run_interrupted(tmp_path, signum, code):
    process, run_dir = start_and_wait_for_a_record(tmp_path)
    try:
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    run = load_run(run_dir)
    assert run["status"] == "interrupted" and run["finished"] and run["interrupted_by"] == name
    assert 1 <= len(run["records"]) < 3
    assert all(r["status"] == "ok" for r in run["records"])
    frame = pd.read_csv(run_dir / "results.csv")
    assert len(frame) == len(run["records"])
    finished = {r["key"] for r in run["records"]}
    missing = [p["name"] for p in run["planned"] if p["key"] not in finished]
    markdown = (run_dir / "results.md").read_text()
    assert f"status: interrupted ({name}), {len(run['records'])} of 3 planned" in markdown
    assert all(m in markdown.split("not run")[1] for m in missing)
    assert f"interrupted ({name})" in stderr


def test_report_of_a_killed_run_says_incomplete_and_what_did_not_run(tmp_path):
    process, run_dir = start_and_wait_for_a_record(tmp_path)
    process.kill()
    process.communicate(timeout=60)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "running"
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"status: incomplete (the process that wrote it, pid "
                               f"{process.pid} on host {socket.gethostname()}, is no longer "
                               f"running), {len(run['records'])} of 3 planned record(s)")
    finished = {r["key"] for r in run["records"]}
    missing = [p["name"] for p in run["planned"] if p["key"] not in finished]
    assert lines[1].startswith(f"not run ({len(missing)}): ")
    assert all(name in lines[1] for name in missing)

    elsewhere = {**run, "hostname": "another-" + socket.gethostname()}
    (run_dir / "run.json").write_text(json.dumps(elsewhere))
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "written on another host" in result.stdout.splitlines()[0]
    assert "cannot tell whether it is still running" in result.stdout.splitlines()[0]

    old = {k: v for k, v in run.items() if k not in ("planned", "pid", "hostname",
                                                      "process_started")}
    (run_dir / "run.json").write_text(json.dumps({**old, "status": "interrupted"}))
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        f"status: interrupted, {len(run['records'])} record(s)",
        "not run: unknown (this run.json predates fnbench recording its plan)"]


def test_complete_run_says_so_first(tmp_path):
    assert run_cli("ops", "--ops", "conv", "--out", str(tmp_path), *SMALL).returncode == 0
    run_dir = only_run(tmp_path)
    assert "status: complete, 2 of 2 planned record(s)" in (run_dir / "results.md").read_text()
    result = run_cli("report", str(run_dir))
    assert result.stdout.splitlines()[0] == "status: complete, 2 of 2 planned record(s)"


MARKUP = {"name": "conv[/x]", "label": "conv[/x] [bold]x[/bold] :thumbs_up:",
          "error": "RuntimeError: [enforce fail at alloc_cpu.cpp:127] [ONNXRuntimeError] : 6 "
                   "[/x] :thumbs_up:"}


def test_text_from_data_is_printed_verbatim_never_as_markup(tmp_path):
    run = json.loads((REFERENCE / "ops-cpu-torch-20261125T194828Z" / "run.json").read_text())
    first = run["records"][0]
    first["name"] = MARKUP["name"]
    first["meta"]["label"] = MARKUP["label"]
    run["records"][1].update(status="error", error=MARKUP["error"])
    (tmp_path / "run.json").write_text(json.dumps(run))
    result = run_cli("report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert MARKUP["label"] in result.stdout
    assert f"(latency): {MARKUP['error']}" in result.stdout

    out = tmp_path / "runs [/x] [bold]"
    result = run_cli("ops", "--ops", "conv", "--out", str(out), *SMALL)
    assert result.returncode == 0, result.stderr
    assert f"in {only_run(out)}" in result.stderr


def _table_rows(text: str, start: str) -> list[list[str]]:
    """The cells of every body row of a Markdown (``| ``) or rich (``│``) table; a line whose
    first cell is empty continues the row above, its words joined with a space."""
    sep, rows = start.strip(), []
    for line in text.splitlines():
        if line.startswith(start):
            cells = [cell.strip() for cell in line.strip().strip(sep).split(sep)]
            if cells[0] or not rows:
                rows.append(cells)
            else:
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
    return rows


@pytest.mark.parametrize("run_name", ["ops-cpu-torch-20261125T194828Z",
                                      "models-cpu-onnxruntime-20261125T200524Z"])
def test_report_at_80_columns_never_splits_a_number(run_name):
    run_dir = REFERENCE / run_name
    result = run_cli("report", str(run_dir), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    printed = _table_rows(result.stdout, "│")
    # the full table as this fnbench writes it for that run (results.md in a new run)
    full_markdown = render_markdown(run_table(read_run(run_dir)))
    expected = _table_rows(full_markdown, "| ")[1:]  # after the header
    assert len(printed) == len(expected) == len(load_run(run_dir)["records"])
    for shown, full in zip(printed, expected):
        rest = iter(full)
        assert all(cell in rest for cell in shown), (shown, full)  # in order, each one whole
        assert len(shown) < len(full)
    assert "not shown at this width: " in result.stdout


def test_report_on_a_pipe_honours_columns():
    result = run_cli("report", str(REFERENCE / "ops-cpu-torch-20261125T194828Z"),
                     env={"COLUMNS": "120"})
    assert 80 < max(len(line) for line in result.stdout.splitlines()) <= 120


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_too_large_is_one_line_exit_1_and_leaves_a_valid_run(tmp_path):
    result = run_cli("ops", "--ops", "conv,dwconv", "--out", str(tmp_path), *SMALL,
                     preexec_fn=_file_size_limit(40_000))  # the header fits, a record not
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot write ") and "(File too large)" in lines[0]
    assert "free space or choose another --out" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    run_dir = only_run(tmp_path)
    assert len(load_run(run_dir)["records"]) < 4  # still a valid run.json, cut short
    assert not [p for p in os.listdir(run_dir) if p.endswith(".tmp")]


def test_a_failed_write_marks_the_run_failed(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "fnbench", "ops", "--ops", "conv",
                                "--sizes", "16x8x8", "--layers", "1", "--min-rounds", "2",
                                "--max-time", "1", "--out", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=cli_env())
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("*/run.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    run_dir = only_run(tmp_path)
    (run_dir / "results.md" / "in-the-way").mkdir(parents=True)  # results.md cannot be written
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0] == (f"error: cannot write {run_dir / 'results.md'} (Is a directory): "
                        "check that folder or choose another --out")
    run = load_run(run_dir)
    assert run["status"] == "failed" and run["failure"] == ("cannot write results.md: "
                                                            "Is a directory")
    assert len(run["records"]) == 1
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("status: failed (cannot write results.md: Is a directory)")


def _damaged(run: dict, case: str) -> object:
    records = run["records"]
    if case == "not a dict":
        records[1] = [1, 2]
    elif case == "no mode":
        del records[1]["mode"]
    elif case == "text latency":
        records[1]["latency_ms"] = "fast"
    elif case == "no channels":
        del records[1]["meta"]["channels"]
    elif case == "no suite":
        del run["suite"]
    elif case == "unknown suite":
        run["suite"] = "gpu"
    elif case == "bad plan":
        run["planned"] = [["conv", "latency"]]
    return run


@pytest.mark.parametrize("case,fragment", [
    ("not a dict", "record 1 is a list, not an object"),
    ("no mode", "record 1 has no 'mode'"),
    ("text latency", "record 1 has 'latency_ms' = a str, not int or float"),
    ("no channels", "record 1 meta has no 'channels'"),
    ("no suite", "has suite None, not one of ops, models"),
    ("unknown suite", "has suite 'gpu', not one of ops, models"),
    ("bad plan", "planned entry 0 is not a {name, mode} pair"),
])
def test_report_of_a_damaged_run_is_one_line_exit_2(tmp_path, case, fragment):
    run = json.loads((REFERENCE / "ops-cpu-torch-20261125T194828Z" / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps(_damaged(run, case)))
    result = run_cli("report", str(tmp_path))
    assert_usage_error(result, fragment, "is damaged", "rerun the benchmark")
    assert result.stdout == "" and os.listdir(tmp_path) == ["run.json"]


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
    (["ops", "--round-time", "nan"], "--round-time nan must be a finite number of seconds"),
    (["ops", "--round-time", "-1"],
     "--round-time -1 must be a finite number of seconds, at least 0"),
    (["ops", "--max-time", "nan"], "--max-time nan must be a finite number of seconds"),
    (["ops", "--max-time", "inf"], "--max-time inf must be a finite number of seconds"),
    (["ops", "--max-time", "0"], "--max-time 0 leaves no time for rounds"),
    (["ops", "--min-rounds", "1"], "--min-rounds 1 must be at least 2"),
    (["ops", "--min-rounds", "9", "--max-rounds", "5"],
     "--max-rounds 5 must be at least --min-rounds 9"),
    (["ops", "--quick", "--min-rounds", "20"], "--max-rounds 8 must be at least --min-rounds 20"),
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
    for field in ("round_time_s", "max_time_s", "target_rel_ci", "warmup_runs", "min_rounds",
                  "max_rounds"):
        assert field not in result.stderr
    assert not out.exists()


def test_quick_takes_its_minimum_rounds_however_slow_the_case(tmp_path):
    # the 1 ms budget is spent by the first ~3 ms round: every round still counts toward the
    # minimum, and the interval comes from those rounds, labelled 95% only because it is one
    result = run_cli("ops", "--ops", "conv", "--sizes", "96x56x56", "--layers", "1", "--quick",
                     "--max-time", "0.001", "--target-ci", "0.001", "--no-reference",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (record,) = load_run(only_run(tmp_path))["records"]
    rounds = record["measurement"]["rounds"]
    assert record["rounds"] == len(rounds) == 4
    logs = [math.log(statistics.median(r["samples"])) for r in rounds]
    half = 3.18244631 * statistics.stdev(logs) * math.sqrt(2 / 4)  # t(3), re-run interval
    assert record["latency_within_lo_ms"] == pytest.approx(
        math.exp(statistics.fmean(logs) - half) * 1e3)
    assert record["latency_within_hi_ms"] == pytest.approx(
        math.exp(statistics.fmean(logs) + half) * 1e3)
    # the re-run interval is at least as wide as the within-run one (run-to-run spread)
    assert record["latency_lo_ms"] <= record["latency_within_lo_ms"]
    assert record["latency_hi_ms"] >= record["latency_within_hi_ms"]


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
    figures = [f"{stem}.{fmt}" for stem in ("operator_flops", "roofline")
               for fmt in ("png", "svg")]
    assert modes == dict.fromkeys(["run.json", "results.csv", "results.md", *figures], 0o640)


def test_an_ascii_only_terminal_gets_the_table_not_a_traceback(tmp_path):
    ascii_only = {"PYTHONIOENCODING": "ascii"}
    result = run_cli("ops", "--ops", "pconv", *TINY, "--out", str(tmp_path), env=ascii_only)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "pconv3x3_r1/4 x1" in result.stdout and "?95%" in result.stdout  # ± cannot print
    report = run_cli("report", str(only_run(tmp_path)), env=ascii_only)
    assert report.returncode == 0, report.stderr
    assert "pconv3x3_r1/4 x1" in report.stdout


def test_an_empty_out_is_refused_rather_than_meaning_here(tmp_path):
    result = run_cli("ops", "--out", "", *TINY, cwd=tmp_path)
    assert_usage_error(result, "'--out'", "is empty", "--out results")
    assert list(tmp_path.iterdir()) == []
