"""What a device is: something that turns a workload into a timed callable on real hardware."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

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

    def __init__(self, runtime: str, threads: int) -> None:
        self.runtime = runtime
        self.threads = threads

    @classmethod
    @abstractmethod
    def unavailable_reason(cls) -> str | None:
        """Why this device cannot run here (with the fix), or None when it can."""

    @abstractmethod
    def prepare(self, workload: Workload, batch: int, seed: int) -> Prepared:
        """Build, move and warm nothing yet: return the callable to time."""

    def describe(self) -> dict[str, Any]:
        """Device-specific facts for the run's environment record."""
        return {}
