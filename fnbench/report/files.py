"""Saved runs in, reports out: which runs, rendered how, and where each file goes.

Every run is read and every destination decided before anything is written, so that bad input
writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fnbench.errors import UsageError
from fnbench.report.runs import reportable_run, run_table
from fnbench.report.table import TextTable, render_csv, render_html, render_markdown

#: The renderings that make a file (``table`` is for the terminal), with their suffixes.
RENDERERS: dict[str, tuple[Callable[[TextTable], str], str]] = {
    "md": (render_markdown, ".md"), "csv": (render_csv, ".csv"), "html": (render_html, ".html")}
FORMATS = ("table", *RENDERERS)


@dataclass(frozen=True)
class SavedRun:
    """A run to report: where it was given, its directory, its name and its loaded run.json."""

    path: Path
    directory: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.directory.name

    def report_file(self, out: Path, format: str) -> Path:
        return out / (self.name + RENDERERS[format][1])

    def figures_dir(self, out: Path | None) -> Path:
        """The run's directory, or a folder named after it under ``out``."""
        return self.directory if out is None else out / self.name


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise UsageError(f"unknown --format {format!r}: choose one of {', '.join(FORMATS)}")


def saved_runs(paths: list[Path]) -> list[SavedRun]:
    """The runs at ``paths`` (directories or run.json files), each once, in the order given;
    UsageError for the first that is not a run with records."""
    runs: dict[Path, SavedRun] = {}
    for path in paths:
        data = reportable_run(path)
        directory = (path if path.is_dir() else path.parent).resolve()
        runs.setdefault(directory, SavedRun(path, directory, data))
    return list(runs.values())


def check_out(runs: list[SavedRun], out: Path) -> None:
    """``out`` can hold one file (or figure folder) per run: it is a folder or can be one, and
    no two runs share a name."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder: choose a folder for the "
                         "reports (it is created when missing)")
    names: dict[str, Path] = {}
    for run in runs:
        if run.name in names:
            raise UsageError(f"two runs are named {run.name} ({names[run.name]} and "
                             f"{run.path}): report them one at a time with --out")
        names[run.name] = run.path


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot write to --out {folder}: {error.strerror or error}; choose "
                         "a writable folder with --out") from None


def render(run: SavedRun, format: str) -> str:
    """The run's report as md, csv or html text."""
    renderer, _ = RENDERERS[format]
    return renderer(run_table(run.data, format))
