"""Fidelity: fnbench's median latency against torch.utils.benchmark on the same modules.

For every case of the default operator grid (or --sizes/--ops), the same module and input are
timed by fnbench's protocol and by ``torch.utils.benchmark.Timer.blocked_autorange``, one
thread, in alternating order. Prints the ratio fnbench / Timer per case.

    python benchmarks/fidelity.py [--min-run-time 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform

import torch
import torch.utils.benchmark as tb

from fnbench.devices.fingerprint import cpu_model
from fnbench.devices.torch_eager import build_for_inference, cpu_time_block, make_input
from fnbench.measure import Protocol, measure
from fnbench.operators.grid import PAPER_OPERATORS, operator_grid, parse_operators


def timer_median(module: torch.nn.Module, x: torch.Tensor, min_run_time: float) -> float:
    """Median seconds per call by torch.utils.benchmark, autograd off as in fnbench."""
    timer = tb.Timer(stmt="module(x)", setup="torch.set_grad_enabled(False)",
                     globals={"module": module, "x": x}, num_threads=1)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default=",".join(PAPER_OPERATORS))
    parser.add_argument("--min-run-time", type=float, default=2.0)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for workload in operator_grid(parse_operators(args.ops)):
        module, _ = build_for_inference(workload, seed=0)
        x = make_input(workload, 1, seed=0)
        ours = measure(cpu_time_block(module, x), Protocol()).estimate
        with torch.inference_mode():
            theirs = timer_median(module, x, args.min_run_time)
        ours_again = measure(cpu_time_block(module, x), Protocol()).estimate
        fnbench_ms = (ours + ours_again) / 2 * 1e3
        rows.append({"case": workload.name, "fnbench_ms": fnbench_ms,
                     "timer_ms": theirs * 1e3, "ratio": fnbench_ms / (theirs * 1e3)})
        print(f"{workload.name:40s} fnbench {fnbench_ms:9.3f} ms  Timer {theirs * 1e3:9.3f} ms"
              f"  ratio {rows[-1]['ratio']:.3f}", flush=True)
    worst = max(abs(r["ratio"] - 1) for r in rows)
    print(f"machine: {cpu_model()} ({platform.machine()}), torch {torch.__version__}, 1 thread")
    print(f"largest deviation from Timer: {worst * 100:.1f}%")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": cpu_model(), "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
