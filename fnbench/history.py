"""This machine's run history and the run-to-run spread it shows.

Rounds interleaved within one run see the noise of that run's minutes, not the machine's slow
and fast stretches between runs (on a shared VM the whole machine is 10-30% slower for minutes
at a time). So a record's re-run interval also takes the *between-run* spread of estimates: the
pooled standard deviation (log scale) of earlier runs' estimates of the same records in the
same context (machine, packages, device, runtime, threads, protocol), combined with a prior
worth ``PRIOR_WEIGHT`` runs at first (a scaled inverse-chi-square prior on the variance, fading
to nothing over ``WINDOW`` runs): a machine with no history yet gets the prior's wide interval,
and its own spread takes over as runs accumulate.

History lives in ``$FNBENCH_CACHE/history/`` (default ``~/.cache/fnbench/history/``): one JSON
line per run, the log estimate of each record by key. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from fnbench.measure import t975

#: Prior run-to-run standard deviation (log scale) of absolute latency: machines this project
#: measured drift 2-19% between runs (a shared 2-core VM, 2026-11/12); 10% is the prior.
PRIOR_SD = 0.10
#: Prior run-to-run standard deviation of latency relative to the reference workload: 3-8%
#: measured on that VM (quick runs of 32 rounds: 7.5%, benchmarks/compare_false_alarms.py);
#: 6% is the prior.
PRIOR_RELATIVE_SD = 0.06
#: How many runs the prior is worth.
PRIOR_WEIGHT = 4
#: Runs of history used (the latest), and the oldest run used.
WINDOW = 30
MAX_AGE_S = 30 * 86400
#: Lines kept in a history file.
KEEP = 200
METHOD_VERSION = 1


@dataclass(frozen=True)
class Spread:
    """Between-run spread of a record's estimate (log scale): ``sd`` for latency,
    ``relative_sd`` for latency relative to the reference; ``df`` degrees of freedom of both
    (prior included); ``runs`` history runs it rests on (0: prior only)."""

    sd: float = PRIOR_SD
    relative_sd: float = PRIOR_RELATIVE_SD
    df: int = PRIOR_WEIGHT
    runs: int = 0
    context: str | None = None

    def half_width(self, relative: bool = False) -> float:
        """Log half-width of the 95% interval around one run's estimate in which another run's
        estimate falls: ``t * sqrt(2) * sd`` (two runs, each off by the spread)."""
        return t975(self.df) * math.sqrt(2) * (self.relative_sd if relative else self.sd)

    def widen(self, estimate: float, low: float | None, high: float | None,
              relative: bool = False) -> tuple[float, float]:
        """The re-run interval of ``estimate``: the within-run interval ``low``..``high`` or
        the between-run one, whichever is wider on each side. Earlier runs' estimates already
        carry their own within-run noise, so the two are not added."""
        half = self.half_width(relative)
        lo, hi = estimate * math.exp(-half), estimate * math.exp(half)
        return (min(lo, low) if low is not None else lo, max(hi, high) if high is not None
                else hi)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "prior": {"sd": PRIOR_SD, "relative_sd": PRIOR_RELATIVE_SD,
                                          "weight": PRIOR_WEIGHT},
                "window": WINDOW}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Spread":
        return cls(sd=float(data["sd"]), relative_sd=float(data["relative_sd"]),
                   df=int(data["df"]), runs=int(data["runs"]), context=data.get("context"))


def pooled(entries: list[Mapping[str, float]]) -> tuple[float, int]:
    """Pooled variance of each key's values about its own mean, and the most repeats of one
    key minus one (the runs behind it: keys of one run move together, so they are not
    independent degrees of freedom)."""
    by_key: dict[str, list[float]] = {}
    for entry in entries:
        for key, value in entry.items():
            if value is not None and math.isfinite(value):
                by_key.setdefault(key, []).append(value)
    squares = dof = most = 0
    for values in by_key.values():
        if len(values) > 1:
            mean = sum(values) / len(values)
            squares += sum((v - mean) ** 2 for v in values)
            dof += len(values) - 1
            most = max(most, len(values) - 1)
    return (squares / dof if dof else 0.0), most


def prior_weight(runs: int) -> float:
    """How many runs the prior counts as beside ``runs`` runs of history: ``PRIOR_WEIGHT`` at
    first, fading to none at ``WINDOW`` runs, so a long history of a quiet machine is not held
    wide by a prior meant for a machine not yet seen."""
    return PRIOR_WEIGHT * max(0.0, 1.0 - runs / WINDOW)


def spread_from(entries: Iterable[Mapping[str, Any]], context: str | None = None) -> Spread:
    """The spread that history ``entries`` (dicts with ``latency`` and ``relative`` maps of key
    to log estimate) show, combined with the prior."""
    entries = list(entries)
    variance, runs = pooled([e.get("latency") or {} for e in entries])
    rel_variance, rel_runs = pooled([e.get("relative") or {} for e in entries])

    def posterior(prior: float, var: float, n: int) -> float:
        weight = prior_weight(n)
        return math.sqrt((weight * prior ** 2 + n * var) / (weight + n))

    shared = min(runs, rel_runs) if rel_runs else runs  # one df for both: the smaller
    return Spread(sd=posterior(PRIOR_SD, variance, runs),
                  relative_sd=posterior(PRIOR_RELATIVE_SD, rel_variance, rel_runs),
                  df=max(1, round(prior_weight(shared) + shared)), runs=len(entries),
                  context=context)


def context_digest(identity: Mapping[str, Any]) -> str:
    """A digest of what a run's spread depends on (see :func:`fnbench.runner.history_identity`)."""
    text = json.dumps({**identity, "method": METHOD_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_root() -> Path:
    """fnbench's cache folder: ``$FNBENCH_CACHE``, else ``~/.cache/fnbench`` (run history here,
    rooflines in :mod:`fnbench.roofline.store`)."""
    root = os.environ.get("FNBENCH_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "fnbench"


def history_dir() -> Path:
    return cache_root() / "history"


def history_path(identity: Mapping[str, Any]) -> Path:
    return history_dir() / f"{context_digest(identity)}.jsonl"


def read_entries(path: Path, now: float | None = None) -> list[dict[str, Any]]:
    """The usable lines of a history file: the latest ``WINDOW`` within ``MAX_AGE_S``; a
    damaged line is skipped (history is a cache, never a reason to fail a run)."""
    now = time.time() if now is None else now
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("time"), (int, float)) \
                and now - entry["time"] <= MAX_AGE_S:
            entries.append(entry)
    return entries[-WINDOW:]


def load_spread(identity: Mapping[str, Any], now: float | None = None) -> Spread:
    """The spread of this context's history (the prior alone without history)."""
    return spread_from(read_entries(history_path(identity), now), context_digest(identity))


def entry_of(records: Iterable[Any], when: float | None = None) -> dict[str, Any] | None:
    """One history line from a run's ok records (typed Records); None when none measured."""
    latency, relative = {}, {}
    for record in records:
        if record is None or record.status != "ok" or not record.latency_ms:
            continue
        latency[record.key] = math.log(record.latency_ms)
        if record.relative_latency:
            relative[record.key] = math.log(record.relative_latency)
    if not latency:
        return None
    return {"time": time.time() if when is None else when, "latency": latency,
            "relative": relative}


def append(identity: Mapping[str, Any], entry: Mapping[str, Any]) -> Path:
    """Add ``entry`` to this context's history (atomically; the latest ``KEEP`` lines kept)."""
    path = history_path(identity)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    lines = [*lines, json.dumps(dict(entry), sort_keys=True)][-KEEP:]
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".history-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
