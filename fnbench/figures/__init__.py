"""Figures of a run: matplotlib on the Agg canvas, written as PNG and SVG (no torch here: reports
run on machines without it).

- :func:`write_run_figures` writes every figure that applies to a run's suite into a folder.
- One function per figure returns the matplotlib ``Figure``, so that tests (and notebooks) can
  read what was plotted: :func:`pareto_figure` and :func:`latency_flops_figure` (models),
  :func:`operator_flops_figure` (ops), :func:`roofline_figure` (both).
"""

from fnbench.figures.models import latency_flops_figure, pareto_figure, pareto_front
from fnbench.figures.ops import operator_flops_figure
from fnbench.figures.roofline import roofline_figure
from fnbench.figures.write import FIGURES, FiguresError, figures_for, write_run_figures

__all__ = ["FIGURES", "FiguresError", "figures_for", "latency_flops_figure",
           "operator_flops_figure", "pareto_figure", "pareto_front", "roofline_figure",
           "write_run_figures"]
