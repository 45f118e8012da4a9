"""Timing protocol and statistics.

This module only times a callable and summarises the samples; it never knows what it is timing.
It depends on the standard library and numpy alone, so it also runs on a board that has ONNX
Runtime but no torch.

A measurement is taken in *rounds*: a short warm-up, then a block of samples. Samples taken in
one stretch of time are not independent on a shared machine (its speed drifts over seconds), so
the uncertainty comes from the variation *between* rounds, which a runner spreads over the whole
run by interleaving the rounds of every workload. :func:`measure` takes all rounds of one
workload back to back, for callers that have a single workload.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

#: ``time_block(n)`` runs the workload ``n`` times back to back and returns the elapsed seconds.
TimeBlock = Callable[[int], float]

Z95 = 1.959963984540054  # two-sided 95% normal quantile
#: Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (12.7062047, 4.30265273, 3.18244631, 2.77644511, 2.57058184, 2.44691185, 2.36462425,
         2.30600414, 2.26215716, 2.22813885, 2.20098516, 2.17881283, 2.16036866, 2.14478669,
         2.13144955, 2.11990530, 2.10981558, 2.10092204, 2.09302405, 2.08596345, 2.07961384,
         2.07387307, 2.06865761, 2.06389856, 2.05953855, 2.05552944, 2.05183052, 2.04840714,
         2.04522964, 2.04227246)


def t975(df: int) -> float:
    """Two-sided 95% quantile of Student's t with ``df`` degrees of freedom (exact table to 30,
    a Cornish-Fisher expansion above, within 1e-5)."""
    if df < 1:
        raise ValueError("need at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3


@dataclass(frozen=True)
class Protocol:
    """How to warm up, how long a round lasts and when to stop adding rounds.

    A workload is warmed up once (``warmup_runs`` calls and ``warmup_time_s`` seconds, both),
    then measured in rounds: ``round_warmup_runs`` calls, then samples for ``round_time_s``
    seconds (at least one). Rounds are added until ``min_rounds`` are taken and the 95% re-run
    interval lies within ``target_rel_ci`` of the estimate, or until ``max_rounds`` rounds or
    ``max_time_s`` seconds of rounds are spent (then the measurement is not converged).
    """

    warmup_runs: int = 10
    warmup_time_s: float = 0.2
    round_warmup_runs: int = 1
    round_time_s: float = 0.1
    min_rounds: int = 8
    max_rounds: int = 40
    max_time_s: float = 5.0
    target_rel_ci: float = 0.03
    block_time_s: float = 0.02  # throughput mode: aim for blocks of about this long

    @classmethod
    def quick(cls) -> "Protocol":
        """A short protocol for smoke tests: numbers are rough, the shape of the run is real."""
        return cls(warmup_runs=2, warmup_time_s=0.0, round_warmup_runs=1, round_time_s=0.02,
                   min_rounds=4, max_rounds=8, max_time_s=0.5, target_rel_ci=0.10,
                   block_time_s=0.005)

    def validate(self) -> None:
        """Raise ValueError for settings that cannot describe a measurement."""
        numbers = asdict(self)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers.values()):
            raise ValueError("every protocol setting must be a finite number")
        if self.warmup_runs < 0 or self.round_warmup_runs < 0:
            raise ValueError("warm-up calls must not be negative")
        if self.min_rounds < 2 or self.max_rounds < self.min_rounds:
            raise ValueError("need 2 <= min_rounds <= max_rounds (an interval needs 2 rounds)")
        if min(self.warmup_time_s, self.round_time_s, self.block_time_s) < 0:
            raise ValueError("times must not be negative")
        if self.max_time_s <= 0:
            raise ValueError("max_time_s must be positive")
        if not 0 < self.target_rel_ci < 1:
            raise ValueError("target_rel_ci must lie in (0, 1)")


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """0-based ranks (lo, hi) of the order statistics that bound the median with ``confidence``.

    Distribution-free: the number of samples below the true median is Binomial(n, 1/2). Exact for
    n <= 1000, normal approximation above. None when no such interval exists (n < 6 at 95%).
    """
    if n < 1:
        raise ValueError("need at least one sample")
    alpha = 1.0 - confidence
    if n <= 1000:
        # smallest k with P(B <= k) > alpha/2; then lo = k-1 (0-based rank of the k-th smallest)
        cdf, k = 0.0, 0
        log_half_n = n * math.log(0.5)
        while k <= n:
            cdf += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                            + log_half_n)
            if cdf > alpha / 2:
                break
            k += 1
        if k == 0:
            return None
        lo = k - 1
    else:
        lo = max(int(math.floor(n / 2 - Z95 * math.sqrt(n) / 2)) - 1, 0)
    return lo, n - 1 - lo


@dataclass(frozen=True)
class Stats:
    """Summary of per-call times pooled over all rounds, in seconds.

    ``iid_ci_low``/``iid_ci_high`` bound the pooled median as if every sample were independent
    (None below 6 samples). On a machine whose speed drifts they are far too narrow to describe
    a re-run; the record's interval comes from :class:`Interval` instead.
    """

    count: int
    median: float
    mean: float
    std: float
    min: float
    max: float
    p90: float
    p99: float
    iqr: float
    iid_ci_low: float | None
    iid_ci_high: float | None

    @classmethod
    def from_samples(cls, samples: Sequence[float] | np.ndarray) -> "Stats":
        arr = np.sort(np.asarray(samples, dtype=float))
        if arr.size == 0:
            raise ValueError("no samples")
        ranks = median_ci_ranks(arr.size)
        q25, q75, p90, p99 = np.percentile(arr, [25, 75, 90, 99])
        return cls(
            count=int(arr.size), median=float(np.median(arr)), mean=float(arr.mean()),
            std=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            min=float(arr[0]), max=float(arr[-1]), p90=float(p90), p99=float(p99),
            iqr=float(q75 - q25),
            iid_ci_low=float(arr[ranks[0]]) if ranks else None,
            iid_ci_high=float(arr[ranks[1]]) if ranks else None,
        )


@dataclass(frozen=True)
class Interval:
    """A central estimate from per-round values with its 95% intervals.

    The estimate is the geometric mean of the round values. ``low``/``high`` is the 95%
    *re-run* interval: where the estimate of a repeat measurement with as many rounds is
    expected to fall (a Student-t prediction interval on the log scale, half-width
    ``t * s * sqrt(2 / n)``). ``ci_low``/``ci_high`` is the 95% confidence interval of the
    estimate itself (``t * s / sqrt(n)``), which comparisons of two runs combine.
    """

    estimate: float
    low: float
    high: float
    ci_low: float
    ci_high: float
    rounds: int
    log_std: float

    @property
    def rel_half_width(self) -> float:
        """Largest distance from the estimate to a re-run bound, relative to the estimate."""
        return max(self.estimate - self.low, self.high - self.estimate) / self.estimate

    @classmethod
    def from_values(cls, values: Sequence[float]) -> "Interval | None":
        """The interval of positive per-round values; None below two rounds."""
        logs = np.log(np.asarray([v for v in values if v > 0], dtype=float))
        if logs.size < 2 or logs.size != len(values):
            return None
        n, mean, s = logs.size, float(logs.mean()), float(logs.std(ddof=1))
        t = t975(n - 1)
        rerun, ci = t * s * math.sqrt(2 / n), t * s / math.sqrt(n)
        return cls(estimate=math.exp(mean), low=math.exp(mean - rerun),
                   high=math.exp(mean + rerun), ci_low=math.exp(mean - ci),
                   ci_high=math.exp(mean + ci), rounds=int(n), log_std=s)


@dataclass(frozen=True)
class Round:
    """One round: warm-up calls, then samples (seconds per call) from ``started`` (Unix time).

    ``slot`` names when it ran within the run (pass, process, index): rounds of two workloads
    with the same slot ran back to back, which pairs them for relative latency.
    """

    started: float
    samples: tuple[float, ...]
    warmup_runs: int
    slot: tuple[int, int, int] = (0, 0, 0)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    def to_dict(self) -> dict:
        return {"started": self.started, "slot": list(self.slot),
                "warmup_runs": self.warmup_runs, "samples": list(self.samples)}

    @classmethod
    def from_dict(cls, data: dict) -> "Round":
        return cls(started=float(data["started"]), samples=tuple(map(float, data["samples"])),
                   warmup_runs=int(data.get("warmup_runs", 0)),
                   slot=tuple(int(v) for v in data.get("slot", (0, 0, 0))))  # type: ignore


@dataclass(frozen=True)
class Warmup:
    """The first warm-up of a workload in a process: calls, seconds, and the fastest call (which
    sizes throughput blocks)."""

    runs: int
    time_s: float
    fastest_s: float

    def calls_per_sample(self, protocol: Protocol, latency: bool) -> int:
        """1 in latency mode; else enough calls for a block of about ``block_time_s``."""
        if latency:
            return 1
        per_call = self.fastest_s if math.isfinite(self.fastest_s) and self.fastest_s > 0 \
            else protocol.block_time_s
        return max(1, math.ceil(protocol.block_time_s / per_call))


def warm_up(time_block: TimeBlock, protocol: Protocol) -> Warmup:
    """Run single calls until both the count and the time of the warm-up are reached (never past
    ``max_time_s``)."""
    runs, spent, fastest = 0, 0.0, math.inf
    while runs < protocol.warmup_runs or spent < protocol.warmup_time_s:
        dt = time_block(1)
        runs += 1
        spent += dt
        fastest = min(fastest, dt)
        if spent >= protocol.max_time_s:
            break
    return Warmup(runs, spent, fastest)


def take_round(time_block: TimeBlock, protocol: Protocol, calls_per_sample: int = 1,
               slot: tuple[int, int, int] = (0, 0, 0),
               clock: Callable[[], float] = time.perf_counter,
               wall: Callable[[], float] = time.time) -> Round:
    """One round: ``round_warmup_runs`` calls, then samples until ``round_time_s`` has passed
    (at least one sample). Each sample is a block of ``calls_per_sample`` calls, per call."""
    if calls_per_sample < 1:
        raise ValueError("calls_per_sample must be >= 1")
    started = wall()
    for _ in range(protocol.round_warmup_runs):
        time_block(1)
    samples: list[float] = []
    begin = clock()
    while True:
        samples.append(time_block(calls_per_sample) / calls_per_sample)
        if clock() - begin >= protocol.round_time_s:
            break
    return Round(started, tuple(samples), protocol.round_warmup_runs, slot)


@dataclass(frozen=True)
class Measurement:
    """The rounds of one workload, how they were taken, and their summary."""

    rounds: tuple[Round, ...]
    calls_per_sample: int
    warmup: Warmup
    converged: bool
    stop_reason: str
    processes: int = 1
    stats: Stats = field(init=False)
    interval: Interval | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stats", Stats.from_samples(self.samples))
        object.__setattr__(self, "interval",
                           Interval.from_values([r.median for r in self.rounds]))

    @property
    def samples(self) -> list[float]:
        return [s for r in self.rounds for s in r.samples]

    @property
    def estimate(self) -> float:
        """Seconds per call: the geometric mean of the round medians (the pooled median when a
        single round was taken)."""
        return self.interval.estimate if self.interval else self.stats.median

    def to_dict(self) -> dict:
        return {"rounds": [r.to_dict() for r in self.rounds],
                "calls_per_sample": self.calls_per_sample, "warmup": asdict(self.warmup),
                "converged": self.converged, "stop_reason": self.stop_reason,
                "processes": self.processes, "stats": asdict(self.stats),
                "interval": asdict(self.interval) if self.interval else None}

    @classmethod
    def from_dict(cls, data: dict) -> "Measurement":
        warm = data.get("warmup") or {}
        return cls(rounds=tuple(Round.from_dict(r) for r in data["rounds"]),
                   calls_per_sample=int(data.get("calls_per_sample", 1)),
                   warmup=Warmup(int(warm.get("runs", 0)), float(warm.get("time_s", 0.0)),
                                 float(warm.get("fastest_s") or math.inf)),
                   converged=bool(data.get("converged")),
                   stop_reason=str(data.get("stop_reason", "")),
                   processes=int(data.get("processes", 1)))


def stop_reason(rounds: Sequence[Round], spent_s: float, protocol: Protocol) -> str | None:
    """Why a workload needs no more rounds ('converged', 'max_rounds', 'max_time'), or None."""
    n = len(rounds)
    if n >= protocol.min_rounds:
        interval = Interval.from_values([r.median for r in rounds])
        if interval is not None and interval.rel_half_width <= protocol.target_rel_ci:
            return "converged"
    if n >= protocol.max_rounds:
        return "max_rounds"
    if spent_s >= protocol.max_time_s and n >= protocol.min_rounds:
        return "max_time"
    return None


def measure(time_block: TimeBlock, protocol: Protocol = Protocol(),
            calls_per_sample: int | None = 1,
            clock: Callable[[], float] = time.perf_counter,
            wall: Callable[[], float] = time.time) -> Measurement:
    """Warm up, then take rounds of ``time_block`` back to back until ``protocol`` stops.

    ``calls_per_sample=1`` is latency mode: each sample is one call. ``None`` sizes blocks from
    the warm-up so that a block lasts about ``protocol.block_time_s`` (throughput mode: no sync
    inside a block); each sample is then the block's time divided by its calls.
    """
    protocol.validate()
    warm = warm_up(time_block, protocol)
    calls = warm.calls_per_sample(protocol, latency=False) if calls_per_sample is None \
        else calls_per_sample
    rounds: list[Round] = []
    spent = 0.0
    while True:
        begin = clock()
        rounds.append(take_round(time_block, protocol, calls, (len(rounds), 0, 0), clock, wall))
        spent += clock() - begin
        reason = stop_reason(rounds, spent, protocol)
        if reason:
            break
    return Measurement(tuple(rounds), calls, warm, reason == "converged", reason)


def with_changes(protocol: Protocol, **changes: float) -> Protocol:
    """``protocol`` with ``changes`` applied (None values ignored)."""
    return replace(protocol, **{k: v for k, v in changes.items() if v is not None})
