"""The ``arm`` device: ONNX Runtime (or PyTorch) on an aarch64 CPU, run on the board itself."""

from __future__ import annotations

import platform

from fnbench.devices.cpu import CpuDevice

ARM_MACHINES = ("aarch64", "arm64")


class ArmDevice(CpuDevice):
    """This machine's CPU when it is an ARM one; ONNX Runtime is its default runtime."""

    name = "arm"
    runtimes = ("onnxruntime", "torch")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        machine = platform.machine()
        if machine.lower() not in ARM_MACHINES:
            return (f"this host is {machine}, not an ARM (aarch64) CPU: measure a board from here with "
                    "--device arm --host [user@]BOARD[:PORT] (the board needs python3, numpy "
                    "and onnxruntime), or use --device cpu for this machine")
        return None
