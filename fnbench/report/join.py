"""Records joined with the paper's published numbers: the one place that looks them up.

Each record of a run becomes a :class:`JoinedRow`: its flat fields (results.csv's columns, with
the in-memory names, and its meta) and :class:`Published`, the paper's numbers for the same case
on the paper's machine for the same device (Table 1 for operators, Table 3 or 5 for models).
Tables, figures and paper comparisons read these rows; none looks the paper up itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from fnbench.published import (PAPER_HARDWARE, PAPER_MODE, SPEED_COLUMNS, TABLE1_FLOPS_COLUMNS,
                               TABLES, model_row, table1_row)
from fnbench.records import Record, Run
from fnbench.results import record_row


@dataclass(frozen=True)
class Published:
    """The paper's numbers for one case on the paper's machine for one device.

    ``speed`` is in ``unit`` (``ms`` per image in latency mode, ``fps`` in throughput mode, the
    ``mode`` the paper measured that device in), None where the paper left the cell blank (out
    of memory). ``gflops`` is achieved 1e9 MAC/s (Table 1 only); ``flops`` MACs per sample and
    ``params`` a count, as printed (None where the table has no such column); ``top1`` in %.
    """

    table: str
    hardware: str
    mode: str
    unit: str
    speed: float | None
    gflops: float | None = None
    flops: float | None = None
    params: float | None = None
    top1: float | None = None

    @property
    def source(self) -> str:
        """The paper's name of the table: 'Table 1', 'Table 3', 'Table 5'."""
        return TABLES[self.table]


def _scaled(row: Mapping[str, Any], column: str, scale: float) -> float | None:
    value = row.get(column)
    return None if value is None else float(value) * scale


def _published(table: str, row: Mapping[str, Any] | None, device: str) -> Published | None:
    """The paper's numbers in ``row`` of ``table`` for ``device``'s paper machine."""
    if row is None or device not in SPEED_COLUMNS:
        return None
    column, unit = SPEED_COLUMNS[device]
    return Published(
        table=table, hardware=PAPER_HARDWARE[device], mode=PAPER_MODE[device], unit=unit,
        speed=_scaled(row, column, 1.0),
        gflops=_scaled(row, TABLE1_FLOPS_COLUMNS[device], 1.0) if table == "table1_operators"
        else None,
        flops=_scaled(row, "flops_m", 1e6) if "flops_m" in row else _scaled(row, "flops_g", 1e9),
        params=_scaled(row, "params_m", 1e6), top1=_scaled(row, "top1", 1.0))


def _operator_case(flat: Mapping[str, Any]) -> Published | None:
    row = table1_row(flat.get("label"), flat.get("channels"), flat.get("height"),
                     flat.get("width"), flat.get("layers"))
    return _published("table1_operators", row, flat.get("device"))


def _model_case(flat: Mapping[str, Any]) -> Published | None:
    table = flat.get("paper_table")
    return _published(table, model_row(table, flat.get("paper_row")), flat.get("device"))


#: How each suite finds a record's case in the paper.
LOOKUPS: dict[str, Callable[[Mapping[str, Any]], Published | None]] = {
    "ops": _operator_case, "models": _model_case}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class JoinedRow:
    """One record, flat, beside the paper's numbers for the same case and device.

    ``get`` reads the record (None for a missing or NaN value). The ``paper_*`` properties are
    None unless the paper measured this device in this record's mode; ratios are measured /
    published in the paper's unit (ms: above 1 is slower here; fps and GFLOPS: above 1 is
    faster here).
    """

    record: Mapping[str, Any]
    published: Published | None = None

    def get(self, key: str, default: Any = None) -> Any:
        value = self.record.get(key)
        return default if _missing(value) else value

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    @property
    def comparable(self) -> bool:
        """Whether the paper measured this record's device in this record's mode."""
        return self.published is not None and self.published.mode == self.get("mode")

    @property
    def paper_speed(self) -> float | None:
        return self.published.speed if self.comparable else None

    @property
    def paper_unit(self) -> str | None:
        """The unit of :attr:`paper_speed`, when there is one."""
        return self.published.unit if self.paper_speed is not None else None

    @property
    def paper_gflops(self) -> float | None:
        return self.published.gflops if self.comparable else None

    @property
    def measured_speed(self) -> float | None:
        """This record's speed in the paper's unit: latency ms or samples per second."""
        key = {"ms": "latency_ms", "fps": "throughput"}.get(self.paper_unit or "")
        return self.get(key) if key else None

    @property
    def speed_ratio(self) -> float | None:
        """Measured / published speed, in the paper's unit."""
        return _ratio(self.measured_speed, self.paper_speed)

    @property
    def gflops_ratio(self) -> float | None:
        """Achieved GFLOPS here / the paper's (Table 1)."""
        achieved = self.get("achieved_flops")
        return _ratio(None if achieved is None else achieved / 1e9, self.paper_gflops)

    @property
    def top1(self) -> float | None:
        """The paper's top-1 where it has this model, else the one the record carries (its
        source in ``top1_source``)."""
        if self.published is not None and self.published.top1 is not None:
            return self.published.top1
        return self.get("top1")

    def to_dict(self) -> dict[str, Any]:
        """The record's fields and the paper's, flat (``paper_*`` keys)."""
        return {**self.record, "paper_source": self.published.source if self.published else None,
                "paper_hardware": self.published.hardware if self.published else None,
                "paper_speed": self.paper_speed, "paper_unit": self.paper_unit,
                "paper_gflops": self.paper_gflops, "speed_ratio": self.speed_ratio,
                "gflops_ratio": self.gflops_ratio, "top1": self.top1}


def _ratio(measured: float | None, published: float | None) -> float | None:
    if measured is None or not published:
        return None
    return measured / published


def join_record(record: Mapping[str, Any] | Record, suite: str | None = None) -> JoinedRow:
    """One record (a run.json record or a typed Record) with the paper's numbers; ``suite``
    defaults to the record's own."""
    flat = record_row(record.to_dict() if isinstance(record, Record) else dict(record))
    lookup = LOOKUPS.get(suite or flat.get("suite"))
    return JoinedRow(flat, lookup(flat) if lookup else None)


def join_run(run: Run | Mapping[str, Any]) -> list[JoinedRow]:
    """Every record of a run (a loaded run.json or a typed Run), in order, joined."""
    if isinstance(run, Run):
        return [join_record(record, run.suite) for record in run.records]
    return [join_record(record, run.get("suite")) for record in run.get("records") or ()]


def join_records(records: Iterable[Mapping[str, Any] | Record],
                 suite: str | None = None) -> list[JoinedRow]:
    """Records from anywhere (several runs, a filter), joined."""
    return [join_record(record, suite) for record in records]
