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
#: Table 1 columns per device: (speed column, its unit, achieved-FLOPS column).
TABLE1_COLUMNS = {"cuda": ("gpu_throughput_fps", "fps", "gpu_flops_g"),
                  "cpu": ("cpu_latency_ms", "ms", "cpu_flops_g"),
                  "arm": ("arm_latency_ms", "ms", "arm_flops_g")}


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
    if device not in TABLE1_COLUMNS:
        return None
    table = paper_table("table1_operators")
    match = table[(table.operator == label) & (table.channels == channels)
                  & (table.height == height) & (table.width == width) & (table.layers == layers)]
    if match.empty:
        return None
    row = match.iloc[0]
    speed, unit, flops = TABLE1_COLUMNS[device]
    return {"speed": float(row[speed]), "unit": unit, "gflops": float(row[flops]),
            "mode": PAPER_MODE[device], "hardware": PAPER_HARDWARE[device]}
