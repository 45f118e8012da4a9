"""The timing protocol and its statistics, against scipy and numpy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from fnbench.measure import Protocol, Stats, measure, median_ci_ranks


@pytest.mark.parametrize("n", [6, 7, 10, 25, 100, 257, 999, 1000])
def test_median_ci_ranks_is_the_tightest_exact_95_interval(n):
    lo, hi = median_ci_ranks(n)
    assert hi == n - 1 - lo
    # [x_(lo), x_(hi)] (0-based) misses the median when fewer than lo+1 samples lie below it
    coverage = 1 - 2 * sps.binom.cdf(lo, n, 0.5)
    assert coverage >= 0.95
    tighter = 1 - 2 * sps.binom.cdf(lo + 1, n, 0.5)
    assert tighter < 0.95


@pytest.mark.parametrize("n", [1001, 5000, 20000])
def test_median_ci_ranks_normal_approximation_covers_95(n):
    lo, _ = median_ci_ranks(n)
    coverage = 1 - 2 * sps.binom.cdf(lo, n, 0.5)
    assert 0.95 <= coverage < 0.965


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_fewer_than_six_samples_have_no_95_interval(n):
    assert 1 - 2 * sps.binom.cdf(0, n, 0.5) < 0.95  # even min-max misses the median too often
    assert median_ci_ranks(n) is None
    stats = Stats.from_samples(np.arange(1.0, n + 1))
    assert stats.ci_low is None and stats.ci_high is None
    assert stats.rel_ci == float("inf")


def test_six_samples_give_min_max_as_the_95_interval():
    assert 1 - 2 * sps.binom.cdf(0, 6, 0.5) >= 0.95
    stats = Stats.from_samples([3.0, 1.0, 2.0, 6.0, 5.0, 4.0])
    assert (stats.ci_low, stats.ci_high) == (1.0, 6.0)
    with pytest.raises(ValueError):
        median_ci_ranks(0)


def test_stats_match_numpy_and_scipy():
    rng = np.random.default_rng(1)
    samples = rng.lognormal(-5, 0.2, size=501)
    s = Stats.from_samples(samples)
    assert s.count == 501
    assert s.median == pytest.approx(np.median(samples))
    assert s.mean == pytest.approx(samples.mean())
    assert s.std == pytest.approx(samples.std(ddof=1))
    assert s.min == samples.min() and s.max == samples.max()
    assert s.p90 == pytest.approx(np.percentile(samples, 90))
    assert s.p99 == pytest.approx(np.percentile(samples, 99))
    assert s.iqr == pytest.approx(sps.iqr(samples))
    assert s.ci_low <= s.median <= s.ci_high
    # the CI bounds are order statistics
    ordered = np.sort(samples)
    lo, hi = median_ci_ranks(501)
    assert (s.ci_low, s.ci_high) == (ordered[lo], ordered[hi])


def test_ci_of_median_covers_the_true_median_about_95_percent():
    rng = np.random.default_rng(7)
    true_median = np.exp(-5)  # lognormal(mu=-5) has median e^-5
    hits = 0
    for _ in range(400):
        s = Stats.from_samples(rng.lognormal(-5, 0.3, size=60))
        hits += s.ci_low <= true_median <= s.ci_high
    assert 0.92 <= hits / 400 <= 0.995


class FakeClock:
    """A clock that advances only when the timed block says it took time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def block_from(durations, clock: FakeClock, calls: list[int]):
    """A time_block whose n-call block takes n * next(duration) on the fake clock."""
    iterator = iter(durations)

    def time_block(n: int) -> float:
        calls.append(n)
        dt = n * next(iterator)
        clock.now += dt
        return dt
    return time_block


def test_stable_samples_converge_and_respect_minimums():
    clock, calls = FakeClock(), []
    protocol = Protocol(warmup_runs=5, warmup_time_s=0.0, min_runs=20, min_time_s=0.05,
                        max_time_s=10, target_rel_ci=0.01)
    rng = np.random.default_rng(0)
    m = measure(block_from(iter(lambda: 1e-3 * (1 + 0.001 * rng.standard_normal()), None),
                           clock, calls), protocol, clock=clock)
    assert m.converged and m.stop_reason == "converged"
    assert m.warmup_runs == 5
    assert len(m.samples) >= 20
    assert sum(m.samples) >= 0.05  # min time spent sampling
    assert m.stats.rel_ci <= 0.01
    assert m.stats.median == pytest.approx(1e-3, rel=1e-3)


def test_warmup_runs_until_both_count_and_time_are_reached():
    clock, calls = FakeClock(), []
    protocol = Protocol(warmup_runs=3, warmup_time_s=0.125, min_runs=1, min_time_s=0.0,
                        max_time_s=10, target_rel_ci=0.5)
    m = measure(block_from(itertools.repeat(1 / 64), clock, calls), protocol, clock=clock)
    assert m.warmup_runs == 8  # 0.125 s of 1/64 s calls outlasts the 3-call minimum
    assert m.warmup_time_s == 0.125
    protocol = Protocol(warmup_runs=12, warmup_time_s=0.125, min_runs=1, min_time_s=0.0,
                        max_time_s=10, target_rel_ci=0.5)
    m = measure(block_from(itertools.repeat(1 / 64), clock, calls), protocol, clock=clock)
    assert m.warmup_runs == 12  # the count outlasts the time


def test_noisy_samples_stop_at_the_time_limit_unconverged():
    clock, calls = FakeClock(), []
    rng = np.random.default_rng(3)
    protocol = Protocol(warmup_runs=1, warmup_time_s=0.0, min_runs=5, min_time_s=0.0,
                        max_time_s=0.5, target_rel_ci=0.001)
    noisy = iter(lambda: float(rng.choice([1e-3, 5e-3, 2e-2])), None)
    m = measure(block_from(noisy, clock, calls), protocol, clock=clock)
    assert not m.converged and m.stop_reason == "max_time"
    assert sum(m.samples) == pytest.approx(0.5, abs=0.03)


def test_the_time_limit_never_stops_below_min_runs():
    clock, calls = FakeClock(), []
    # every call takes 1-3 s, past --quick's 0.5 s limit: the old loop stopped at 2 samples
    durations = itertools.cycle([1.0, 2.0, 3.0])
    m = measure(block_from(durations, clock, calls), Protocol.quick(), clock=clock)
    assert len(m.samples) == Protocol.quick().min_runs == 6
    assert m.stop_reason == "max_time" and not m.converged


def test_a_measurement_without_a_95_interval_reports_none_and_never_converges():
    clock, calls = FakeClock(), []
    protocol = Protocol(warmup_runs=0, warmup_time_s=0.0, min_runs=3, min_time_s=0.0,
                        max_time_s=10, max_runs=3, target_rel_ci=0.99)
    m = measure(block_from(itertools.repeat(1e-3), clock, calls), protocol, clock=clock)
    assert len(m.samples) == 3 and not m.converged and m.stop_reason == "max_runs"
    stats = m.to_dict()["stats"]
    assert stats["ci_low"] is None and stats["ci_high"] is None


def test_a_record_without_a_95_interval_has_null_ci_and_a_dash_in_the_table():
    from fnbench.devices import open_device
    from fnbench.operators import operator_grid
    from fnbench.report.table import ops_table
    from fnbench.results import records_frame
    from fnbench.runner import RunSettings, measure_workload

    workload = operator_grid(["dwconv"], [(8, 4, 4)], layers=1)[0]
    protocol = Protocol(warmup_runs=1, warmup_time_s=0.0, min_runs=4, min_time_s=0.0,
                        max_time_s=10, max_runs=4, target_rel_ci=0.5)
    record = measure_workload(workload, open_device("cpu"), "latency",
                              RunSettings(protocol=protocol))
    assert record["status"] == "ok" and record["samples"] == 4
    assert record["latency_ci_low_ms"] is None and record["latency_ci_high_ms"] is None
    table = ops_table(records_frame([record]))
    assert table.rows[0][table.columns.index("±CI")] == "–"


def test_max_runs_caps_sampling():
    clock, calls = FakeClock(), []
    rng = np.random.default_rng(4)
    protocol = Protocol(warmup_runs=0, warmup_time_s=0.0, min_runs=5, min_time_s=0.0,
                        max_time_s=100, max_runs=50, target_rel_ci=1e-6)
    m = measure(block_from(iter(lambda: 1e-3 * rng.uniform(1, 2), None), clock, calls),
                protocol, clock=clock)
    assert len(m.samples) == 50 and m.stop_reason == "max_runs" and not m.converged


def test_throughput_mode_sizes_blocks_from_the_warmup():
    clock, calls = FakeClock(), []
    protocol = Protocol(warmup_runs=3, warmup_time_s=0.0, min_runs=5, min_time_s=0.0,
                        max_time_s=10, target_rel_ci=0.05, block_time_s=0.02)
    m = measure(block_from(itertools.repeat(1e-3), clock, calls), protocol,
                calls_per_sample=None, clock=clock)
    assert m.calls_per_sample == 20  # 20 ms blocks of 1 ms calls
    assert calls[:3] == [1, 1, 1] and set(calls[3:]) == {20}
    assert m.stats.median == pytest.approx(1e-3)  # per call, not per block


def test_latency_mode_times_one_call_per_sample():
    clock, calls = FakeClock(), []
    m = measure(block_from(itertools.repeat(2e-3), clock, calls), Protocol.quick(), clock=clock)
    assert set(calls) == {1} and m.calls_per_sample == 1


@pytest.mark.parametrize("bad", [dict(min_runs=0), dict(max_runs=1, min_runs=2),
                                 dict(target_rel_ci=0), dict(target_rel_ci=1.5),
                                 dict(min_time_s=2, max_time_s=1), dict(warmup_time_s=-1),
                                 dict(min_time_s=float("nan")), dict(max_time_s=float("nan")),
                                 dict(max_time_s=float("inf")),
                                 dict(target_rel_ci=float("nan"))])
def test_protocol_rejects_impossible_settings(bad):
    with pytest.raises(ValueError):
        Protocol(**bad).validate()


def test_measure_times_a_real_callable_with_the_real_clock():
    import time

    def time_block(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            sum(range(2000))
        return time.perf_counter() - start

    m = measure(time_block, Protocol.quick())
    assert m.stats.count >= 6 and 0 < m.stats.min <= m.stats.median <= m.stats.max
    assert m.to_dict()["stats"]["median"] == m.stats.median
