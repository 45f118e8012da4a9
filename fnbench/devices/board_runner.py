"""The runner fnbench ships to a remote board (``--host``): times ONNX models with ONNX Runtime.

It runs with the board's python3 and needs numpy and onnxruntime only: never torch, never
fnbench. ``measure.py`` and ``ort_session.py`` are copied beside it, so the protocol is the
same code as on the controller. Usage on the board: ``python3 board_runner.py TASK.json`` (or ``--fingerprint``
to print the board's fingerprint and exit).

The task names each job's ONNX file, input and reference output (``.npy``). The runner prints
a ``hello`` event (the board's fingerprint), then reads one command per line on stdin —
``{"cmd": "pass", "pass": P, "rounds": R, "jobs": [...]}``, ``{"cmd": "release", "job": J}``
or ``{"cmd": "exit"}`` — and answers with one JSON event per line on stdout: ``start``,
``prepared``, ``round``, ``failed`` and, after each pass, ``pass_done``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict

import numpy as np

import measure  # shipped beside this file
import ort_session  # shipped beside this file


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict:
    """The board: machine, CPU, cores, OS, python and the two packages the runner uses."""
    import onnxruntime

    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {"hostname": platform.node(), "cpu": {"model": cpu_model(), "arch": platform.machine(),
                                                 "logical_cores": os.cpu_count(),
                                                 "affinity": affinity},
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "os": platform.platform(), "python": sys.version.split()[0],
            "packages": {"numpy": np.__version__, "onnxruntime": onnxruntime.__version__}}


class Board:
    """The jobs of one task and their prepared sessions."""

    def __init__(self, task: dict, folder: str) -> None:
        self.task, self.folder = task, folder
        self.protocol = measure.Protocol(**task["protocol"])
        self.timers: dict[int, tuple] = {}

    def prepare(self, index: int):
        job = self.task["jobs"][str(index)]
        path = lambda name: os.path.join(self.folder, name)  # noqa: E731
        sess = ort_session.session(path(job["model"]), self.task["threads"])
        x = np.load(path(job["input"]))
        feed = {sess.get_inputs()[0].name: x}
        notes = ort_session.parity(np.load(path(job["reference"])), sess.run(None, feed)[0])
        notes["ort_threads"] = self.task["threads"]
        if not notes["parity_ok"]:
            emit(event="failed", job=index, notes=notes, traceback=None,
                 error=f"ParityError: the board's ONNX Runtime output differs from the "
                       f"controller's reference: relative error {notes['parity_rel_err']} "
                       f"above {ort_session.PARITY_RTOL}")
            return None

        def time_block(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                sess.run(None, feed)
            return time.perf_counter() - start

        warm = measure.warm_up(time_block, self.protocol)
        calls = warm.calls_per_sample(self.protocol, latency=job["mode"] == "latency")
        self.timers[index] = (time_block, calls)
        emit(event="prepared", job=index, notes=notes, warmup=asdict(warm), calls=calls,
             process=0)
        return self.timers[index]

    def run_pass(self, command: dict) -> None:
        failed = set()
        for k in range(command["rounds"]):
            for index in command["jobs"]:
                if index in failed:
                    continue
                try:
                    timer = self.timers.get(index)
                    if timer is None:
                        emit(event="start", job=index, stage="prepare")
                        timer = self.prepare(index)
                    if timer is None:
                        failed.add(index)
                        continue
                    emit(event="start", job=index, stage="round")
                    begin = time.perf_counter()
                    taken = measure.take_round(timer[0], self.protocol, timer[1],
                                               (command["pass"], 0, k))
                    emit(event="round", job=index, round=taken.to_dict(),
                         seconds=time.perf_counter() - begin)
                except Exception as error:  # noqa: BLE001 - one job never loses the others
                    failed.add(index)
                    emit(event="failed", job=index, notes={},
                         error=f"{type(error).__name__}: {error}".splitlines()[0][:500],
                         traceback=traceback.format_exc(limit=8))
        emit(event="pass_done")


def main() -> None:
    if sys.argv[1:] == ["--fingerprint"]:
        emit(event="hello", fingerprint=fingerprint())
        return
    task_path = sys.argv[1]
    with open(task_path, encoding="utf-8") as handle:
        task = json.load(handle)
    board = Board(task, os.path.dirname(os.path.abspath(task_path)))
    emit(event="hello", fingerprint=fingerprint(), torch_loaded="torch" in sys.modules,
         fnbench_loaded=any(name.startswith("fnbench") for name in sys.modules))
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "pass":
            board.run_pass(command)
        elif command["cmd"] == "release":
            board.timers.pop(command["job"], None)
        elif command["cmd"] == "exit":
            break
    emit(event="bye", torch_loaded="torch" in sys.modules,
         fnbench_loaded=any(name.startswith("fnbench") for name in sys.modules))


if __name__ == "__main__":
    main()
