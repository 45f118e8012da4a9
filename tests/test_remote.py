"""Remote boards over SSH, end to end against real boards (tests/boards.py): a real sshd on
127.0.0.1 whose python has only numpy and onnxruntime, and an emulated aarch64 board. Timings
under emulation are never reported; these tests check what ran, not how fast."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import assert_usage_error, cli_env, run_cli
from fnbench.results import load_run

TINY = ["--sizes", "16x8x8", "--layers", "1", "--quick", "--min-rounds", "2",
        "--max-rounds", "2"]
#: Columns that hold timings, or follow from them, or say where a record ran.
TIMED = {"latency_ms", "latency_lo_ms", "latency_hi_ms", "latency_ci_low_ms",
         "latency_ci_high_ms", "latency_p90_ms", "latency_median_ms", "latency_mean_ms",
         "latency_std_ms", "latency_min_ms", "latency_p99_ms", "latency_iqr_ms", "throughput",
         "achieved_flops", "samples", "rounds", "converged", "relative_latency", "relative_lo",
         "relative_hi", "latency_within_lo_ms", "latency_within_hi_ms", "relative_within_lo",
         "relative_within_hi", "measurement", "notes", "key", "host", "device", "roofline_bound",
         "roofline_fraction", "roofline_level"}


def board_args(board, python: str | None = None) -> list[str]:
    return ["--host", board.host, *[f"--ssh-option={o}" for o in board.ssh_options],
            "--remote-python", python or board.python]


def only_run(out: Path) -> dict:
    (run_dir,) = list(out.iterdir())
    return load_run(run_dir)


def assert_same_records_but_timings(remote: dict, local: dict) -> None:
    assert len(remote["records"]) == len(local["records"]) > 0
    for theirs, ours in zip(remote["records"], local["records"]):
        assert theirs["status"] == "ok", theirs["error"]
        for column in set(ours) - TIMED:
            assert theirs[column] == ours[column], column
        assert theirs["notes"]["parity_ok"] and theirs["notes"]["host"] == remote["records"][0][
            "host"]


def test_ops_on_the_x86_board_match_a_local_run_except_timings(x86_board, tmp_path):
    remote = run_cli("ops", "--device", "cpu", *board_args(x86_board), *TINY,
                     "--out", str(tmp_path / "remote"))
    assert remote.returncode == 0, remote.stderr
    local = run_cli("ops", "--device", "cpu", "--runtime", "onnxruntime", *TINY,
                    "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    board_run, local_run = only_run(tmp_path / "remote"), only_run(tmp_path / "local")
    assert_same_records_but_timings(board_run, local_run)
    record = board_run["records"][0]
    assert record["host"] == x86_board.host and f"host={x86_board.host}" in record["key"]
    # the run records the board's machine, and the controller's beside it
    env = board_run["environment"]
    assert env["packages"] == {"numpy": env["packages"]["numpy"],
                               "onnxruntime": env["packages"]["onnxruntime"]}
    assert "torch" in env["controller"]["packages"]
    assert env["runner_modules"] == {"torch": False, "fnbench": False}
    assert board_run["reference"]["host"] == x86_board.host
    # the board's temporary folder is gone
    left = x86_board.run("ls -d /tmp/fnbench-* 2>/dev/null | grep -v onnx || true")
    assert not [p for p in left.stdout.split() if not p.startswith("/tmp/fnbench-onnx")]


def test_models_on_the_x86_board(x86_board, tmp_path):
    result = run_cli("models", "--device", "cpu", *board_args(x86_board),
                     "--models", "fasternet_t0", "--quick", "--min-rounds", "2",
                     "--max-rounds", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (record,) = only_run(tmp_path)["records"]
    assert record["status"] == "ok" and record["notes"]["parity_rel_err"] < 1e-3
    assert record["notes"]["bn_folded"] > 0  # prepared on the controller, as locally


def test_ops_on_the_emulated_arm_board(arm_board, tmp_path):
    result = run_cli("ops", "--device", "arm", *board_args(arm_board), "--ops", "conv,pconv",
                     *TINY, "--no-reference", "--out", str(tmp_path / "arm"), timeout=900)
    assert result.returncode == 0, result.stderr
    local = run_cli("ops", "--device", "cpu", "--runtime", "onnxruntime", "--ops",
                    "conv,pconv", *TINY, "--no-reference", "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    arm_run = only_run(tmp_path / "arm")
    assert arm_run["environment"]["cpu"]["arch"] == "aarch64"
    assert arm_run["device"] == "arm"
    assert_same_records_but_timings(arm_run, only_run(tmp_path / "local"))


def test_devices_prints_the_boards_fingerprint(x86_board):
    result = run_cli("devices", "--json", *board_args(x86_board))
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["device"] == "cpu" and listing["fingerprint"]["cpu"]["arch"] == "x86_64"
    assert set(listing["fingerprint"]["packages"]) == {"numpy", "onnxruntime"}


def test_the_ssh_config_alias_works(x86_board, tmp_path):
    result = run_cli("ops", "--host", x86_board.alias, f"--ssh-option=-F",
                     f"--ssh-option={x86_board.ssh_config}", "--remote-python", x86_board.python,
                     "--ops", "conv", *TINY, "--no-reference", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert only_run(tmp_path)["records"][0]["host"] == x86_board.alias


def test_an_x86_board_is_not_an_arm_device(x86_board, tmp_path):
    result = run_cli("ops", "--device", "arm", *board_args(x86_board), *TINY,
                     "--out", str(tmp_path / "out"))
    assert_usage_error(result, "not an ARM board", f"--device cpu --host {x86_board.host}")
    assert not (tmp_path / "out").exists()


def test_missing_onnxruntime_on_the_board_names_the_pip_command(x86_board, tmp_path):
    result = run_cli("ops", *board_args(x86_board, x86_board.bare_python), *TINY,
                     "--out", str(tmp_path / "out"))
    assert_usage_error(result, "lacks numpy and onnxruntime", "-m pip install numpy onnxruntime")
    assert not (tmp_path / "out").exists()


def test_refused_connection_and_bad_host(x86_board, tmp_path):
    x86_board.stop()
    try:
        result = run_cli("ops", *board_args(x86_board), *TINY, "--out", str(tmp_path / "out"))
    finally:
        x86_board.start()
    assert_usage_error(result, f"cannot connect to --host {x86_board.host}", "refused")
    assert_usage_error(run_cli("ops", "--host", "root@nowhere.invalid", *TINY,
                               "--out", str(tmp_path / "out")), "cannot connect")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("host", ["root@127.0.0.1;touch /tmp/fnbench-pwned", "-oProxyCommand=x",
                                  "root@127.0.0.1:99999", "$(touch /tmp/fnbench-pwned)",
                                  "a b"])
def test_hostile_host_names_are_refused(host, tmp_path):
    result = run_cli("ops", "--host", host, *TINY, "--out", str(tmp_path / "out"))
    assert_usage_error(result, "--host")
    assert not Path("/tmp/fnbench-pwned").exists()


def test_hostile_remote_python_is_one_quoted_word(x86_board, tmp_path):
    marker = tmp_path / "pwned"
    result = run_cli("ops", *board_args(x86_board, f"python3; touch {marker}"), *TINY,
                     "--out", str(tmp_path / "out"))
    assert_usage_error(result, "cannot run")
    assert not marker.exists()


def test_a_connection_killed_mid_run_keeps_finished_records(x86_board, tmp_path):
    # the big case spends its rounds quickly and finishes; the two small ones are still being
    # measured when every ssh connection is killed
    args = ["ops", *board_args(x86_board), "--ops", "conv", "--sizes",
            "192x28x28,16x8x8,8x8x8", "--layers", "1", "--round-time", "0.001",
            "--min-rounds", "2", "--max-rounds", "100000", "--max-time", "0.5",
            "--target-ci", "0.0001", "--no-reference", "--out", str(tmp_path)]
    process = subprocess.Popen([sys.executable, "-m", "fnbench", *args], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.communicate(timeout=300)))
    reader.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        runs = list(tmp_path.iterdir())
        if runs and (runs[0] / "run.json").exists() and \
                json.loads((runs[0] / "run.json").read_text())["records"]:
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("no record was written in time")
    x86_board.kill_connections()
    reader.join(timeout=300)
    assert process.returncode == 1, output
    run = only_run(tmp_path)
    assert run["status"] == "complete"
    by_size = {r["meta"]["channels"]: r for r in run["records"]}
    assert by_size[192]["status"] == "ok"
    for small in (16, 8):
        assert by_size[small]["status"] == "error"
        assert "lost the connection" in by_size[small]["error"]


def test_several_hosts_run_in_parallel_one_run_each(x86_board, tmp_path):
    # one board under two names: its address and its ssh_config alias
    result = run_cli("ops", "--host", x86_board.host, "--host", x86_board.alias,
                     *[f"--ssh-option={o}" for o in x86_board.ssh_options],
                     "--ssh-option=-F", f"--ssh-option={x86_board.ssh_config}",
                     "--remote-python", x86_board.python, "--ops", "conv", *TINY,
                     "--no-reference", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    runs = [load_run(path) for path in sorted(tmp_path.iterdir())]
    assert sorted(run["records"][0]["host"] for run in runs) == sorted([x86_board.host,
                                                                       x86_board.alias])
    assert all(run["status"] == "complete" for run in runs)
    assert f"{x86_board.alias} exit 0" in result.stderr
