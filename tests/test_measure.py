"""The timing protocol and its statistics, against scipy and numpy, with an injected clock."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from fnbench.measure import (Interval, Measurement, Protocol, Round, Stats, Warmup,
                             median_ci_ranks, measure, stop_reason, t975, take_round)


@pytest.mark.parametrize("df", [*range(1, 40), 50, 75, 100, 200, 1000])
def test_t_quantile_matches_scipy(df):
    assert t975(df) == pytest.approx(sps.t.ppf(0.975, df), abs=2e-5)


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


@pytest.mark.parametrize("n", [1, 2, 5])
def test_no_95_interval_of_the_median_below_six_samples(n):
    # even min..max covers the median with only 1 - 2 / 2**n < 95% for n <= 5
    assert 1 - 2 * 0.5 ** n < 0.95
    assert median_ci_ranks(n) is None
    stats = Stats.from_samples(np.arange(1.0, n + 1))
    assert stats.iid_ci_low is None and stats.iid_ci_high is None
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
    ordered = np.sort(samples)
    lo, hi = median_ci_ranks(501)
    assert (s.iid_ci_low, s.iid_ci_high) == (ordered[lo], ordered[hi])


def test_interval_is_a_t_interval_on_the_log_scale():
    values = [1.00, 1.04, 0.97, 1.10, 1.02, 0.99]
    interval = Interval.from_values(values)
    logs = np.log(values)
    n, mean, s = len(values), logs.mean(), logs.std(ddof=1)
    t = sps.t.ppf(0.975, n - 1)
    assert interval.estimate == pytest.approx(sps.gmean(values))
    assert interval.ci_low == pytest.approx(math.exp(mean - t * s / math.sqrt(n)))
    assert interval.ci_high == pytest.approx(math.exp(mean + t * s / math.sqrt(n)))
    assert interval.low == pytest.approx(math.exp(mean - t * s * math.sqrt(2 / n)))
    assert interval.high == pytest.approx(math.exp(mean + t * s * math.sqrt(2 / n)))
    assert interval.rounds == 6
    assert Interval.from_values([1.0]) is None  # one round gives no interval
    assert Interval.from_values([1.0, 0.0, 1.0]) is None  # a zero round is not a time


def test_rerun_interval_covers_a_rerun_95_percent_when_rounds_drift():
    """Simulated runs whose rounds each see a different machine speed (drift between rounds)
    and iid noise inside a round: a run's re-run interval must hold the next run's estimate
    about 95% of the time, while the interval that treats pooled samples as independent holds
    it far less often."""
    rng = np.random.default_rng(11)

    def one_run():
        speeds = np.exp(rng.normal(0, 0.04, size=8))  # 4% drift between rounds
        rounds = [rng.lognormal(math.log(1e-3 * v), 0.01, size=40) for v in speeds]
        return Interval.from_values([np.median(r) for r in rounds]), \
            Stats.from_samples(np.concatenate(rounds))

    runs = [one_run() for _ in range(1200)]
    rerun_hits = iid_hits = 0
    for (a, a_iid), (b, b_iid) in zip(runs[::2], runs[1::2]):
        rerun_hits += a.low <= b.estimate <= a.high
        iid_hits += a_iid.iid_ci_low <= b_iid.median <= a_iid.iid_ci_high
    assert 0.92 <= rerun_hits / 600 <= 0.98
    assert iid_hits / 600 < 0.5


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


def test_a_round_warms_up_then_samples_for_its_time():
    clock, calls = FakeClock(), []
    protocol = Protocol(round_warmup_runs=2, round_time_s=0.01)
    taken = take_round(block_from(itertools.repeat(1e-3), clock, calls), protocol, 1,
                       slot=(3, 1, 0), clock=clock, wall=lambda: 1234.5)
    assert calls[:2] == [1, 1] and taken.warmup_runs == 2
    assert len(taken.samples) == 10  # 10 ms of 1 ms calls
    assert taken.started == 1234.5 and taken.slot == (3, 1, 0)
    slow = take_round(block_from(itertools.repeat(1.0), clock, []), protocol, 1, clock=clock)
    assert len(slow.samples) == 1  # a round always has a sample, however slow the call


def test_stable_rounds_converge_after_the_minimum():
    clock, calls = FakeClock(), []
    rng = np.random.default_rng(0)
    protocol = Protocol(warmup_runs=5, warmup_time_s=0.0, round_time_s=0.01, min_rounds=6,
                        max_rounds=40, max_time_s=10, target_rel_ci=0.02)
    m = measure(block_from(iter(lambda: 1e-3 * (1 + 0.001 * rng.standard_normal()), None),
                           clock, calls), protocol, clock=clock)
    assert m.converged and m.stop_reason == "converged"
    assert len(m.rounds) == 6 and m.warmup.runs == 5
    assert m.interval.rel_half_width <= 0.02
    assert m.estimate == pytest.approx(1e-3, rel=1e-3)


def test_drifting_rounds_stop_unconverged_at_the_limits_but_never_below_the_minimum():
    clock = FakeClock()
    rng = np.random.default_rng(3)
    speed = iter(lambda: float(rng.choice([1e-3, 3e-3])), None)
    protocol = Protocol(warmup_runs=1, warmup_time_s=0.0, round_warmup_runs=0,
                        round_time_s=0.05, min_rounds=4, max_rounds=100, max_time_s=0.01,
                        target_rel_ci=0.001)
    m = measure(block_from(speed, clock, []), protocol, clock=clock)
    assert not m.converged and m.stop_reason == "max_time"
    assert len(m.rounds) == 4  # the time budget ran out in round 1, yet 4 rounds were taken
    capped = measure(block_from(speed, clock, []),
                     Protocol(warmup_runs=0, warmup_time_s=0, round_time_s=0.01, min_rounds=3,
                              max_rounds=5, max_time_s=100, target_rel_ci=1e-6), clock=clock)
    assert len(capped.rounds) == 5 and capped.stop_reason == "max_rounds"


def test_stop_reason_needs_the_interval_within_target():
    def rounds(values):
        return [Round(0.0, (v,), 0) for v in values]
    protocol = Protocol(min_rounds=3, max_rounds=10, max_time_s=5, target_rel_ci=0.05)
    assert stop_reason(rounds([1.0, 1.0]), 0.1, protocol) is None  # below the minimum
    assert stop_reason(rounds([1.0, 1.01, 0.99]), 0.1, protocol) == "converged"
    assert stop_reason(rounds([1.0, 1.5, 0.7]), 0.1, protocol) is None
    assert stop_reason(rounds([1.0, 1.5, 0.7]), 6.0, protocol) == "max_time"


def test_throughput_mode_sizes_blocks_from_the_warmup():
    clock, calls = FakeClock(), []
    protocol = Protocol(warmup_runs=3, warmup_time_s=0.0, round_warmup_runs=1,
                        round_time_s=0.05, min_rounds=2, max_time_s=10, target_rel_ci=0.5,
                        block_time_s=0.02)
    m = measure(block_from(itertools.repeat(1e-3), clock, calls), protocol,
                calls_per_sample=None, clock=clock)
    assert m.calls_per_sample == 20  # 20 ms blocks of 1 ms calls
    assert calls[:4] == [1, 1, 1, 1] and set(calls) == {1, 20}
    assert m.estimate == pytest.approx(1e-3)  # per call, not per block


def test_warmup_runs_until_both_count_and_time_are_reached():
    clock = FakeClock()
    protocol = Protocol(warmup_runs=3, warmup_time_s=0.125, min_rounds=2, round_time_s=0,
                        target_rel_ci=0.5)
    m = measure(block_from(itertools.repeat(1 / 64), clock, []), protocol, clock=clock)
    assert m.warmup.runs == 8 and m.warmup.time_s == 0.125
    protocol = Protocol(warmup_runs=12, warmup_time_s=0.125, min_rounds=2, round_time_s=0,
                        target_rel_ci=0.5)
    m = measure(block_from(itertools.repeat(1 / 64), clock, []), protocol, clock=clock)
    assert m.warmup.runs == 12


def test_measurement_round_trips_through_json():
    m = Measurement((Round(10.0, (1e-3, 2e-3), 1, (0, 0, 0)),
                     Round(11.0, (1.5e-3,), 1, (1, 0, 0))), 1, Warmup(3, 0.01, 1e-3), False,
                    "max_time")
    again = Measurement.from_dict(m.to_dict())
    assert again.rounds == m.rounds and again.interval == m.interval
    assert again.stats == m.stats and again.stop_reason == "max_time"


@pytest.mark.parametrize("bad", [dict(min_rounds=1), dict(max_rounds=3, min_rounds=4),
                                 dict(target_rel_ci=0), dict(target_rel_ci=1.5),
                                 dict(max_time_s=0), dict(round_time_s=-1),
                                 dict(max_time_s=math.nan), dict(max_time_s=math.inf),
                                 dict(round_time_s=math.nan), dict(warmup_runs=-1)])
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
    assert len(m.rounds) >= 4 and 0 < m.stats.min <= m.stats.median <= m.stats.max
    starts = [r.started for r in m.rounds]
    assert starts == sorted(starts) and starts[-1] - starts[0] < 60
