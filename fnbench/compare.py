"""Compare saved runs: is NEW slower than BASE, workload by workload?

Works on run files alone (no torch, no device). Records are matched by ``key``. For each
matched pair the ratio of the estimates NEW/BASE gets a 95% confidence interval on the log
scale, and a verdict at a threshold (see :func:`verdict`).

**The interval.** On one side, with k runs holding the record, the side's estimate is the mean
of the k log estimates (a geometric mean). Its variance has two parts:

- within-run: each run's standard error of its log estimate, ``se = s / sqrt(n)`` over its n
  round medians (for relative latency, over its n paired round ratios) — the ``t * s /
  sqrt(n)`` confidence interval the run stores; the mean of k runs has ``sum(se_i^2) / k^2``;
- between runs: the machine's run-to-run spread ``sigma`` of one run's estimate (log scale),
  which rounds inside one run cannot see. It is the run's ``settings.spread.sd`` (or
  ``relative_sd``), from this machine's history; a run without one (schema 1 and 2) takes the
  prior of :mod:`fnbench.history`. With k >= 2 runs on a side, the repeats' own variance of
  log estimates (pooled over records, k - 1 degrees of freedom) is pooled with the recorded
  spread, weighted by their degrees of freedom. The mean of k runs has ``sigma^2 / k``.

So ``var(log ratio) = sum(se_B^2)/k_B^2 + sum(se_N^2)/k_N^2 + sigma_B^2/k_B + sigma_N^2/k_N``.
``sigma`` describes whole-run estimates, which already carry within-run noise, so adding ``se``
counts that noise twice; added in quadrature the excess is small while ``sigma`` dominates (10%
and 2% give 10.2%), and it errs towards ``noisy``, never towards a false ``slower``; when a run
is unusually noisy inside, ``se`` is what widens its interval. The degrees of freedom are
Welch-Satterthwaite's over the parts (rounds - 1 for each within-run part, the spread's df for
the between-run part; the two sides' spreads count as one part when they come from the same
history or are both the prior, since they are then the same estimate, not two), and the
interval is ``log ratio +- t(df) * sqrt(var)``.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from fnbench.errors import UsageError
from fnbench.history import Spread, entry_of, pooled
from fnbench.measure import Interval, Measurement, Round, t975
from fnbench.records import Record, Relative, Run, key_settings

FORMAT = "fnbench.compare/1"
#: Every verdict, most severe first (the order of tables and of the summary line).
VERDICTS = ("slower", "errored", "changed", "noisy", "faster", "unchanged", "skipped",
            "only_base", "only_new")
#: Verdicts that make ``fnbench compare`` exit 1.
FAILING = ("slower", "errored")
DEFAULT_THRESHOLD = 0.05
#: Thresholds above this (as a fraction) are surely a typo (1000%).
MAX_THRESHOLD = 10.0


# --- runs ---------------------------------------------------------------------------------

def run_files(path: Path) -> list[Path]:
    """The run.json files ``path`` names: a run.json, a run directory, or a directory whose
    subdirectories are runs (every one, sorted by name); UsageError when there is none."""
    if path.is_file():
        return [path]
    if path.is_dir():
        if (path / "run.json").is_file():
            return [path / "run.json"]
        children = sorted(child / "run.json" for child in path.iterdir()
                          if (child / "run.json").is_file())
        if children:
            return children
        raise UsageError(f"no run at {path}: it holds no run.json, nor do its subdirectories; "
                         "give a run directory, its run.json or a folder of run directories")
    raise UsageError(f"no run at {path}: give a run directory or its run.json")


@dataclass(frozen=True)
class Side:
    """BASE or NEW: its runs and the files they came from."""

    label: str
    files: tuple[Path, ...]
    runs: tuple[Run, ...]

    @property
    def schema(self) -> tuple[str, ...]:
        return tuple(run.upgraded_from or run.schema for run in self.runs)


def load_side(label: str, paths: Sequence[Path]) -> Side:
    """Every run the paths name; UsageError for a missing path, a file that is not a run, a
    schema this fnbench cannot read, a run named twice, or suites/devices mixed."""
    from fnbench.results import read_run

    if not paths:
        raise UsageError(f"no {label} run given: name one with --{label.lower()} PATH")
    files: list[Path] = []
    seen: dict[Path, Path] = {}
    for path in paths:
        if not str(path).strip():
            raise UsageError(f"an empty path was given as {label} (an unset variable?): name a "
                             "run directory, its run.json or a folder of runs")
        for file in run_files(Path(path)):
            resolved = file.resolve()
            if resolved in seen:
                raise UsageError(f"{label} names the run {file} twice (also as {seen[resolved]}):"
                                 " give each run once")
            seen[resolved] = file
            files.append(file)
    runs = tuple(read_run(file) for file in files)
    for attribute, what in (("suite", "suites"), ("device", "devices"),
                            ("runtime", "runtimes")):
        values = {getattr(run, attribute) for run in runs}
        if len(values) > 1:
            first = {}
            for file, run in zip(files, runs):
                first.setdefault(getattr(run, attribute), file)
            named = ", ".join(f"{v} ({first[v]})" for v in sorted(values))
            raise UsageError(f"{label} mixes runs of different {what}: {named}; give runs of "
                             f"one {attribute} on each side")
    return Side(label, tuple(files), runs)


def run_identity(run: Run) -> tuple | None:
    """What tells one run from another even when its file was copied: when it started, on
    which host, in which process (None when the run does not say all three)."""
    if not (run.started and run.hostname and run.pid):
        return None
    return (run.started, run.hostname, run.pid)


def check_sides(base: Side, new: Side, relative: bool) -> None:
    """UsageError when the sides cannot be compared: the same run twice (by path, or a copy:
    the same start, host and process), another suite, device or runtime, or (with
    ``relative``) a run without relative latency."""
    base_files = {f.resolve(): f for f in base.files}
    for file in new.files:
        if file.resolve() in base_files:
            other = base_files[file.resolve()]
            also = "" if str(other) == str(file) else f" (as {other})"
            raise UsageError(f"{file} is both BASE{also} and NEW: compare two different runs")
    seen: dict[tuple, tuple[str, Path]] = {}
    for side in (base, new):
        for file, run in zip(side.files, side.runs):
            identity = run_identity(run)
            if identity is None:
                continue
            if identity in seen:
                label, other = seen[identity]
                raise UsageError(f"{side.label} run {file} and {label} run {other} are one run "
                                 f"(both started {run.started} on {run.hostname or 'one host'}"
                                 "): a copy is not a repeat; give each run once")
            seen[identity] = (side.label, file)
    for attribute in ("suite", "device", "runtime"):
        b, n = getattr(base.runs[0], attribute), getattr(new.runs[0], attribute)
        if b != n:
            raise UsageError(f"BASE is {attribute} {b} and NEW is {attribute} {n}: compare "
                             f"runs of the same {attribute}")
    if relative:
        for side in (base, new):
            for file, run in zip(side.files, side.runs):
                if run.upgraded_from == "fnbench.run/1":
                    raise UsageError(f"{side.label} run {file} has schema fnbench.run/1 "
                                     "(fnbench 0.1), which has no relative latency (no "
                                     "reference workload): compare it without --relative")
                if not any(r.status == "ok" and r.relative_latency for r in run.records):
                    raise UsageError(f"{side.label} run {file} has no relative latency (it was "
                                     "measured with --no-reference, or its reference workload "
                                     "failed): compare it without --relative")


# --- thresholds ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Thresholds:
    """The default threshold and per-workload overrides (fractions): the first rule, in file
    order, whose glob matches a record's name or key wins."""

    default: float = DEFAULT_THRESHOLD
    rules: tuple[tuple[str, float], ...] = ()
    source: str | None = None

    def rule_for(self, name: str, key: str) -> str | None:
        for pattern, _ in self.rules:
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(key, pattern):
                return pattern
        return None

    def for_record(self, name: str, key: str) -> float:
        pattern = self.rule_for(name, key)
        return self.default if pattern is None else dict(self.rules)[pattern]


def check_threshold(percent: Any, where: str) -> float:
    """A threshold in percent as a fraction; UsageError naming ``where`` unless it is a
    number above 0 and at most 1000."""
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) \
            or not math.isfinite(percent) or not 0 < percent <= MAX_THRESHOLD * 100:
        raise UsageError(f"{where} = {percent!r} must be a percentage above 0 and at most "
                         f"{MAX_THRESHOLD * 100:g}, e.g. 5 for 5%")
    return float(percent) / 100


def load_thresholds(path: Path | None, default_percent: float) -> Thresholds:
    """``--threshold`` and the overrides of a TOML file: a ``[thresholds]`` table of
    ``"GLOB" = PERCENT``; UsageError naming the problem."""
    default = check_threshold(default_percent, "--threshold")
    if path is None:
        return Thresholds(default)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError("--thresholds needs Python 3.11 or later (tomllib), or "
                             "`pip install tomli`") from None
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no thresholds file at {path}: give a TOML file with a "
                         "[thresholds] table") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read --thresholds {path} ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--thresholds {path} is not valid TOML ({error})") from None
    unknown = sorted(set(data) - {"thresholds"})
    table = data.get("thresholds")
    if unknown or not isinstance(table, dict):
        what = f"has {', '.join(map(repr, unknown))}" if unknown else "has no [thresholds] table"
        raise UsageError(f"--thresholds {path} {what}: it must hold one [thresholds] table "
                         'of "NAME-OR-KEY-GLOB" = PERCENT')
    rules = tuple((str(pattern), check_threshold(value, f"{path}: {pattern!r}"))
                  for pattern, value in table.items())
    return Thresholds(default, rules, str(path))


# --- estimates ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """One run's estimate of one record on the log scale, with its within-run standard error
    and that error's degrees of freedom (0 and 0 when the run cannot tell: a single round)."""

    log: float
    se: float = 0.0
    df: int = 0


def _measurement(record: Record | None) -> Measurement | None:
    data = record.measurement if record is not None else None
    if not data or not data.get("rounds"):
        return None
    try:
        return Measurement.from_dict(dict(data))
    except (KeyError, TypeError, ValueError):
        return None


def _from_interval(low: float | None, high: float | None, rounds: int | None,
                   scale: float) -> tuple[float, int]:
    """The standard error behind a stored interval ``t(n-1) * scale * se`` wide each side."""
    if not (low and high and rounds and rounds >= 2 and high > low > 0):
        return 0.0, 0
    return math.log(high / low) / (2 * t975(rounds - 1) * scale), rounds - 1


def estimate(record: Record, reference: Record | None, relative: bool) -> Estimate | None:
    """The record's log estimate and within-run standard error (None without an estimate)."""
    if relative:
        if not record.relative_latency or record.relative_latency <= 0:
            return None
        mine, theirs = _measurement(record), _measurement(reference)
        paired = Relative.paired(mine, theirs) if mine and theirs else None
        if paired is not None and paired.pairs >= 2 and paired.high > paired.low:
            # the paired re-run interval is t * s * sqrt(2 / n) each side
            se, df = _from_interval(paired.low, paired.high, paired.pairs, math.sqrt(2))
        else:
            se, df = _from_interval(record.relative_within_lo, record.relative_within_hi,
                                    record.rounds, math.sqrt(2))
        return Estimate(math.log(record.relative_latency), se, df)
    if not record.latency_ms or record.latency_ms <= 0:
        return None
    rounds = (record.measurement or {}).get("rounds") or []
    interval = Interval.from_values([Round.from_dict(r).median for r in rounds]) \
        if len(rounds) >= 2 else None
    if interval is not None:
        se, df = interval.log_std / math.sqrt(interval.rounds), interval.rounds - 1
    else:
        se, df = _from_interval(record.latency_ci_low_ms, record.latency_ci_high_ms,
                                record.rounds, 1.0)
    return Estimate(math.log(record.latency_ms), se, df)


# --- run-to-run spread --------------------------------------------------------------------

@dataclass(frozen=True)
class SideSpread:
    """A side's run-to-run spread (log sd of one run's estimate) and its degrees of freedom:
    the recorded spread (or the prior), pooled with the side's own repeats."""

    sd: float
    df: int
    recorded_sd: float
    recorded_df: int
    source: str  # "history of N earlier run(s)", "prior: no history", ...
    context: str | None
    repeats_sd: float | None = None
    repeats_df: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"sd": self.sd, "df": self.df, "recorded_sd": self.recorded_sd,
                "recorded_df": self.recorded_df, "source": self.source,
                "repeats_sd": self.repeats_sd, "repeats_df": self.repeats_df}


def recorded_spread(run: Run) -> tuple[Spread, str]:
    """The spread a run recorded, or the prior with why."""
    data = (run.settings or {}).get("spread")
    if isinstance(data, Mapping):
        try:
            spread = Spread.from_dict(data)
        except (KeyError, TypeError, ValueError):
            spread = None
        if spread is not None:
            return spread, (f"history of {spread.runs} earlier run(s)" if spread.runs
                            else "prior: no history")
    schema = run.upgraded_from or run.schema
    return Spread(), f"prior: none recorded in {schema}"


def side_spread(side: Side, relative: bool) -> SideSpread:
    """The side's spread: the recorded spread with the most degrees of freedom among its runs,
    pooled with the variance of its repeats' log estimates when it has several runs."""
    choices = [recorded_spread(run) for run in side.runs]
    spread, source = max(reversed(choices), key=lambda c: c[0].df)
    sd = spread.relative_sd if relative else spread.sd
    entries = [entry_of([r for r in run.records if r.status == "ok"]) or {} for run in side.runs]
    variance, dof = pooled([e.get("relative" if relative else "latency") or {}
                             for e in entries])
    context = spread.context if spread.runs else None  # every prior is the same prior
    if dof < 1:
        return SideSpread(sd, spread.df, sd, spread.df, source, context)
    combined = math.sqrt((spread.df * sd ** 2 + dof * variance) / (spread.df + dof))
    return SideSpread(combined, spread.df + dof, sd, spread.df,
                      f"{source}, pooled with {len(side.runs)} repeats", context,
                      math.sqrt(variance), dof)


# --- comparison ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """The comparison of one record. ``base``/``new`` are the sides' estimates (ms, or
    relative latency with ``--relative``; a geometric mean over repeats), ``ratio`` NEW/BASE
    with its 95% interval ``low``..``high``, ``half_width`` the interval's log half-width."""

    key: str
    name: str
    mode: str
    verdict: str
    threshold: float
    base: float | None = None
    new: float | None = None
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    half_width: float | None = None
    df: int | None = None
    base_runs: int = 0
    new_runs: int = 0
    reason: str | None = None
    threshold_rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "mode": self.mode, "verdict": self.verdict,
                "threshold": self.threshold, "threshold_rule": self.threshold_rule,
                "base": self.base, "new": self.new, "ratio": self.ratio,
                "ratio_low": self.low, "ratio_high": self.high,
                "log_half_width": self.half_width, "df": self.df,
                "base_runs": self.base_runs, "new_runs": self.new_runs, "reason": self.reason}


def verdict(log_ratio: float, half_width: float, threshold: float) -> str:
    """``slower`` when the interval lies wholly above 1 + threshold, ``faster`` when wholly
    below 1 / (1 + threshold), else ``noisy`` when it is too wide to decide at that threshold
    (half-width above log(1 + threshold)), else ``unchanged``."""
    limit = math.log1p(threshold)
    if log_ratio - half_width > limit:
        return "slower"
    if log_ratio + half_width < -limit:
        return "faster"
    if half_width > limit:
        return "noisy"
    return "unchanged"


def resolvable(half_width: float, threshold: float) -> float:
    """The smallest slowdown (a fraction) that an interval ``half_width`` wide (log scale)
    would call ``slower`` at ``threshold``: its lower end must clear 1 + threshold."""
    return math.expm1(math.log1p(threshold) + half_width)


def welch_df(parts: Iterable[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variance estimates (variance, df);
    parts without degrees of freedom count as known exactly."""
    parts = [(v, d) for v, d in parts if v > 0]
    total = sum(v for v, _ in parts)
    denominator = sum(v * v / d for v, d in parts if d > 0)
    if total <= 0 or denominator <= 0:
        return math.inf
    return total * total / denominator


def _t(df: float) -> float:
    return t975(max(1, math.floor(df))) if math.isfinite(df) else 1.959963984540054


def ratio_interval(base: Sequence[Estimate], new: Sequence[Estimate], base_spread: SideSpread,
                   new_spread: SideSpread) -> tuple[float, float, int]:
    """log(NEW/BASE), the log half-width of its 95% interval and its degrees of freedom (see
    the module docstring)."""
    kb, kn = len(base), len(new)
    log_ratio = sum(e.log for e in new) / kn - sum(e.log for e in base) / kb
    within = [(sum(e.se ** 2 for e in side) / len(side) ** 2, sum(e.df for e in side))
              for side in (base, new)]
    between_b, between_n = base_spread.sd ** 2 / kb, new_spread.sd ** 2 / kn
    if base_spread.context == new_spread.context and not (base_spread.repeats_df
                                                          or new_spread.repeats_df):
        between = [(between_b + between_n, min(base_spread.df, new_spread.df))]
    else:
        between = [(between_b, base_spread.df), (between_n, new_spread.df)]
    parts = within + between
    variance = sum(v for v, _ in parts)
    df = welch_df(parts)
    half = _t(df) * math.sqrt(variance)
    return log_ratio, half, (min(int(df), 10 ** 6) if math.isfinite(df) else 10 ** 6)


@dataclass
class _Entry:
    name: str
    mode: str
    base: list[tuple[Run, Record]] = field(default_factory=list)
    new: list[tuple[Run, Record]] = field(default_factory=list)


def _entries(base: Side, new: Side) -> dict[str, _Entry]:
    """Every key of either side, NEW's order first, each with its (run, record) pairs."""
    entries: dict[str, _Entry] = {}
    for side, attr in ((new, "new"), (base, "base")):
        for run in side.runs:
            for record in run.records:
                entry = entries.setdefault(record.key, _Entry(record.name, record.mode))
                getattr(entry, attr).append((run, record))
    return entries


def _hash_problem(entry: _Entry) -> str | None:
    hashes = {side: {r.workload_hash for _, r in pairs if r.workload_hash}
              for side, pairs in (("BASE", entry.base), ("NEW", entry.new))}
    for side, values in hashes.items():
        if len(values) > 1:
            return f"workload_hash differs between the {side} runs ({', '.join(sorted(values))})"
    if hashes["BASE"] and hashes["NEW"] and hashes["BASE"] != hashes["NEW"]:
        return (f"workload_hash {next(iter(hashes['BASE']))} in BASE, "
                f"{next(iter(hashes['NEW']))} in NEW: what is measured changed")
    return None


def compare_entry(key: str, entry: _Entry, thresholds: Thresholds, relative: bool,
                  spreads: tuple[SideSpread, SideSpread]) -> Row:
    rule = thresholds.rule_for(entry.name, key)
    threshold = thresholds.for_record(entry.name, key)
    row = dict(key=key, name=entry.name, mode=entry.mode, threshold=threshold,
               threshold_rule=rule, base_runs=len(entry.base), new_runs=len(entry.new))
    if not entry.base:
        return Row(verdict="only_new", reason="no record with this key in BASE", **row)
    if not entry.new:
        return Row(verdict="only_base", reason="no record with this key in NEW", **row)
    base_ok = [(run, r) for run, r in entry.base if r.status == "ok"]
    new_errors = [r for _, r in entry.new if r.status != "ok"]
    if new_errors and base_ok:
        return Row(verdict="errored", reason=f"error in NEW: {new_errors[0].error}", **row)
    if not base_ok:
        both = " and NEW" if new_errors else ""
        return Row(verdict="skipped", reason=f"error in BASE{both}: not compared", **row)
    problem = _hash_problem(entry)
    if problem:
        return Row(verdict="changed", reason=problem, **row)
    base = [estimate(r, run.reference, relative) for run, r in base_ok]
    new = [estimate(r, run.reference, relative) for run, r in entry.new]
    if any(e is None for e in base + new):
        what = "relative latency" if relative else "latency"
        return Row(verdict="skipped", reason=f"a run has no {what} for this record", **row)
    log_ratio, half, df = ratio_interval(base, new, *spreads)
    decided = verdict(log_ratio, half, threshold)
    notes = []
    if decided == "noisy":
        notes.append(f"only a change beyond +{resolvable(half, threshold) * 100:.0f}% would "
                     "be slower: add runs a side (--base/--new repeated)")
    if not all(r.workload_hash for _, r in entry.base + entry.new):
        notes.append("workload hash unknown on one side (a schema-1 model record): not "
                     "checked")
    return Row(verdict=decided,
               base=math.exp(sum(e.log for e in base) / len(base)),
               new=math.exp(sum(e.log for e in new) / len(new)),
               ratio=math.exp(log_ratio), low=math.exp(log_ratio - half),
               high=math.exp(log_ratio + half), half_width=half, df=df,
               reason="; ".join(notes) or None, **row)


# --- fingerprints -------------------------------------------------------------------------

def fingerprint(run: Run) -> dict[str, str]:
    """What a run measured with that can change a number: CPU, threads, runtime and package
    versions, python, fnbench, dtype."""
    env = run.environment or {}
    cpu = env.get("cpu") or {}
    settings = run.settings or {}
    out = {"cpu model": cpu.get("model"), "cpu arch": cpu.get("arch"),
           "logical cores": cpu.get("logical_cores"), "threads": run.threads,
           "runtime": run.runtime, "dtype": settings.get("dtype") or "fp32",
           "compile mode": settings.get("compile_mode"), "python": env.get("python"),
           "fnbench": run.fnbench_version}
    for package, version in sorted((env.get("packages") or {}).items()):
        out[package] = version
    return {k: "none" if v is None else str(v) for k, v in out.items()}


@dataclass(frozen=True)
class Difference:
    """A fingerprint field whose values differ between (or within) the sides."""

    field: str
    base: tuple[str, ...]
    new: tuple[str, ...]

    def text(self) -> str:
        return f"{self.field}: {' / '.join(self.base)} (BASE) vs {' / '.join(self.new)} (NEW)"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "base": list(self.base), "new": list(self.new)}


def differences(base: Side, new: Side) -> list[Difference]:
    prints = {side.label: [fingerprint(run) for run in side.runs] for side in (base, new)}
    fields_ = list(dict.fromkeys(k for side in prints.values() for p in side for k in p))
    out = []
    for name in fields_:
        values = {label: tuple(dict.fromkeys(p.get(name, "none") for p in side))
                  for label, side in prints.items()}
        if set(values["BASE"]) != set(values["NEW"]) or len(values["BASE"]) > 1 \
                or len(values["NEW"]) > 1:
            out.append(Difference(name, values["BASE"], values["NEW"]))
    return out


def busy(run: Run) -> tuple[float, int] | None:
    """(load average, CPUs) when the run started on a machine with more runnable work than
    CPUs, else None: its run-to-run spread is then likely wider than the one it recorded."""
    env = run.environment or {}
    load = env.get("load_average")
    cpus = (env.get("cpu") or {}).get("logical_cores")
    if isinstance(load, list) and load and isinstance(load[0], (int, float)) \
            and isinstance(cpus, int) and cpus > 0 and load[0] > cpus:
        return float(load[0]), cpus
    return None


def reference_latency(side: Side) -> float | None:
    """The geometric mean of the side's reference-workload latencies (ms); None without any.
    BASE against NEW it shows how much the machine itself moved between the runs."""
    logs = [math.log(run.reference.latency_ms) for run in side.runs
            if run.reference is not None and run.reference.status == "ok"
            and run.reference.latency_ms and run.reference.latency_ms > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


# --- the whole comparison -----------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """Every row, the sides, their spreads and fingerprint differences."""

    base: Side
    new: Side
    relative: bool
    thresholds: Thresholds
    rows: tuple[Row, ...]
    spreads: tuple[SideSpread, SideSpread]
    differences: tuple[Difference, ...]
    unused_rules: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return "relative" if self.relative else "ms"

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for r in self.rows if r.verdict == v) for v in VERDICTS}

    def check_matched(self) -> None:
        """UsageError when the sides share no record key at all (another runtime, threads,
        batch...): nothing was compared, which must not pass as "no regression"."""
        if self.rows and all(r.verdict in ("only_base", "only_new") for r in self.rows):
            raise UsageError("no record of NEW matches one of BASE (record keys differ"
                             f"{_key_difference(self.base, self.new)}): compare runs of the "
                             "same workloads, threads and batch")

    @property
    def exit_code(self) -> int:
        return 1 if any(r.verdict in FAILING for r in self.rows) else 0

    def summary(self) -> str:
        """'2 slower, 1 noisy, 30 unchanged': every verdict that occurs, most severe first."""
        words = {"only_base": "only in BASE", "only_new": "only in NEW"}
        parts = [f"{n} {words.get(v, v)}" for v, n in self.counts().items() if n]
        return ", ".join(parts) if parts else "no records to compare"

    def ordered_rows(self) -> list[Row]:
        """Rows by verdict, most severe first, each verdict in record order."""
        rank = {v: i for i, v in enumerate(VERDICTS)}
        return sorted(self.rows, key=lambda r: rank[r.verdict])


def _key_difference(base: Side, new: Side) -> str:
    """Which parts of the record keys differ between the sides (e.g. "; threads=1 in BASE,
    threads=4 in NEW"), or nothing when the parts are the same."""
    def parts(side: Side) -> set[str]:
        return {part for run in side.runs for r in run.records if r.key
                for part in key_settings(r.key)}
    only_base, only_new = sorted(parts(base) - parts(new)), sorted(parts(new) - parts(base))
    if not (only_base or only_new):
        return ""
    return (f"; {', '.join(only_base) or 'nothing else'} in BASE, "
            f"{', '.join(only_new) or 'nothing else'} in NEW")


def compare(base: Side, new: Side, thresholds: Thresholds = Thresholds(),
            relative: bool = False, strict: bool = False) -> Comparison:
    """Compare NEW against BASE record by record (see the module docstring); UsageError for
    sides that cannot be compared, or for fingerprints that differ with ``strict``."""
    check_sides(base, new, relative)
    found = differences(base, new)
    if strict and found:
        raise UsageError("fingerprints differ (--strict): " + "; ".join(d.text() for d in found))
    spreads = (side_spread(base, relative), side_spread(new, relative))
    entries = _entries(base, new)
    rows = tuple(compare_entry(key, entry, thresholds, relative, spreads)
                 for key, entry in entries.items())
    unused = tuple(pattern for pattern, _ in thresholds.rules
                   if not any(thresholds.rule_for(e.name, k) == pattern
                              for k, e in entries.items()))
    return Comparison(base, new, relative, thresholds, rows, spreads, tuple(found), unused)
