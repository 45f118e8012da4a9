"""``fnbench paper``: the paper's Tables 1, 3 and 5 on one device, measured or reused, with its
claims checked, written as ``index.md`` and ``index.html``.

What each table needs is a list of records identified by their ``key`` (suite, workload,
device, runtime, mode, batch, threads): Table 1 the operator grid, Table 3 the ``paper`` model
set, Table 5 the ``ablation`` set, in the paper's mode for the device (GPU throughput at batch
32, CPU and ARM latency at batch 1), 1 thread, fp32. Runs given with ``--from`` are matched to
the tables they serve by suite and model set (see :func:`serves`); every row takes the record
of that key from the serving run that covers most of its table (the latest when tied, an ok
record before an error). Rows no run holds are measured, one new run per table and runtime,
through the code path of ``fnbench ops``/``fnbench models``, saved under ``DIR/runs/``.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from fnbench.errors import RunInterrupted, UsageError, interrupts_held, signalled_while_held
from fnbench.published import PAPER_HARDWARE, PAPER_MODE, paper_table
from fnbench.report.reproduction import (TABLE_TITLES, Figure, PaperReport, Row, RunInfo,
                                         render_html, render_markdown, table1, table1_claims,
                                         table3, table3_claims, table5, table5_claims,
                                         table_notes)
from fnbench.report.table import TextTable

TABLES = ("table1", "table3", "table5")
SUITE = {"table1": "ops", "table3": "models", "table5": "models"}
THROUGHPUT_BATCH = 32
#: What ``--runtime both`` means, and where.
BOTH = ("torch", "onnxruntime")
BOTH_DEVICES = ("cpu", "arm")
NOT_BUILT = "not built: the paper does not publish this variant's width"


def paper_mode(device: str) -> tuple[str, int]:
    """The paper's mode and batch on ``device``: GPU throughput at 32, CPUs latency at 1."""
    mode = PAPER_MODE.get(device, "latency")
    return mode, THROUGHPUT_BATCH if mode == "throughput" else 1


def parse_runtimes(device: str, runtime: str | None) -> tuple[str, ...]:
    """``--runtime``: one runtime the device offers, or ``both`` (torch and onnxruntime) on cpu
    and arm; torch by default."""
    from fnbench.devices import DEVICES

    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)} "
                         "(--device)")
    if runtime is None:
        return ("torch",)
    if runtime == "both":
        if device not in BOTH_DEVICES:
            raise UsageError(f"--runtime both (torch and onnxruntime) is for cpu and arm, not "
                             f"{device}: choose one of {', '.join(DEVICES[device].runtimes)}")
        return BOTH
    if runtime not in DEVICES[device].runtimes:
        raise UsageError(f"--device {device} does not offer --runtime {runtime}: choose "
                         f"{', '.join(DEVICES[device].runtimes)} or both")
    return (runtime,)


def parse_tables(text: str) -> tuple[str, ...]:
    """``--tables 1,3,5`` -> ('table1', 'table3', 'table5'), in the paper's order."""
    from fnbench.operators.grid import split_list

    names = split_list(text)
    bad = [n for n in names if f"table{n}" not in TABLES]
    if bad or not names:
        raise UsageError(f"--tables {text!r}: choose from 1, 3 and 5, comma-separated (Table 2 "
                         "is --approx-weights/--approx-images)")
    return tuple(t for t in TABLES if t.removeprefix("table") in names)


@dataclass
class Selection:
    """What the report covers: device, runtimes, tables, and the grid and models they need."""

    device: str
    runtimes: tuple[str, ...]
    tables: tuple[str, ...] = TABLES
    ops: tuple[str, ...] = ("conv", "gconv", "dwconv", "pconv")
    sizes: tuple[tuple[int, int, int], ...] = ((96, 56, 56), (192, 28, 28), (384, 14, 14),
                                               (768, 7, 7))
    layers: int = 10
    models: tuple[str, ...] | None = None


@dataclass
class Need:
    """The rows one table needs for one runtime (each with its record key)."""

    table: str
    runtime: str
    rows: list[Row]

    @property
    def suite(self) -> str:
        return SUITE[self.table]

    @property
    def keys(self) -> set[str]:
        return {row.key for row in self.rows if row.key}


def _models_key(name: str, device: str, runtime: str) -> str:
    from fnbench.records import record_key

    mode, batch = paper_mode(device)
    return record_key({"suite": "models", "model": name, "weights": None}, device, runtime,
                      mode, batch, 1)


def model_sets() -> tuple[list[str], list[str]]:
    """Registry names of Table 3 (``paper``) and Table 5 (``ablation``), in the paper's
    order."""
    from fnbench.models.zoo import model_names

    return model_names("paper"), model_names("ablation")


def check_models(models: Sequence[str]) -> None:
    """Every ``--models`` name is a Table 3 or Table 5 model."""
    from fnbench.models.zoo import spec

    paper, ablation = model_sets()
    for name in models:
        spec(name)  # unknown names: the registry's own error, with close matches
        if name not in paper and name not in ablation:
            raise UsageError(f"{name} is in neither Table 3 (the paper set) nor Table 5 (the "
                             "ablation set): --models narrows those two; measure it with "
                             "fnbench models --models " + name)


def _table5_rows(models: Sequence[str] | None) -> list[Row]:
    """Table 5's printed rows with the registry model that runs each (None: not built)."""
    from fnbench.models.fasternet import TABLE5_DEFAULT_ROWS
    from fnbench.models.zoo import REGISTRY

    variants = {entry.paper_row: name for name, entry in REGISTRY.items()
                if entry.paper_table == "table5_ablation"}
    defaults = {row: f"fasternet_{variant.lower()}" for row, variant in
                TABLE5_DEFAULT_ROWS.items()}
    rows = []
    for variant in paper_table("table5_ablation")["variant"]:
        name = variants.get(variant) or defaults.get(variant)
        if models is not None and name not in models:
            continue
        fields = {"variant": variant, "name": name}
        if name is None:
            fields["missing"] = NOT_BUILT
        rows.append(Row(fields))
    return rows


def build_needs(selection: Selection) -> list[Need]:
    """Every (runtime, table) the report shows, with its rows' keys."""
    from fnbench.models.zoo import REGISTRY
    from fnbench.operators.grid import operator_grid
    from fnbench.records import record_key

    device = selection.device
    mode, batch = paper_mode(device)
    if selection.models is not None:
        check_models(selection.models)
    grid = operator_grid(selection.ops, selection.sizes, selection.layers) \
        if "table1" in selection.tables else []
    paper, _ = model_sets()
    needs = []
    for runtime in selection.runtimes:
        for table in selection.tables:
            if table == "table1":
                rows = [Row(dict(w.meta), key=record_key(w.spec, device, runtime, mode, batch,
                                                         1)) for w in grid]
            elif table == "table3":
                rows = [Row({"name": n, "network": REGISTRY[n].paper_row},
                            key=_models_key(n, device, runtime)) for n in paper
                        if selection.models is None or n in selection.models]
            else:
                rows = _table5_rows(selection.models)
                for row in rows:
                    if row.fields["name"]:
                        row.key = _models_key(row.fields["name"], device, runtime)
            needs.append(Need(table, runtime, rows))
    return needs


# --- runs ---------------------------------------------------------------------------------


@dataclass
class LoadedRun:
    """A run the report may draw on."""

    path: Path
    data: dict[str, Any]
    new: bool
    serves: set[str]
    id: str = ""

    @property
    def runtime(self) -> str:
        return self.data["runtime"]

    @property
    def record_keys(self) -> set[str]:
        return {r.get("key") for r in self.data["records"]}

    @property
    def known_keys(self) -> set[str]:
        """The keys it measured or meant to (its plan): how much of a table it covers."""
        return self.record_keys | {p.get("key") for p in self.data.get("planned") or ()}


def serves(run: dict[str, Any]) -> set[str]:
    """The tables a run serves, by suite and model set: an ops run Table 1; a models run
    Table 3 when it has a Table 3 network, and Table 5 when it has a Table 5 variant or holds
    nothing but Table 5 models (T0 and T2 are in both: a run of only those, such as what a
    resumed Table 5 still lacked, serves both). Names come from the run's plan, else its
    records."""
    if run["suite"] == "ops":
        return {"table1"}
    paper, ablation = model_sets()
    names = [p["name"] for p in run.get("planned") or ()] or [r["name"] for r in run["records"]]
    out = set()
    if any(name in paper for name in names):
        out.add("table3")
    if any(name in ablation and name not in paper for name in names) or \
            (names and all(name in ablation for name in names)):
        out.add("table5")
    return out


def _no_match_reason(run: dict[str, Any], device: str) -> str:
    """Why none of a run's records is one the selected tables use."""
    mode, batch = paper_mode(device)
    records = run["records"]
    if all(r.get("host") for r in records):
        return "it measured a board over --host; fnbench paper measures this machine"
    if not any(r["mode"] == mode and r["batch"] == batch for r in records):
        found = ", ".join(sorted({f"{r['mode']} batch {r['batch']}" for r in records}))
        return (f"its records are {found}; the paper's {device} tables are {mode} mode, batch "
                f"{batch}")
    if not any(r["threads"] == 1 for r in records):
        return "it ran with more than 1 thread; the paper's tables use 1 (--threads 1)"
    if not any((r.get("dtype") or "fp32") == "fp32" for r in records):
        return "it is not fp32; the paper's tables are fp32"
    return ("none of its workloads is in the selected tables (Table 1: the --ops/--sizes/"
            "--layers grid; Table 3: the paper set; Table 5: the ablation set; --models and "
            "--tables narrow them)")


def load_from(paths: Sequence[Path], selection: Selection, needs: Sequence[Need]
              ) -> list[LoadedRun]:
    """The ``--from`` runs, each checked: readable, not empty, of this device and a selected
    runtime, and holding a record some table uses. Any problem is a UsageError (nothing is
    written yet)."""
    from fnbench.results import load_run

    runs, seen = [], set()
    for path in paths:
        data = load_run(path)
        file = (path / "run.json" if path.is_dir() else path).resolve()
        if file in seen:
            continue
        seen.add(file)
        if not data["records"]:
            raise UsageError(f"{path} is an empty run (status {data.get('status')}, no "
                             "record): there is nothing to reuse; leave it out of --from")
        if data["device"] != selection.device:
            raise UsageError(f"{path} was measured on {data['device']}, not on "
                             f"{selection.device} (--device {selection.device}): give runs of "
                             "that device only")
        if data["runtime"] not in selection.runtimes:
            wanted = ", ".join(selection.runtimes)
            hint = " (or --runtime both)" if data["runtime"] in BOTH and \
                selection.device in BOTH_DEVICES else ""
            raise UsageError(f"{path} was measured with {data['runtime']}, but this report is "
                             f"for {wanted}: add --runtime {data['runtime']}{hint}, or leave it "
                             "out of --from")
        run = LoadedRun(file.parent, data, False, serves(data))
        if not any(need.table in run.serves and need.runtime == run.runtime
                   and need.keys & run.record_keys for need in needs):
            raise UsageError(f"{path} holds no record the selected tables use: "
                             f"{_no_match_reason(data, selection.device)}")
        runs.append(run)
    return runs


def choose(need: Need, runs: Sequence[LoadedRun]) -> list[Row]:
    """``need``'s rows, each with its record from the serving run that covers most of the
    table (then the latest), an ok record before an error; None where no run has one."""
    from fnbench.report.reproduction import usable

    serving = [run for run in runs if need.table in run.serves and run.runtime == need.runtime]
    coverage = {id(run): len(need.keys & run.known_keys) for run in serving}
    rows = []
    for row in need.rows:
        best, best_rank = None, None
        for run in serving:
            for record in run.data["records"]:
                if row.key is None or record.get("key") != row.key:
                    continue
                rank = (usable(record), coverage[id(run)], str(run.data.get("started") or ""))
                if best_rank is None or rank > best_rank:
                    best, best_rank = (run, record), rank
        chosen = Row(dict(row.fields), key=row.key)
        if best:
            chosen.record, chosen.run = best[1], best[0].id
        rows.append(chosen)
    return rows


def missing_rows(need: Need, runs: Sequence[LoadedRun]) -> list[Row]:
    """Rows with a key that no serving run holds a record of (an error record counts as
    held: it is shown, not measured again)."""
    held = set()
    for run in runs:
        if need.table in run.serves and run.runtime == need.runtime:
            held |= run.record_keys
    rows = {}
    for row in need.rows:  # Table 5 shows T0 three times: one workload
        if row.key and row.key not in held:
            rows.setdefault(row.key, row)
    return list(rows.values())


def workloads_for(need: Need, rows: Sequence[Row], selection: Selection) -> list[Any]:
    """The workloads that measure ``rows`` of ``need``."""
    keys = {row.key for row in rows}
    if need.table == "table1":
        from fnbench.operators.grid import operator_grid
        from fnbench.records import record_key

        mode, batch = paper_mode(selection.device)
        return [w for w in operator_grid(selection.ops, selection.sizes, selection.layers)
                if record_key(w.spec, selection.device, need.runtime, mode, batch, 1) in keys]
    from fnbench.models.workloads import model_workloads

    return model_workloads([row.fields["name"] for row in rows])


# --- figures and Table 2 (other modules, when this build has them) -----------------------


def _available(module: str) -> bool:
    """Whether this build of fnbench has the submodule ``fnbench.NAME``: looked up in this
    package's own folders only (an editable install elsewhere must not lend it one)."""
    import fnbench

    try:
        return PathFinder.find_spec(module, list(fnbench.__path__)) is not None
    except (ImportError, ValueError):
        return False


def write_figures(runs: Sequence[LoadedRun], out: Path, device: str,
                  say: Callable[[str], None]) -> list[Figure] | str:
    """Each run's figures (fnbench.figures.write_run_figures) into ``out/figures/RUN/`` and a
    Figure-7-style Pareto of the Table 3 runs; a line saying why there are none when this
    build has no figures module. A figure that fails is a warning, never a lost report."""
    if not _available("figures"):
        return "figures: not available in this build"
    try:
        from fnbench.figures import pareto_figure, write_run_figures
    except ImportError as error:
        return f"figures: not available in this build ({error})"
    folder = out / "figures"
    figures: list[Figure] = []
    used_names: set[str] = set()
    for run in runs:
        if signalled_while_held():
            say(f"warning: the figures left were not drawn (interrupted); the same command "
                f"with --from {shlex.quote(str(out / 'runs'))}/* draws them")
            return figures
        name = run.path.name
        while name in used_names:
            name += "-2"
        used_names.add(name)
        try:
            paths = write_run_figures(run.data, folder / name)
        except Exception as error:  # noqa: BLE001 - the report goes on without them
            say(f"warning: figures of {run.path} failed ({type(error).__name__}: {error})")
            continue
        for path in paths or ():
            path = Path(path)
            figures.append(Figure(f"{run.id} ({run.runtime}): {path.stem}",
                                  _relative(path, out), path))
    table3_runs = [run.data for run in runs if "table3" in run.serves]
    if table3_runs and not signalled_while_held():
        try:
            figure = pareto_figure(table3_runs)
            folder.mkdir(parents=True, exist_ok=True)
            for suffix in (".png", ".svg"):
                path = folder / f"pareto-{device}{suffix}"
                figure.savefig(path)
                figures.append(Figure(f"Pareto (top-1 published against speed measured on "
                                      f"{device}), as the paper's Figure 7",
                                      _relative(path, out), path))
        except Exception as error:  # noqa: BLE001
            say(f"warning: the Pareto figure failed ({type(error).__name__}: {error})")
    return figures


def table2(weights: Path | None, images: Path | None,
           say: Callable[[str], None]) -> TextTable | str:
    """Table 2 from fnbench.approx when this build has it: its table on the given weights and
    images, or its note of what Table 2 needs."""
    if not _available("approx"):
        return "Table 2: not available in this build"
    try:
        from fnbench.approx import paper_table2
    except ImportError as error:
        return f"Table 2: not available in this build ({error})"
    try:
        result = paper_table2(None if weights is None else str(weights),
                              None if images is None else str(images))
    except UsageError as error:
        return f"Table 2: {error}"
    except Exception as error:  # noqa: BLE001 - the tables measured so far are kept
        say(f"warning: Table 2 failed ({type(error).__name__}: {error})")
        return f"Table 2: failed ({type(error).__name__}: {error})"
    if isinstance(result, str):  # approx's note names its own options; paper's are prefixed
        return result.replace("--weights", "--approx-weights").replace("--images",
                                                                       "--approx-images")
    return result if isinstance(result, TextTable) else str(result)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


# --- the command --------------------------------------------------------------------------


@dataclass
class PaperOptions:
    """``fnbench paper``'s options once parsed."""

    selection: Selection
    out: Path
    from_paths: list[Path] = field(default_factory=list)
    quick: bool = False
    settings: dict[str, Any] = field(default_factory=dict)  # suite -> RunSettings
    no_roofline: bool = False
    approx_weights: Path | None = None
    approx_images: Path | None = None
    subset_args: list[str] = field(default_factory=list)


Measure = Callable[[str, Sequence[Any], Any, Any, Path, bool],
                   "tuple[Path, Any, RunInterrupted | None]"]


def resume_command(options: PaperOptions) -> str:
    """The command that resumes this report: the same options, every run so far."""
    sel = options.selection
    runtime = "both" if sel.runtimes == BOTH and len(sel.runtimes) > 1 else sel.runtimes[0]
    args = ["fnbench", "paper", "--device", sel.device, "--runtime", runtime]
    args += (["--quick"] if options.quick else []) + options.subset_args
    args += (["--no-roofline"] if options.no_roofline else []) + ["-o", str(options.out)]
    runs_dir = options.out / "runs"
    sources = [shlex.quote(str(p)) for p in options.from_paths if not _inside(p, runs_dir)]
    # DIR/* only when it matches a run: the shell passes an unmatched glob on as it is
    if runs_dir.is_dir() and any(p.is_dir() for p in runs_dir.iterdir()):
        sources.append(shlex.quote(str(runs_dir)) + "/*")
    command = " ".join(shlex.quote(a) for a in args)
    return command + (" --from " + " ".join(sources) if sources else "")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _collect(runs_dir: Path, before: set[Path], runs: list[LoadedRun], interrupted: bool,
             say: Callable[[str], None]) -> None:
    """Add the run directories this command made (those not in ``before``) to ``runs``,
    whenever the signal came: a run interrupted before its first record (or before its
    run.json) is deleted, having nothing to keep, so that ``--from DIR/runs/*`` resumes."""
    from fnbench.results import load_run

    known = {run.path for run in runs}
    made = sorted(set(runs_dir.iterdir()) - before) if runs_dir.is_dir() else []
    for run_dir in made:
        if run_dir in known or not run_dir.is_dir():
            continue
        try:
            data = load_run(run_dir) if (run_dir / "run.json").exists() else None
        except UsageError as error:
            say(f"warning: {error}")
            continue
        if data is None or not data["records"]:
            if interrupted:
                shutil.rmtree(run_dir, ignore_errors=True)
            continue
        runs.append(LoadedRun(run_dir, data, True, serves(data)))
        say(f"paper: {data['suite']} run: {data['status']}, {len(data['records'])} record(s) "
            f"in {run_dir}")


def run_paper(options: PaperOptions, measure: Measure, say: Callable[[str], None]
              ) -> tuple[int, PaperReport]:
    """Check every input, measure what no given run holds, write index.md and index.html;
    the exit code (0, 1 with a failed record, 128 + signal when interrupted) and the report.
    Bad input is a UsageError before anything is written."""
    from fnbench.devices import open_device
    from fnbench.results import RunFileError, write_atomic

    sel = options.selection
    needs = build_needs(sel)
    for option, path in (("--approx-weights", options.approx_weights),
                         ("--approx-images", options.approx_images)):
        if path is not None and not path.exists():
            raise UsageError(f"{option} {path} does not exist: give the local file or folder "
                             "Table 2 is computed on")
    runs = load_from(options.from_paths, sel, needs)
    pending = [need for need in needs if missing_rows(need, runs)]
    devices = {runtime: open_device(sel.device, runtime, 1)
               for runtime in dict.fromkeys(need.runtime for need in pending)}
    try:
        options.out.mkdir(parents=True, exist_ok=True)  # runs/ comes with the first run
    except OSError as error:
        raise UsageError(f"cannot write to -o {options.out}: {error.strerror or error}; choose "
                         "a writable folder") from None

    runs_dir = options.out / "runs"
    before = set(runs_dir.iterdir()) if runs_dir.is_dir() else set()
    interrupt: RunInterrupted | None = None
    try:
        for need in pending:
            rows = missing_rows(need, runs)  # a run measured just now may hold some of them
            if not rows:
                continue
            workloads = workloads_for(need, rows, sel)
            say(f"paper: {TABLE_TITLES[need.table]} ({need.runtime}): measuring "
                f"{len(workloads)} of {len(need.keys)} workload(s) into {runs_dir}")
            _, _, interrupt = measure(need.suite, workloads, devices[need.runtime],
                                      options.settings[need.suite], runs_dir,
                                      options.no_roofline)
            _collect(runs_dir, before, runs, interrupt is not None, say)
            if interrupt is not None:
                break
    except RunInterrupted as caught:  # outside the rounds: counting, saving, between runs
        interrupt = caught
    _collect(runs_dir, before, runs, interrupt is not None, say)
    failed = any(r.get("status") != "ok" for run in runs if run.new
                 for r in run.data["records"])

    with interrupts_held() as held:  # a signal now skips the figures left; the pages are written
        report = build_report(options, needs, runs, interrupt, say)
        try:
            write_atomic(options.out / "index.md", render_markdown(report))
            write_atomic(options.out / "index.html", render_html(report))
        except RunFileError as error:
            say(f"error: {error}")
            return 1, report
    interrupt = interrupt or held.interrupt
    code = interrupt.exit_code if interrupt else (1 if failed else 0)
    return code, report


def summary(report: PaperReport) -> list[str]:
    """What ``fnbench paper`` prints on stdout: the status and the claims, one a line."""
    lines = list(report.status[:1]) + ([f"resume with: {report.resume}"] if report.resume
                                       else [])
    for runtime, claims in report.claims.items():
        lines += [f"[{runtime}] {claim.line()}" if len(report.claims) > 1 else claim.line()
                  for claim in claims]
    return lines


BUILDERS = {"table1": (table1, table1_claims), "table3": (table3, table3_claims),
            "table5": (table5, table5_claims)}


def build_report(options: PaperOptions, needs: Sequence[Need], runs: list[LoadedRun],
                 interrupt: RunInterrupted | None, say: Callable[[str], None]) -> PaperReport:
    """Tables, claims, runs, figures and Table 2 of the report."""
    from fnbench import __version__

    sel = options.selection
    mode, batch = paper_mode(sel.device)
    for number, run in enumerate(runs, 1):
        run.id = f"R{number}"
    used: dict[str, int] = {}
    sections, claims = [], {runtime: [] for runtime in sel.runtimes}
    not_measured = 0
    for need in needs:
        rows = choose(need, runs)
        for row in rows:
            if row.run:
                used[row.run] = used.get(row.run, 0) + 1
            elif row.key:
                not_measured += 1
        layout, claim_builder = BUILDERS[need.table]
        table = layout(rows, sel.device, mode, need.runtime)
        table.notes = table_notes(sel.device, mode, batch)
        sections.append((need.table, table))
        claims[need.runtime] += claim_builder(rows, sel.device)
    infos = [RunInfo(run.id, _relative(run.path, options.out), run.data, run.new,
                     ", ".join(t.removeprefix("table") for t in sorted(run.serves)) or "–",
                     used.get(run.id, 0)) for run in runs]
    hardware = PAPER_HARDWARE.get(sel.device)
    status = []
    if interrupt is not None:
        status.append(f"status: interrupted ({interrupt.signal_name}); every finished run is "
                      "kept; resume with the command below")
    elif not_measured:
        status.append(f"status: incomplete, {not_measured} row(s) not measured")
    else:
        status.append("status: complete, every row of the selected tables has a record")
    status.append(f"device: {sel.device}; runtime(s): {', '.join(sel.runtimes)}; {mode} mode, "
                  f"batch {batch}, 1 thread"
                  + (f"; paper hardware: {hardware} (PyTorch eager)" if hardware else
                     "; the paper did not measure this device"))
    new = sum(run.new for run in runs)
    status.append(f"fnbench {__version__}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: "
                  f"{new} run(s) measured now, {len(runs) - new} reused")
    if interrupt is not None:
        figures: list[Figure] | str = "figures: not drawn (interrupted); resume to draw them"
        approx: TextTable | str = "Table 2: not computed (interrupted)"
    else:
        figures = write_figures(runs, options.out, sel.device, say)
        approx = ("Table 2: not computed (interrupted)" if signalled_while_held()
                  else table2(options.approx_weights, options.approx_images, say))
    notes = ["Each ratio has a 95% interval: for two records of one run, the confidence "
             "interval of the ratio of their rounds that ran back to back (the machine's drift "
             "moved both alike); for records of different runs, their 95% re-run intervals "
             "divided crosswise. Yes or no only when the interval lies wholly on one side of "
             "1, undecided when it holds 1 or there is none (fnbench 0.1 runs), not measured "
             "when a record is missing. Ratios "
             "are speeds (samples/s) or achieved FLOPS, so above 1 favours the claim; the "
             "paper's ratio comes from its published table for this device."]
    return PaperReport(sel.device, list(sel.runtimes), mode, batch, status, infos, claims,
                       sections, approx, figures, notes,
                       resume_command(options) if interrupt is not None else None)
