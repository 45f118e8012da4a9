"""Coverage, stability and cost of fnbench's interval, against the old protocol and
torch.utils.benchmark, over repeated separate runs.

Each of ``--runs`` runs is a fresh process that builds the same cases (three models and three
Table 1 operator cases by default) and measures each of them three ways, in this order:

1. fnbench's default protocol: interleaved rounds over all cases plus the reference workload
   (the runner and executor ``fnbench models``/``ops`` use), giving a median estimate, a 95%
   re-run interval and a latency relative to the reference; the interval takes the run-to-run
   spread of the runs before it, kept in a run history (a fresh one unless ``--history``), as
   ``fnbench`` keeps one per machine;
2. the protocol before rounds (fnbench 0.1): one stretch of samples per case, stopped when the
   order-statistic 95% CI of the median is within 1% (10 samples and 0.5 s at least, 5 s at
   most, 15 s for models), the CI computed as if samples were independent;
3. ``torch.utils.benchmark.Timer.blocked_autorange`` with as much time per case as fnbench's
   protocol spent on it.

Then, per method: *coverage* — over every ordered pair of different runs (i, j), how often run
j's estimate lies inside run i's 95% interval; *stability* — the coefficient of variation of
each case's estimate over the runs (for fnbench also of the relative latency); *cost* — wall
seconds per case.

    python benchmarks/coverage.py [--runs 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

CASES = ("model:fasternet_t0", "model:resnet50", "model:mobilevit_xxs",
         "op:conv:192x28x28", "op:dwconv:96x56x56", "op:pconv:384x14x14")


def _workload(case: str):
    from fnbench.models.workloads import model_workload
    from fnbench.operators.grid import operator_grid, parse_sizes

    kind, *rest = case.split(":")
    if kind == "model":
        return model_workload(rest[0])
    return operator_grid([rest[0]], parse_sizes(rest[1]))[0]


def legacy(time_block, models: bool) -> dict:
    """The protocol of fnbench 0.1: one stretch, iid order-statistic CI of the median."""
    from fnbench.measure import Stats, Protocol, warm_up

    warm_up(time_block, Protocol(warmup_runs=10, warmup_time_s=0.2))
    samples, started, next_check = [], time.perf_counter(), 10
    max_time = 15.0 if models else 5.0
    while True:
        samples.append(time_block(1))
        elapsed, n = time.perf_counter() - started, len(samples)
        if n >= 10 and elapsed >= 0.5 and n >= next_check:
            next_check = max(n + 1, int(n * 1.1))
            s = Stats.from_samples(samples)
            if max(s.median - s.iid_ci_low, s.iid_ci_high - s.median) / s.median <= 0.01:
                break
        if elapsed >= max_time and n >= 10:
            break
    s = Stats.from_samples(samples)
    return {"estimate": s.median, "low": s.iid_ci_low, "high": s.iid_ci_high,
            "seconds": time.perf_counter() - started}


def timer(module, x, seconds: float) -> dict:
    import torch
    import torch.utils.benchmark as tb

    started = time.perf_counter()
    t = tb.Timer(stmt="module(x)", setup="torch.set_grad_enabled(False)",
                 globals={"module": module, "x": x}, num_threads=1)
    with torch.inference_mode():
        m = t.blocked_autorange(min_run_time=seconds)
    return {"estimate": m.median, "seconds": time.perf_counter() - started}


def child(cases: list[str]) -> None:
    """One run: every case measured three ways; prints one JSON object."""
    import torch

    from fnbench.devices import open_device
    from fnbench.devices.torch_eager import build_for_inference, cpu_time_block, make_input
    from fnbench.history import append, entry_of, load_spread
    from fnbench.measure import Protocol
    from fnbench.runner import (InProcessExecutor, RunSettings, history_identity, plan_jobs,
                                run_jobs)

    torch.set_num_threads(1)
    device = open_device("cpu", "torch", 1)
    workloads = [_workload(c) for c in cases]
    any_model = any(c.startswith("model:") for c in cases)
    protocol = Protocol(warmup_runs=3, round_time_s=0.25, max_time_s=10.0) if any_model \
        else Protocol()
    settings = RunSettings(protocol=protocol)
    identity = history_identity(device, settings)
    settings = RunSettings(protocol=protocol, spread=load_spread(identity))
    jobs = plan_jobs(workloads, device, settings)
    records = []
    started = time.perf_counter()
    reference = run_jobs(jobs, InProcessExecutor(device, 0, protocol), settings,
                         records.append)
    new_wall = time.perf_counter() - started
    append(identity, entry_of([*records, reference]))
    by_name = {r.name: r for r in records}
    out: dict = {"fnbench": {}, "legacy": {}, "timer": {},
                 "reference_ms": reference.latency_ms if reference else None,
                 "fnbench_wall_s": new_wall, "spread": settings.spread.to_dict()}
    for case, workload in zip(cases, workloads):
        r = by_name[workload.name]
        per_case = new_wall / len(cases)  # the run's wall time, reference included, per case
        out["fnbench"][case] = {"estimate": r.latency_ms / 1e3, "low": r.latency_lo_ms / 1e3,
                                "high": r.latency_hi_ms / 1e3,
                                "relative": r.relative_latency,
                                "relative_low": r.relative_lo, "relative_high": r.relative_hi,
                                "rounds": r.rounds, "converged": r.converged,
                                "seconds": per_case}
        module, _ = build_for_inference(workload, 0)
        x = make_input(workload, 1, 0)
        out["legacy"][case] = legacy(cpu_time_block(module, x), case.startswith("model:"))
        out["timer"][case] = timer(module, x, per_case)
    print(json.dumps(out))


def _cov(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) * 100 if len(values) > 1 \
        else math.nan


def coverage(runs: list[dict], method: str, case: str, low="low", high="high",
             estimate="estimate") -> float:
    hits = total = 0
    for i, a in enumerate(runs):
        for j, b in enumerate(runs):
            if i == j:
                continue
            lo, hi, value = a[method][case].get(low), a[method][case].get(high), \
                b[method][case].get(estimate)
            if None in (lo, hi, value):
                continue
            total += 1
            hits += lo <= value <= hi
    return hits / total * 100 if total else math.nan


def summarise(runs: list[dict], cases: list[str]) -> dict:
    rows = []
    for case in cases:
        row = {"case": case}
        for method in ("fnbench", "legacy", "timer"):
            row[f"{method}_ms"] = statistics.median(r[method][case]["estimate"]
                                                    for r in runs) * 1e3
            row[f"{method}_cov"] = _cov([r[method][case]["estimate"] for r in runs])
            row[f"{method}_s_per_case"] = statistics.mean(r[method][case]["seconds"]
                                                          for r in runs)
        row["relative_cov"] = _cov([r["fnbench"][case]["relative"] for r in runs
                                    if r["fnbench"][case]["relative"]])
        row["fnbench_coverage"] = coverage(runs, "fnbench", case)
        row["relative_coverage"] = coverage(runs, "fnbench", case, "relative_low",
                                            "relative_high", "relative")
        row["legacy_coverage"] = coverage(runs, "legacy", case)
        row["fnbench_rel_halfwidth"] = statistics.median(
            (r["fnbench"][case]["high"] - r["fnbench"][case]["low"]) / 2
            / r["fnbench"][case]["estimate"] * 100 for r in runs)
        rows.append(row)
    return {"rows": rows,
            "overall": {
                "fnbench_coverage": statistics.mean(r["fnbench_coverage"] for r in rows),
                "relative_coverage": statistics.mean(r["relative_coverage"] for r in rows),
                "legacy_coverage": statistics.mean(r["legacy_coverage"] for r in rows),
                "fnbench_cov_median": statistics.median(r["fnbench_cov"] for r in rows),
                "relative_cov_median": statistics.median(r["relative_cov"] for r in rows),
                "timer_cov_median": statistics.median(r["timer_cov"] for r in rows),
                "legacy_cov_median": statistics.median(r["legacy_cov"] for r in rows)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", help="also write every run and the summary here")
    parser.add_argument("--history", help="the fnbench cache whose run history the runs read "
                                          "and extend (default: a fresh one, so the first "
                                          "runs rest on the prior alone)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if args.child:
        child(cases)
        return
    if args.runs < 2:
        parser.error("--runs must be at least 2: coverage compares runs with each other")
    runs, walls = [], []
    scratch = None if args.history else tempfile.TemporaryDirectory(prefix="fnbench-coverage-")
    env = {**os.environ, "FNBENCH_CACHE": args.history or scratch.name}
    for i in range(args.runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--child", "--cases", ",".join(cases)],
                              check=True, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - started)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        spread = runs[-1]["spread"]
        print(f"run {i + 1}/{args.runs}: {walls[-1]:.0f} s; run-to-run spread "
              f"{spread['sd'] * 100:.1f}% from {spread['runs']} earlier run(s); load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    if scratch is not None:
        scratch.cleanup()
    summary = summarise(runs, cases)
    from fnbench.devices.fingerprint import cpu_model

    print(f"machine: {cpu_model()} ({platform.machine()}), 1 thread, {args.runs} runs")
    header = (f"{'case':24s} {'fnbench ms':>10s} {'cover%':>6s} {'±%':>5s} {'CoV%':>5s} "
              f"{'relCoV%':>7s} {'relcov%':>7s} | {'legacy cover%':>13s} {'CoV%':>5s} | "
              f"{'Timer CoV%':>10s} | {'s/case fnb':>10s} {'Timer':>6s} {'legacy':>6s}")
    print(header)
    for r in summary["rows"]:
        print(f"{r['case']:24s} {r['fnbench_ms']:10.3f} {r['fnbench_coverage']:6.1f} "
              f"{r['fnbench_rel_halfwidth']:5.1f} {r['fnbench_cov']:5.1f} "
              f"{r['relative_cov']:7.1f} {r['relative_coverage']:7.1f} | "
              f"{r['legacy_coverage']:13.1f} {r['legacy_cov']:5.1f} | {r['timer_cov']:10.1f} | "
              f"{r['fnbench_s_per_case']:10.2f} {r['timer_s_per_case']:6.2f} "
              f"{r['legacy_s_per_case']:6.2f}")
    o = summary["overall"]
    print(f"coverage of a re-run's estimate by a run's 95% interval: fnbench "
          f"{o['fnbench_coverage']:.1f}% (relative latency {o['relative_coverage']:.1f}%), "
          f"protocol of fnbench 0.1 {o['legacy_coverage']:.1f}%")
    print(f"median CoV of estimates over runs: fnbench {o['fnbench_cov_median']:.2f}% "
          f"(relative {o['relative_cov_median']:.2f}%), Timer {o['timer_cov_median']:.2f}%, "
          f"fnbench 0.1 {o['legacy_cov_median']:.2f}%")
    print(f"wall per run: {min(walls):.0f}-{max(walls):.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": cpu_model(), "runs": runs, "summary": summary,
                       "walls": walls}, handle, indent=1)


if __name__ == "__main__":
    main()
