"""The SSH test boards are real: their own architecture, numpy and onnxruntime but neither torch
nor fnbench, the controller's ONNX output, and connections that can be cut."""

from __future__ import annotations

import json
import shlex
import subprocess
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from boards import _descendants
from onnx import TensorProto, helper, numpy_helper

ARCH = {"x86_board": "x86_64", "arm_board": "aarch64"}

RUN_MODEL = """
import json, sys
import numpy as np, onnxruntime as ort
x = np.array(json.loads(sys.stdin.readline()), dtype=np.float32)
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
print(json.dumps(session.run(None, {"x": x})[0].tolist()))
"""


@pytest.fixture(params=list(ARCH))
def board(request):
    return request.getfixturevalue(request.param)


def tiny_conv(path) -> np.ndarray:
    """Save a one-Conv ONNX model (3->4 channels, 3x3) to ``path``; return an input for it."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])], "tiny_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return rng.standard_normal((1, 3, 8, 8)).astype(np.float32)


def test_architecture_and_ssh_config_alias(board, request):
    for argv in (board.ssh_argv("uname -m"),
                 ["ssh", "-F", str(board.ssh_config), board.alias, "uname -m"]):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == ARCH[request.node.callspec.params["board"]]


def test_board_runs_onnx_like_the_controller(board, tmp_path):
    x = tiny_conv(tmp_path / "tiny.onnx")
    remote_dir = board.run("mktemp -d").stdout.strip()
    assert remote_dir.startswith("/tmp/")
    try:
        board.scp(tmp_path / "tiny.onnx", f"{remote_dir}/tiny.onnx")
        command = shlex.join([board.python, "-c", RUN_MODEL, f"{remote_dir}/tiny.onnx"])
        result = board.run(command, input=json.dumps(x.tolist()) + "\n", timeout=300)
        assert result.returncode == 0, result.stderr
    finally:
        board.run(f"rm -rf {shlex.quote(remote_dir)}")
    on_board = np.array(json.loads(result.stdout), dtype=np.float32)
    here = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    expected = here.run(None, {"x": x})[0]
    assert on_board.shape == expected.shape
    assert np.abs(on_board - expected).max() <= 1e-5


def test_board_has_neither_torch_nor_fnbench(board):
    for module in ("torch", "fnbench"):
        result = board.run(f"{shlex.quote(board.python)} -c 'import {module}'")
        assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr, result.stderr
    bare = board.run(f"{shlex.quote(board.bare_python)} -c 'import onnxruntime'")
    assert bare.returncode == 1 and "ModuleNotFoundError" in bare.stderr, bare.stderr


def test_lost_connection_and_reboot(board):
    """kill_connections() cuts a running command; stop() refuses connections; start() is back."""
    running = subprocess.Popen(board.ssh_argv("echo started; exec sleep 600"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert running.stdout.readline().strip() == "started"
        board.kill_connections()
        assert running.wait(timeout=60) == 255
    finally:
        running.kill()
    deadline = time.monotonic() + 30
    while _descendants(board.sshd_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _descendants(board.sshd_pid)  # the remote command died with its connection
    board.stop()
    refused = board.run("true")
    assert refused.returncode == 255 and "Connection refused" in refused.stderr, refused.stderr
    board.start()
    assert board.run("echo back").stdout.strip() == "back"
