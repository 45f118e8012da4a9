"""Runs workloads on a device under a protocol and turns each into a result record."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from fnbench.measure import Measurement, Protocol, measure
from fnbench.memory import check_fits
from fnbench.workload import Accounting, Workload

if TYPE_CHECKING:
    from fnbench.devices import Device

MODES = ("latency", "throughput")
DEFAULT_THROUGHPUT_BATCH = 32


@dataclass(frozen=True)
class RunSettings:
    """What one invocation measures: modes, throughput batch, seed and protocol."""

    modes: tuple[str, ...] = ("latency",)
    throughput_batch: int = DEFAULT_THROUGHPUT_BATCH
    seed: int = 0
    protocol: Protocol = Protocol()

    def batch_for(self, mode: str) -> int:
        """Latency mode is batch 1, one sample per call; throughput mode uses the set batch."""
        return 1 if mode == "latency" else self.throughput_batch

    def to_dict(self) -> dict[str, Any]:
        return {"modes": list(self.modes), "throughput_batch": self.throughput_batch,
                "seed": self.seed, "protocol": asdict(self.protocol)}


def _derived(flops: float | None, batch: int, measurement: Measurement) -> dict[str, Any]:
    stats = measurement.stats
    ms = 1e3
    per_call = stats.median
    return {
        "latency_ms": per_call * ms, "latency_p90_ms": stats.p90 * ms,
        "throughput": batch / per_call if per_call > 0 else None,
        "achieved_flops": flops * batch / per_call if flops and per_call > 0 else None,
        "latency_mean_ms": stats.mean * ms, "latency_std_ms": stats.std * ms,
        "latency_min_ms": stats.min * ms, "latency_p99_ms": stats.p99 * ms,
        "latency_iqr_ms": stats.iqr * ms, "latency_ci_low_ms": stats.ci_low * ms,
        "latency_ci_high_ms": stats.ci_high * ms, "samples": stats.count,
        "converged": measurement.converged,
    }


def _accounting(workload: Workload) -> tuple[Accounting | None, str | None]:
    try:
        return workload.accounting(), None
    except Exception as error:  # noqa: BLE001 - recorded; the workload is still timed
        return None, f"{type(error).__name__}: {error}"


def _memory_notes(workload: Workload, batch: int, runtime: str) -> dict[str, Any]:
    """The memory estimate and what is available; MemoryBudgetError when it does not fit."""
    if workload.estimate_memory is None:
        return {}
    return check_fits(workload.estimate_memory(batch, runtime))


def measure_workload(workload: Workload, device: Device, mode: str, settings: RunSettings,
                     accounted: tuple[Accounting | None, str | None] | None = None
                     ) -> dict[str, Any]:
    """One record: the workload timed in ``mode`` on ``device``, or the error that stopped it.

    ``accounted`` is the workload's (accounting, error), computed here when not given.
    """
    batch = settings.batch_for(mode)
    record: dict[str, Any] = {
        "name": workload.name, "suite": workload.suite, "family": workload.family,
        "device": device.name, "runtime": device.runtime, "mode": mode, "batch": batch,
        "threads": device.threads, "input_shape": list(workload.input_shape),
        "meta": dict(workload.meta), "status": "ok", "error": None, "notes": {},
    }
    accounting, accounting_error = accounted or _accounting(workload)
    if accounting is not None:
        record.update(flops=accounting.flops, params=accounting.params,
                      memory_bytes=accounting.memory_bytes,
                      uncounted_ops=dict(accounting.uncounted_ops))
    else:
        record.update(flops=None, params=None, memory_bytes=None, uncounted_ops={})
        record["notes"]["accounting_error"] = accounting_error
    try:
        record["notes"].update(_memory_notes(workload, batch, device.runtime))
        prepared = device.prepare(workload, batch, settings.seed)
        record["notes"].update(prepared.notes)
        calls = 1 if mode == "latency" else None
        measurement = measure(prepared.time_block, settings.protocol, calls_per_sample=calls)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - one failing workload never loses the others
        record["notes"].update(getattr(error, "notes", {}))
        record["status"] = "error"
        record["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        record["traceback"] = traceback.format_exc(limit=8)
        return record
    record.update(_derived(record["flops"], batch, measurement))
    record["measurement"] = measurement.to_dict()
    return record


def run_workloads(workloads: Sequence[Workload], device: Device, settings: RunSettings,
                  on_record: Callable[[dict[str, Any]], None],
                  on_start: Callable[[Workload, str], None] = lambda w, m: None) -> None:
    """Measure every workload in every mode, handing each record to ``on_record`` as it ends."""
    for workload in workloads:
        accounted = _accounting(workload)
        for mode in settings.modes:
            on_start(workload, mode)
            on_record(measure_workload(workload, device, mode, settings, accounted))
