"""Worker processes: each builds its jobs from their specs, warms up, takes rounds and streams
what it observes back as JSON lines (``python -m fnbench.worker``).

With ``--processes N`` every pass of the scheduler runs N fresh workers one after another (never
at the same time: they would compete for the cores), so effects fixed per process — memory
layout, allocator state, thread-pool placement — show up in the interval. A worker that dies
makes the job it was working on an error record; the other jobs go on in the next worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Sequence

from fnbench.measure import Protocol, Round, Warmup

if TYPE_CHECKING:
    from fnbench.devices import Device
    from fnbench.runner import Job, RunSettings, Sink

#: Test hook: a worker SIGKILLs itself when it starts preparing the workload of this name.
SELF_KILL_VARIABLE = "FNBENCH_TEST_WORKER_SELF_KILL"


class _Events:
    """A Sink that writes every event as one JSON line to ``stream``."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def emit(self, **event: Any) -> None:
        self.stream.write(json.dumps(event, default=str) + "\n")
        self.stream.flush()

    def prepared(self, job: int, notes: dict, warmup: Warmup, calls: int, process: int) -> None:
        self.emit(event="prepared", job=job, notes=notes, warmup=asdict(warmup), calls=calls,
                  process=process)

    def round(self, job: int, taken: Round, seconds: float) -> None:
        self.emit(event="round", job=job, round=taken.to_dict(), seconds=seconds)

    def failed(self, job: int, error: str, trace: str | None, notes: dict) -> None:
        self.emit(event="failed", job=job, error=error, traceback=trace, notes=notes)


def _announcer(events: _Events):
    """Tells the parent which job is in progress (so that a death is blamed on it); the test
    hook kills the worker for real when it starts preparing the named workload."""
    target = os.environ.get(SELF_KILL_VARIABLE)

    def announce(job: "Job", stage: str) -> None:
        events.emit(event="start", job=job.index, stage=stage)
        if target and stage == "prepare" and job.workload.name == target:
            os.kill(os.getpid(), signal.SIGKILL)
    return announce


def worker_main() -> None:
    """Read one task as JSON on stdin; write events as JSON lines on the original stdout (what
    libraries print goes to stderr instead)."""
    events_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    task = json.loads(sys.stdin.read())
    from fnbench.devices import open_device
    from fnbench.runner import InProcessExecutor
    from fnbench.specs import workload_from_spec

    device = open_device(task["device"], task["runtime"], task["threads"],
                         dtype=task.get("dtype", "fp32"), compile_mode=task.get("compile_mode"))
    protocol = Protocol(**task["protocol"])
    events = _Events(events_stream)
    executor = InProcessExecutor(device, task["seed"], protocol, task["process"],
                                 announce=_announcer(events))
    jobs = []
    for wire in task["jobs"]:
        try:
            workload = workload_from_spec(wire["spec"])
        except Exception as error:  # noqa: BLE001 - reported as that job's error
            events.failed(wire["index"], f"{type(error).__name__}: {error}", None, {})
            continue
        jobs.append(_WorkerJob(wire["index"], workload, wire["mode"], wire["batch"]))
    executor.run_pass(jobs, task["pass"], task["rounds"], events)  # type: ignore[arg-type]
    events.emit(event="done")


class _WorkerJob:
    """The part of a Job a worker needs."""

    def __init__(self, index: int, workload, mode: str, batch: int) -> None:
        self.index, self.workload, self.mode, self.batch = index, workload, mode, batch


def _died(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with code {returncode}"


class WorkerExecutor:
    """Runs each pass in ``settings.processes`` fresh worker processes, one after another."""

    def __init__(self, device: "Device", settings: "RunSettings") -> None:
        self.device, self.settings = device, settings

    def _task(self, jobs: Sequence["Job"], pass_index: int, process: int, rounds: int) -> dict:
        return {"device": self.device.name, "runtime": self.device.runtime,
                "threads": self.device.threads, "dtype": self.device.dtype,
                "compile_mode": self.device.compile_mode, "seed": self.settings.seed,
                "protocol": asdict(self.settings.protocol), "pass": pass_index,
                "process": process, "rounds": rounds, "jobs": [job.wire() for job in jobs]}

    def _one_worker(self, jobs: Sequence["Job"], task: dict, sink: "Sink") -> None:
        with tempfile.TemporaryFile(mode="w+") as errors:
            proc = subprocess.Popen([sys.executable, "-m", "fnbench.worker"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=errors, text=True)
            try:
                proc.stdin.write(json.dumps(task))
                proc.stdin.close()
                current = self._relay(proc, sink)
                returncode = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            if returncode != 0 and current is not None:
                errors.seek(0)
                tail = errors.read()[-2000:]
                sink.failed(current, _died(returncode), tail or None,
                            {"worker_returncode": returncode})

    @staticmethod
    def _relay(proc: subprocess.Popen, sink: "Sink") -> int | None:
        """Pass events on to ``sink``; returns the job in progress when the stream ended."""
        current = None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind, job = event.get("event"), event.get("job")
            if kind == "start":
                current = job
            elif kind == "prepared":
                sink.prepared(job, event["notes"], Warmup(**event["warmup"]), event["calls"],
                              event["process"])
            elif kind == "round":
                sink.round(job, Round.from_dict(event["round"]), event["seconds"])
                current = None
            elif kind == "failed":
                sink.failed(job, event["error"], event.get("traceback"), event.get("notes", {}))
                current = None
            elif kind == "done":
                current = None
        return current

    def run_pass(self, jobs: Sequence["Job"], pass_index: int, rounds_each: int,
                 sink: "Sink") -> None:
        for process in range(self.settings.processes):
            live = [job for job in jobs if job.error is None]
            if not live:
                return
            self._one_worker(live, self._task(live, pass_index, process, rounds_each), sink)

    def release(self, job: "Job") -> None:
        pass

    def close(self) -> None:
        pass


if __name__ == "__main__":
    worker_main()
