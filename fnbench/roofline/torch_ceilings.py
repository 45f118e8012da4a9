"""Ceilings under PyTorch eager, on the CPU (``threads`` intra-op threads) or a CUDA GPU.

The kernels run as the benchmarks do (inference mode; cudnn.benchmark on a GPU) and the copy is
the runtime's own ``Tensor.copy_``. Thread and cuDNN settings are restored afterwards.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from fnbench.devices import ceilings as shared
from fnbench.measure import TimeBlock
from fnbench.roofline.kernels import Kernel, kernel_set

MiB = 1 << 20
#: A GPU's DRAM working set: at least this, and 4x its L2.
GPU_DRAM_MIN_BYTES = 1 << 30


@contextmanager
def torch_settings(threads: int) -> Iterator[None]:
    """``threads`` intra-op threads and cudnn.benchmark on, both restored on exit."""
    threads_before, benchmark_before = torch.get_num_threads(), torch.backends.cudnn.benchmark
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.backends.cudnn.benchmark = benchmark_before


def timer(fn: Callable[[], Any], device: torch.device) -> TimeBlock:
    """Time n calls of ``fn``: perf_counter on the CPU, CUDA events on a GPU."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def gpu_block(n: int) -> float:
            with torch.inference_mode():
                start.record()
                for _ in range(n):
                    fn()
                end.record()
                end.synchronize()
            return start.elapsed_time(end) / 1e3
        return gpu_block

    def cpu_block(n: int) -> float:
        with torch.inference_mode():
            begin = time.perf_counter()
            for _ in range(n):
                fn()
            return time.perf_counter() - begin
    return cpu_block


def kernel_call(kernel: Kernel, device: torch.device) -> Callable[[], Any]:
    """The kernel as a call on ``device`` with fixed random operands."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(kernel.input_shape, generator=generator).to(device)
    w = torch.randn(kernel.weight_shape, generator=generator).to(device) / kernel.size ** 0.5
    if kernel.op == "matmul":
        return lambda: torch.mm(x, w)
    return lambda: F.conv2d(x, w, padding=kernel.k // 2)


def torch_copy(device: torch.device) -> Callable[[int], TimeBlock]:
    """``dst.copy_(src)`` between two float32 tensors of ``working_set / 2`` bytes each."""
    def make(working_set: int) -> TimeBlock:
        src = torch.ones(max(1, working_set // 8), device=device)
        dst = torch.zeros_like(src)
        return timer(lambda: dst.copy_(src), device)
    return make


def gpu_levels(l2_bytes: int | None, quick: bool = False) -> tuple[list[dict], list[str]]:
    """A GPU's levels: half its L2, and DRAM (4x L2, at least 1 GiB), with their ladders."""
    levels, notes = [], []
    if l2_bytes:
        levels.append({"level": "L2", "capacity_bytes": l2_bytes,
                       "working_set_bytes": l2_bytes // 2})
    else:
        notes.append("the GPU's L2 size is unknown: only DRAM bandwidth measured")
    levels.append({"level": "DRAM", "capacity_bytes": None,
                   "working_set_bytes": max(GPU_DRAM_MIN_BYTES, 4 * (l2_bytes or 0))})
    levels = shared.ladder(levels)
    return (shared.shrink(levels) if quick else levels), notes


def measure_torch(device_name: str, threads: int, quick: bool = False,
                  step: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Ceilings of ``device_name`` ('cpu', 'arm' or 'cuda') under PyTorch eager."""
    device = torch.device("cuda" if device_name == "cuda" else "cpu")
    proto = shared.protocol(quick)
    with torch_settings(threads):
        kernels = []
        for kernel in kernel_set(device_name, quick):
            step(f"{kernel.name} (torch, {device_name}, {threads} thread(s))")
            block = timer(kernel_call(kernel, device), device)
            kernels.append(shared.time_kernel(kernel.to_dict(), block, proto))
        if device.type == "cuda":
            props = torch.cuda.get_device_properties(0)
            caches: dict[str, Any] = {"L2": getattr(props, "L2_cache_size", None),
                                      "source": "torch.cuda.get_device_properties"}
            levels, notes = gpu_levels(caches["L2"], quick)
            copy = "torch Tensor.copy_ on the GPU (device to device)"
        else:
            caches = shared.read_caches()
            levels, notes = shared.copy_levels(caches, quick, shared.available_memory())
            copy = f"torch Tensor.copy_ with {threads} thread(s)"
        levels = shared.bandwidths(levels, torch_copy(device), proto, step)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return shared.assemble(kernels, levels, caches, copy, notes)

