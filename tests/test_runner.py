"""Interleaved rounds, the reference workload, worker processes and the typed run record, with
real torch and real processes."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest

from conftest import run_cli, swallow_a_signal
from fnbench.accounting import structure_hash
from fnbench.devices import open_device
from fnbench.measure import Measurement, Protocol, Round, Warmup
from fnbench.operators import operator_grid
from fnbench.records import SCHEMA, Record, Relative, Run, upgrade
from fnbench.results import load_run, read_run
from fnbench.runner import InProcessExecutor, RunSettings, plan_jobs, run_jobs
from fnbench.specs import REFERENCE_NAME, workload_from_spec, workload_hash
from fnbench.worker import SELF_KILL_VARIABLE

REPO = Path(__file__).resolve().parent.parent
TINY = Protocol(warmup_runs=1, warmup_time_s=0.0, round_warmup_runs=1, round_time_s=0.005,
                min_rounds=3, max_rounds=5, max_time_s=0.5, target_rel_ci=0.5)


def tiny_ops(ops=("conv", "dwconv", "pconv")):
    return operator_grid(list(ops), [(16, 8, 8)], layers=1)


def run_in_process(workloads, settings):
    device = open_device("cpu", "torch", 1)
    jobs = plan_jobs(workloads, device, settings)
    records: list[Record] = []
    reference = run_jobs(jobs, InProcessExecutor(device, settings.seed, settings.protocol),
                         settings, records.append)
    return records, reference


def test_rounds_of_all_workloads_are_interleaved():
    settings = RunSettings(protocol=Protocol(**{**TINY.__dict__, "min_rounds": 4,
                                                "max_rounds": 4}))
    records, reference = run_in_process(tiny_ops(), settings)
    everyone = [*records, reference]
    assert all(r.status == "ok" and r.rounds == 4 for r in everyone)
    rounds = sorted((Round.from_dict(x) for r in everyone for x in r.measurement["rounds"]),
                    key=lambda x: x.started)
    passes = [x.slot[0] for x in rounds]
    # every workload's round of pass k starts before any round of pass k+1
    assert passes == sorted(passes) and set(passes) == {0, 1, 2, 3}
    assert all(passes.count(p) == len(everyone) for p in range(4))


def test_every_record_has_key_hash_and_relative_latency():
    settings = RunSettings(protocol=TINY)
    records, reference = run_in_process(tiny_ops(), settings)
    assert reference.name == REFERENCE_NAME and reference.suite == "reference"
    for record in records:
        assert record.key.startswith("ops|") and "|device=cpu|runtime=torch|" in record.key
        assert record.workload_hash and len(record.workload_hash) == 16
        ratios = [Round.from_dict(x).median for x in record.measurement["rounds"]]
        assert record.relative_latency > 0
        assert record.relative_lo <= record.relative_latency <= record.relative_hi
        assert record.latency_lo_ms <= record.latency_ms <= record.latency_hi_ms
        assert record.latency_ms == pytest.approx(
            math.exp(sum(map(math.log, ratios)) / len(ratios)) * 1e3)
    assert len({r.key for r in records}) == len(records)
    again, _ = run_in_process(tiny_ops(), settings)
    assert sorted((r.key, r.workload_hash) for r in again) == \
        sorted((r.key, r.workload_hash) for r in records)


def test_no_reference_means_no_relative_latency():
    records, reference = run_in_process(tiny_ops(["conv"]), RunSettings(protocol=TINY,
                                                                        reference=False))
    assert reference is None and records[0].relative_latency is None


def test_relative_latency_pairs_rounds_that_ran_back_to_back():
    def measurement(medians_by_slot):
        rounds = tuple(Round(float(i), (m,), 0, slot) for i, (slot, m) in
                       enumerate(medians_by_slot))
        return Measurement(rounds, 1, Warmup(0, 0.0, math.inf), True, "converged")

    mine = measurement([((0, 0, 0), 2.0), ((1, 0, 0), 3.0), ((2, 0, 0), 4.4)])
    reference = measurement([((0, 0, 0), 1.0), ((1, 0, 0), 1.5), ((2, 0, 0), 2.0),
                             ((3, 0, 0), 9.0)])
    relative = Relative.paired(mine, reference)
    assert relative.pairs == 3  # the reference's pass 3 has no partner
    assert relative.value == pytest.approx((2.0 * 2.0 * 2.2) ** (1 / 3))
    # the machine got 2x slower halfway: absolute times drift, the ratio does not
    assert Relative.paired(measurement([((0, 0, 0), 2.0), ((1, 0, 0), 4.0)]),
                           measurement([((0, 0, 0), 1.0), ((1, 0, 0), 2.0)])).value \
        == pytest.approx(2.0)


def test_workload_hash_follows_what_is_measured():
    conv = operator_grid(["pconv"], [(64, 8, 8)], layers=2, ratio=0.25)[0]
    half = operator_grid(["pconv"], [(64, 8, 8)], layers=2, ratio=0.5)[0]
    assert workload_hash(conv.spec, None) != workload_hash(half.spec, None)
    assert workload_hash(conv.spec, None) == workload_hash(dict(conv.spec), None)
    # a spec rebuilds the same workload in any process
    rebuilt = workload_from_spec(json.loads(json.dumps(dict(conv.spec))))
    assert rebuilt.name == conv.name and dict(rebuilt.spec) == dict(conv.spec)

    from fnbench.models import fasternet

    t0, t0_again, wider = fasternet("T0"), fasternet("T0"), fasternet("T0", width=48)
    assert structure_hash(t0) == structure_hash(t0_again) != structure_hash(wider)
    assert workload_hash({"suite": "models", "model": "m"}, structure_hash(t0)) != \
        workload_hash({"suite": "models", "model": "m"}, structure_hash(wider))
    assert workload_hash({"suite": "models", "model": "m"}, None) is None


def test_run_round_trips_through_its_dict():
    records, reference = run_in_process(tiny_ops(["conv"]), RunSettings(protocol=TINY))
    run = Run(suite="ops", device="cpu", runtime="torch", threads=1, started="now",
              fnbench_version="x", records=tuple(records), reference=reference,
              planned=({"key": records[0].key, "name": records[0].name, "mode": "latency"},))
    data = json.loads(json.dumps(run.to_dict()))
    assert data["schema"] == SCHEMA and "2" in data["schema_history"]
    again = Run.from_dict(upgrade(data))
    assert again.records[0].to_dict() == records[0].to_dict()
    assert again.reference.latency_ms == reference.latency_ms


def _reference_runs(schema: str = "fnbench.run/1") -> list[Path]:
    return [path for path in sorted((REPO / "results" / "reference").glob("*-*-*-*"))
            if json.loads((path / "run.json").read_text())["schema"] == schema]


@pytest.mark.parametrize("run_dir", _reference_runs())
def test_runs_written_before_the_typed_record_still_load(run_dir):
    raw = json.loads((run_dir / "run.json").read_text())
    run = read_run(run_dir)
    assert run.upgraded_from == "fnbench.run/1" and run.schema == SCHEMA
    assert len(run.records) == len(raw["records"]) > 0
    for old, new in zip(raw["records"], run.records):
        assert new.key.startswith(f"{old['suite']}|") and f"mode={old['mode']}" in new.key
        assert new.latency_ms == old["latency_ms"]
        # the old interval treated samples as independent: it is kept aside, not claimed
        assert new.latency_lo_ms is None and new.notes["v1_iid_ci_ms"][0] == \
            old["latency_ci_low_ms"]
        samples = Measurement.from_dict(new.measurement).samples
        assert samples == old["measurement"]["samples"]
        if old["suite"] == "ops":
            assert new.workload_hash
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    first = raw["records"][0]
    assert (first["meta"].get("label") or first["name"]) in result.stdout
    assert "schema 1" in result.stdout  # the table says why it shows no interval


def test_processes_spread_rounds_over_fresh_workers(tmp_path):
    result = run_cli("ops", "--ops", "conv,pconv", "--sizes", "16x8x8", "--layers", "1",
                     "--quick", "--processes", "2", "--min-rounds", "4", "--max-rounds", "4",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run = load_run(next(tmp_path.iterdir()))
    assert run["settings"]["processes"] == 2
    for record in [*run["records"], run["reference"]]:
        assert record["status"] == "ok", record["error"]
        assert record["measurement"]["processes"] == 2
        assert {r["slot"][1] for r in record["measurement"]["rounds"]} == {0, 1}
    # no worker stayed behind
    import psutil

    assert not [p for p in psutil.Process().children(recursive=True)
                if "fnbench.worker" in " ".join(p.cmdline())]


@pytest.mark.parametrize("stage", ["build", "accounting"])
def test_a_signal_a_library_turns_into_an_error_stops_the_run_instead(stage):
    """A workload that fails is that workload's error record; a signal is the run's end, even
    when a library hands it back as another exception."""
    from dataclasses import replace

    from fnbench.errors import RunInterrupted, interrupts_raise

    conv, dwconv = tiny_ops(["conv", "dwconv"])
    hurt = replace(dwconv, **{stage: lambda *args: swallow_a_signal(signal.SIGINT)})
    recorded: list[Record] = []
    device = open_device("cpu", "torch", 1)
    settings = RunSettings(protocol=TINY, reference=False)
    with interrupts_raise(), pytest.raises(RunInterrupted):
        jobs = plan_jobs([conv, hurt], device, settings)
        run_jobs(jobs, InProcessExecutor(device, settings.seed, settings.protocol), settings,
                 recorded.append)
    assert not [r for r in recorded if r.status == "error"]
    # outside a signal scope the same failure is an ordinary error record
    if stage == "build":
        records, _ = run_in_process([conv, replace(dwconv, build=lambda: _fails())], settings)
        assert sorted(r.status for r in records) == ["error", "ok"]


def _fails():
    raise ImportError("initialization failed")


def test_a_killed_worker_is_an_error_record_and_the_others_finish(tmp_path):
    victim = operator_grid(["pconv"], [(16, 8, 8)], layers=1)[0].name
    env_before = os.environ.get(SELF_KILL_VARIABLE)
    os.environ[SELF_KILL_VARIABLE] = victim
    try:
        result = run_cli("ops", "--ops", "conv,pconv,dwconv", "--sizes", "16x8x8",
                         "--layers", "1", "--quick", "--processes", "2", "--min-rounds", "2",
                         "--max-rounds", "2", "--out", str(tmp_path))
    finally:
        if env_before is None:
            del os.environ[SELF_KILL_VARIABLE]
        else:
            os.environ[SELF_KILL_VARIABLE] = env_before
    assert result.returncode == 1, result.stderr
    run = load_run(next(tmp_path.iterdir()))
    assert run["status"] == "complete"
    by_name = {r["name"]: r for r in run["records"]}
    assert by_name[victim]["status"] == "error"
    assert "SIGKILL" in by_name[victim]["error"]
    others = [r for name, r in by_name.items() if name != victim]
    assert len(others) == 2 and all(r["status"] == "ok" for r in others)


@pytest.mark.parametrize("run_dir", _reference_runs("fnbench.run/2"))
def test_runs_with_within_run_intervals_only_still_load(run_dir):
    raw = json.loads((run_dir / "run.json").read_text())
    run = read_run(run_dir)
    assert run.upgraded_from == "fnbench.run/2" and run.schema == SCHEMA
    for old, new in zip(raw["records"], run.records):
        assert new.key == old["key"] and new.latency_ms == old["latency_ms"]
        # version 2 had no run-to-run spread: its interval is kept as within-run only
        assert (new.latency_within_lo_ms, new.latency_within_hi_ms) == \
            (old["latency_lo_ms"], old["latency_hi_ms"])
        assert new.latency_lo_ms is None and new.latency_hi_ms is None
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "schema 2" in result.stdout


def test_rounds_stop_once_the_run_to_run_spread_dominates():
    from fnbench.history import Spread

    strict = Protocol(**{**TINY.__dict__, "target_rel_ci": 1e-6, "min_rounds": 3,
                         "max_rounds": 6, "max_time_s": 60.0})
    noisy_machine = RunSettings(protocol=strict, reference=False,
                                spread=Spread(sd=1.0, df=20, runs=16))
    quiet_machine = RunSettings(protocol=strict, reference=False,
                                spread=Spread(sd=1e-7, relative_sd=1e-7, df=40, runs=36))
    (noisy,), _ = run_in_process(tiny_ops(["conv"]), noisy_machine)
    (quiet,), _ = run_in_process(tiny_ops(["conv"]), quiet_machine)
    # more rounds cannot narrow an interval that the machine's spread sets: stop at the minimum
    assert noisy.rounds == 3 and noisy.converged
    assert quiet.rounds == 6 and not quiet.converged
    assert noisy.latency_hi_ms / noisy.latency_ms > 10  # t(20) sqrt(2) 1.0 = 2.9 in log
    # a target the user gave (--target-ci) is kept, however wide the machine's spread
    given = RunSettings(protocol=strict, reference=False, target_given=True,
                        spread=Spread(sd=1.0, df=20, runs=16))
    (kept,), _ = run_in_process(tiny_ops(["conv"]), given)
    assert given.stop_target() == strict.target_rel_ci and kept.rounds == 6
