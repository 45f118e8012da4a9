"""How much memory a workload needs, estimated before it is built, and whether it fits.

The rule (README, "Memory check"): a workload runs only when its estimated peak is at most
``BUDGET_FRACTION`` of the memory the OS reports available (``psutil.virtual_memory().available``)
when it starts. The estimate is an upper bound fitted to measured peak RSS growth on CPU:

- torch: ``copies * W + (5 b + 4) * A + 64 MiB``
- onnxruntime: ``(copies + 3) * W + (16 b + 8) * A + 128 MiB``

with ``W`` the weights in bytes, ``copies`` the copies torch holds while preparing (2 when BN
folding copies the convolutions), ``A`` the largest activation of one sample, ``b`` the batch.
ONNX Runtime adds the exported file, the session's initializers and its pre-packed weights, and
its arena holds more activations. The constant is the allocator's and libraries' overhead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

BUDGET_FRACTION = 0.8
MIB = 2 ** 20
_OVERHEAD = {"torch": 64 * MIB, "onnxruntime": 128 * MIB}
_EXTRA_WEIGHT_COPIES = {"torch": 0, "onnxruntime": 3}
_ACTIVATIONS = {"torch": (5, 4), "onnxruntime": (16, 8)}  # (per sample of the batch, fixed)


@dataclass(frozen=True)
class Footprint:
    """What a workload holds: weights (bytes, one copy), its largest activation per sample
    (bytes), and how many weight copies torch holds while preparing it."""

    weight_bytes: float
    activation_bytes: float
    weight_copies: int = 1


def peak_bytes(footprint: Footprint, batch: int, runtime: str) -> float | None:
    """The estimated peak memory of preparing and running ``footprint`` at ``batch``; None for
    a runtime without a rule."""
    runtime = "torch" if runtime.startswith("torch") else runtime  # torch-compile: torch's
    if runtime not in _ACTIVATIONS:
        return None
    per_sample, fixed = _ACTIVATIONS[runtime]
    copies = footprint.weight_copies + _EXTRA_WEIGHT_COPIES[runtime]
    return (copies * footprint.weight_bytes + (per_sample * batch + fixed)
            * footprint.activation_bytes + _OVERHEAD[runtime])


class MemoryBudgetError(RuntimeError):
    """A workload needs more memory than may be used; ``notes`` hold both numbers."""

    def __init__(self, message: str, notes: dict[str, Any]) -> None:
        super().__init__(message)
        self.notes = notes


def _gb(value: float) -> str:
    return f"{value / 1e9:.2f} GB" if value < 1e12 else f"{value / 1e12:,.1f} TB"


def check_fits(needed: float | None) -> dict[str, Any]:
    """Notes with the estimate and the available memory; MemoryBudgetError when ``needed``
    exceeds the budget. Nothing is checked when the estimate is unknown (None)."""
    if needed is None:
        return {}
    available = psutil.virtual_memory().available
    notes = {"memory_needed_bytes": int(needed), "memory_available_bytes": int(available)}
    if needed > BUDGET_FRACTION * available:
        raise MemoryBudgetError(
            f"needs about {_gb(needed)} of memory but {_gb(available)} is available (at most "
            f"{BUDGET_FRACTION:.0%} may be used): reduce --batch, --sizes or --layers, choose a "
            f"smaller model, or free memory", notes)
    return notes
