"""Stability and cost: repeat ``fnbench ops`` and report each case's coefficient of variation.

Runs the real command line N times (default 5) into a temporary folder, then prints, per case,
the median latency of every run and the CoV (std / mean) of those medians, and the wall time of
each run (the cost of the default grid). Error records are skipped and listed; with one
repeat the medians are printed and the CoV is left out (it needs two runs).

    python benchmarks/stability.py [--repeats 5] [--runtime torch|onnxruntime] [-- extra args]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fnbench.results import load_run


def run_once(out: str, runtime: str, extra: list[str]) -> float:
    """One ``fnbench ops`` run into ``out``; its wall time. Exit 1 (a failed record) is kept."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "fnbench", "ops", "--runtime", runtime,
                             "--out", out, *extra], stdout=subprocess.DEVNULL)
    if result.returncode not in (0, 1):
        sys.exit(f"fnbench ops exited with {result.returncode}; see its message above")
    return time.perf_counter() - started


def collect(out: str) -> tuple[dict[str, list[float]], list[str]]:
    """Median latency per case across runs, and the error records (skipped)."""
    medians: dict[str, list[float]] = {}
    errors = []
    for i, run_dir in enumerate(sorted(Path(out).iterdir()), 1):
        for record in load_run(run_dir)["records"]:
            if record["status"] != "ok":
                errors.append(f"run {i}: {record['name']} ({record['mode']}): {record['error']}")
                continue
            medians.setdefault(record["name"], []).append(record["latency_ms"])
    return medians, errors


def report(medians: dict[str, list[float]], errors: list[str]) -> None:
    """Per case the mean, the CoV of the medians (with two runs or more) and every median."""
    print(f"{'case':40s} {'mean ms':>9s} {'CoV %':>6s}  medians")
    covs = []
    for name, values in medians.items():
        cov = "–"
        if len(values) > 1:
            covs.append(statistics.stdev(values) / statistics.mean(values) * 100)
            cov = f"{covs[-1]:.2f}"
        print(f"{name:40s} {statistics.mean(values):9.3f} {cov:>6s}  "
              + " ".join(f"{v:.3f}" for v in values))
    if covs:
        print(f"CoV of medians: median {statistics.median(covs):.2f}%, max {max(covs):.2f}%")
    else:
        print("CoV of medians: needs at least 2 successful runs of a case (--repeats 2 or more)")
    for error in errors:
        print(f"skipped error record, {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("extra", nargs="*", help="more fnbench ops options, after --")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    walls = []
    with tempfile.TemporaryDirectory() as out:
        for i in range(args.repeats):
            walls.append(run_once(out, args.runtime, args.extra))
            print(f"run {i + 1}: {walls[-1]:.1f} s wall", flush=True)
        medians, errors = collect(out)
    report(medians, errors)
    print(f"wall time per run: min {min(walls):.1f} s, max {max(walls):.1f} s "
          f"(runtime {args.runtime})")


if __name__ == "__main__":
    main()
