"""What a device is: something that turns a workload into a timed callable on real hardware."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from fnbench.workload import Workload


@dataclass
class Prepared:
    """A workload made ready on a device.

    ``time_block(n)`` runs it n times and returns elapsed seconds (synchronised as the device
    requires); ``notes`` go into the record (BN folding, export, parity).
    """

    time_block: Callable[[int], float]
    notes: dict[str, Any] = field(default_factory=dict)


class Device(ABC):
    """One runtime on one kind of hardware."""

    name: str = ""
    runtimes: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ("fp32",)

    def __init__(self, runtime: str, threads: int, dtype: str = "fp32",
                 compile_mode: str | None = None) -> None:
        self.runtime = runtime
        self.threads = threads
        self.dtype = dtype
        self.compile_mode = compile_mode

    @classmethod
    @abstractmethod
    def unavailable_reason(cls) -> str | None:
        """Why this device cannot run here (with the fix), or None when it can."""

    @classmethod
    def runtime_problem(cls, runtime: str) -> str | None:
        """Why ``runtime`` cannot run on this device here (with the fix), or None."""
        return None

    @classmethod
    def dtype_problem(cls, dtype: str, runtime: str) -> str | None:
        """Why ``dtype`` cannot be measured with ``runtime`` here (with the fix), or None."""
        if dtype == "fp32":
            return None
        if runtime == "onnxruntime":
            return (f"--dtype {dtype} with ONNX Runtime is not supported yet (fnbench exports "
                    "fp32 models): use --dtype fp32, or --runtime torch or torch-compile")
        if dtype not in cls.dtypes:
            return (f"--device {cls.name} does not run --dtype {dtype}: choose "
                    f"{' or '.join(cls.dtypes)}")
        return None

    @contextmanager
    def measuring(self) -> Iterator[None]:
        """Holds this device's global settings (threads, cuDNN) for one prepare or round and
        restores the previous ones afterwards."""
        yield

    @abstractmethod
    def prepare(self, workload: Workload, batch: int, seed: int) -> Prepared:
        """Build, move and warm nothing yet: return the callable to time."""

    def describe(self) -> dict[str, Any]:
        """Device-specific facts for the run's environment record."""
        return {}
