"""The ``cuda`` device: PyTorch eager, torch.compile or ONNX Runtime's CUDA provider on an
NVIDIA GPU; cudnn.benchmark on while measuring."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch

from fnbench.devices.base import Device, Prepared
from fnbench.devices.torch_eager import cuda_time_block, prepare_module
from fnbench.workload import Workload

CUDA_PROVIDER = "CUDAExecutionProvider"


def cuda_provider_problem(providers: list[str]) -> str | None:
    """Why ONNX Runtime cannot run on the GPU given its available ``providers``, or None."""
    if CUDA_PROVIDER in providers:
        return None
    return (f"--device cuda --runtime onnxruntime needs ONNX Runtime's {CUDA_PROVIDER}, and "
            f"this onnxruntime offers {', '.join(providers)}: pip install onnxruntime-gpu "
            "(in place of onnxruntime)")


class CudaDevice(Device):
    """GPU 0 as PyTorch sees it (set CUDA_VISIBLE_DEVICES to choose another)."""

    name = "cuda"
    runtimes = ("torch", "torch-compile", "onnxruntime")
    dtypes = ("fp32", "fp16", "bf16")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not torch.cuda.is_available():
            return ("no CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False): "
                    "run on a machine with an NVIDIA GPU and a CUDA build of torch, "
                    "or use --device cpu")
        return None

    @classmethod
    def runtime_problem(cls, runtime: str) -> str | None:
        if runtime != "onnxruntime":
            return None
        import onnxruntime as ort

        return cuda_provider_problem(ort.get_available_providers())

    @classmethod
    def dtype_problem(cls, dtype: str, runtime: str) -> str | None:
        problem = super().dtype_problem(dtype, runtime)
        if problem is None and dtype == "bf16" and not torch.cuda.is_bf16_supported():
            return ("--dtype bf16: this GPU has no bf16 arithmetic (compute capability below "
                    "8.0): use --dtype fp16 or fp32")
        return problem

    @contextmanager
    def measuring(self) -> Iterator[None]:
        """``torch.backends.cudnn.benchmark = True`` for the measurement, the previous value
        after."""
        previous = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = previous

    def prepare(self, workload: Workload, batch: int, seed: int) -> Prepared:
        if self.runtime == "onnxruntime":
            from fnbench.devices.onnx_runtime import prepare_onnxruntime

            return prepare_onnxruntime(workload, batch, seed, self.threads, gpu=True)
        with self.measuring():
            compile_mode = self.compile_mode if self.runtime == "torch-compile" else None
            module, x, notes = prepare_module(workload, batch, seed, "cuda", self.dtype,
                                              compile_mode)
            notes["cudnn_benchmark"] = True
        return Prepared(cuda_time_block(module, x), notes)

    def describe(self) -> dict[str, Any]:
        props = torch.cuda.get_device_properties(0)
        return {"gpu": props.name, "gpu_memory_bytes": props.total_memory,
                "gpu_capability": f"{props.major}.{props.minor}",
                "gpu_count": torch.cuda.device_count(), "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version()}
