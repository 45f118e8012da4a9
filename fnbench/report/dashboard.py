"""``fnbench dashboard``: one static HTML page from a folder of saved runs.

The page is self-contained and works offline: hand-built inline SVG (no plotting library, no
CDN), a little inline CSS and script (filters, hover), and the data every figure was drawn from
as JSON inside the page. It shows

- for every context (suite, device, runtime, threads, dtype and machine) ``fnbench compare``'s
  verdict on each record, the latest commit's runs against the previous commit's (see
  :func:`latest_against_previous`);
- each workload's latency (the record's estimate) run after run, one series per machine, with
  its 95% interval as a band; a series longer than ``DRAW_LIMIT`` points is drawn from
  per-pixel buckets (the line keeps each bucket's lowest and highest estimate, the band its
  envelope), while hovering still reads every run from the embedded data;
- every run, newest first, linked to its ``results.md`` by a path relative to the page.

Torch-free: it reads run files only.
"""

from __future__ import annotations

import html
import json
import math
import os
import urllib.parse
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from fnbench import __version__
from fnbench.errors import UsageError
from fnbench.compare import Side, Thresholds, check_threshold, compare
from fnbench.records import Record, is_finite
from fnbench.results import RunFileError, load_run, read_run, write_atomic

#: Points of one series drawn one by one; a longer series is drawn from buckets.
DRAW_LIMIT = 240
#: Series of at most this many points get a marker per point (with its <title> and link).
MARK_LIMIT = 150
#: Run files read in worker processes from this many on.
PARALLEL_FROM = 64
#: Verdict threshold: a change smaller than 5% is not called faster or slower.
THRESHOLD = 0.05
#: Runs of one commit compared together as repeats, at most (the latest of them).
MAX_REPEATS = 10
#: Verdict tables longer than this fold their noisy and unchanged rows away.
SHOW_ALL_UP_TO = 12
QUIET = ("noisy", "unchanged")
#: Okabe-Ito colours, one per machine (they repeat after eight machines; the legend says which).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")
# Figure geometry (SVG user units).
WIDTH, HEIGHT = 380, 180
LEFT, RIGHT, TOP, BOTTOM = 50, 370, 16, 150
#: The first and last run sit this far inside the plot's edges.
INSET = 8


# --- Verdicts -------------------------------------------------------------------------------
# The verdict is fnbench compare's own, on the latest commit's runs against the previous
# commit's (see latest_against_previous).

VERDICTS = ("slower", "errored", "faster", "changed", "noisy", "unchanged")


@dataclass(frozen=True)
class Verdict:
    """``kind`` (one of VERDICTS) of NEW against BASE, with the ratio NEW/BASE of their
    latencies and its 95% interval (None for ``changed``)."""

    kind: str
    ratio: float | None = None
    low: float | None = None
    high: float | None = None


def same_code(a: "RunInfo", b: "RunInfo") -> bool:
    """Whether two runs measured one commit without uncommitted changes: repeats of one code."""
    return a.commit is not None and a.commit == b.commit and not a.dirty and not b.dirty


def latest_against_previous(runs: Sequence["RunInfo"]
                            ) -> tuple[list["RunInfo"], list["RunInfo"]]:
    """(previous, latest) of one context's runs in time order: the latest run with the runs
    of the same code right before it, against the runs of the code before that (each side its
    ``MAX_REPEATS`` latest). When every run measured the same code, the latest run against the
    one before it. ([], latest) for a single run."""
    end = len(runs) - 1
    start = end
    while start > 0 and same_code(runs[start - 1], runs[end]):
        start -= 1
    if start == 0:
        return list(runs[-2:-1]), list(runs[-1:])
    first = last = start - 1
    while first > 0 and same_code(runs[first - 1], runs[last]):
        first -= 1
    return (list(runs[max(first, last + 1 - MAX_REPEATS):last + 1]),
            list(runs[max(start, end + 1 - MAX_REPEATS):]))


@dataclass
class Machine:
    id: str
    label: str
    colour: str
    runs: int = 0


@dataclass
class RunInfo:
    """What the page needs of one run (records reduced to their points)."""

    index: int
    path: Path
    started: datetime
    suite: str
    device: str
    runtime: str
    threads: int
    dtype: str
    compile_mode: str | None
    status: str
    machine: str
    commit: str | None
    dirty: bool
    href: str
    schema: str
    records: int

    @property
    def context(self) -> tuple:
        return (self.suite, self.device, self.runtime, self.threads, self.dtype,
                self.compile_mode, self.machine)


@dataclass
class Workload:
    key: str
    name: str
    suite: str
    device: str
    runtime: str
    mode: str
    batch: int
    threads: int
    dtype: str
    host: str | None
    order: tuple[int, int]
    # machine id -> [(run index, latency, low, high, interval kind, workload hash, position of
    # the record in its run)]
    series: dict[str, list[tuple]] = field(default_factory=dict)


@dataclass(frozen=True)
class Built:
    """What ``build`` wrote."""

    out: Path
    runs: int
    machines: int
    workloads: int
    series: int
    points: int
    bytes: int
    skipped: tuple[str, ...]


def e(value: Any) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _started(started: Any, path: Path) -> datetime:
    try:
        when = datetime.fromisoformat(str(started))
    except (TypeError, ValueError):
        when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _git(environment: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The commit fnbench ran from (a board's run keeps it under ``controller``)."""
    for env in (environment, environment.get("controller") or {}):
        git = ((env.get("fnbench") or {}) if isinstance(env, Mapping) else {}).get("git")
        if isinstance(git, Mapping) and git.get("commit"):
            return str(git["commit"]), bool(git.get("dirty"))
    return None, False


def _machine_label(environment: Mapping[str, Any], hostname: str | None) -> str:
    """The machine a run measured: its host name and CPU model (a board's, for a run over
    SSH)."""
    host = environment.get("hostname") or hostname or "unknown host"
    cpu = environment.get("cpu")
    model = cpu.get("model") if isinstance(cpu, Mapping) else None
    return f"{host} ({model})" if model else str(host)


def _href(target: Path, page_dir: Path) -> str:
    """``target`` relative to the page's folder, as a URL path (both absolute, resolved)."""
    rel = os.path.relpath(target, page_dir)
    return "/".join(urllib.parse.quote(part) for part in Path(rel).as_posix().split("/"))


def find_runs(folder: Path) -> list[Path]:
    """Every ``run.json`` under ``folder`` (hidden folders left out), in path order."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "run.json" in files:
            found.append(Path(root) / "run.json")
    return found


def _interval(record: Mapping[str, Any]) -> tuple[float | None, float | None, str]:
    """The record's 95% re-run interval, else its within-run one (a schema-2 run), else none
    (a fnbench 0.1 run)."""
    for low, high, kind in (("latency_lo_ms", "latency_hi_ms", "re-run"),
                            ("latency_within_lo_ms", "latency_within_hi_ms", "within-run")):
        if all(is_finite(record.get(k)) and record[k] > 0 for k in (low, high)):
            return record[low], record[high], kind
    return None, None, "none"


def _number(value: float | None) -> str:
    """A JSON number of five significant digits (enough for a figure, and the page stays
    small), or null."""
    if value is None or not math.isfinite(value):
        return "null"
    return f"{value:.5g}"


def _series_json(points: Sequence[tuple], slot: Mapping[int, int]) -> str:
    """A series as JSON: [run index, position on the axis, estimate, low, high] per point."""
    return "[" + ",".join(f"[{p[0]},{slot[p[0]]},{_number(p[1])},{_number(p[2])},"
                          f"{_number(p[3])}]" for p in points) + "]"


def fmt_ms(value: float | None) -> str:
    """Milliseconds as the page shows them (its script's ``fmt`` writes the same)."""
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.1f}"
    if value >= 10:
        return f"{value:.2f}"
    if value >= 0.01:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"  # 9.59e-3, as JavaScript's toExponential writes it


def summarize(file: Path) -> dict[str, Any] | str:
    """What the page needs of the run at ``file``, or why it is not a readable run. Reads the
    run as ``fnbench report`` does (``load_run``: any schema, damaged files named)."""
    try:
        run = load_run(file)
    except UsageError as error:
        return str(error)
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as error:
        return f"not a readable fnbench run ({type(error).__name__}: {error})"
    environment = run.get("environment") if isinstance(run.get("environment"), dict) else {}
    settings = run.get("settings") if isinstance(run.get("settings"), dict) else {}
    commit, dirty = _git(environment)
    records = []
    for record in run["records"]:
        key = record.get("key")
        if not key:
            continue
        about = (record["name"], record.get("suite") or run["suite"], record["device"],
                 record["runtime"], record["mode"], record["batch"], record["threads"],
                 record.get("dtype") or "fp32", record.get("host"))
        latency = record.get("latency_ms")
        point = None
        if record["status"] == "ok" and is_finite(latency) and latency > 0:
            point = (latency, *_interval(record), record.get("workload_hash"))
        records.append((key, about, point))
    return {"started": _started(run.get("started"), file), "suite": run["suite"],
            "device": run.get("device"), "runtime": run.get("runtime"),
            "threads": run.get("threads"), "dtype": str(settings.get("dtype") or "fp32"),
            "compile_mode": settings.get("compile_mode"), "status": run["status"],
            "machine": _machine_label(environment, run.get("hostname")), "commit": commit,
            "dirty": dirty, "schema": run.get("upgraded_from") or run["schema"],
            "records": records}


def _summaries(files: Sequence[Path]) -> list[dict[str, Any] | str]:
    """``summarize`` of every file, in worker processes when there are many (reading and
    checking thousands of run files is most of a dashboard's build time)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    workers = min(8, cpus)
    if len(files) < PARALLEL_FROM or workers < 2:
        return [summarize(f) for f in files]
    try:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(summarize, files, chunksize=max(1, len(files) // (workers * 4))))
    except (OSError, BrokenProcessPool):  # no processes to be had here: read them one by one
        return [summarize(f) for f in files]


class Dashboard:
    """Runs read from a folder, grouped into workloads and contexts, rendered as one page."""

    def __init__(self, folder: Path, out: Path, threshold: float = THRESHOLD) -> None:
        self.folder, self.out, self.threshold = folder, out, threshold
        self.runs: list[RunInfo] = []
        self.machines: dict[str, Machine] = {}  # by label
        self.by_id: dict[str, Machine] = {}
        self.workloads: dict[str, Workload] = {}
        self.skipped: list[str] = []

    # -- reading ---------------------------------------------------------------------------

    def read(self) -> None:
        if not self.folder.is_dir():
            raise UsageError(f"{self.folder} is not a folder: give the folder that holds the "
                             "run directories (e.g. results)")
        files = find_runs(self.folder.resolve())
        page_dir = self.out.parent.resolve()
        for file, summary in zip(files, _summaries(files)):
            if isinstance(summary, str):
                self.skipped.append(f"skipped {file.parent}: {summary}")
            else:
                self._take(file.parent, summary, page_dir)
        if not self.runs:
            unread = (f" ({len(self.skipped)} run.json could not be read, the first: "
                      f"{self.skipped[0].split(': ', 1)[1]})" if self.skipped else "")
            raise UsageError(f"no fnbench run under {self.folder}{unread}: give a folder that "
                             "holds run directories (each with a run.json), e.g. results")
        self._sort()

    def _machine(self, label: str) -> str:
        if label not in self.machines:
            n = len(self.machines)
            machine = Machine(f"m{n + 1}", label, COLOURS[n % len(COLOURS)])
            self.machines[label] = self.by_id[machine.id] = machine
        self.machines[label].runs += 1
        return self.machines[label].id

    def _take(self, path: Path, summary: Mapping[str, Any], page_dir: Path) -> None:
        results = path / "results.md"
        info = RunInfo(
            index=len(self.runs), path=path, started=summary["started"],
            suite=summary["suite"], device=summary["device"], runtime=summary["runtime"],
            threads=summary["threads"], dtype=summary["dtype"],
            compile_mode=summary["compile_mode"], status=summary["status"],
            machine=self._machine(summary["machine"]), commit=summary["commit"],
            dirty=summary["dirty"],
            href=_href(results if results.exists() else path / "run.json", page_dir),
            schema=summary["schema"],
            records=len(summary["records"]))
        self.runs.append(info)
        for position, (key, about, point) in enumerate(summary["records"]):
            workload = self.workloads.get(key)
            if workload is None:
                workload = self.workloads[key] = Workload(key, *about, order=(0, 0))
            if point is not None:
                workload.series.setdefault(info.machine, []).append(
                    (info.index, *point, position))

    def _sort(self) -> None:
        """Runs in time order (indices renumbered), each series too, and workloads in the
        order of the newest run that has them."""
        order = sorted(range(len(self.runs)),
                       key=lambda i: (self.runs[i].started, str(self.runs[i].path)))
        renumber = {old: new for new, old in enumerate(order)}
        self.runs = [self.runs[i] for i in order]
        for new, run in enumerate(self.runs):
            run.index = new
        for workload in self.workloads.values():
            newest = (0, 0)
            for machine, points in workload.series.items():
                points[:] = sorted(((renumber[p[0]], *p[1:]) for p in points),
                                   key=lambda p: p[0])
                newest = max(newest, (points[-1][0], -points[-1][6]))
            workload.order = (-newest[0], -newest[1])

    # -- verdicts --------------------------------------------------------------------------

    def contexts(self) -> list[list[RunInfo]]:
        """Runs grouped by context, each group in time order; newest group first."""
        groups: dict[tuple, list[RunInfo]] = {}
        for run in self.runs:
            groups.setdefault(run.context, []).append(run)
        return sorted(groups.values(), key=lambda runs: -runs[-1].index)

    def verdict_rows(self, previous: Sequence[RunInfo], latest: Sequence[RunInfo]
                     ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        """One row per record in both sides, with ``fnbench compare``'s verdict on the runs
        (or why there is none), then the names of the records only in the latest runs and
        only in the previous ones."""
        sides = [Side(label, tuple(r.path for r in runs), tuple(read_run(r.path) for r in runs))
                 for label, runs in (("BASE", previous), ("NEW", latest))]
        records = {r.key: r for side in sides for run in side.runs for r in run.records}
        errors = {side.label: {r.key: r.error for run in side.runs for r in run.records
                               if r.status != "ok"} for side in sides}
        comparison = compare(*sides, Thresholds(self.threshold))  # UsageError: not comparable
        rows, only_new, only_old = [], [], []
        for position, row in enumerate(comparison.rows):
            record = records[row.key]
            if row.verdict in ("only_new", "only_base"):
                (only_new if row.verdict == "only_new" else only_old).append(_label(record))
                continue
            found = None
            if row.verdict in VERDICTS:
                found = Verdict(row.verdict, row.ratio, row.low, row.high)
            why = None
            if row.verdict == "skipped":
                why = ("error in the previous run" if row.reason and
                       row.reason.startswith("error") else row.reason)
            rows.append({"name": record.name, "mode": _mode(record), "verdict": found,
                         "why": why, "position": position, "old": row.base, "new": row.new,
                         "old_error": errors["BASE"].get(row.key),
                         "new_error": errors["NEW"].get(row.key)})
        rank = {kind: i for i, kind in enumerate(VERDICTS)}
        rows.sort(key=lambda r: (rank[r["verdict"].kind] if r["verdict"] else len(rank),
                                 r["position"]))
        return rows, only_new, only_old

    # -- rendering -------------------------------------------------------------------------

    def render(self, title: str, built_at: datetime | None = None) -> tuple[str, int, int]:
        """The page, and the number of series and points it draws."""
        built_at = built_at or datetime.now(timezone.utc)
        data: dict[str, Any] = {
            "runs": [[r.started.strftime("%Y-%m-%d %H:%M UTC"), r.commit[:10] if r.commit
                      else None, r.dirty, r.href, r.path.name, r.status, r.machine]
                     for r in self.runs],
            "machines": {m.id: m.label for m in self.machines.values()},
            "series": []}
        figures, n_series, n_points = [], 0, 0
        groups: dict[tuple, list[Workload]] = {}
        for workload in sorted(self.workloads.values(), key=lambda w: w.order):
            if workload.series:
                groups.setdefault((workload.suite, workload.device, workload.runtime),
                                  []).append(workload)
        for (suite, device, runtime), workloads in groups.items():  # newest first
            charts = []
            for workload in workloads:
                chart, series, points = self._figure(workload, data)
                charts.append(chart)
                n_series, n_points = n_series + series, n_points + points
            machines = sorted({m for w in workloads for m in w.series})
            figures.append(
                f'<section class="group" data-filterable data-suite="{e(suite)}" '
                f'data-device="{e(device)}" data-runtime="{e(runtime)}" '
                f'data-machines="{e(" ".join(machines))}"><h3>{e(suite)} · {e(device)} · '
                f'{e(runtime)} <small>{len(workloads)} workload(s)</small></h3>'
                f'<div class="charts">{"".join(charts)}</div></section>')
        page = PAGE.format(
            title=e(title), css=CSS, script=SCRIPT, header=self._header(title, built_at),
            filters=self._filters(), verdicts=self._verdicts(),
            figures="".join(figures) or "<p>No record with a latency.</p>",
            runs=self._runs_table(), data=_script_json(data))
        return page, n_series, n_points

    def _header(self, title: str, built_at: datetime) -> str:
        first, last = self.runs[0].started, self.runs[-1].started
        return (f"<h1>{e(title)}</h1><p class=lead>{len(self.runs)} run(s) from "
                f"<code>{e(self.folder)}</code>, {first:%Y-%m-%d} to {last:%Y-%m-%d}, on "
                f"{len(self.machines)} machine(s); {len(self.workloads)} workload(s). Built "
                f"{built_at:%Y-%m-%d %H:%M} UTC by fnbench {e(__version__)}.</p>")

    def _filters(self) -> str:
        def select(name: str, values: Iterable[tuple[str, str]]) -> str:
            options = "".join(f'<option value="{e(v)}">{e(label)}</option>'
                              for v, label in values)
            return (f'<label>{name} <select data-filter="{name}"><option value="">all'
                    f'</option>{options}</select></label>')

        def distinct(attr: str) -> list[tuple[str, str]]:
            return [(v, v) for v in sorted({getattr(r, attr) for r in self.runs})]

        machines = [(m.id, m.label) for m in self.machines.values()]
        return ('<form id="filters" onsubmit="return false">'
                + select("suite", distinct("suite")) + select("device", distinct("device"))
                + select("runtime", distinct("runtime")) + select("machine", machines)
                + '<output id="shown"></output></form>')

    def _verdicts(self) -> str:
        parts = []
        for runs in self.contexts():
            latest = runs[-1]
            machine = self.by_id[latest.machine]
            attrs = (f'data-filterable data-suite="{e(latest.suite)}" data-device='
                     f'"{e(latest.device)}" data-runtime="{e(latest.runtime)}" '
                     f'data-machines="{e(latest.machine)}"')
            what = (f"{e(latest.suite)} · {e(latest.device)} · {e(latest.runtime)} · "
                    f"{latest.threads} thread(s)"
                    + (f" · {e(latest.dtype)}" if latest.dtype != "fp32" else "")
                    + (f" · {e(latest.compile_mode)}" if latest.compile_mode not in
                       (None, "default") else "")
                    + f' · <span class="machine" style="--c:{machine.colour}">'
                      f'{e(machine.label)}</span>')
            if len(runs) < 2:
                parts.append(f'<article class="context single" {attrs}><h3>{what}</h3><p>'
                             f'One run ({_run_link(latest)}): nothing to compare it with.'
                             '</p></article>')
                continue
            before, after = latest_against_previous(runs)
            try:
                rows, only_new, only_old = self.verdict_rows(before, after)
            except UsageError as error:  # e.g. a run copied into the folder twice
                parts.append(f'<article class="context single" {attrs}><h3>{what}</h3><p>'
                             f'latest {_side_links(after)} against previous '
                             f'{_side_links(before)}: not compared ({e(str(error))})</p>'
                             '</article>')
                continue
            counts: dict[str, int] = {}
            for row in rows:
                kind = row["verdict"].kind if row["verdict"] else "none"
                counts[kind] = counts.get(kind, 0) + 1
            summary = ", ".join(f'<span class="v v-{e(k)}">{n} '
                                f'{e(k if k != "none" else "without verdict")}</span>'
                                for k, n in sorted(counts.items(), key=lambda kv: (
                                    VERDICTS.index(kv[0]) if kv[0] in VERDICTS else 9)))
            quiet = [r for r in rows if r["verdict"] and r["verdict"].kind in QUIET]
            loud = [r for r in rows if r not in quiet] if len(rows) > SHOW_ALL_UP_TO else rows
            table = _verdict_table(loud) if loud else ""
            if len(rows) > SHOW_ALL_UP_TO and quiet:
                what_quiet = " and ".join(f"{n} {kind}" for kind in QUIET
                                          if (n := sum(r["verdict"].kind == kind
                                                       for r in quiet)))
                table += (f'<details class="quiet"><summary>{what_quiet} record(s)</summary>'
                          f"{_verdict_table(quiet)}</details>")
            unmatched = "".join(
                f'<p class="unmatched" data-only="{side}">only in the {side} run(s) '
                f'({len(names)}): {e(", ".join(names))}</p>'
                for side, names in (("latest", only_new), ("previous", only_old)) if names)
            parts.append(
                f'<article class="context" {attrs}><h3>{what}</h3>'
                f'<p>latest {_side_links(after)} against previous {_side_links(before)} '
                f'({len(runs)} runs in this context): '
                f'{summary or "no record in common"}</p>{table}{unmatched}</article>')
        return "".join(parts)

    def _figure(self, workload: Workload, data: dict[str, Any]) -> tuple[str, int, int]:
        """One workload's figure: a series per machine on a shared run-order axis."""
        runs = sorted({p[0] for points in workload.series.values() for p in points})
        slot = {run: i for i, run in enumerate(runs)}
        n = len(runs)

        def x(run: int) -> float:
            return ((LEFT + RIGHT) / 2 if n == 1 else
                    LEFT + INSET + slot[run] * (RIGHT - LEFT - 2 * INSET) / (n - 1))

        values = [p[1] for pts in workload.series.values() for p in pts]
        bands = [v for pts in workload.series.values() for p in pts for v in p[2:4] if v]
        v_lo, v_hi = min(values), max(values)
        lo = max(min(bands + [v_lo]), v_lo / 3)
        hi = min(max(bands + [v_hi]), v_hi * 3)
        if hi / lo < 1.2:
            mid = math.sqrt(hi * lo)
            lo, hi = mid / 1.1, mid * 1.1
        lo, hi = lo / 1.02, hi * 1.02
        log_lo, log_span = math.log(lo), math.log(hi / lo)

        def y(value: float) -> float:
            v = (math.log(value) - log_lo) / log_span
            return BOTTOM - min(max(v, -0.02), 1.02) * (BOTTOM - TOP)

        parts = [_axes(lo, hi, y, runs, x, self.runs)]
        legend = []
        total = 0
        for machine_id, points in sorted(workload.series.items()):
            machine = self.by_id[machine_id]
            sid = len(data["series"])
            data["series"].append(_series_json(points, slot))
            total += len(points)
            parts.append(self._series(sid, machine, points, x, y))
            legend.append(f'<li data-machine="{e(machine.id)}"><span class="swatch" '
                          f'style="--c:{machine.colour}"></span>{e(machine.label)} '
                          f'<small>{len(points)} run(s)</small></li>')
        mode = _mode(workload)
        extra = " · ".join(part for part in (
            workload.runtime, workload.device + (f" {workload.host}" if workload.host else ""),
            f"{workload.threads} thread(s)", workload.dtype if workload.dtype != "fp32" else "",
            mode) if part)
        note = ""
        if any(len(p) > DRAW_LIMIT for p in workload.series.values()):
            note = (f'<p class="note" title="A series longer than {DRAW_LIMIT} runs is drawn '
                    f"in {DRAW_LIMIT // 2} buckets of consecutive runs: the line goes through "
                    f"each bucket's lowest and highest estimate, the band is the envelope of "
                    f'its intervals.">drawn in buckets of runs; hover reads each of the '
                    f"{total} points</p>")
        machines = " ".join(sorted(workload.series))
        figure = (
            f'<figure class="chart" data-filterable data-suite="{e(workload.suite)}" '
            f'data-device="{e(workload.device)}" data-runtime="{e(workload.runtime)}" '
            f'data-machines="{e(machines)}" data-key="{e(workload.key)}" data-runs="{n}" '
            f'data-x0="{LEFT + INSET}" data-x1="{RIGHT - INSET}" data-y0="{BOTTOM}" '
            f'data-y1="{TOP}" '
            f'data-lo="{lo!r}" data-hi="{hi!r}">'
            f'<figcaption><b>{e(workload.name)}</b> <small>{e(extra)}</small></figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{e(workload.name)}: '
            f'latency ms by run">{"".join(parts)}'
            f'<circle class="focus" r="4" cx="-10" cy="-10"/></svg>'
            f'<ul class="legend">{"".join(legend)}</ul>{note}</figure>')
        return figure, len(workload.series), total

    def _series(self, sid: int, machine: Machine, points: Sequence[tuple], x, y) -> str:
        """A machine's line and band; a new segment wherever the workload changed."""
        segments: list[list[tuple]] = [[]]
        changes = []
        for p in points:
            last = segments[-1][-1] if segments[-1] else None
            if last is not None and last[5] and p[5] and last[5] != p[5]:
                segments.append([])
                changes.append((p, last[5]))
            segments[-1].append(p)
        out = []
        drawn = 0
        for segment in segments:
            line, band = (_bucketed(segment, x) if len(segment) > DRAW_LIMIT
                          else ([(x(p[0]), p[1], p[1]) for p in segment],
                                [(x(p[0]), p[2], p[3]) for p in segment]))
            drawn += len(line)
            for stretch in _stretches(band):
                if len(stretch) == 1:
                    px, low, high = stretch[0]
                    out.append(f'<line class="bar" x1="{px:.1f}" x2="{px:.1f}" '
                               f'y1="{y(low):.1f}" y2="{y(high):.1f}"/>')
                else:
                    edge = " ".join(f"{px:.1f},{y(high):.1f}" for px, _, high in stretch)
                    back = " ".join(f"{px:.1f},{y(low):.1f}" for px, low, _ in reversed(stretch))
                    out.append(f'<polygon class="band" points="{edge} {back}"/>')
            coords = []
            for px, low, high in line:
                coords.append(f"{px:.1f},{y(low):.1f}")
                if high != low:
                    coords.append(f"{px:.1f},{y(high):.1f}")
            if len(coords) > 1:
                out.append(f'<polyline class="line" points="{" ".join(coords)}"/>')
        for p, old_hash in changes:
            out.append(f'<line class="changed" x1="{x(p[0]):.1f}" x2="{x(p[0]):.1f}" '
                       f'y1="{TOP}" y2="{BOTTOM}"><title>the workload changed here '
                       f'(workload_hash {e(old_hash)} → {e(p[5])})</title></line>')
        if len(points) <= MARK_LIMIT:
            for p in points:
                run = self.runs[p[0]]
                interval = (f"95% {p[4]} interval {fmt_ms(p[2])}–{fmt_ms(p[3])} ms"
                            if p[2] and p[3] else "no interval")
                tip = (f"{run.started:%Y-%m-%d %H:%M} UTC · commit "
                       f"{(run.commit or 'unknown')[:10]}{' (dirty)' if run.dirty else ''} · "
                       f"{fmt_ms(p[1])} ms, {interval} · {machine.label} · {run.path.name}")
                out.append(f'<a href="{e(run.href)}"><circle class="mark" '
                           f'cx="{x(p[0]):.1f}" cy="{y(p[1]):.1f}" r="2.6">'
                           f"<title>{e(tip)}</title></circle></a>")
        return (f'<g class="series" data-machine="{e(machine.id)}" data-sid="{sid}" '
                f'data-points="{len(points)}" data-drawn="{drawn}" '
                f'style="--c:{machine.colour}">{"".join(out)}</g>')

    def _runs_table(self) -> str:
        rows = []
        for run in reversed(self.runs):
            machine = self.by_id[run.machine]
            commit = (run.commit or "")[:10] + (" (dirty)" if run.dirty else "")
            rows.append(
                f'<tr data-filterable data-suite="{e(run.suite)}" data-device="{e(run.device)}" '
                f'data-runtime="{e(run.runtime)}" data-machines="{e(run.machine)}">'
                f"<td>{run.started:%Y-%m-%d %H:%M}</td><td>{e(run.suite)}</td>"
                f"<td>{e(run.device)}</td><td>{e(run.runtime)}</td><td class=num>"
                f"{run.threads}</td><td>{e(machine.label)}</td><td><code>{e(commit)}</code>"
                f"</td><td>{e(run.status)}</td><td class=num>{run.records}</td>"
                f'<td><a href="{e(run.href)}">{e(run.path.name)}</a></td></tr>')
        open_ = " open" if len(rows) <= 60 else ""
        return (f"<details{open_}><summary>All {len(rows)} runs, newest first</summary>"
                "<table class=runs><thead><tr><th>started (UTC)</th><th>suite</th>"
                "<th>device</th><th>runtime</th><th class=num>threads</th><th>machine</th>"
                "<th>commit</th><th>status</th><th class=num>records</th><th>results</th>"
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def _run_link(run: RunInfo) -> str:
    commit = (run.commit or "unknown")[:10] + ("+" if run.dirty else "")
    status = "" if run.status == "complete" else f", {e(run.status)}"
    return (f'<a href="{e(run.href)}">{e(run.path.name)}</a> <small>('
            f'{run.started:%Y-%m-%d %H:%M}, commit <code>{e(commit)}</code>{status})</small>')


def _side_links(runs: Sequence[RunInfo]) -> str:
    """One run's link, or how many runs of which commit, each linked."""
    if len(runs) == 1:
        return _run_link(runs[0])
    links = ", ".join(f'<a href="{e(r.href)}">{e(r.path.name)}</a>' for r in runs)
    return (f"{len(runs)} runs of commit <code>{e((runs[-1].commit or 'unknown')[:10])}</code> "
            f"<small>({runs[0].started:%Y-%m-%d %H:%M}–{runs[-1].started:%Y-%m-%d %H:%M}: "
            f"{links})</small>")


def _verdict_table(rows: Sequence[Mapping[str, Any]]) -> str:
    return ('<table class="verdicts"><thead><tr><th>workload</th><th>mode</th>'
            '<th class=num>previous ms</th><th class=num>latest ms</th>'
            '<th class=num>latest / previous (95%)</th><th>verdict</th></tr></thead>'
            f'<tbody>{"".join(_verdict_row(r) for r in rows)}</tbody></table>')


def _mode(measured: "Record | Workload") -> str:
    """A record's (or workload's) mode, with its batch unless it is latency (batch 1)."""
    return measured.mode + (f" b{measured.batch}" if measured.mode != "latency" else "")


def _label(record: Record) -> str:
    return record.name + (f" ({_mode(record)})" if record.mode != "latency" else "")


def _verdict_row(row: Mapping[str, Any]) -> str:
    def cell(value: float | None, error: str | None) -> str:
        if error is not None and value is None:
            return f'<span title="{e(error)}">error</span>'
        return fmt_ms(value) if value is not None else "–"

    found: Verdict | None = row["verdict"]
    kind = found.kind if found else "none"
    ratio = "–"
    if found and found.ratio is not None:
        ratio = f"{found.ratio:.3f} <small>({found.low:.3f}–{found.high:.3f})</small>"
    label = found.kind if found else e(row["why"])
    if found and row["why"]:
        label += f" <small>({e(row['why'])})</small>"
    return (f'<tr data-verdict="{e(kind)}"><td>{e(row["name"])}</td><td>{e(row["mode"])}</td>'
            f'<td class=num>{cell(row["old"], row["old_error"])}</td>'
            f'<td class=num>{cell(row["new"], row["new_error"])}</td>'
            f'<td class=num>{ratio}</td><td><span class="v v-{e(kind)}">{label}</span></td>'
            "</tr>")


def _stretches(band: Sequence[tuple]) -> list[list[tuple]]:
    """Consecutive points that have an interval."""
    out: list[list[tuple]] = [[]]
    for point in band:
        if point[1] and point[2]:
            out[-1].append(point)
        elif out[-1]:
            out.append([])
    return [s for s in out if s]


def _bucketed(points: Sequence[tuple], x) -> tuple[list[tuple], list[tuple]]:
    """A long series in DRAW_LIMIT // 2 buckets of consecutive runs: per bucket the lowest and
    highest estimate (the line goes through both) and the envelope of the intervals."""
    buckets = DRAW_LIMIT // 2
    size = len(points) / buckets
    line, band = [], []
    for b in range(buckets):
        chunk = points[int(b * size):int((b + 1) * size)]
        if not chunk:
            continue
        px = (x(chunk[0][0]) + x(chunk[-1][0])) / 2
        estimates = [p[1] for p in chunk]
        first_low = estimates.index(min(estimates)) < estimates.index(max(estimates))
        low, high = min(estimates), max(estimates)
        line.append((px, low, high) if first_low else (px, high, low))
        lows = [p[2] for p in chunk if p[2] and p[3]]
        highs = [p[3] for p in chunk if p[2] and p[3]]
        band.append((px, min(lows), max(highs)) if lows else (px, None, None))
    return line, band


def _nice_ticks(lo: float, hi: float) -> list[float]:
    """Three to six round values in [lo, hi] for a log axis: 1-2-5 (or 1-1.5-2-3-5-7) per
    decade over a wide range, evenly spaced round numbers over a narrow one."""
    if hi / lo > 3:
        decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        options = [[m * 10 ** exp for exp in decades for m in mantissas
                    if lo <= m * 10 ** exp <= hi]
                   for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1,))]
        for fewest in (4, 3):
            for ticks in options:
                if fewest <= len(ticks) <= 6:
                    return ticks
        ticks = options[-1]
        while len(ticks) > 6:  # powers of ten over a very wide range: every other one
            ticks = ticks[::2]
        return ticks
    raw = (hi - lo) / 4
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _tick_label(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _axes(lo: float, hi: float, y, runs: Sequence[int], x, all_runs: Sequence[RunInfo]) -> str:
    parts = [f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" '
             f'height="{BOTTOM - TOP}"/>']
    for tick in _nice_ticks(lo, hi):
        py = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{RIGHT}" y1="{py:.1f}" '
                     f'y2="{py:.1f}"/><text class="ytick" x="{LEFT - 4}" y="{py + 3:.1f}">'
                     f"{_tick_label(tick)}</text>")
    parts.append(f'<text class="yunit" x="{LEFT - 4}" y="{TOP - 6}">ms</text>')
    n = len(runs)
    picks = sorted({0, n - 1} | ({(n - 1) // 2} if n > 4 else set())) if n > 1 else [0]
    for i in picks:
        run = all_runs[runs[i]]
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(f'<text class="xtick" x="{x(runs[i]):.1f}" y="{BOTTOM + 14}" '
                     f'text-anchor="{anchor}">{run.started:%Y-%m-%d}</text>')
    parts.append(f'<text class="xunit" x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 27}">'
                 f"{n} run(s), in time order</text>")
    return "".join(parts)


def _script_json(data: Mapping[str, Any]) -> str:
    """The page's data as JSON that cannot end its <script> element or open markup; the
    series are JSON text already (numbers only)."""
    head = json.dumps({k: v for k, v in data.items() if k != "series"}, separators=(",", ":"),
                      allow_nan=False)
    head = head.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return head[:-1] + ',"series":[' + ",".join(data["series"]) + "]}"


def build(folder: Path, out: Path, title: str = "fnbench dashboard",
          threshold: float = THRESHOLD) -> Built:
    """Read every run under ``folder`` and write the page to ``out``; UsageError (nothing
    written) when there is no run, RunFileError when the page cannot be written."""
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out} is a folder: give the page's file name, e.g. "
                         f"{out / 'dashboard.html'}")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise UsageError(f"--out {out} is not a plain file (a link, device or pipe), which the "
                         "page would replace: give a path for the page itself")
    check_threshold(threshold * 100, "--threshold")
    board = Dashboard(folder, out, threshold)
    board.read()
    page, series, points = board.render(title)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunFileError(out, error) from None
    write_atomic(out, page)
    return Built(out, len(board.runs), len(board.machines), len(board.workloads), series,
                 points, len(page.encode()), tuple(board.skipped))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><header>{header}{filters}</header>
<main>
<section id="verdicts"><h2>Latest runs against the previous ones on the same machine</h2>
<p class="explain">Per context (suite, device, runtime, threads, dtype, machine): the latest
run, with the runs of the same commit just before it (repeats), against the runs of the commit
before that; when every run measured one commit, the latest run against the one before it.
The verdict is <code>fnbench compare</code>'s on those runs: the ratio latest / previous of
each record's latency has a 95% interval on the log scale that takes the runs' within-run
error, their run-to-run spread (the 10% prior when a run did not record one) and the repeats'
own spread:
<span class="v v-slower">slower</span> when it lies wholly above 1 + threshold,
<span class="v v-faster">faster</span> when wholly below 1 / (1 + threshold),
<span class="v v-noisy">noisy</span> when it is wider than ± threshold,
<span class="v v-unchanged">unchanged</span> otherwise;
<span class="v v-changed">changed</span>: the workload itself changed (its workload hash);
<span class="v v-errored">errored</span>: an error in the latest runs where the previous ones
measured it.</p>
{verdicts}</section>
<section id="history"><h2>Latency over time</h2>
<p class="explain">Each record's latency (ms per call, log scale) run after run, one series per
machine (colour, named under each figure; machines are never joined in one line); the band is
the 95% re-run interval (within-run only for runs made before fnbench took the machine's spread
into account; none for fnbench 0.1 runs); dashed: the workload changed. Hover a figure for the
run, its date and commit; click to open its results.</p>
{figures}</section>
<section id="runs"><h2>Runs</h2>{runs}</section>
</main>
<div id="tip" hidden></div>
<script type="application/json" id="fnbench-data">{data}</script>
<script>{script}</script>
</body></html>
"""

CSS = """
:root{--fg:#1d232a;--muted:#5b6570;--line:#d9dee3;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header{background:#1f2d3d;color:#fff;padding:14px 24px 10px}
header h1{margin:0 0 2px;font-size:21px}
header .lead{margin:0 0 8px;color:#c9d3de}
header code{color:#fff}
#filters{display:flex;flex-wrap:wrap;gap:14px;align-items:center}
#filters label{font-size:13px;color:#c9d3de}
#filters select{margin-left:4px;font:inherit;padding:2px 4px;border-radius:4px;border:0}
#filters output{font-size:12px;color:#9fb0c2}
main{padding:4px 24px 32px;max-width:1640px}
h2{font-size:18px;margin:22px 0 6px}
h3{font-size:15px;margin:0 0 6px}
h3 small,figcaption small,.legend small{color:var(--muted);font-weight:normal}
.explain{color:var(--muted);margin:0 0 10px;max-width:1100px;font-size:13px}
.context{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px;
margin:0 0 12px}
.context p{margin:0 0 6px}
.context .unmatched{color:var(--muted);font-size:12px;margin:4px 0 0;white-space:normal}
.context details.quiet summary{font-size:12px;margin:4px 0 0}
.context.single{padding:8px 14px}
.context.single p{margin:0;color:var(--muted)}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 10px 3px 0;text-align:left;border-bottom:1px solid #eceff2;white-space:nowrap}
th{color:var(--muted);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.v{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;
background:#eceff2;color:#3b4650}
.v-slower,.v-errored{background:#fbe1de;color:#a1261a}.v-faster{background:#dcf2e3;color:#17693a}
.v-noisy{background:#fff1cc;color:#7a5b00}.v-changed{background:#e5e1fa;color:#4b3aa3}
.v-unchanged{background:#e8edf2;color:#41505e}
.machine{border-left:4px solid var(--c);padding-left:5px}
.group{margin:0 0 18px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
figure.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:8px 10px 6px}
figcaption{font-size:13px;margin:0 0 2px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
figure svg{display:block;width:100%;height:auto;cursor:crosshair}
svg .plot{fill:#fbfcfd;stroke:var(--line)}
svg .grid{stroke:#e6e9ed;stroke-width:.8}
svg text{font-size:10px;fill:var(--muted)}
svg .ytick,svg .yunit{text-anchor:end}
svg .xunit{text-anchor:middle}
.series .band{fill:var(--c);fill-opacity:.16;stroke:none}
.series .bar{stroke:var(--c);stroke-opacity:.35;stroke-width:3}
.series .line{fill:none;stroke:var(--c);stroke-width:1.4;stroke-linejoin:round}
.series .mark{fill:var(--c);stroke:#fff;stroke-width:.8}
.series .changed{stroke:var(--c);stroke-dasharray:3 3}
svg .focus{fill:none;stroke:#1d232a;stroke-width:1.5;pointer-events:none}
.legend{list-style:none;margin:2px 0 0;padding:0;font-size:12px;display:flex;flex-wrap:wrap;
gap:2px 12px}
.swatch{display:inline-block;width:14px;height:3px;background:var(--c);margin:0 5px 3px 0;
vertical-align:middle}
.note{font-size:11px;color:var(--muted);margin:2px 0 0}
details summary{cursor:pointer;color:var(--muted);margin-bottom:6px}
#tip{position:fixed;z-index:9;pointer-events:none;background:#1f2d3d;color:#fff;font-size:12px;
padding:6px 8px;border-radius:6px;max-width:420px;box-shadow:0 2px 8px rgba(0,0,0,.25)}
[hidden]{display:none!important}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fnbench-data").textContent);
  var selects = {};
  document.querySelectorAll("select[data-filter]").forEach(function (s) {
    selects[s.dataset.filter] = s;
  });
  var names = ["suite", "device", "runtime", "machine"];

  function readHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    names.forEach(function (name) {
      var value = params.get(name), select = selects[name];
      if (value === null) { select.value = ""; return; }
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === value) { select.value = value; return; }
      }
    });
  }

  function writeHash() {
    var params = new URLSearchParams();
    names.forEach(function (name) { if (selects[name].value) params.set(name, selects[name].value); });
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function apply() {
    var f = {};
    names.forEach(function (name) { f[name] = selects[name].value; });
    document.querySelectorAll("[data-filterable]").forEach(function (el) {
      var show = ["suite", "device", "runtime"].every(function (k) {
        return !f[k] || el.dataset[k] === f[k];
      });
      if (show && f.machine) show = el.dataset.machines.split(" ").indexOf(f.machine) >= 0;
      el.hidden = !show;
    });
    document.querySelectorAll("g.series, .legend li").forEach(function (el) {
      el.style.display = !f.machine || el.dataset.machine === f.machine ? "" : "none";
    });
    var all = document.querySelectorAll("figure.chart").length;
    var shown = document.querySelectorAll("figure.chart:not([hidden])").length;
    var out = document.getElementById("shown");
    out.textContent = shown + " of " + all + " figures shown";
    document.body.dataset.shownFigures = shown;
  }

  names.forEach(function (name) {
    selects[name].addEventListener("change", function () { writeHash(); apply(); });
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });

  var tip = document.getElementById("tip");
  function fmt(v) {
    if (v === null) return "–";
    if (v >= 1000) return Math.round(v).toLocaleString("en-US");
    return v >= 100 ? v.toFixed(1) : v >= 10 ? v.toFixed(2) : v >= 0.01 ? String(+v.toPrecision(3)) : v.toExponential(2);
  }
  function nearest(figure, svg, event) {
    var pt = svg.createSVGPoint();
    pt.x = event.clientX; pt.y = event.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    var n = +figure.dataset.runs, x0 = +figure.dataset.x0, x1 = +figure.dataset.x1;
    var lo = Math.log(+figure.dataset.lo), span = Math.log(+figure.dataset.hi) - lo;
    function px(slot) { return n === 1 ? (x0 + x1) / 2 : x0 + slot * (x1 - x0) / (n - 1); }
    var y0 = +figure.dataset.y0, y1 = +figure.dataset.y1;
    function py(v) { return y0 - Math.min(Math.max((Math.log(v) - lo) / span, -0.02), 1.02) * (y0 - y1); }
    var best = null;
    figure.querySelectorAll("g.series").forEach(function (g) {
      if (g.style.display === "none") return;
      var points = data.series[+g.dataset.sid], a = 0, b = points.length - 1;
      while (b - a > 1) {
        var m = (a + b) >> 1;
        if (px(points[m][1]) < p.x) a = m; else b = m;
      }
      [a, b].forEach(function (i) {
        var q = points[i], dx = px(q[1]) - p.x, dy = py(q[2]) - p.y, d = dx * dx + dy * dy;
        if (!best || d < best.d) best = {d: d, q: q, x: px(q[1]), y: py(q[2])};
      });
    });
    return best;
  }
  document.querySelectorAll("figure.chart").forEach(function (figure) {
    var svg = figure.querySelector("svg"), focus = svg.querySelector(".focus"), current = null;
    svg.addEventListener("mousemove", function (event) {
      current = nearest(figure, svg, event);
      if (!current) return;
      var q = current.q, run = data.runs[q[0]];
      focus.setAttribute("cx", current.x); focus.setAttribute("cy", current.y);
      tip.textContent = "";
      [figure.querySelector("figcaption b").textContent,
       run[0] + " · commit " + (run[1] || "unknown") + (run[2] ? " (dirty)" : ""),
       fmt(q[2]) + " ms" + (q[3] !== null ? "  (95%: " + fmt(q[3]) + "–" + fmt(q[4]) + ")" : "  (no interval)"),
       data.machines[run[6]] + " · " + run[4] + (run[5] !== "complete" ? " · " + run[5] : "")
      ].forEach(function (line, i) {
        var div = document.createElement("div");
        div.textContent = line;
        if (i === 0) div.style.fontWeight = "600";
        tip.appendChild(div);
      });
      tip.hidden = false;
      tip.style.left = Math.min(event.clientX + 14, window.innerWidth - 430) + "px";
      tip.style.top = (event.clientY + 14) + "px";
    });
    svg.addEventListener("mouseleave", function () {
      tip.hidden = true; current = null;
      focus.setAttribute("cx", -10); focus.setAttribute("cy", -10);
    });
    svg.addEventListener("click", function (event) {
      if (current && !event.target.closest("a")) location.href = data.runs[current.q[0]][3];
    });
  });

  readHash();
  apply();
  document.documentElement.dataset.scriptMs = performance.now().toFixed(1);
})();
"""
