"""The ``cuda`` device: PyTorch eager on an NVIDIA GPU, cudnn.benchmark on, CUDA-event timing."""

from __future__ import annotations

from typing import Any

import torch

from fnbench.devices.base import Device, Prepared
from fnbench.devices.torch_eager import build_for_inference, cuda_time_block, make_input
from fnbench.workload import Workload


class CudaDevice(Device):
    """GPU 0 as PyTorch sees it (set CUDA_VISIBLE_DEVICES to choose another)."""

    name = "cuda"
    runtimes = ("torch",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not torch.cuda.is_available():
            return ("no CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False): "
                    "run on a machine with an NVIDIA GPU and a CUDA build of torch, "
                    "or use --device cpu")
        return None

    def prepare(self, workload: Workload, batch: int, seed: int) -> Prepared:
        torch.backends.cudnn.benchmark = True
        module, notes = build_for_inference(workload, seed)
        module = module.cuda()
        x = make_input(workload, batch, seed).cuda()
        notes["cudnn_benchmark"] = True
        return Prepared(cuda_time_block(module, x), notes)

    def describe(self) -> dict[str, Any]:
        props = torch.cuda.get_device_properties(0)
        return {"gpu": props.name, "gpu_memory_bytes": props.total_memory,
                "gpu_capability": f"{props.major}.{props.minor}",
                "gpu_count": torch.cuda.device_count(), "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version()}
