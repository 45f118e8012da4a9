"""Stability and cost: repeat ``fnbench ops`` and report each case's coefficient of variation.

Runs the real command line N times (default 5) into a temporary folder, then prints, per case,
the median latency of every run and the CoV (std / mean) of those medians, and the wall time of
each run (the cost of the default grid).

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("extra", nargs="*", help="more fnbench ops options, after --")
    args = parser.parse_args()
    medians: dict[str, list[float]] = {}
    walls = []
    with tempfile.TemporaryDirectory() as out:
        for i in range(args.repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fnbench", "ops", "--runtime", args.runtime,
                            "--out", out, *args.extra], check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - started)
            print(f"run {i + 1}: {walls[-1]:.1f} s wall", flush=True)
        for run_dir in sorted(Path(out).iterdir()):
            for record in load_run(run_dir)["records"]:
                medians.setdefault(record["name"], []).append(record["latency_ms"])
    print(f"{'case':40s} {'mean ms':>9s} {'CoV %':>6s}  medians")
    covs = []
    for name, values in medians.items():
        cov = statistics.stdev(values) / statistics.mean(values) * 100
        covs.append(cov)
        print(f"{name:40s} {statistics.mean(values):9.3f} {cov:6.2f}  "
              + " ".join(f"{v:.3f}" for v in values))
    print(f"CoV of medians: median {statistics.median(covs):.2f}%, max {max(covs):.2f}%")
    print(f"wall time per run: min {min(walls):.1f} s, max {max(walls):.1f} s "
          f"(runtime {args.runtime})")


if __name__ == "__main__":
    main()
