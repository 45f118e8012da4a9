"""The ``cpu`` device: PyTorch eager, torch.compile or ONNX Runtime on this machine's CPU."""

from __future__ import annotations

import platform
from contextlib import contextmanager
from typing import Iterator

import torch

from fnbench.devices.base import Device, Prepared
from fnbench.devices.onnx_runtime import prepare_onnxruntime
from fnbench.devices.torch_eager import cpu_time_block, prepare_module
from fnbench.slowdown import slowdown_for
from fnbench.workload import Workload

#: CPU flags (``/proc/cpuinfo``) of native bf16 arithmetic: AVX512-BF16 and AMX-BF16 on x86,
#: FEAT_BF16 on ARM. Without one, PyTorch converts bf16 to fp32 around fp32 arithmetic, which
#: is slower than fp32 itself and says nothing about bf16 deployment.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of this CPU (x86 ``flags``, ARM ``Features``); empty if unreadable."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def bf16_problem(flags: set[str], mkldnn: bool) -> str | None:
    """Why bf16 is not measured on a CPU with ``flags`` (None when it has native bf16 and
    PyTorch's oneDNN kernels are built in)."""
    if not mkldnn:
        return ("--dtype bf16 needs PyTorch's oneDNN (mkldnn) CPU kernels, which this torch "
                "build lacks: use --dtype fp32")
    if not flags & set(BF16_FLAGS):
        return (f"--dtype bf16: this CPU ({platform.machine()}) has no native bf16 "
                "instructions (none of avx512_bf16, amx_bf16, bf16 in /proc/cpuinfo), so bf16 "
                "would be emulated through fp32: use --dtype fp32")
    return None


class CpuDevice(Device):
    """This machine's CPU, ``threads`` intra-op threads (1 by default, as the paper)."""

    name = "cpu"
    runtimes = ("torch", "torch-compile", "onnxruntime")
    dtypes = ("fp32", "bf16")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    @classmethod
    def dtype_problem(cls, dtype: str, runtime: str) -> str | None:
        if dtype == "fp16":
            return ("--dtype fp16 is measured on --device cuda only: on the CPU use --dtype "
                    "bf16 (where the CPU has native bf16) or fp32")
        problem = super().dtype_problem(dtype, runtime)
        if problem is None and dtype == "bf16":
            return bf16_problem(cpu_flags(), torch.backends.mkldnn.is_available())
        return problem

    @contextmanager
    def measuring(self) -> Iterator[None]:
        """``torch.set_num_threads(threads)`` for the measurement, the previous count after."""
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def prepare(self, workload: Workload, batch: int, seed: int) -> Prepared:
        if self.runtime == "onnxruntime":
            return prepare_onnxruntime(workload, batch, seed, self.threads)
        with self.measuring():  # inductor fixes its OpenMP thread count when it compiles
            compile_mode = self.compile_mode if self.runtime == "torch-compile" else None
            module, x, notes = prepare_module(workload, batch, seed, "cpu", self.dtype,
                                              compile_mode)
            notes["torch_threads"] = torch.get_num_threads()
        slowdown = slowdown_for(workload.name)
        if slowdown != 1.0:
            notes["test_slowdown"] = slowdown
        return Prepared(cpu_time_block(module, x, slowdown), notes)
