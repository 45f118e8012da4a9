"""Run files: ``run.json`` (the source of truth), ``results.csv`` and ``results.md``.

Every file is written atomically (temp file + rename), and a run directory is never reused, so an
interrupted run keeps every finished record and never damages an earlier one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from fnbench.errors import UsageError
from fnbench.records import READABLE_SCHEMAS, SCHEMA, STATUSES, Record, Run, upgrade

#: CSV columns every suite has, in this order.
COMMON_COLUMNS = ["name", "suite", "family", "device", "runtime", "mode", "batch", "threads",
                  "dtype", "flops", "params", "memory_bytes", "latency_ms", "latency_p90_ms",
                  "throughput", "achieved_flops", "status"]
#: Statistics and identity columns after the common ones (milliseconds per call).
STATS_COLUMNS = ["latency_lo_ms", "latency_hi_ms", "latency_ci_low_ms", "latency_ci_high_ms",
                 "relative_latency", "relative_lo", "relative_hi", "latency_median_ms",
                 "latency_mean_ms", "latency_std_ms", "latency_min_ms", "latency_p99_ms",
                 "latency_iqr_ms", "samples", "rounds", "converged", "uncounted_ops", "error",
                 "key", "workload_hash"]
#: Extra columns of the ops suite.
OPS_COLUMNS = ["op", "channels", "height", "width", "layers", "ratio", "groups", "impl"]


def utc_stamp(now: datetime | None = None) -> str:
    """20261125T190412Z: sortable and safe in file names."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
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

    def __init__(self, path: Path, run: Run) -> None:
        self.path = path
        self.run = run
        self._flush()

    def add(self, record: Record) -> None:
        """Add a finished record, kept in the planned order."""
        order = {p.get("key"): i for i, p in enumerate(self.run.planned)}
        records = sorted((*self.run.records, record),
                         key=lambda r: order.get(r.key, len(order)))
        self.run = replace(self.run, records=tuple(records))
        self._flush()

    def set_reference(self, record: Record | None) -> None:
        self.run = replace(self.run, reference=record)
        self._flush()

    def finish(self, status: str, markdown: str, **changes: Any) -> None:
        """Mark the run ``complete``, ``interrupted`` or ``failed`` and write every file."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        self.run = replace(self.run, status=status,
                           finished=datetime.now(timezone.utc).isoformat(), **changes)
        self._flush()
        write_atomic(self.path / "results.csv", records_frame(self.run).to_csv(index=False))
        write_atomic(self.path / "results.md", markdown)

    def _flush(self) -> None:
        write_atomic(self.path / "run.json",
                     json.dumps(_json_safe(self.run.to_dict()), indent=1) + "\n")


def load_run(path: Path | str) -> dict[str, Any]:
    """Read a run from its directory or its ``run.json``, in the current format whatever format
    it was written in; UsageError if it is not one."""
    path = Path(path)
    file = path / "run.json" if path.is_dir() else path
    try:
        run = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no run at {path}: give a run directory or its run.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{file} is not a readable fnbench run ({error}): give a run.json "
                         "written by fnbench") from None
    if not isinstance(run, dict) or not isinstance(run.get("records"), list) or \
            not str(run.get("schema", "")).startswith("fnbench.run/"):
        raise UsageError(f"{file} is not an fnbench run (schema {SCHEMA} expected): give a "
                         "run.json written by fnbench")
    if run["schema"] not in READABLE_SCHEMAS:
        raise UsageError(f"{file} has schema {run['schema']}, which this fnbench "
                         f"({', '.join(READABLE_SCHEMAS)}) cannot read: upgrade fnbench")
    return upgrade(run)


def read_run(path: Path | str) -> Run:
    """The typed run at ``path`` (see :func:`load_run`)."""
    return Run.from_dict(load_run(path))


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    row = {key: record.get(key) for key in COMMON_COLUMNS + STATS_COLUMNS}
    row["dtype"] = record.get("dtype") or "fp32"  # runs written before dtypes were fp32
    uncounted = record.get("uncounted_ops") or {}
    row["uncounted_ops"] = ";".join(f"{op}={n}" for op, n in sorted(uncounted.items()))
    row.update(record.get("meta") or {})
    return row


def records_frame(run: Run | dict[str, Any] | Iterable[dict[str, Any] | Record]
                  ) -> pd.DataFrame:
    """One flat row per record: the common columns, the statistics, then the suite's own."""
    if isinstance(run, Run):
        records: list = list(run.records)
    else:
        records = run["records"] if isinstance(run, dict) else list(run)
    rows = [_flat(r.to_dict() if isinstance(r, Record) else r) for r in records]
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in COMMON_COLUMNS + STATS_COLUMNS]
    ordered = [c for c in OPS_COLUMNS if c in extra] + [c for c in extra if c not in OPS_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=COMMON_COLUMNS + STATS_COLUMNS)
    return frame[COMMON_COLUMNS + STATS_COLUMNS + ordered]
