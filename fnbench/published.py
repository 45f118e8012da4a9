"""The paper's published tables, packaged as reference data (shown beside measurements, never
instead of them).

A bottom layer: the model zoo and the reports both read it, and it imports neither (nor torch,
nor pandas unless :func:`paper_table` is asked for a DataFrame). Rows are read with the csv
module; a number becomes an int or a float, an empty cell None (the paper left it blank).
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import pandas as pd

CITATION = "Chen et al., CVPR 2023 (FasterNet)"
#: The packaged tables, with the paper's name for each.
TABLES = {"table1_operators": "Table 1", "table2_approximation": "Table 2",
          "table3_imagenet": "Table 3", "table5_ablation": "Table 5"}
#: The paper's machines, per fnbench device.
PAPER_HARDWARE = {"cuda": "RTX 2080Ti", "cpu": "Intel i9-9900X", "arm": "Cortex-A72"}
#: The paper measured the GPU in throughput mode and the CPUs in latency mode.
PAPER_MODE = {"cuda": "throughput", "cpu": "latency", "arm": "latency"}
#: The paper's speed column per device, with its unit (Tables 1, 3 and 5 share the names).
SPEED_COLUMNS = {"cuda": ("gpu_throughput_fps", "fps"), "cpu": ("cpu_latency_ms", "ms"),
                 "arm": ("arm_latency_ms", "ms")}
#: Table 1's achieved-FLOPS column per device.
TABLE1_FLOPS_COLUMNS = {"cuda": "gpu_flops_g", "cpu": "cpu_flops_g", "arm": "arm_flops_g"}
#: The column naming a model's row in each model table.
MODEL_KEYS = {"table3_imagenet": "network", "table5_ablation": "variant"}

_NUMBER = re.compile(r"-?\d+(\.\d*)?([eE][-+]?\d+)?")


def _cell(text: str) -> Any:
    if text == "":
        return None
    if _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    return text


@lru_cache(maxsize=None)
def rows(name: str) -> tuple[Mapping[str, Any], ...]:
    """The rows of one packaged table (see :data:`TABLES`), read-only, in the paper's order."""
    if name not in TABLES:
        raise KeyError(f"no packaged paper table {name!r}: one of {', '.join(TABLES)}")
    resource = files("fnbench").joinpath("data", "paper", f"{name}.csv")
    with resource.open("r", encoding="utf-8", newline="") as handle:
        return tuple(MappingProxyType({key: _cell(value) for key, value in row.items()})
                     for row in csv.DictReader(handle))


@lru_cache(maxsize=None)
def paper_table(name: str) -> "pd.DataFrame":
    """One packaged table as a DataFrame (blank cells NaN); imports pandas."""
    import pandas as pd

    return pd.DataFrame([dict(row) for row in rows(name)])


def table1_row(label: str, channels: int, height: int, width: int,
               layers: int) -> Mapping[str, Any] | None:
    """Table 1's row for this operator case, or None when it is not in the paper's grid."""
    for row in rows("table1_operators"):
        if (row["operator"], row["channels"], row["height"], row["width"], row["layers"]) == \
                (label, channels, height, width, layers):
            return row
    return None


def model_row(table: str | None, row_name: str | None) -> Mapping[str, Any] | None:
    """The row of a Table 3 network or a Table 5 variant, or None when the paper has none."""
    if table not in MODEL_KEYS or row_name is None:
        return None
    key = MODEL_KEYS[table]
    return next((row for row in rows(table) if row[key] == row_name), None)


def speed(row: Mapping[str, Any] | None, device: str) -> dict[str, Any] | None:
    """The paper's speed in ``row`` on ``device``'s paper hardware: speed, unit, mode and
    hardware; None for another device or a blank cell (out of memory)."""
    if row is None or device not in SPEED_COLUMNS:
        return None
    column, unit = SPEED_COLUMNS[device]
    if row.get(column) is None:
        return None
    return {"speed": float(row[column]), "unit": unit, "mode": PAPER_MODE[device],
            "hardware": PAPER_HARDWARE[device]}


def table1_reference(label: str, channels: int, height: int, width: int, layers: int,
                     device: str) -> dict[str, Any] | None:
    """The paper's Table 1 numbers for this operator case on ``device``'s paper hardware (speed,
    unit, mode, hardware and achieved GFLOPS), or None when the case is not in its grid."""
    row = table1_row(label, channels, height, width, layers)
    reference = speed(row, device)
    if reference is None:
        return None
    return {**reference, "gflops": float(row[TABLE1_FLOPS_COLUMNS[device]])}


def model_reference(table: str | None, row_name: str | None, device: str
                    ) -> dict[str, Any] | None:
    """The paper's measured speed of a Table 3 network or Table 5 variant on ``device``'s paper
    hardware; None when the paper has no such row or left the cell blank (out of memory)."""
    return speed(model_row(table, row_name), device)
