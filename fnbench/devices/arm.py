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
            return (f"this host is {machine}, not an ARM CPU: install fnbench on the aarch64 "
                    "board and run it there (driving a board over SSH with --host is not "
                    "built yet), or use --device cpu here")
        return None
