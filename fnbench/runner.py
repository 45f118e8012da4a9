"""Runs workloads on a device in interleaved rounds and turns each into a record.

Every (workload, mode) of a run is a *job*. The scheduler takes passes: in each pass every
unfinished job gets a round (round 1 of every job, then round 2, ...), so slow drift of the
machine lands on every job alike. After each pass a job that has its minimum rounds and a narrow
enough interval, or that ran out of rounds or time, is finished and handed on as a record. The
reference workload gets a round in every pass until the last job finishes.

Rounds are taken by an executor: in this process (``processes=1``) or in fresh worker
processes (:mod:`fnbench.worker`), which build each workload from its spec.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Protocol as Interface, Sequence

from fnbench.errors import raise_if_interrupted
from fnbench.history import Spread
from fnbench.measure import Measurement, Protocol, Round, Warmup, stop_reason, take_round, \
    warm_up
from fnbench.records import Record, record_key
from fnbench.specs import reference_workload, workload_hash
from fnbench.memory import MemoryBudgetError, check_fits
from fnbench.workload import Accounting, Workload

if TYPE_CHECKING:
    from fnbench.devices import Device
    from fnbench.records import Run

MODES = ("latency", "throughput")
DEFAULT_THROUGHPUT_BATCH = 32


@dataclass(frozen=True)
class RunSettings:
    """What one invocation measures: modes, throughput batch, seed, protocol, worker processes
    and whether the reference workload runs beside the others."""

    modes: tuple[str, ...] = ("latency",)
    throughput_batch: int = DEFAULT_THROUGHPUT_BATCH
    seed: int = 0
    protocol: Protocol = Protocol()
    processes: int = 1
    reference: bool = True
    spread: Spread = Spread()
    history: bool = True
    target_given: bool = False

    def batch_for(self, mode: str) -> int:
        """Latency mode is batch 1, one sample per call; throughput mode uses the set batch."""
        return 1 if mode == "latency" else self.throughput_batch

    def to_dict(self) -> dict[str, Any]:
        return {"modes": list(self.modes), "throughput_batch": self.throughput_batch,
                "seed": self.seed, "protocol": asdict(self.protocol),
                "processes": self.processes, "reference": self.reference,
                "spread": self.spread.to_dict(), "history": self.history,
                "target_given": self.target_given, "stop_target_rel": self.stop_target()}

    def stop_target(self) -> float:
        """The within-run half-width at which a job stops: the protocol's target, or half the
        between-run spread's when that is wider (below it more rounds cannot narrow the
        re-run interval, which the between-run spread then sets); a target the user gave
        (``--target-ci``) is kept as given."""
        if self.target_given:
            return self.protocol.target_rel_ci
        return max(self.protocol.target_rel_ci, math.expm1(self.spread.half_width()) / 2)


@dataclass
class Job:
    """One (workload, mode) being measured: its base record and the rounds so far."""

    index: int
    workload: Workload
    mode: str
    batch: int
    record: Record
    reference: bool = False
    rounds: list[Round] = field(default_factory=list)
    spent_s: float = 0.0
    warmup: Warmup | None = None
    calls_per_sample: int | None = None
    processes: set[int] = field(default_factory=set)
    error: tuple[str, str | None, dict] | None = None
    done: bool = False

    def wire(self) -> dict[str, Any]:
        """What a worker needs to rebuild and time this job."""
        return {"index": self.index, "spec": dict(self.workload.spec), "mode": self.mode,
                "batch": self.batch}


class Sink(Interface):
    """Receives what an executor observes."""

    def prepared(self, job: int, notes: dict, warmup: Warmup, calls: int,
                 process: int) -> None: ...
    def round(self, job: int, taken: Round, seconds: float) -> None: ...
    def failed(self, job: int, error: str, trace: str | None, notes: dict) -> None: ...


class Executor(Interface):
    """Takes rounds of jobs (in this process or in workers)."""

    def run_pass(self, jobs: Sequence[Job], pass_index: int, rounds_each: int,
                 sink: Sink) -> None: ...
    def release(self, job: Job) -> None: ...
    def close(self) -> None: ...


#: How allocation failures read: PyTorch's CPU allocator, ONNX Runtime's arena, C++ bad_alloc.
_OOM_MESSAGES = ("can't allocate memory", "out of memory", "failed to allocate memory",
                 "bad_alloc", "bad allocation")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (CPU or GPU; ONNX Runtime's errors are plain
    Exceptions, so the message decides)."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    return any(text in str(error).lower() for text in _OOM_MESSAGES)


def error_text(error: BaseException, batch: int | None = None) -> str:
    """The record's one-line error; an allocation failure names the batch (which fnbench
    never lowers by itself)."""
    text = f"{type(error).__name__}: {error}".splitlines()[0][:400]
    if batch is None or not is_out_of_memory(error):
        return text[:500]
    fix = "lower --batch" if batch > 1 else "the workload does not fit in this device's memory"
    return f"out of memory at batch {batch}: {fix} ({text})"


class Timer:
    """A prepared workload on a device: its ``time_block`` and calls per sample."""

    def __init__(self, time_block: Callable[[int], float], calls: int) -> None:
        self.time_block, self.calls = time_block, calls


class InProcessExecutor:
    """Prepares each job once on ``device`` in this process and takes its rounds here."""

    def __init__(self, device: "Device", seed: int, protocol: Protocol, process: int = 0,
                 announce: Callable[[Job, str], None] = lambda job, stage: None) -> None:
        self.device, self.seed, self.protocol, self.process = device, seed, protocol, process
        self.timers: dict[int, Timer] = {}
        self.announce = announce  # told before each prepare and round (workers report it)

    def _prepare(self, job: Job, sink: Sink) -> Timer | None:
        memory: dict = {}
        try:
            self.announce(job, "prepare")
            with self.device.measuring():
                memory = _memory_notes(job.workload, job.batch, self.device.runtime)
                prepared = self.device.prepare(job.workload, job.batch, self.seed)
                warm = warm_up(prepared.time_block, self.protocol)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - one failing workload never loses the others
            raise_if_interrupted()
            sink.failed(job.index, error_text(error, job.batch), traceback.format_exc(limit=8),
                        dict(getattr(error, "notes", {})))
            return None
        calls = warm.calls_per_sample(self.protocol, latency=job.mode == "latency")
        timer = self.timers[job.index] = Timer(prepared.time_block, calls)
        sink.prepared(job.index, {**memory, **prepared.notes}, warm, calls, self.process)
        return timer

    def run_pass(self, jobs: Sequence[Job], pass_index: int, rounds_each: int,
                 sink: Sink) -> None:
        failed: set[int] = set()
        for k in range(rounds_each):
            for job in jobs:
                if job.index in failed:
                    continue
                timer = self.timers.get(job.index) or self._prepare(job, sink)
                if timer is None:
                    failed.add(job.index)
                    continue
                self.announce(job, "round")
                begin = time.perf_counter()
                try:
                    with self.device.measuring():
                        taken = take_round(timer.time_block, self.protocol, timer.calls,
                                           (pass_index, self.process, k))
                except KeyboardInterrupt:
                    raise
                except Exception as error:  # noqa: BLE001 - e.g. out of memory mid-run
                    raise_if_interrupted()
                    sink.failed(job.index, error_text(error, job.batch),
                                traceback.format_exc(limit=8), {})
                    failed.add(job.index)
                    continue
                sink.round(job.index, taken, time.perf_counter() - begin)

    def release(self, job: Job) -> None:
        self.timers.pop(job.index, None)

    def close(self) -> None:
        self.timers.clear()


def _accounting(workload: Workload, dtype: str = "fp32"
                ) -> tuple[Accounting | None, str | None]:
    from fnbench.accounting import DTYPE_BYTES

    try:
        return workload.accounting(DTYPE_BYTES[dtype]), None
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - recorded; the workload is still timed
        raise_if_interrupted()
        return None, f"{type(error).__name__}: {error}"


def _memory_notes(workload: Workload, batch: int, runtime: str) -> dict[str, Any]:
    """The memory estimate and what is available; MemoryBudgetError (naming the batch) when it
    does not fit."""
    if workload.estimate_memory is None:
        return {}
    try:
        return check_fits(workload.estimate_memory(batch, runtime))
    except MemoryBudgetError as error:
        raise MemoryBudgetError(f"at batch {batch}: {error}", error.notes) from None


def base_record(workload: Workload, device: "Device", mode: str, batch: int,
                accounted: tuple[Accounting | None, str | None]) -> Record:
    """The record of ``workload`` in ``mode`` before it is measured: identity and accounting."""
    accounting, accounting_error = accounted
    spec = dict(workload.spec)
    host = getattr(device, "host", None)
    dtype = getattr(device, "dtype", "fp32")
    record = Record(
        key=record_key(spec, device.name, device.runtime, mode, batch, device.threads, host,
                       dtype, getattr(device, "compile_mode", None)),
        workload_hash=workload_hash(spec, accounting.structure_hash if accounting else None),
        name=workload.name, suite=workload.suite, family=workload.family, device=device.name,
        runtime=device.runtime, mode=mode, batch=batch, threads=device.threads,
        input_shape=tuple(workload.input_shape), spec=spec, meta=dict(workload.meta),
        host=host, dtype=dtype)
    if accounting is None:
        return replace(record, notes={"accounting_error": accounting_error})
    meta = dict(record.meta)
    if accounting.layers and "layers" not in meta:
        meta["layers"] = accounting.layers  # a model's leaf-module calls (roofline level)
    return replace(record, flops=accounting.flops, params=accounting.params,
                   memory_bytes=accounting.memory_bytes, meta=meta,
                   uncounted_ops=dict(accounting.uncounted_ops))


class _Collector:
    """The scheduler's sink: files what executors observe under each job."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = {job.index: job for job in jobs}

    def prepared(self, job: int, notes: dict, warmup: Warmup, calls: int, process: int) -> None:
        target = self.jobs[job]
        target.record = replace(target.record, notes={**target.record.notes, **notes})
        target.warmup = target.warmup or warmup
        target.calls_per_sample = target.calls_per_sample or calls
        target.processes.add(process)

    def round(self, job: int, taken: Round, seconds: float) -> None:
        target = self.jobs[job]
        target.rounds.append(taken)
        target.spent_s += seconds

    def failed(self, job: int, error: str, trace: str | None, notes: dict) -> None:
        self.jobs[job].error = (error, trace, notes)


def _measurement(job: Job, reason: str, processes: int) -> Measurement:
    return Measurement(tuple(job.rounds), job.calls_per_sample or 1,
                       job.warmup or Warmup(0, 0.0, math.inf), reason == "converged", reason,
                       processes)


def _finish(job: Job, reason: str, processes: int, reference: Job | None,
            spread: Spread = Spread()) -> Record:
    job.done = True
    if job.error is not None:
        error, trace, notes = job.error
        return job.record.failed(error, trace, notes)
    if not job.rounds:
        return job.record.failed(f"no round was measured ({reason})")
    ref = None
    if reference is not None and reference.rounds and reference.error is None:
        ref = _measurement(reference, "reference", processes)
    return job.record.measured(_measurement(job, reason, processes), ref, spread)


def plan_jobs(workloads: Sequence[Workload], device: "Device", settings: RunSettings,
              on_accounting: Callable[[Workload], None] = lambda w: None) -> list[Job]:
    """One job per workload and mode, accounting done once per workload, in the given order;
    the reference workload last when the settings ask for it."""
    jobs: list[Job] = []
    dtype = getattr(device, "dtype", "fp32")
    for workload in workloads:
        on_accounting(workload)
        accounted = _accounting(workload, dtype)
        for mode in settings.modes:
            batch = settings.batch_for(mode)
            jobs.append(Job(len(jobs), workload, mode, batch,
                            base_record(workload, device, mode, batch, accounted)))
    if settings.reference and jobs:
        workload = reference_workload()
        jobs.append(Job(len(jobs), workload, "latency", 1,
                        base_record(workload, device, "latency", 1,
                                    _accounting(workload, dtype)),
                        reference=True))
    return jobs


def run_jobs(jobs: Sequence[Job], executor: Executor, settings: RunSettings,
             on_record: Callable[[Record], None],
             on_pass: Callable[[int, int], None] = lambda p, n: None) -> Record | None:
    """Take interleaved passes until every job is finished; hand each record on as it finishes.
    Returns the reference record (None without one)."""
    protocol = replace(settings.protocol, target_rel_ci=settings.stop_target())
    collector = _Collector(jobs)
    reference = next((job for job in jobs if job.reference), None)
    processes = settings.processes
    first_rounds = max(1, math.ceil(protocol.min_rounds / processes)) if processes > 1 else 1
    pass_index = 0
    try:
        while True:
            active = [job for job in jobs if not job.done and not job.reference]
            if not active:
                break
            on_pass(pass_index, len(active))
            batch = active + ([reference] if reference and not reference.done else [])
            executor.run_pass(batch, pass_index, first_rounds if pass_index == 0 else 1,
                              collector)
            for job in active:
                reason = "error" if job.error else stop_reason(job.rounds, job.spent_s,
                                                               protocol)
                if reason is None and pass_index > 10 * protocol.max_rounds:
                    reason = "no_rounds"  # a job that never gets rounds must still end
                if reason:
                    on_record(_finish(job, reason, processes, reference, settings.spread))
                    executor.release(job)
            pass_index += 1
    finally:
        executor.close()
    if reference is None:
        return None
    return _finish(reference, "reference", processes, None, settings.spread)


def run_workloads(workloads: Sequence[Workload], device: "Device", settings: RunSettings,
                  on_record: Callable[[Record], None],
                  on_pass: Callable[[int, int], None] = lambda p, n: None,
                  executor: Executor | None = None) -> Record | None:
    """Measure every workload in every mode in interleaved rounds (see the module docstring)."""
    jobs = plan_jobs(workloads, device, settings)
    if executor is None:
        if settings.processes > 1:
            from fnbench.worker import WorkerExecutor

            executor = WorkerExecutor(device, settings)
        else:
            executor = InProcessExecutor(device, settings.seed, settings.protocol)
    return run_jobs(jobs, executor, settings, on_record, on_pass)


def history_identity(device: "Device", settings: RunSettings) -> dict[str, Any]:
    """What a run's between-run spread depends on: the machine and packages (as for its
    roofline), device, runtime, threads, host, dtype, torch.compile mode, the protocol and
    whether estimates are relative to the reference."""
    from fnbench.roofline.lookup import identity

    machine = identity(device, quick=False)
    machine.pop("sizes", None)
    return {**machine, **device_settings(device), "protocol": asdict(settings.protocol),
            "reference": settings.reference}


def device_settings(device: "Device") -> dict[str, Any]:
    """The run settings the device holds: dtype, and torch.compile's mode when compiling."""
    out: dict[str, Any] = {"dtype": getattr(device, "dtype", "fp32")}
    if getattr(device, "compile_mode", None):
        out["compile_mode"] = device.compile_mode
    return out


def new_run(suite: str, device: "Device", settings: RunSettings, command: Sequence[str],
            jobs: Sequence[Job]) -> "Run":
    """The header of a run about to measure ``jobs``: fingerprint, settings, protocol, command
    line and the planned records, with this process's id and host (to tell a dead run)."""
    import os
    import socket
    from datetime import datetime, timezone

    from fnbench import __version__
    from fnbench.devices.fingerprint import environment
    from fnbench.records import Run

    env = environment(device.threads)
    env["device"] = device.describe()
    planned = tuple({"key": job.record.key, "name": job.workload.name, "mode": job.mode}
                    for job in jobs if not job.reference)
    import psutil

    return Run(suite=suite, device=device.name, runtime=device.runtime, threads=device.threads,
               started=datetime.now(timezone.utc).isoformat(), fnbench_version=__version__,
               command=tuple(command),
               settings={**settings.to_dict(), **device_settings(device)}, environment=env,
               planned=planned, pid=os.getpid(), hostname=socket.gethostname(),
               process_started=psutil.Process().create_time())
