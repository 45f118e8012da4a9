"""The ``cpu`` device: PyTorch eager or ONNX Runtime on this machine's CPU."""

from __future__ import annotations

import torch

from fnbench.devices.base import Device, Prepared
from fnbench.devices.onnx_runtime import prepare_onnxruntime
from fnbench.devices.torch_eager import build_for_inference, cpu_time_block, make_input
from fnbench.workload import Workload


class CpuDevice(Device):
    """This machine's CPU, ``threads`` intra-op threads (1 by default, as the paper)."""

    name = "cpu"
    runtimes = ("torch", "onnxruntime")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def prepare(self, workload: Workload, batch: int, seed: int) -> Prepared:
        if self.runtime == "onnxruntime":
            return prepare_onnxruntime(workload, batch, seed, self.threads)
        torch.set_num_threads(self.threads)
        module, notes = build_for_inference(workload, seed)
        notes["torch_threads"] = torch.get_num_threads()
        return Prepared(cpu_time_block(module, make_input(workload, batch, seed)), notes)
