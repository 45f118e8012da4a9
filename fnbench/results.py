"""Run files: ``run.json`` (the source of truth), ``results.csv`` and ``results.md``.

Every file is written atomically (temp file + rename), and a run directory is never reused, so an
interrupted run keeps every finished record and never damages an earlier one.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import psutil

from fnbench.errors import UsageError
from fnbench.records import READABLE_SCHEMAS, SCHEMA, STATUSES, Record, Run, upgrade

if TYPE_CHECKING:
    import pandas as pd

SUITES = ("ops", "models")

#: CSV columns every suite has, in this order.
COMMON_COLUMNS = ["name", "suite", "family", "device", "runtime", "mode", "batch", "threads",
                  "dtype", "flops", "params", "memory_bytes", "latency_ms", "latency_p90_ms",
                  "throughput", "achieved_flops", "status"]
#: Statistics and identity columns after the common ones (milliseconds per call).
STATS_COLUMNS = ["latency_lo_ms", "latency_hi_ms", "latency_ci_low_ms", "latency_ci_high_ms",
                 "relative_latency", "relative_lo", "relative_hi", "latency_within_lo_ms",
                 "latency_within_hi_ms", "relative_within_lo", "relative_within_hi",
                 "latency_median_ms",
                 "latency_mean_ms", "latency_std_ms", "latency_min_ms", "latency_p99_ms",
                 "latency_iqr_ms", "samples", "rounds", "converged", "uncounted_ops", "error",
                 "key", "workload_hash"]
#: results.csv names the columns whose unit the in-memory name leaves out (FLOPs are MACs).
CSV_RENAMES = {"flops": "flops_macs", "achieved_flops": "achieved_flops_macs_per_s",
               "throughput": "throughput_samples_per_s"}
#: Where each record sits under the run's roofline (empty with --no-roofline).
ROOFLINE_COLUMNS = ["arithmetic_intensity", "roofline_level", "roofline_bound",
                    "roofline_fraction"]
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


#: Errors that more room would fix.
NO_ROOM = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))


class RunFileError(Exception):
    """A run file could not be written (disk full, file too large, ...): the CLI exits 1."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path, self.reason = path, error.strerror or str(error)
        fix = "free space" if error.errno in NO_ROOM else "check that folder"
        super().__init__(f"cannot write {path} ({self.reason}): {fix} or choose another --out")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and a rename; the file
    gets the mode a plain open() would give it (mkstemp's temp files are 0600). An
    operating-system failure is a RunFileError; ``path`` is then left as it was.
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise RunFileError(path, error) from None
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
    """Keeps ``run.json`` up to date after every record; writes the CSV and table at the end.

    The run's ``planned`` list names every record it means to measure, so that a report can
    name those that never ran.
    """

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

    def update(self, **changes: Any) -> None:
        """Change header fields (e.g. the environment a remote board reported)."""
        self.run = replace(self.run, **changes)

    def finish(self, status: str, markdown: str | Callable[[Run], str],
               **details: Any) -> None:
        """Mark the run ``complete``, ``interrupted`` or ``failed`` (with ``details`` such as
        ``interrupted_by``) and write every file; ``markdown`` may be a function of the run."""
        self._mark(status, **details)
        self._flush()
        csv = records_frame(self.run).rename(columns=CSV_RENAMES).to_csv(index=False)
        write_atomic(self.path / "results.csv", csv)
        text = markdown(self.run) if callable(markdown) else markdown
        write_atomic(self.path / "results.md", text)

    def fail(self, reason: str) -> bool:
        """Mark the run ``failed`` with ``reason`` if run.json can still be written."""
        self._mark("failed", failure=reason)
        try:
            self._flush()
        except RunFileError:
            return False
        return True

    def _mark(self, status: str, **details: Any) -> None:
        if status not in STATUSES or status == "running":
            raise ValueError(f"unknown run status {status!r}")
        self.run = replace(self.run, status=status,
                           finished=datetime.now(timezone.utc).isoformat(), **details)

    def _flush(self) -> None:
        write_atomic(self.path / "run.json",
                     json.dumps(_json_safe(self.run.to_dict()), indent=1) + "\n")


#: Keys every record needs, with their types.
RECORD_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str, "family": str, "device": str, "runtime": str, "mode": str, "batch": int,
    "threads": int, "status": str, "meta": dict}
#: Keys a record may leave out or set to null, with their types otherwise.
OPTIONAL_KEYS: dict[str, type | tuple[type, ...]] = {
    "error": str, "uncounted_ops": dict, "converged": bool, "samples": int, "rounds": int,
    "key": str, "workload_hash": str, "spec": dict, "host": str, "measurement": dict,
    **{key: (int, float) for key in ("flops", "params", "memory_bytes", "latency_ms",
                                     "latency_p90_ms", "throughput", "achieved_flops",
                                     "latency_mean_ms", "latency_std_ms", "latency_min_ms",
                                     "latency_p99_ms", "latency_iqr_ms", "latency_ci_low_ms",
                                     "latency_ci_high_ms", "latency_lo_ms", "latency_hi_ms",
                                     "latency_median_ms", "relative_latency", "relative_lo",
                                     "relative_hi", "latency_within_lo_ms",
                                     "latency_within_hi_ms", "relative_within_lo",
                                     "relative_within_hi")}}
#: Keys each suite's tables read from a record's ``meta``: required, then optional.
META_KEYS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ops": ({"op": str, "channels": int, "height": int, "width": int, "layers": int},
            {"label": str, "impl": str, "groups": int, "ratio": (int, float)}),
    "models": ({"resolution": int}, {"top1": (int, float), "paper_row": str,
                                     "paper_table": str})}
#: Header keys a run may lack (older runs), with their types.
HEADER_KEYS: dict[str, type | tuple[type, ...]] = {
    "pid": int, "hostname": str, "process_started": (int, float), "interrupted_by": str,
    "failure": str, "planned": list, "started": str, "settings": dict, "environment": dict}
#: Objects inside a run's environment, where given.
ENVIRONMENT_KEYS: dict[str, type | tuple[type, ...]] = {
    "cpu": dict, "packages": dict, "fnbench": dict}
PAPER_TABLES = ("table3_imagenet", "table5_ablation")
#: Record values that are times or ratios of times: finite and above zero where given.
POSITIVE_KEYS = ("latency_ms", "latency_p90_ms", "latency_mean_ms", "latency_min_ms",
                 "latency_p99_ms", "latency_ci_low_ms", "latency_ci_high_ms", "latency_lo_ms",
                 "latency_hi_ms", "latency_median_ms", "relative_latency", "relative_lo",
                 "relative_hi", "latency_within_lo_ms", "latency_within_hi_ms",
                 "relative_within_lo", "relative_within_hi", "throughput", "achieved_flops")
#: Record values that are counts or spreads: finite and not negative where given.
COUNT_KEYS = ("flops", "params", "memory_bytes", "latency_std_ms", "latency_iqr_ms", "samples",
              "rounds")
RECORD_STATUSES = ("ok", "error")
RECORD_MODES = ("latency", "throughput")


def _type_problem(value: Any, kind: type | tuple[type, ...], optional: bool) -> str | None:
    """Why ``value`` is not of ``kind`` (bool is no number), or None when it is."""
    if value is None and optional:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return "a bool"
    if isinstance(value, kinds):
        return None
    return "null" if value is None else f"a {type(value).__name__}"


def _key_problems(data: dict[str, Any], required: dict[str, Any], optional: dict[str, Any]
                  ) -> Iterable[str]:
    for key, kind in {**required, **optional}.items():
        if key in required and key not in data:
            yield f"has no {key!r}"
        elif key in data:
            value = data[key]
            exact = type(value)  # the common case, checked fast: a value of exactly that type
            if exact is kind or (type(kind) is tuple and exact in kind):
                continue
            problem = _type_problem(value, kind, key not in required)
            if problem:
                names = kind if isinstance(kind, tuple) else (kind,)
                wanted = " or ".join(k.__name__ for k in names)
                yield f"has {key!r} = {problem}, not {wanted}"


def _number_problem(key: str, value: Any, positive: bool) -> str | None:
    if value is None or (math.isfinite(value) and (value > 0 if positive else value >= 0)):
        return None
    return f"has {key!r} = {value!r}, not a finite {'positive' if positive else 'non-negative'}" \
        " number"


def _measurement_problem(measurement: Any) -> str | None:
    """What is wrong with a record's rounds (a list of objects whose samples are positive
    times), or None."""
    if measurement is None:
        return None
    rounds = measurement.get("rounds")
    if rounds is None:
        return None
    if not isinstance(rounds, list):
        return "has measurement rounds that are not a list"
    for i, entry in enumerate(rounds):
        samples = entry.get("samples") if isinstance(entry, dict) else None
        if not isinstance(samples, list) or not samples or not all(
                type(v) in (int, float) and math.isfinite(v) and v > 0 for v in samples):
            return f"has measurement round {i} without a list of positive sample times"
    return None


def _record_values_problem(record: dict[str, Any]) -> str | None:
    """Values no fnbench writes: a time that is not a positive number, an unknown status or
    mode, rounds without sample times."""
    if record["status"] not in RECORD_STATUSES:
        return f"has status {record['status']!r}, not one of {', '.join(RECORD_STATUSES)}"
    if record["mode"] not in RECORD_MODES:
        return f"has mode {record['mode']!r}, not one of {', '.join(RECORD_MODES)}"
    for keys, positive in ((POSITIVE_KEYS, True), (COUNT_KEYS, False)):
        for key in keys:
            problem = _number_problem(key, record.get(key), positive)
            if problem:
                return problem
    return _measurement_problem(record.get("measurement"))


def _record_problem(record: Any, suite: str) -> str | None:
    """What is wrong with one record for the tables of ``suite``, or None."""
    if not isinstance(record, dict):
        return f"is a {type(record).__name__}, not an object"
    for problem in _key_problems(record, RECORD_KEYS, OPTIONAL_KEYS):
        return problem
    problem = _record_values_problem(record)
    if problem:
        return problem
    for problem in _key_problems(record["meta"], *META_KEYS[suite]):
        return "meta " + problem
    if record["meta"].get("paper_table") not in (None, *PAPER_TABLES):
        return f"meta has an unknown paper_table {record['meta']['paper_table']!r}"
    return None


def _planned_problem(planned: Any) -> str | None:
    for i, entry in enumerate(planned or []):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("name", "mode")):
            return f"planned entry {i} is not a {{name, mode}} pair of strings"
    return None


def _run_problem(run: dict[str, Any]) -> str | None:
    """What is wrong with a run that has the right schema, or None."""
    if run.get("suite") not in SUITES:
        return f"has suite {run.get('suite')!r}, not one of {', '.join(SUITES)}"
    if run.get("status") not in STATUSES:
        return f"has status {run.get('status')!r}, not one of {', '.join(STATUSES)}"
    for problem in _key_problems(run, {}, HEADER_KEYS):
        return problem
    problem = _planned_problem(run.get("planned")) or _header_objects_problem(run)
    if problem:
        return problem
    keys: dict[str, int] = {}
    for i, record in enumerate(run["records"]):
        problem = _record_problem(record, run["suite"])
        if problem:
            return f"record {i} {problem}"
        key = record.get("key")
        if key is None and run["schema"] != "fnbench.run/1":
            return f"record {i} has no 'key'"
        if key is not None and keys.setdefault(key, i) != i:
            return f"records {keys[key]} and {i} have the same key {key!r}"
    if run.get("reference") is not None:
        problem = _record_problem(run["reference"], "ops")
        if problem:
            return f"reference record {problem}"
    return None


def _header_objects_problem(run: dict[str, Any]) -> str | None:
    """What the header's objects hold of the wrong type (the environment's objects, its git
    record, the recorded spread), or a spread that no fnbench writes; None when all is well.
    The header's own keys are checked against HEADER_KEYS before."""
    environment = run.get("environment") or {}
    for problem in _key_problems(environment, {}, ENVIRONMENT_KEYS):
        return "environment " + problem
    for problem in _key_problems(environment.get("fnbench") or {}, {}, {"git": dict}):
        return "environment fnbench " + problem
    for problem in _key_problems(run.get("settings") or {}, {}, {"spread": dict}):
        return "settings " + problem
    spread = (run.get("settings") or {}).get("spread")
    if spread is not None:
        for key, low in (("sd", 0.0), ("relative_sd", 0.0), ("df", 1), ("runs", 0)):
            value = spread.get(key)
            if value is None and key in ("sd", "df"):
                return f"has a settings spread without {key!r}"
            if value is not None and (type(value) not in (int, float) or not math.isfinite(value)
                                      or value < low or (key in ("df", "runs")
                                                         and value != int(value))):
                return f"has settings spread {key} = {value!r}, which no fnbench writes"
    return None


def _no_run(path: Path) -> str:
    """Why there is no run at ``path`` (no such path, or a folder without run.json), and what
    to give instead."""
    if not path.is_dir():
        return f"no run at {path}: no such file or folder; give a run directory or its run.json"
    try:
        runs = sorted(p for p in path.iterdir() if (p / "run.json").is_file())
    except OSError:
        runs = []
    inside = (f"; it holds {len(runs)} run(s), such as {runs[-1]}: give those (several at once "
              "are fine)" if runs else
              ": give a run directory (SUITE-DEVICE-RUNTIME-STAMP, written by fnbench ops or "
              "models) or its run.json")
    return f"no run at {path}: the folder has no run.json{inside}"


def load_run(path: Path | str) -> dict[str, Any]:
    """Read a run from its directory or its ``run.json``, in the current format whatever format
    it was written in; UsageError naming the problem if it is not one or is damaged."""
    path = Path(path)
    file = path / "run.json" if path.is_dir() else path
    try:
        run = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(_no_run(path)) from None
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
    problem = _run_problem(run)
    if problem:
        raise UsageError(f"{file} is damaged: it {problem}; restore it from a copy or rerun "
                         "the benchmark")
    return upgrade(run)


def read_run(path: Path | str) -> Run:
    """The typed run at ``path`` (see :func:`load_run`)."""
    return Run.from_dict(load_run(path))


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    """One record as a flat row: results.csv's columns (in-memory names), then its meta."""
    row = {key: record.get(key) for key in COMMON_COLUMNS + STATS_COLUMNS + ROOFLINE_COLUMNS}
    row["dtype"] = record.get("dtype") or "fp32"  # runs written before dtypes were fp32
    uncounted = record.get("uncounted_ops") or {}
    row["uncounted_ops"] = ";".join(f"{op}={n}" for op, n in sorted(uncounted.items()))
    row.update(record.get("meta") or {})
    return row


def records_frame(run: Run | dict[str, Any] | Iterable[dict[str, Any] | Record]
                  ) -> pd.DataFrame:
    """One flat row per record: the common columns, the statistics, then the suite's own."""
    import pandas as pd  # here only: reading runs (fnbench compare) needs no pandas

    if isinstance(run, Run):
        records: list = list(run.records)
    else:
        records = run["records"] if isinstance(run, dict) else list(run)
    rows = [record_row(r.to_dict() if isinstance(r, Record) else r) for r in records]
    frame = pd.DataFrame(rows)
    fixed = COMMON_COLUMNS + STATS_COLUMNS + ROOFLINE_COLUMNS
    extra = [c for c in frame.columns if c not in fixed]
    ordered = [c for c in OPS_COLUMNS if c in extra] + [c for c in extra if c not in OPS_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=fixed)
    return frame[fixed + ordered]
