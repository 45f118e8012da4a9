"""Every figure that applies to a run, written into a folder."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from matplotlib.figure import Figure

from fnbench.errors import raise_if_interrupted
from fnbench.figures.base import as_run, positive
from fnbench.figures.models import latency_flops_figure, pareto_figure
from fnbench.figures.ops import operator_flops_figure
from fnbench.figures.roofline import roofline_figure
from fnbench.records import Run
from fnbench.results import current_umask

#: File stem -> the figure's function, per suite, in the order they are written.
FIGURES: dict[str, dict[str, Callable[[Any], Figure]]] = {
    "models": {"pareto": pareto_figure, "latency_vs_flops": latency_flops_figure,
               "roofline": roofline_figure},
    "ops": {"operator_flops": operator_flops_figure, "roofline": roofline_figure},
}
FORMATS = ("png", "svg")
#: PNG resolution: 150 dpi keeps labels sharp when a README shows the image scaled down.
PNG_DPI = 150


class FiguresError(Exception):
    """Some figures could not be made; ``written`` lists those that were, ``failures`` the
    others as (stem, error)."""

    def __init__(self, written: list[Path], failures: list[tuple[str, Exception]]) -> None:
        self.written, self.failures = written, failures
        super().__init__("; ".join(f"{stem}: {type(error).__name__}: {error}"
                                   for stem, error in failures))


def save(figure: Figure, path: Path, fmt: str) -> None:
    """``figure`` as ``fmt`` at ``path``, atomically (a temp file in the same folder, then a
    rename), with the mode a plain open() would give it; SVGs carry no date, so that the same
    run gives the same file."""
    buffer = io.BytesIO()
    if fmt == "svg":
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    else:
        figure.savefig(buffer, format="png", dpi=PNG_DPI)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def figures_for(run: Run) -> list[str]:
    """The figures that apply to ``run``: its suite's, less those with nothing to show (a
    Pareto figure needs a model with a published top-1; every figure needs a successful
    record)."""
    ok = [r for r in run.records if r.status == "ok" and positive(r.latency_ms)]
    if not ok:
        return []
    stems = list(FIGURES.get(run.suite, {}))
    if "pareto" in stems and not any(positive((r.meta or {}).get("top1")) for r in ok):
        stems.remove("pareto")
    return stems


def write_run_figures(run: Any, directory: Path, formats: Sequence[str] = FORMATS
                      ) -> list[Path]:
    """Write every figure that applies to ``run`` (a typed Run, the dict of ``load_run``, or a
    run directory) into ``directory`` as ``STEM.FORMAT`` (pareto, latency_vs_flops, roofline for
    models; operator_flops, roofline for ops); the paths written. A figure that fails does not
    stop the others: FiguresError at the end names it, with the paths that were written."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format(s) {', '.join(unknown)}: use "
                         f"{' or '.join(FORMATS)}")
    run = as_run(run)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    failures: list[tuple[str, Exception]] = []
    for stem in figures_for(run):
        try:
            figure = FIGURES[run.suite][stem](run)
            for fmt in formats:
                path = directory / f"{stem}.{fmt}"
                save(figure, path, fmt)
                written.append(path)
        except Exception as error:  # noqa: BLE001 - one figure never costs the others
            raise_if_interrupted()
            failures.append((stem, error))
    if failures:
        raise FiguresError(written, failures)
    return written
