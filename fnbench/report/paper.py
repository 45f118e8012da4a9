"""The paper's published tables, packaged as reference data (shown beside measurements, never
instead of them)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

import pandas as pd

CITATION = "Chen et al., CVPR 2023 (FasterNet)"
#: The paper's machines, per fnbench device.
PAPER_HARDWARE = {"cuda": "RTX 2080Ti", "cpu": "Intel i9-9900X", "arm": "Cortex-A72"}
#: The paper measured the GPU in throughput mode and the CPUs in latency mode.
PAPER_MODE = {"cuda": "throughput", "cpu": "latency", "arm": "latency"}
#: The paper's speed column per device, with its unit (Tables 1, 3 and 5 share the names).
SPEED_COLUMNS = {"cuda": ("gpu_throughput_fps", "fps"), "cpu": ("cpu_latency_ms", "ms"),
                 "arm": ("arm_latency_ms", "ms")}
#: Table 1's achieved-FLOPS column per device.
TABLE1_FLOPS_COLUMNS = {"cuda": "gpu_flops_g", "cpu": "cpu_flops_g", "arm": "arm_flops_g"}


@lru_cache(maxsize=None)
def paper_table(name: str) -> pd.DataFrame:
    """One of table1_operators, table2_approximation, table3_imagenet, table5_ablation."""
    resource = files("fnbench").joinpath("data", "paper", f"{name}.csv")
    with resource.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)


def table1_reference(label: str, channels: int, height: int, width: int, layers: int,
                     device: str) -> dict[str, Any] | None:
    """The paper's Table 1 numbers for this operator case on ``device``'s paper hardware, or
    None when the case is not in the paper's grid."""
    if device not in SPEED_COLUMNS:
        return None
    table = paper_table("table1_operators")
    match = table[(table.operator == label) & (table.channels == channels)
                  & (table.height == height) & (table.width == width) & (table.layers == layers)]
    if match.empty:
        return None
    reference = _speed(match.iloc[0], device)
    reference["gflops"] = float(match.iloc[0][TABLE1_FLOPS_COLUMNS[device]])
    return reference


def _speed(row: pd.Series, device: str) -> dict[str, Any]:
    column, unit = SPEED_COLUMNS[device]
    return {"speed": float(row[column]), "unit": unit, "mode": PAPER_MODE[device],
            "hardware": PAPER_HARDWARE[device]}


def model_reference(table: str | None, row_name: str | None, device: str
                    ) -> dict[str, Any] | None:
    """The paper's measured speed of a Table 3 network or Table 5 variant on ``device``'s paper
    hardware; None when the paper has no such row or left the cell blank (out of memory)."""
    if table is None or row_name is None or device not in SPEED_COLUMNS:
        return None
    frame = paper_table(table)
    key = "network" if table == "table3_imagenet" else "variant"
    match = frame[frame[key] == row_name]
    if match.empty or pd.isna(match.iloc[0][SPEED_COLUMNS[device][0]]):
        return None
    return _speed(match.iloc[0], device)
