"""Operator zoo: Conv, GConv, DWConv, PWConv, PConv and PConv + PWConv, and the paper's grid."""

from fnbench.operators.grid import PAPER_OPERATORS, PAPER_SIZES, operator_grid, operator_workload
from fnbench.operators.pconv import PConv, partial_channels
from fnbench.operators.zoo import OPERATORS, LayerConfig

__all__ = ["OPERATORS", "PAPER_OPERATORS", "PAPER_SIZES", "LayerConfig", "PConv",
           "operator_grid", "operator_workload", "partial_channels"]
