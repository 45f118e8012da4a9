"""Scale of ``fnbench dashboard``: a long synthetic history, the page's build time, size, and
load time in headless Chromium.

Writes RUNS run directories of RECORDS records each (schema fnbench.run/3, the fields the
dashboard reads; no raw samples) into a temporary folder, nested per machine, then

- times ``fnbench dashboard`` as a user runs it (a fresh process: start-up, reading every run,
  building and writing the page), best and median of --repeats;
- reports the page's size;
- loads the page in headless Chromium (``chromium`` or ``chromium-browser`` on PATH), with
  ``--dump-dom`` (parse, run the inline script) and with ``--screenshot`` (also lays out and
  paints), and reports each one's wall time minus the same command on an empty page (the
  browser's own start-up), plus the page script's ``performance.now()`` at its end.

    python benchmarks/dashboard_scale.py [--runs 2000] [--records 50] [--repeats 3] [--keep DIR]

``write_history`` is also the test suite's generator of a long history (tests/test_dashboard.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: Machines of the synthetic history: (hostname, CPU model, speed factor); every fourth run is
#: on the second machine.
MACHINES = (("bench-a", "Synthetic CPU A", 1.0), ("bench-b", "Synthetic CPU B", 1.6))
OPS = ("conv", "gconv", "dwconv", "pconv", "pwconv")
SIZES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7), (64, 32, 32),
         (128, 16, 16), (256, 8, 8), (48, 64, 64), (32, 28, 28), (512, 7, 7))
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: The record whose workload changes halfway (a new workload_hash from run RUNS // 2 on).
CHANGED = 0


def machine_of(index: int) -> int:
    return 1 if index % 4 == 3 else 0


def latency_of(index: int, record: int, seed: int = 0) -> float:
    """The synthetic estimate (ms) of ``record`` in run ``index``: a per-workload base, the
    machine's speed, a slow drift and 3% log-normal noise; deterministic."""
    rng = random.Random(f"{seed}:{index}:{record}")
    base = 0.5 + 3.0 * ((record * 7919) % 50) / 10
    drift = 1 + 0.1 * math.sin(index / 300)
    return base * MACHINES[machine_of(index)][2] * drift * math.exp(rng.gauss(0, 0.03))


def _workload(position: int) -> tuple[dict, str, str, str]:
    """The spec, record key, workload hash and name of the ``position``-th workload."""
    from fnbench.records import record_key
    from fnbench.specs import workload_hash

    op = OPS[position % len(OPS)]
    channels, height, width = SIZES[position // len(OPS) % len(SIZES)]
    spec = {"suite": "ops", "op": op, "channels": channels, "height": height, "width": width,
            "layers": 10 + position // (len(OPS) * len(SIZES))}
    return (spec, record_key(spec, "cpu", "torch", "latency", 1, 1), workload_hash(spec, None),
            f"{op}3x3-{channels}x{height}x{width}-L{spec['layers']}")


def _record(index: int, position: int, workload: tuple, runs: int, seed: int) -> dict:
    spec, key, wl_hash, name = workload
    latency = latency_of(index, position, seed)
    if position == CHANGED and index >= runs // 2:
        wl_hash = hashlib.sha256(f"changed:{wl_hash}".encode()).hexdigest()[:16]
    return {
        "key": key, "workload_hash": wl_hash, "name": name, "suite": "ops",
        "family": "operator", "device": "cpu", "runtime": "torch", "mode": "latency",
        "batch": 1, "threads": 1, "input_shape": [spec["channels"], spec["height"],
                                                   spec["width"]], "spec": spec,
        "meta": {"op": spec["op"], "channels": spec["channels"], "height": spec["height"],
                 "width": spec["width"], "layers": spec["layers"], "label": f"{spec['op']}3x3"},
        "status": "ok", "dtype": "fp32", "latency_ms": latency,
        "latency_lo_ms": latency * math.exp(-0.09), "latency_hi_ms": latency * math.exp(0.09),
        "latency_within_lo_ms": latency * math.exp(-0.04),
        "latency_within_hi_ms": latency * math.exp(0.04),
        "latency_ci_low_ms": latency * math.exp(-0.015),
        "latency_ci_high_ms": latency * math.exp(0.015), "rounds": 8, "samples": 400,
        "converged": True}


def write_history(folder: Path, runs: int = 2000, records: int = 50, seed: int = 0) -> list[Path]:
    """``runs`` run directories of ``records`` records each under ``folder/<machine>/``, one
    run an hour from 2026-01-01, a commit every ten runs; their paths, in time order."""
    paths = []
    workloads = [_workload(position) for position in range(records)]
    for index in range(runs):
        host, cpu, _ = MACHINES[machine_of(index)]
        started = START + timedelta(hours=index)
        path = folder / host / f"ops-cpu-torch-{started:%Y%m%dT%H%M%SZ}"
        path.mkdir(parents=True, exist_ok=True)
        commit = hashlib.sha1(f"commit {index // 10}".encode()).hexdigest()
        run = {
            "schema": "fnbench.run/3", "suite": "ops", "device": "cpu", "runtime": "torch",
            "threads": 1, "started": started.isoformat(), "fnbench_version": "0.1.0",
            "status": "complete", "hostname": host,
            "settings": {"dtype": "fp32", "spread": {"sd": 0.03, "relative_sd": 0.02,
                                                     "df": 30, "runs": 30}},
            "environment": {"hostname": host, "cpu": {"model": cpu},
                            "fnbench": {"version": "0.1.0",
                                        "git": {"commit": commit, "dirty": False}}},
            "planned": [], "reference": None,
            "records": [_record(index, position, workload, runs, seed)
                        for position, workload in enumerate(workloads)]}
        (path / "run.json").write_text(json.dumps(run, separators=(",", ":")))
        (path / "results.md").write_text(f"# synthetic run {index}\n")
        paths.append(path)
    return paths


def matplotlib_figures(runs: int, records: int) -> tuple[float, int] | None:
    """For comparison: seconds and bytes to draw the same figures (a line and an interval band
    per machine and workload, every point, log scale) as SVG with matplotlib, or None without
    matplotlib (not a dependency of fnbench)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("svg")
    import io

    import matplotlib.pyplot as plt

    started, size = time.perf_counter(), 0
    for position in range(records):
        figure, axes = plt.subplots(figsize=(3.8, 1.8))
        for machine in range(len(MACHINES)):
            xs = [i for i in range(runs) if machine_of(i) == machine]
            ys = [latency_of(i, position) for i in xs]
            axes.fill_between(xs, [y * math.exp(-0.09) for y in ys],
                              [y * math.exp(0.09) for y in ys], alpha=0.2, linewidth=0)
            axes.plot(xs, ys, linewidth=1)
        axes.set_yscale("log")
        out = io.StringIO()
        figure.savefig(out, format="svg")
        plt.close(figure)
        size += len(out.getvalue().encode())
    return time.perf_counter() - started, size


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser(binary: str, url: str, *mode: str) -> tuple[float, str]:
    """Wall seconds of one headless Chromium command on ``url``, and its stdout."""
    with tempfile.TemporaryDirectory(prefix="fnbench-chromium-") as profile:
        started = time.perf_counter()
        done = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu",
                               "--no-first-run", f"--user-data-dir={profile}", *mode, url],
                              capture_output=True, text=True, timeout=600)
        took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"chromium failed ({done.returncode}): {done.stderr[-500:]}")
    return took, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the history and page here and keep "
                                                  "them (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="fnbench-dashboard-scale-"))
    try:
        history = folder / "history"
        started = time.perf_counter()
        write_history(history, args.runs, args.records)
        size = sum(f.stat().st_size for f in history.rglob("run.json"))
        print(f"history: {args.runs} runs x {args.records} records, {size / 1e6:.1f} MB of "
              f"run.json, written in {time.perf_counter() - started:.1f} s")
        page = folder / "dashboard.html"
        builds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "fnbench", "dashboard", str(history),
                                   "-o", str(page)], capture_output=True, text=True)
            builds.append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(f"fnbench dashboard failed: {done.stderr}")
        print(f"build (fnbench dashboard, a fresh process): median {statistics.median(builds):.2f} s, "
              f"best {min(builds):.2f} s over {args.repeats}")
        print(f"  {done.stderr.strip()}")
        from fnbench.report.dashboard import Dashboard

        board = Dashboard(history, page)
        started = time.perf_counter()
        board.read()
        reading = time.perf_counter() - started
        started = time.perf_counter()
        board.render("scale")
        print(f"  in this process: reading the runs {reading:.2f} s, drawing the page "
              f"{time.perf_counter() - started:.2f} s")
        print(f"page: {page.stat().st_size / 1e6:.2f} MB")
        compared = matplotlib_figures(args.runs, args.records)
        if compared is not None:
            print(f"for comparison, matplotlib (every point, no page around them): "
                  f"{compared[0]:.1f} s and {compared[1] / 1e6:.1f} MB of SVG for the "
                  f"{args.records} figures")
        binary = chromium()
        if binary is None:
            print("browser: skipped (no chromium or chromium-browser on PATH)")
            return
        blank = folder / "blank.html"
        blank.write_text("<!doctype html><title>blank</title>")
        shot = folder / "shot.png"
        for name, mode in (("dump-dom", ("--dump-dom",)),
                           ("screenshot", ("--window-size=1400,1000", f"--screenshot={shot}"))):
            loads, empties, script_ms = [], [], []
            for _ in range(args.repeats):
                empties.append(browser(binary, blank.as_uri(), *mode)[0])
                took, dom = browser(binary, page.as_uri(), *mode)
                loads.append(took)
                found = re.search(r'data-script-ms="([0-9.]+)"', dom)
                if found:
                    script_ms.append(float(found.group(1)))
            extra = statistics.median(loads) - statistics.median(empties)
            note = (f"; the page script ended at performance.now() = "
                    f"{statistics.median(script_ms):.0f} ms" if script_ms else "")
            print(f"browser --{name}: {statistics.median(loads):.2f} s against "
                  f"{statistics.median(empties):.2f} s for an empty page: the page adds "
                  f"{extra:.2f} s (median of {args.repeats}){note}")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
