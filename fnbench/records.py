"""The typed run record: ``Run`` and ``Record``, their JSON format and its history.

A ``Record`` is one (workload, mode) measured on one device; a ``Run`` is one invocation: its
header (fingerprint, settings, protocol, command line), its records and the reference workload's
record. Both are immutable; ``to_dict``/``from_dict`` convert to and from ``run.json``.
:func:`upgrade` reads every older format still in use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from fnbench.history import Spread
from fnbench.measure import Interval, Measurement
from fnbench.specs import canonical, workload_hash

SCHEMA_VERSION = 3
SCHEMA = f"fnbench.run/{SCHEMA_VERSION}"
#: What changed in each version of run.json.
SCHEMA_HISTORY = {
    1: "first format (fnbench 0.1, 2026-11): one stretch of samples per record; latency_ci_* "
       "is an order-statistic interval of the median that treats samples as independent; no "
       "record key or workload hash",
    2: "2026-12: rounds interleaved across workloads (measurement.rounds, each with its start "
       "time and slot); latency_ms is the geometric mean of the round medians; latency_lo_ms/"
       "latency_hi_ms is the 95% re-run interval and latency_ci_* the 95% confidence interval, "
       "both from the variation between rounds; record key and workload_hash; relative_latency "
       "against the run's reference workload (run.reference); the planned workloads; the device's "
       "measured ceilings (run.roofline: peak MAC/s, copy bandwidth per cache level; None with "
       "--no-roofline) and per record arithmetic_intensity (MAC/byte), roofline_level (L2, L3 "
       "or DRAM: where one layer's working set fits), roofline_bound (MAC/s) and "
       "roofline_fraction (achieved / bound; notes.above_roofline when above 1)",
    3: "2026-12: latency_lo_ms/latency_hi_ms and relative_lo/relative_hi also take the "
       "machine's run-to-run spread (settings.spread, from this machine's run history and a "
       "prior; see fnbench.history), the wider of that and the within-run interval; the "
       "within-run re-run interval moves to latency_within_lo_ms/latency_within_hi_ms and "
       "relative_within_lo/relative_within_hi. Version-2 intervals were within-run only: read "
       "from a version-2 file they become the within-run fields and no re-run interval is "
       "claimed",
}
STATUSES = ("running", "complete", "interrupted", "failed")


def record_key(spec: Mapping[str, Any], device: str, runtime: str, mode: str, batch: int,
               threads: int, host: str | None = None, dtype: str = "fp32",
               compile_mode: str | None = None) -> str:
    """What two runs of the same thing share: suite, workload parameters, device, runtime, mode,
    batch, threads (and the host for a remote device, the dtype unless fp32, the torch.compile
    mode unless the default: an fp32 key is the same as before dtypes existed)."""
    params = "|".join(f"{k}={spec[k]}" for k in sorted(spec) if k != "suite"
                      and spec[k] is not None)
    where = f"|host={host}" if host else ""
    extra = f"|dtype={dtype}" if dtype != "fp32" else ""
    if compile_mode not in (None, "default"):
        extra += f"|compile_mode={compile_mode}"
    return (f"{spec.get('suite')}|{params}|device={device}{where}|runtime={runtime}"
            f"|mode={mode}|batch={batch}|threads={threads}{extra}")


def key_settings(key: str) -> list[str]:
    """A record key's parts after the workload's parameters, as record_key lays them out:
    ``device=...`` and every part after it (host, runtime, mode, batch, threads, ...)."""
    _, found, rest = key.partition("|device=")
    return ("device=" + rest).split("|") if found else []


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


@dataclass(frozen=True)
class Relative:
    """Latency relative to the run's reference workload: the geometric mean over rounds that
    ran back to back (same slot) of this round's median / the reference round's, and its 95%
    re-run interval."""

    value: float
    low: float
    high: float
    pairs: int

    @classmethod
    def paired(cls, mine: Measurement, reference: Measurement) -> "Relative | None":
        theirs = {r.slot: r.median for r in reference.rounds}
        ratios = [r.median / theirs[r.slot] for r in mine.rounds if theirs.get(r.slot)]
        interval = Interval.from_values(ratios)
        if interval is None:
            return None
        return cls(interval.estimate, interval.low, interval.high, interval.rounds)


@dataclass(frozen=True)
class Record:
    """One (workload, mode) on one device: what ran, what it costs, and what was measured.

    Derived columns (latency, interval, throughput, achieved FLOPS, relative latency) are
    computed from ``measurement`` by :meth:`measured` and stored, so that readers need no
    statistics code.
    """

    key: str
    workload_hash: str | None
    name: str
    suite: str
    family: str
    device: str
    runtime: str
    mode: str
    batch: int
    threads: int
    input_shape: tuple[int, ...]
    spec: Mapping[str, Any]
    meta: Mapping[str, Any]
    status: str = "ok"
    error: str | None = None
    notes: Mapping[str, Any] = field(default_factory=dict)
    host: str | None = None
    dtype: str = "fp32"
    flops: float | None = None
    params: int | None = None
    memory_bytes: float | None = None
    uncounted_ops: Mapping[str, int] = field(default_factory=dict)
    latency_ms: float | None = None
    latency_lo_ms: float | None = None
    latency_hi_ms: float | None = None
    latency_ci_low_ms: float | None = None
    latency_ci_high_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_median_ms: float | None = None
    latency_mean_ms: float | None = None
    latency_std_ms: float | None = None
    latency_min_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_iqr_ms: float | None = None
    throughput: float | None = None
    achieved_flops: float | None = None
    samples: int | None = None
    rounds: int | None = None
    converged: bool | None = None
    relative_latency: float | None = None
    relative_lo: float | None = None
    relative_hi: float | None = None
    latency_within_lo_ms: float | None = None
    latency_within_hi_ms: float | None = None
    relative_within_lo: float | None = None
    relative_within_hi: float | None = None
    arithmetic_intensity: float | None = None
    roofline_level: str | None = None
    roofline_bound: float | None = None
    roofline_fraction: float | None = None
    measurement: Mapping[str, Any] | None = None
    traceback: str | None = None

    @property
    def rel_interval(self) -> float | None:
        """Half-width of the 95% re-run interval relative to the latency (the larger side)."""
        if None in (self.latency_ms, self.latency_lo_ms, self.latency_hi_ms) \
                or not self.latency_ms:
            return None
        return max(self.latency_ms - self.latency_lo_ms, self.latency_hi_ms - self.latency_ms) \
            / self.latency_ms

    def measured(self, measurement: Measurement, reference: Measurement | None = None,
                 spread: Spread = Spread()) -> "Record":
        """This record with ``measurement`` and every column derived from it; the re-run
        intervals take the machine's between-run ``spread`` (the prior alone by default)."""
        stats, interval = measurement.stats, measurement.interval
        per_call = measurement.estimate
        relative = Relative.paired(measurement, reference) if reference else None
        within = (interval.low, interval.high) if interval else (None, None)
        low, high = spread.widen(per_call, *within) if interval else (None, None)
        rel_low = rel_high = None
        if relative:
            rel_low, rel_high = spread.widen(relative.value, relative.low, relative.high,
                                             relative=True)
        return replace(
            self, measurement=measurement.to_dict(), converged=measurement.converged,
            latency_ms=per_call * 1e3, latency_lo_ms=_ms(low), latency_hi_ms=_ms(high),
            latency_within_lo_ms=_ms(within[0]), latency_within_hi_ms=_ms(within[1]),
            latency_ci_low_ms=_ms(interval.ci_low if interval else None),
            latency_ci_high_ms=_ms(interval.ci_high if interval else None),
            latency_median_ms=stats.median * 1e3, latency_p90_ms=stats.p90 * 1e3,
            latency_mean_ms=stats.mean * 1e3, latency_std_ms=stats.std * 1e3,
            latency_min_ms=stats.min * 1e3, latency_p99_ms=stats.p99 * 1e3,
            latency_iqr_ms=stats.iqr * 1e3, samples=stats.count,
            rounds=len(measurement.rounds),
            throughput=self.batch / per_call if per_call > 0 else None,
            achieved_flops=(self.flops * self.batch / per_call
                            if self.flops and per_call > 0 else None),
            relative_latency=relative.value if relative else None,
            relative_lo=rel_low, relative_hi=rel_high,
            relative_within_lo=relative.low if relative else None,
            relative_within_hi=relative.high if relative else None)

    def with_roofline(self, ceilings: Mapping[str, Any] | None) -> "Record":
        """This record placed under ``ceilings`` (see :mod:`fnbench.roofline.bounds`); a record
        above its bound gets ``notes.above_roofline``."""
        from fnbench.roofline.bounds import above_roofline, roofline_fields

        fields_ = roofline_fields(self, ceilings)
        notes = dict(self.notes)
        if above_roofline(fields_["roofline_fraction"]):
            notes["above_roofline"] = True
        return replace(self, notes=notes, **fields_)

    def failed(self, error: str, traceback: str | None = None,
               notes: Mapping[str, Any] | None = None) -> "Record":
        """This record as an error record."""
        return replace(self, status="error", error=error.splitlines()[0][:500] if error else
                       "unknown error", traceback=traceback,
                       notes={**self.notes, **(notes or {})})

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["input_shape"] = list(self.input_shape)
        for name in ("spec", "meta", "notes", "uncounted_ops"):
            out[name] = dict(out[name] or {})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Record":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["input_shape"] = tuple(values.get("input_shape") or ())
        return cls(**values)


@dataclass(frozen=True)
class Run:
    """One invocation of a measuring command: header, records and the reference record."""

    suite: str
    device: str
    runtime: str
    threads: int
    started: str
    fnbench_version: str
    command: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    planned: tuple[Mapping[str, Any], ...] = ()
    records: tuple[Record, ...] = ()
    reference: Record | None = None
    roofline: Mapping[str, Any] | None = None
    status: str = "running"
    finished: str | None = None
    pid: int | None = None
    hostname: str | None = None
    process_started: float | None = None
    interrupted_by: str | None = None
    failure: str | None = None
    schema: str = SCHEMA
    upgraded_from: str | None = None

    def with_record(self, record: Record) -> "Run":
        return replace(self, records=(*self.records, record))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["command"] = list(self.command)
        out["planned"] = [dict(p) for p in self.planned]
        out["records"] = [r.to_dict() for r in self.records]
        out["reference"] = self.reference.to_dict() if self.reference else None
        out["schema_history"] = {str(k): v for k, v in SCHEMA_HISTORY.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Run":
        """A run from a dict of the current format (see :func:`upgrade` for older ones)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["command"] = tuple(values.get("command") or ())
        values["planned"] = tuple(values.get("planned") or ())
        values["records"] = tuple(Record.from_dict(r) for r in data.get("records") or ())
        ref = data.get("reference")
        values["reference"] = Record.from_dict(ref) if ref else None
        return cls(**values)


def _v1_spec(record: Mapping[str, Any]) -> dict[str, Any]:
    meta = record.get("meta") or {}
    if record.get("suite") == "ops":
        return {"suite": "ops", "op": meta.get("op"), "channels": meta.get("channels"),
                "height": meta.get("height"), "width": meta.get("width"),
                "layers": meta.get("layers"), "ratio": meta.get("ratio"),
                "groups": meta.get("groups") if meta.get("op") == "gconv" else None,
                "impl": meta.get("impl")}
    return {"suite": record.get("suite"), "model": record.get("name"),
            "weights": meta.get("weights")}


def _upgrade_v1_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-1 record in the current format. Its order-statistic interval treated samples as
    independent and does not describe a re-run: it moves to notes and no interval is claimed."""
    out = dict(record)
    spec = _v1_spec(record)
    out["spec"] = spec
    out["key"] = record_key(spec, record.get("device"), record.get("runtime"),
                            record.get("mode"), record.get("batch"), record.get("threads"))
    out["workload_hash"] = workload_hash(spec, None) if record.get("suite") == "ops" else None
    notes = dict(record.get("notes") or {})
    lo, hi = out.pop("latency_ci_low_ms", None), out.pop("latency_ci_high_ms", None)
    if lo is not None or hi is not None:
        notes["v1_iid_ci_ms"] = [lo, hi]
    out["notes"] = notes
    old = record.get("measurement") or {}
    samples = old.get("samples")
    out["measurement"] = None
    if samples:  # one stretch of samples: one round, with no start time recorded
        out["measurement"] = {
            "rounds": [{"started": 0.0, "slot": [0, 0, 0], "warmup_runs": 0,
                        "samples": samples}],
            "calls_per_sample": old.get("calls_per_sample", 1),
            "warmup": {"runs": old.get("warmup_runs", 0), "time_s": old.get("warmup_time_s", 0.0),
                       "fastest_s": None},
            "converged": old.get("converged"), "stop_reason": old.get("stop_reason"),
            "processes": 1, "stats": None, "interval": None}
        out["rounds"] = 1
    return out


def _upgrade_v2_record(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A schema-2 record in the current format: its within-run intervals keep their values
    under the within-run names; no re-run interval is claimed."""
    if record is None:
        return None
    out = dict(record)
    for old, new in (("latency_lo_ms", "latency_within_lo_ms"),
                     ("latency_hi_ms", "latency_within_hi_ms"),
                     ("relative_lo", "relative_within_lo"), ("relative_hi", "relative_within_hi")):
        out[new] = out.get(old)
        out[old] = None
    return out


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """A run.json dict of any readable schema in the current format (unchanged if current)."""
    schema = data.get("schema")
    if schema == SCHEMA:
        return dict(data)
    out = dict(data)
    if schema == "fnbench.run/1":
        out["records"] = [_upgrade_v1_record(r) for r in data.get("records") or ()]
        out["reference"] = None
    elif schema == "fnbench.run/2":
        out["records"] = [_upgrade_v2_record(r) for r in data.get("records") or ()]
        out["reference"] = _upgrade_v2_record(data.get("reference"))
    else:
        raise ValueError(f"unknown schema {schema!r}")
    out["schema"] = SCHEMA
    out["upgraded_from"] = schema
    return out


def is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


READABLE_SCHEMAS = ("fnbench.run/1", "fnbench.run/2", SCHEMA)
__all__ = ["READABLE_SCHEMAS", "Record", "Relative", "Run", "SCHEMA", "SCHEMA_HISTORY",
           "SCHEMA_VERSION", "STATUSES", "canonical", "record_key", "upgrade"]
