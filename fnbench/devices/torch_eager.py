"""PyTorch eager on the CPU or a CUDA GPU: the paper's own runtime."""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn as nn

from fnbench.fusion import fuse_batchnorm
from fnbench.workload import Workload


def build_for_inference(workload: Workload, seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """The workload's module in eval mode with BN folded, built under a fixed seed."""
    torch.manual_seed(seed)
    module, folded, left = fuse_batchnorm(workload.build())
    for p in module.parameters():
        p.requires_grad_(False)
    return module, {"bn_folded": folded, "bn_left": left}


def make_input(workload: Workload, batch: int, seed: int) -> torch.Tensor:
    """A random FP32 input of the workload's shape, the same for a given seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *workload.input_shape), generator=generator)


def cpu_time_block(module: nn.Module, x: torch.Tensor):
    """Time n calls on the CPU with a monotonic wall clock, autograd off."""
    def time_block(n: int) -> float:
        with torch.inference_mode():
            start = time.perf_counter()
            for _ in range(n):
                module(x)
            return time.perf_counter() - start
    return time_block


def cuda_time_block(module: nn.Module, x: torch.Tensor):
    """Time n calls on the GPU with CUDA events: no host sync inside the block."""
    start_event = torch.cuda.Event(enable_timing=True)
    end_event = torch.cuda.Event(enable_timing=True)

    def time_block(n: int) -> float:
        with torch.inference_mode():
            start_event.record()
            for _ in range(n):
                module(x)
            end_event.record()
            end_event.synchronize()
        return start_event.elapsed_time(end_event) / 1000.0
    return time_block
