"""Timing protocol and statistics.

This module only times a callable and summarises the samples; it never knows what it is timing.
It depends on the standard library and numpy alone, so it also runs on a board that has ONNX
Runtime but no torch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

#: ``time_block(n)`` runs the workload ``n`` times back to back and returns the elapsed seconds.
TimeBlock = Callable[[int], float]

Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Protocol:
    """How long to warm up and how long to sample.

    Sampling stops once ``min_runs`` samples and ``min_time_s`` seconds are reached and the 95%
    confidence interval of the median lies within ``target_rel_ci`` of the median (on both sides),
    or when ``max_time_s`` or ``max_runs`` is hit first (then the measurement is not converged).
    ``max_time_s`` never stops sampling before ``min_runs`` samples.
    """

    warmup_runs: int = 10
    warmup_time_s: float = 0.2
    min_runs: int = 10
    min_time_s: float = 0.5
    max_time_s: float = 5.0
    max_runs: int = 20_000
    target_rel_ci: float = 0.01
    block_time_s: float = 0.02  # throughput mode: aim for blocks of about this long

    @classmethod
    def quick(cls) -> "Protocol":
        """A short protocol for smoke tests: numbers are rough, the shape of the run is real."""
        return cls(warmup_runs=2, warmup_time_s=0.0, min_runs=6, min_time_s=0.05,
                   max_time_s=0.5, max_runs=2_000, target_rel_ci=0.05, block_time_s=0.005)

    def validate(self) -> None:
        """Raise ValueError for settings that cannot describe a measurement."""
        for name, value in asdict(self).items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value}")
        if self.warmup_runs < 0 or self.min_runs < 1 or self.max_runs < self.min_runs:
            raise ValueError("need warmup_runs >= 0 and 1 <= min_runs <= max_runs")
        if min(self.warmup_time_s, self.min_time_s, self.block_time_s) < 0:
            raise ValueError("times must not be negative")
        if self.max_time_s < self.min_time_s:
            raise ValueError("max_time_s must be at least min_time_s")
        if not 0 < self.target_rel_ci < 1:
            raise ValueError("target_rel_ci must lie in (0, 1)")


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """0-based ranks (lo, hi) of the order statistics that bound the median with ``confidence``.

    Distribution-free: the number of samples below the true median is Binomial(n, 1/2). Exact for
    n <= 1000, normal approximation above. None when no interval reaches ``confidence`` (for 95%:
    n < 6, where even min-max covers the median with only 1 - 2 / 2**n).
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
    hi = n - 1 - lo
    return lo, hi


@dataclass(frozen=True)
class Stats:
    """Summary of per-call times, in seconds."""

    count: int
    median: float
    mean: float
    std: float
    min: float
    max: float
    p90: float
    p99: float
    iqr: float
    ci_low: float | None  # None: too few samples for a 95% interval
    ci_high: float | None

    @property
    def rel_ci(self) -> float:
        """Largest distance from the median to a CI bound, relative to the median (inf when
        there is no interval)."""
        if self.median <= 0 or self.ci_low is None or self.ci_high is None:
            return math.inf
        return max(self.median - self.ci_low, self.ci_high - self.median) / self.median

    @classmethod
    def from_samples(cls, samples: list[float] | np.ndarray) -> "Stats":
        arr = np.sort(np.asarray(samples, dtype=float))
        if arr.size == 0:
            raise ValueError("no samples")
        ranks = median_ci_ranks(arr.size)
        q25, q75, p90, p99 = np.percentile(arr, [25, 75, 90, 99])
        return cls(
            count=int(arr.size),
            median=float(np.median(arr)),
            mean=float(arr.mean()),
            std=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            min=float(arr[0]),
            max=float(arr[-1]),
            p90=float(p90),
            p99=float(p99),
            iqr=float(q75 - q25),
            ci_low=None if ranks is None else float(arr[ranks[0]]),
            ci_high=None if ranks is None else float(arr[ranks[1]]),
        )


@dataclass
class Measurement:
    """Samples of one workload (seconds per call) and how they were taken."""

    samples: list[float]
    calls_per_sample: int
    converged: bool
    warmup_runs: int
    warmup_time_s: float
    total_time_s: float
    stop_reason: str
    stats: Stats = field(init=False)

    def __post_init__(self) -> None:
        self.stats = Stats.from_samples(self.samples)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["stats"] = asdict(self.stats)
        out["stats"]["rel_ci"] = self.stats.rel_ci
        return out


def _warm_up(time_block: TimeBlock, protocol: Protocol) -> tuple[int, float, float]:
    """Run until both the count and the time of the warm-up are reached.

    Returns (runs, seconds, fastest single call seen) where the fastest call estimates the cost of
    one call for sizing throughput blocks.
    """
    runs, spent, fastest = 0, 0.0, math.inf
    while runs < protocol.warmup_runs or spent < protocol.warmup_time_s:
        dt = time_block(1)
        runs += 1
        spent += dt
        fastest = min(fastest, dt)
        if spent >= protocol.max_time_s:
            break
    return runs, spent, fastest


def measure(time_block: TimeBlock, protocol: Protocol = Protocol(),
            calls_per_sample: int | None = 1,
            clock: Callable[[], float] = time.perf_counter) -> Measurement:
    """Warm up, then sample ``time_block`` under ``protocol``.

    ``calls_per_sample=1`` is latency mode: each sample is one call. ``None`` sizes blocks from
    the warm-up so that a block lasts about ``protocol.block_time_s`` (throughput mode: no sync
    inside a block); each sample is then the block's time divided by its calls.
    """
    protocol.validate()
    started = clock()
    warm_runs, warm_time, fastest = _warm_up(time_block, protocol)
    if calls_per_sample is None:
        per_call = fastest if math.isfinite(fastest) and fastest > 0 else protocol.block_time_s
        calls_per_sample = max(1, math.ceil(protocol.block_time_s / per_call))
    if calls_per_sample < 1:
        raise ValueError("calls_per_sample must be >= 1")

    samples: list[float] = []
    sampling_started = clock()
    next_check = protocol.min_runs
    converged, reason = False, "max_time"
    while True:
        samples.append(time_block(calls_per_sample) / calls_per_sample)
        n = len(samples)
        elapsed = clock() - sampling_started
        enough = n >= protocol.min_runs and elapsed >= protocol.min_time_s
        if enough and n >= next_check:
            next_check = max(n + 1, int(n * 1.1))
            if Stats.from_samples(samples).rel_ci <= protocol.target_rel_ci:
                converged, reason = True, "converged"
                break
        if n >= protocol.max_runs:
            reason = "max_runs"
            break
        if elapsed >= protocol.max_time_s and n >= protocol.min_runs:
            break  # the time limit ends sampling, but never below min_runs samples
    if not converged and enough and Stats.from_samples(samples).rel_ci <= protocol.target_rel_ci:
        converged, reason = True, "converged"
    return Measurement(samples=samples, calls_per_sample=calls_per_sample, converged=converged,
                       warmup_runs=warm_runs, warmup_time_s=warm_time,
                       total_time_s=clock() - started, stop_reason=reason)
