"""A run's status in words: complete, interrupted, failed or incomplete, and what did not run."""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class RunState:
    """``status`` in words, the record counts, and the planned cases that have no record
    (None when the run predates fnbench recording its plan)."""

    status: str
    complete: bool
    records: int
    planned: int | None
    missing: list[str] | None

    def counts(self) -> str:
        if self.planned is None:
            return f"{self.records} record(s)"
        return f"{self.records} of {self.planned} planned record(s)"

    def lines(self) -> list[str]:
        """The status line, then what did not run when the run is not complete."""
        lines = [f"status: {self.status}, {self.counts()}"]
        if self.complete and not self.missing:
            return lines
        if self.missing is None:
            lines.append("not run: unknown (this run.json predates fnbench recording its plan)")
        elif self.missing:
            lines.append(f"not run ({len(self.missing)}): " + ", ".join(self.missing))
        return lines


def _process_alive(pid: int, started: float | None) -> bool:
    """Whether ``pid`` runs here and, when its start time was recorded, is the same process."""
    if not psutil.pid_exists(pid):
        return False
    if started is None:
        return True
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def _running_status(run: dict[str, Any]) -> str:
    """A run still marked running: alive, gone, or impossible to tell."""
    pid, host = run.get("pid"), run.get("hostname")
    if pid is None or host is None:
        return "running, no process recorded: cannot tell whether it is still running"
    if host != socket.gethostname():
        return (f"running, written on another host ({host}): cannot tell whether it is still "
                "running")
    if _process_alive(pid, run.get("process_started")):
        return f"running (pid {pid} on host {host})"
    return (f"incomplete (the process that wrote it, pid {pid} on host {host}, is no longer "
            "running)")


def _status_words(run: dict[str, Any]) -> str:
    status = run.get("status")
    if status == "interrupted" and run.get("interrupted_by"):
        return f"interrupted ({run['interrupted_by']})"
    if status == "failed":
        return f"failed ({run.get('failure') or 'no reason recorded'})"
    if status == "running":
        return _running_status(run)
    return str(status)


def _missing(run: dict[str, Any]) -> list[str] | None:
    """Planned (name, mode) pairs without a record, in plan order."""
    if run.get("planned") is None:
        return None
    done = Counter((r.get("name"), r.get("mode")) for r in run["records"])
    missing = []
    for entry in run["planned"]:
        key = (entry["name"], entry["mode"])
        if done[key]:
            done[key] -= 1
        else:
            missing.append(f"{key[0]} ({key[1]})")
    return missing


def run_state(run: dict[str, Any]) -> RunState:
    """The state of a loaded run."""
    planned = run.get("planned")
    return RunState(status=_status_words(run), complete=run.get("status") == "complete",
                    records=len(run["records"]),
                    planned=None if planned is None else len(planned), missing=_missing(run))
