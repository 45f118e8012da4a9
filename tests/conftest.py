"""Shared helpers: run the real CLI in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn as nn
from boards import arm_board, x86_board  # noqa: F401  (real SSH boards for the remote tests)

REPO = Path(__file__).resolve().parent.parent


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment of a CLI subprocess: 200 columns unless ``overrides`` say otherwise."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **overrides}


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300,
            env: dict[str, str] | None = None, **popen: Any) -> subprocess.CompletedProcess:
    """``python -m fnbench ARGS`` with captured output; ``env`` overrides variables (such as
    COLUMNS), ``popen`` goes to subprocess.run (such as preexec_fn)."""
    return subprocess.run([sys.executable, "-m", "fnbench", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=cli_env(**(env or {})),
                          **popen)


@pytest.fixture(autouse=True, scope="session")
def private_roofline_cache(tmp_path_factory):
    """Tests never read or write the user's roofline cache, and measure tiny ceilings (the
    subprocesses of run_cli inherit this environment)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("FNBENCH_CACHE", str(tmp_path_factory.mktemp("fnbench-cache")))
    patch.setenv("FNBENCH_ROOFLINE_QUICK", "1")
    yield
    patch.undo()


@pytest.fixture
def cli():
    return run_cli


def assert_usage_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, exactly one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so that folding them matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
    return model


def run_cli_peak_rss(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    """``python -m fnbench ARGS`` and the peak RSS of that process in bytes, polled every
    millisecond (ru_maxrss would include the RSS of this big pytest process at fork time)."""
    import threading

    import psutil

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "fnbench", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        peak = 0

        def poll() -> None:
            nonlocal peak
            watched = psutil.Process(process.pid)
            while process.poll() is None:
                try:
                    peak = max(peak, watched.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.001)

        watcher = threading.Thread(target=poll)
        watcher.start()
        process.wait()
        watcher.join()
        out.seek(0), err.seek(0)
        result = subprocess.CompletedProcess(command, process.returncode,
                                             out.read().decode(), err.read().decode())
    return result, peak


def swallow_a_signal(signum):
    """What pybind11 does to a signal that lands while its module is imported: the
    interruption comes back as ImportError("initialization failed")."""
    try:
        os.kill(os.getpid(), signum)
        spin()
    except KeyboardInterrupt:
        raise ImportError("initialization failed") from None
    raise AssertionError("the signal never arrived")


def spin() -> None:
    """A few bytecodes: time for a signal sent to this process to reach its Python handler."""
    for _ in range(1000):
        pass
