"""Run files: ``run.json`` (the source of truth), ``results.csv`` and ``results.md``.

Every file is written atomically (temp file + rename), and a run directory is never reused, so an
interrupted run keeps every finished record and never damages an earlier one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from fnbench.errors import UsageError

SCHEMA = "fnbench.run/1"
STATUSES = ("running", "complete", "interrupted")

#: Columns every suite has, in this order (records_frame's names; see CSV_RENAMES).
COMMON_COLUMNS = ["name", "suite", "family", "device", "runtime", "mode", "batch", "threads",
                  "flops", "params", "memory_bytes", "latency_ms", "latency_p90_ms",
                  "throughput", "achieved_flops", "status"]
#: Statistics columns after the common ones (milliseconds per call).
STATS_COLUMNS = ["latency_mean_ms", "latency_std_ms", "latency_min_ms", "latency_p99_ms",
                 "latency_iqr_ms", "latency_ci_low_ms", "latency_ci_high_ms", "samples",
                 "converged", "uncounted_ops", "error"]
#: results.csv names the columns whose unit the in-memory name leaves out (FLOPs are MACs).
CSV_RENAMES = {"flops": "flops_macs", "achieved_flops": "achieved_flops_macs_per_s",
               "throughput": "throughput_samples_per_s"}
#: Extra columns of the ops suite.
OPS_COLUMNS = ["op", "channels", "height", "width", "layers", "ratio", "conv_channels",
               "groups", "impl"]


def utc_stamp(now: datetime | None = None) -> str:
    """20261125T190412Z: sortable and safe in file names."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def current_umask() -> int:
    """This process's umask, read from /proc where Linux offers it (setting it to read it back
    is the fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and a rename; the file
    gets the mode a plain open() would give it (mkstemp's temp files are 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def create_run_dir(parent: Path, suite: str, device: str, runtime: str) -> Path:
    """A new, empty run directory under ``parent``; an existing one is never reused."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        base = f"{suite}-{device}-{runtime}-{utc_stamp()}"
        for attempt in range(1000):
            path = parent / (base if attempt == 0 else f"{base}-{attempt}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as error:
        raise UsageError(f"cannot write to --out {parent}: {error.strerror or error}; "
                         "choose a writable folder with --out") from None
    raise UsageError(f"too many runs named {base} in {parent}: choose another --out")


class RunWriter:
    """Keeps ``run.json`` up to date after every record; writes the CSV and table at the end."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.run: dict[str, Any] = {"schema": SCHEMA, "status": "running",
                                    "started": datetime.now(timezone.utc).isoformat(),
                                    "finished": None, **header, "records": []}
        self._flush()

    def add(self, record: dict[str, Any]) -> None:
        self.run["records"].append(record)
        self._flush()

    def finish(self, status: str, markdown: str) -> None:
        """Mark the run ``complete`` or ``interrupted`` and write every file."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        self.run["status"] = status
        self.run["finished"] = datetime.now(timezone.utc).isoformat()
        self._flush()
        csv = records_frame(self.run).rename(columns=CSV_RENAMES).to_csv(index=False)
        write_atomic(self.path / "results.csv", csv)
        write_atomic(self.path / "results.md", markdown)

    def _flush(self) -> None:
        write_atomic(self.path / "run.json", json.dumps(_json_safe(self.run), indent=1) + "\n")


def load_run(path: Path | str) -> dict[str, Any]:
    """Read a run from its directory or its ``run.json``; UsageError if it is not one."""
    path = Path(path)
    file = path / "run.json" if path.is_dir() else path
    try:
        run = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no run at {path}: give a run directory or its run.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{file} is not a readable fnbench run ({error}): give a run.json "
                         "written by fnbench") from None
    if not isinstance(run, dict) or run.get("schema") != SCHEMA or \
            not isinstance(run.get("records"), list):
        raise UsageError(f"{file} is not an fnbench run (schema {SCHEMA} expected): give a "
                         "run.json written by fnbench")
    return run


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    row = {key: record.get(key) for key in COMMON_COLUMNS + STATS_COLUMNS}
    uncounted = record.get("uncounted_ops") or {}
    row["uncounted_ops"] = ";".join(f"{op}={n}" for op, n in sorted(uncounted.items()))
    row.update(record.get("meta") or {})
    return row


def records_frame(run: dict[str, Any] | Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One flat row per record: the common columns, the statistics, then the suite's own."""
    records = run["records"] if isinstance(run, dict) else list(run)
    rows = [_flat(r) for r in records]
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in COMMON_COLUMNS + STATS_COLUMNS]
    ordered = [c for c in OPS_COLUMNS if c in extra] + [c for c in extra if c not in OPS_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=COMMON_COLUMNS + STATS_COLUMNS)
    return frame[COMMON_COLUMNS + STATS_COLUMNS + ordered]
