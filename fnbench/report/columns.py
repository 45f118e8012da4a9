"""The columns of each suite's table, as data: one registry per suite.

A :class:`Column` has a machine name (the CSV header, with its unit), a header (terminal,
Markdown, HTML), its unit, how to get its value from a joined row (unformatted, in that unit),
how to write it as a cell, how the cell wraps, and its drop priority: a narrow terminal leaves
out the column with the lowest number first; None: never left out. A :class:`Suite` lists its
columns in order with the notes that go with them; :data:`SUITES` holds one per suite.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from fnbench.report.join import JoinedRow
from fnbench.report.roofline import roof_cell
from fnbench.report.table import fmt

FORMATS = ("table", "md", "csv", "html")


@dataclass(frozen=True)
class Layout:
    """What decides a run's columns beyond its suite: several modes (a mode column), a
    roofline (% roof), and the unit of the paper's speed (None when no row has one)."""

    several_modes: bool = False
    roofline: bool = False
    paper_unit: str | None = None

    @classmethod
    def of(cls, rows: Sequence[JoinedRow]) -> "Layout":
        return cls(several_modes=len({row.get("mode") for row in rows}) > 1,
                   roofline=any(row.get("roofline_fraction") is not None for row in rows),
                   paper_unit=next((row.paper_unit for row in rows if row.paper_unit), None))


def _always(layout: Layout) -> bool:
    return True


@dataclass(frozen=True)
class Column:
    """One column: see the module's docstring. ``paper_unit`` columns take the unit of the
    paper's speed from the layout (header 'paper ms', name 'paper_ms'); ``shown`` says for
    which layouts the column exists, ``formats`` in which renderings."""

    name: str
    header: str
    unit: str
    value: Callable[[JoinedRow], Any]
    cell: Callable[[JoinedRow], str]
    drop: int | None = None
    kind: str = "number"
    shown: Callable[[Layout], bool] = _always
    formats: tuple[str, ...] = FORMATS
    paper_unit: bool = False

    def resolved(self, layout: Layout) -> "Column":
        """This column with the paper's unit of ``layout`` filled in."""
        unit = layout.paper_unit if self.paper_unit else None
        if not unit:
            return self
        return replace(self, name=f"{self.name}_{unit}", header=f"{self.header} {unit}",
                       unit=unit)


def number(name: str, header: str, unit: str, get: str | Callable[[JoinedRow], Any],
           digits: int, per: float = 1.0, **options: Any) -> Column:
    """A numeric column: the value is ``get`` (a record key or a function) in units of ``per``
    (1e6: millions), the cell that value to ``digits`` decimals (an en dash when there is
    none)."""
    read = (lambda row: row.get(get)) if isinstance(get, str) else get

    def value(row: JoinedRow) -> float | None:
        raw = read(row)
        return None if raw is None else float(raw) / per

    return Column(name, header, unit, value, lambda row: fmt(value(row), digits), **options)


def text(name: str, header: str, get: Callable[[JoinedRow], str], **options: Any) -> Column:
    """A column of words: value and cell are the same string."""
    return Column(name, header, "", get, get, **{"kind": "text", **options})


def interval(row: JoinedRow) -> float | None:
    """Half-width of the 95% re-run interval in percent of the latency (the larger side)."""
    median, low, high = (row.get(k) for k in ("latency_ms", "latency_lo_ms", "latency_hi_ms"))
    if None in (median, low, high) or median <= 0:
        return None
    return max(median - low, high - median) / median * 100


def converged(row: JoinedRow) -> bool:
    return row.get("converged") in (True, 1, "True")


def interval_cell(row: JoinedRow) -> str:
    """'±4.0%'; '*' marks a case that did not converge."""
    value = interval(row)
    return "–" if value is None else f"±{value:.1f}%" + ("" if converged(row) else "*")


def status(row: JoinedRow) -> str:
    if row.get("status") != "ok":
        return "error"
    return "ok" if converged(row) else "not converged"


def roof_value(row: JoinedRow) -> float | None:
    fraction = row.get("roofline_fraction")
    return None if fraction is None else fraction * 100


def paper_speed_cell(row: JoinedRow) -> str:
    return fmt(row.paper_speed, 0 if row.paper_unit == "fps" else 2)


def mode_cell(row: JoinedRow) -> str:
    return f"{row['mode']} b{row['batch']}"


def operator_cell(row: JoinedRow) -> str:
    """The paper's label, the PConv form unless split_cat, the layers unless 10."""
    label = row.get("label") or row["op"]
    if row.get("impl") is not None and row["impl"] != "split_cat":
        label += f" ({row['impl']})"
    if row.get("layers") != 10:
        label += f" x{row['layers']}"
    return label


def _several_modes(layout: Layout) -> bool:
    return layout.several_modes


def _roofline(layout: Layout) -> bool:
    return layout.roofline


MODE = text("mode", "mode", mode_cell, kind="words", shown=_several_modes)
INTERVAL = Column("interval_pct", "±95%", "%", interval, interval_cell)
PAPER = Column("paper", "paper", "", lambda row: row.paper_speed, paper_speed_cell,
               paper_unit=True)
ROOF = Column("roof_pct", "% roof", "%", roof_value, roof_cell, shown=_roofline)
STATUS = text("status", "status", status)
GFLOPS = number("gflops", "GFLOPS", "1e9 MAC/s", "achieved_flops", 2, 1e9)
SPEED_RATIO = number("speed_vs_paper", "vs paper", "x", lambda row: row.speed_ratio, 3,
                     formats=("csv",))

OPS = (
    text("operator", "operator", operator_cell),
    text("size", "size", lambda row: f"{row['channels']}x{row['height']}x{row['width']}",
         kind="fixed"),
    MODE,
    number("flops_m", "FLOPs M", "1e6 MAC", "flops", 1, 1e6, drop=5),
    number("memory_mb", "mem MB", "1e6 B", "memory_bytes", 2, 1e6, drop=1),
    number("latency_ms", "latency ms", "ms", "latency_ms", 3),
    replace(INTERVAL, drop=7),
    replace(PAPER, drop=8),
    number("samples_per_s", "samples/s", "1/s", "throughput", 0, drop=2),
    replace(GFLOPS, drop=6),
    number("paper_gflops", "paper GFLOPS", "1e9 MAC/s", lambda row: row.paper_gflops, 2,
           drop=3),
    replace(ROOF, drop=4),
    STATUS,
    SPEED_RATIO,
    number("gflops_vs_paper", "GFLOPS vs paper", "x", lambda row: row.gflops_ratio, 3,
           formats=("csv",)),
)

MODELS = (
    text("model", "model", lambda row: row["name"]),
    text("family", "family", lambda row: row["family"], drop=3),
    Column("resolution", "res", "px", lambda row: row.get("resolution"),
           lambda row: str(row["resolution"]), drop=4),
    MODE,
    number("params_m", "params M", "1e6", "params", 2, 1e6, drop=7),
    number("flops_g", "FLOPs G", "1e9 MAC", "flops", 3, 1e9, drop=9),
    number("memory_mb", "mem MB", "1e6 B", "memory_bytes", 1, 1e6, drop=1),
    number("latency_ms", "latency ms", "ms", "latency_ms", 2),
    replace(INTERVAL, drop=10),
    replace(PAPER, drop=11),
    number("samples_per_s", "samples/s", "1/s", "throughput", 1, drop=2),
    replace(GFLOPS, drop=6),
    replace(ROOF, drop=5),
    number("top1_pct", "top-1", "%", lambda row: row.top1, 1, drop=8),
    STATUS,
    SPEED_RATIO,
)


def _uncounted_note(rows: Sequence[JoinedRow]) -> list[str]:
    if not any(row.get("uncounted_ops") for row in rows):
        return []
    return ["ops fvcore has no formula for are not in FLOPs; each record lists them "
            "(uncounted_ops in run.json and results.csv)"]


def _top1_note(rows: Sequence[JoinedRow]) -> list[str]:
    return ["top-1: published ImageNet-1k accuracy (source in run.json), not measured here"]


@dataclass(frozen=True)
class Suite:
    """A suite's table: its columns in order, the paper tables its paper column quotes, and
    the notes that explain its columns (each a function of the rows)."""

    columns: tuple[Column, ...]
    paper_source: str
    notes: tuple[Callable[[Sequence[JoinedRow]], list[str]], ...] = ()

    def layout_columns(self, layout: Layout, format: str = "table") -> list[Column]:
        """The columns a run with ``layout`` shows in ``format``, resolved."""
        return [column.resolved(layout) for column in self.columns
                if column.shown(layout) and format in column.formats]


#: One registry per suite; a new suite is a new entry.
SUITES: dict[str, Suite] = {
    "ops": Suite(OPS, "Table 1"),
    "models": Suite(MODELS, "Table 3 / Table 5", (_uncounted_note, _top1_note)),
}
