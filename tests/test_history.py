"""The run history and the between-run spread the re-run interval takes from it."""

from __future__ import annotations

import json
import math
import random
import time

import pytest

from conftest import run_cli
from fnbench.history import (MAX_AGE_S, PRIOR_SD, Spread, append, entry_of, history_path,
                             read_entries, spread_from)
from fnbench.measure import Measurement, Round, Warmup
from fnbench.records import Record, Run, upgrade
from fnbench.results import load_run, read_run

KEYS = [f"ops|case={i}" for i in range(6)]


def simulated_run(rng: random.Random, between: float, own: float) -> dict[str, float]:
    """Log estimates of one run: a machine factor every key shares, plus each key's own
    run-to-run wobble."""
    factor = rng.gauss(0, between)
    return {key: math.log(1e-3 * (i + 1)) + factor + rng.gauss(0, own)
            for i, key in enumerate(KEYS)}


def coverage(spread: Spread, runs: list[dict[str, float]]) -> float:
    """How often run j's estimate lies in run i's interval, over ordered pairs i != j."""
    hits = total = 0
    for i, mine in enumerate(runs):
        for j, theirs in enumerate(runs):
            if i == j:
                continue
            for key in KEYS:
                low, high = spread.widen(math.exp(mine[key]), None, None)
                total += 1
                hits += low <= math.exp(theirs[key]) <= high
    return hits / total


@pytest.mark.parametrize("between", [0.01, 0.05, 0.15])
def test_interval_from_history_covers_new_runs_about_95_percent(between):
    rng = random.Random(7)
    history = [{"time": 0, "latency": simulated_run(rng, between, 0.01)} for _ in range(30)]
    spread = spread_from(history)
    fresh = [simulated_run(rng, between, 0.01) for _ in range(40)]
    assert 0.90 <= coverage(spread, fresh) <= 0.995
    # the machine's own spread, not the prior, sets the width once history is long
    assert spread.sd == pytest.approx(math.hypot(between, 0.01), rel=0.45)


def test_without_history_the_prior_sets_the_spread_and_history_overrides_it():
    prior = spread_from([])
    assert (prior.sd, prior.runs) == (PRIOR_SD, 0)
    rng = random.Random(3)
    quiet = spread_from([{"time": 0, "latency": simulated_run(rng, 0.005, 0.002)}
                         for _ in range(30)])
    assert quiet.sd < PRIOR_SD / 2 and quiet.half_width() < prior.half_width() / 2
    assert quiet.df > prior.df


def test_keys_of_one_run_count_once_towards_degrees_of_freedom():
    # ten keys seen in two runs are one run's worth of evidence about the spread, not ten
    two_runs = [{"latency": {k: 0.0 for k in KEYS}}, {"latency": {k: 0.2 for k in KEYS}}]
    assert spread_from(two_runs).df == spread_from([]).df + 1
    # keys seen once tell nothing about the spread
    once = [{"latency": {"a": 0.0}}, {"latency": {"b": 5.0}}]
    assert spread_from(once).sd == PRIOR_SD


def test_history_file_skips_damaged_and_old_lines_and_keeps_a_window(tmp_path, monkeypatch):
    monkeypatch.setenv("FNBENCH_CACHE", str(tmp_path))
    identity = {"machine": "m", "runtime": "torch"}
    now = time.time()
    append(identity, {"time": now - MAX_AGE_S - 10, "latency": {"k": 9.0}})
    for i in range(40):
        append(identity, {"time": now - 40 + i, "latency": {"k": float(i)}})
    path = history_path(identity)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    entries = read_entries(path, now)
    assert len(entries) == 30 and entries[-1]["latency"]["k"] == 39.0
    assert all(e["latency"]["k"] != 9.0 or e["time"] > now - MAX_AGE_S for e in entries)
    other = history_path({"machine": "m", "runtime": "onnxruntime"})
    assert other != path and read_entries(other, now) == []


def _measurement(values: list[float]) -> Measurement:
    rounds = tuple(Round(float(i), (v,), 0, (i, 0, 0)) for i, v in enumerate(values))
    return Measurement(rounds, 1, Warmup(0, 0.0, 0.0), True, "converged", 1)


def _record() -> Record:
    return Record(key="ops|x", workload_hash="h", name="x", suite="ops", family="conv",
                  device="cpu", runtime="torch", mode="latency", batch=1, threads=1,
                  input_shape=(1,), spec={}, meta={})


def test_record_interval_is_the_wider_of_within_run_and_between_run():
    measurement = _measurement([1.0e-3, 1.02e-3, 0.98e-3, 1.01e-3])
    tight = _record().measured(measurement, spread=Spread(sd=1e-6, relative_sd=1e-6, df=100,
                                                          runs=50))
    assert tight.latency_lo_ms == tight.latency_within_lo_ms < tight.latency_ms
    assert tight.latency_hi_ms == tight.latency_within_hi_ms > tight.latency_ms
    wide = _record().measured(measurement, spread=Spread(sd=0.2, df=10, runs=6))
    assert wide.latency_within_lo_ms == tight.latency_within_lo_ms
    assert wide.latency_lo_ms < wide.latency_within_lo_ms
    assert wide.latency_hi_ms / wide.latency_ms == pytest.approx(
        wide.latency_ms / wide.latency_lo_ms)
    assert wide.latency_hi_ms > 1.4 * wide.latency_ms  # t(10) * sqrt(2) * 0.2 = 0.63 in log


def test_a_version_2_run_keeps_its_interval_as_within_run_only():
    record = {**_record().measured(_measurement([1e-3, 1.1e-3, 0.9e-3])).to_dict()}
    old = {"schema": "fnbench.run/2", "suite": "ops", "device": "cpu", "runtime": "torch",
           "threads": 1, "started": "2026-12-01T00:00:00+00:00", "fnbench_version": "0.2",
           "records": [{**record, "latency_lo_ms": 0.9, "latency_hi_ms": 1.1,
                        "relative_lo": None, "relative_hi": None}], "reference": None}
    new = Run.from_dict(upgrade(old)).records[0]
    assert (new.latency_within_lo_ms, new.latency_within_hi_ms) == (0.9, 1.1)
    assert new.latency_lo_ms is None and new.latency_hi_ms is None


def test_entry_of_takes_ok_records_with_their_logs():
    ok = _record().measured(_measurement([2e-3, 2e-3]))
    failed = _record().failed("boom")
    entry = entry_of([ok, failed, None], when=5.0)
    assert entry == {"time": 5.0, "latency": {"ops|x": pytest.approx(math.log(2.0))},
                     "relative": {}}
    assert entry_of([failed]) is None


def test_runs_build_the_history_the_next_run_uses(tmp_path):
    cache = tmp_path / "cache"
    env = {"FNBENCH_CACHE": str(cache)}
    for i in range(3):
        result = run_cli("ops", "--ops", "conv", "--sizes", "8x4x4", "--layers", "1",
                         "--quick", "--no-roofline", "--out", str(tmp_path / f"r{i}"), env=env)
        assert result.returncode == 0, result.stderr
        run = load_run(next((tmp_path / f"r{i}").iterdir()))
        assert run["settings"]["spread"]["runs"] == i
    (history,) = (cache / "history").glob("*.jsonl")
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(lines) == 3
    record = read_run(next((tmp_path / "r2").iterdir())).records[0]
    assert lines[-1]["latency"][record.key] == pytest.approx(math.log(record.latency_ms))
    assert "from 2 earlier run(s) on this machine" in \
        (next((tmp_path / "r2").iterdir()) / "results.md").read_text()
    result = run_cli("ops", "--ops", "conv", "--sizes", "8x4x4", "--layers", "1", "--quick",
                     "--no-roofline", "--no-history", "--out", str(tmp_path / "nh"), env=env)
    assert result.returncode == 0, result.stderr
    run = load_run(next((tmp_path / "nh").iterdir()))
    assert run["settings"]["history"] is False and run["settings"]["spread"]["runs"] == 0
    assert len(history.read_text().splitlines()) == 3
