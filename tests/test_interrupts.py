"""A signal that a library hands back as an ordinary error still stops the run: the places
that turn a library's errors into a fallback (the next exporter, an unfused model) let it
through. The runner's and the figures' own cases are in test_runner.py and test_figures.py."""

from __future__ import annotations

import signal

import pytest
import torch
import torch.nn as nn

from conftest import swallow_a_signal
from fnbench.devices.onnx_runtime import export_onnx
from fnbench.errors import RunInterrupted, interrupts_raise
from fnbench.fusion import fuse_batchnorm


class Swallows(nn.Module):
    """Its forward is where a signal lands and comes back as ImportError."""

    def __init__(self, signum: int) -> None:
        super().__init__()
        self.signum = signum
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        swallow_a_signal(self.signum)
        return self.bn(self.conv(x))


class Fails(Swallows):
    def forward(self, x):
        raise ImportError("initialization failed")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_export_that_swallows_a_signal_stops_instead_of_trying_the_next_exporter(
        tmp_path, signum):
    x = torch.randn(1, 3, 8, 8)
    with interrupts_raise(), pytest.raises(RunInterrupted) as caught:
        export_onnx(Swallows(signum).eval(), x, tmp_path / "m.onnx",
                    order=("torchscript", "torchscript"))
    assert caught.value.exit_code == 128 + signum
    # the same error without a signal is an exporter's failure, and the next one is tried
    with interrupts_raise(), pytest.raises(RuntimeError, match="torchscript: .*torchscript: "):
        export_onnx(Fails(signum).eval(), x, tmp_path / "m.onnx",
                    order=("torchscript", "torchscript"))


def test_tracing_for_fusion_that_swallows_a_signal_stops_instead_of_running_unfused():
    with interrupts_raise(), pytest.raises(RunInterrupted):
        fuse_batchnorm(Swallows(signal.SIGINT).eval())
    with interrupts_raise():  # a model that does not trace runs unfused
        module, _, _ = fuse_batchnorm(Fails(signal.SIGINT).eval())
    assert isinstance(module, Fails)
