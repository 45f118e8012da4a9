"""``fnbench roofline --host`` against a real sshd on 127.0.0.1 (generated keys): the kernels
are shipped, timed on the "board" and cleaned up; the board never imports torch or fnbench."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import assert_usage_error, run_cli

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A real sshd on 127.0.0.1 that lets this user in with a generated key."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH (sshd, ssh, ssh-keygen)")
    folder = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(folder / name)], check=True)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    port = _free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPasswordAuthentication no\n"
        f"StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        f"PidFile {folder / 'sshd.pid'}\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation folder
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                            stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.skip(f"sshd did not start: {proc.stderr.read()[-300:]}")
            time.sleep(0.1)
    options = [f"--ssh-option={o}" for o in (
        "-i", str(folder / "client_key"), "-oStrictHostKeyChecking=no",
        "-oUserKnownHostsFile=/dev/null", "-oLogLevel=ERROR")]
    yield {"host": f"{getpass.getuser()}@127.0.0.1:{port}", "options": options}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def quick_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FNBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FNBENCH_ROOFLINE_QUICK", "1")


def test_roofline_over_ssh_runs_on_the_board_and_is_cached(board, quick_cache):
    args = ["roofline", "--device", "cpu", "--host", board["host"], *board["options"],
            "--remote-python", sys.executable, "--json"]
    before = set(Path("/tmp").glob("fnbench-*"))
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)
    assert first["host"] == board["host"] and first["runtime"] == "onnxruntime"
    assert first["board_imports"] == {"torch": False, "fnbench": False}
    assert first["peak_macs_per_s"] == max(k["macs_per_s"] for k in first["kernels"])
    assert [lv["level"] for lv in first["levels"]][-1] == "DRAM"
    assert "single-threaded" in first["copy"]
    left = [p for p in set(Path("/tmp").glob("fnbench-*")) - before
            if (p / "ceilings.py").exists()]
    assert left == []  # the board's folder is removed
    again = json.loads(run_cli(*args).stdout)
    assert again["cached"] is True and again["measured_at"] == first["measured_at"]


def test_ops_over_ssh_attaches_the_boards_roofline(board, quick_cache, tmp_path):
    result = run_cli("ops", "--device", "cpu", "--host", board["host"], *board["options"],
                     "--remote-python", sys.executable, "--sizes", "16x8x8", "--layers", "1",
                     "--ops", "conv", "--quick", "--no-reference", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    run = json.loads(next((tmp_path / "r").iterdir()).joinpath("run.json").read_text())
    assert run["roofline"]["host"] == board["host"]
    assert run["records"][0]["roofline_level"] in ("L2", "L3", "DRAM")
    assert run["records"][0]["roofline_fraction"] > 0


def test_an_unreachable_board_is_one_line_and_exit_2(quick_cache):
    port = _free_port()  # nothing listens there
    assert_usage_error(run_cli("roofline", "--host", f"root@127.0.0.1:{port}"),
                       "cannot connect to --host")
