"""False alarms and detection of ``fnbench compare`` on this machine, from real runs.

Runs ``fnbench ops --quick`` on a small grid again and again into a temporary folder, in the
order R0, H1, R1, H2, R2, ...: R are runs of the same code, H runs made with the test hook
``FNBENCH_TEST_SLOWDOWN`` slowing one workload by ``--factor`` (default 1.3x). R0 is
``--base-runs K`` runs, and each H(i) and R(i) ``--new-runs K`` runs. Then, at the default
threshold, absolute and ``--relative``:

- *false alarms*: the ``--base-runs`` latest R runs before R(i) against R(i) (the same code):
  how often ``fnbench compare`` exits 1, and the verdicts of every record;
- *detection*: the same BASE against H(i): how often the slowed record is ``slower``, and how
  often the other records are (false alarms beside a real regression).

The runs share a private cache (no roofline) and, by default, no run history, so every run's
spread is the prior — what a fresh CI runner sees. With ``--history`` the R runs build a
private history and every run reads it, while the H runs (a pull request's) read a copy and so
never add to it, as CI adds only the main branch's runs. The load average is recorded before
every run.

    python benchmarks/compare_false_alarms.py [--pairs 10] [--factor 1.3] [--json OUT.json]
        [--base-runs K] [--new-runs K] [--history] [-- more fnbench ops options]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["--ops", "conv,dwconv,pconv", "--sizes", "96x56x56,384x14x14"]
MODES = {"absolute": [], "relative": ["--relative"]}


def fnbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fnbench", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def measure(out: Path, extra: list[str], env: dict[str, str], history: bool) -> dict:
    """One ``fnbench ops --quick`` run into its own folder under ``out``: its directory, wall
    time and the load average before it."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    flags = [] if history else ["--no-history"]
    result = fnbench("ops", "--quick", "--no-roofline", *flags, *GRID, *extra, "--out",
                     str(out), env=env)
    if result.returncode != 0:
        sys.exit(f"fnbench ops exited with {result.returncode}: {result.stderr.strip()}")
    (run_dir,) = [p for p in out.iterdir()]
    return {"dir": str(run_dir), "wall_s": time.perf_counter() - started, "load": load}


def compare(base: list[dict], new: list[dict], mode: str) -> dict:
    sides = [arg for label, runs in (("--base", base), ("--new", new)) for run in runs
             for arg in (label, run["dir"])]
    result = fnbench("compare", *sides, "--format", "json", *MODES[mode])
    if result.returncode not in (0, 1):
        sys.exit(f"fnbench compare exited with {result.returncode}: {result.stderr.strip()}")
    data = json.loads(result.stdout)
    return {"exit": result.returncode, "counts": data["counts"],
            "records": {r["name"]: {k: r[k] for k in ("verdict", "ratio", "ratio_low",
                                                       "ratio_high")}
                        for r in data["records"]}}


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f}%)" if total else "–"


def summarise(pairs: list[dict], hooked: str) -> list[str]:
    lines = []
    for mode in MODES:
        null = [p["null"][mode] for p in pairs]
        detect = [p["detect"][mode] for p in pairs]
        counts = {v: sum(c["counts"][v] for c in null) for v in null[0]["counts"]}
        hook_verdicts = [d["records"][hooked]["verdict"] for d in detect]
        others = sum(1 for d in detect for name, r in d["records"].items()
                     if name != hooked and r["verdict"] == "slower")
        other_total = sum(len(d["records"]) - 1 for d in detect)
        ratios = [r["ratio"] for c in null for r in c["records"].values() if r["ratio"]]
        lines += [
            f"{mode}: false alarms (same code, exit 1): "
            f"{rate(sum(c['exit'] == 1 for c in null), len(null))}; verdicts over "
            f"{sum(counts.values())} records: "
            + ", ".join(f"{n} {v}" for v, n in counts.items() if n),
            f"{mode}: same-code ratios NEW/BASE from {min(ratios):.3f} to {max(ratios):.3f}",
            f"{mode}: detection of {hooked} slowed: "
            f"{rate(hook_verdicts.count('slower'), len(detect))} slower; its verdicts: "
            + ", ".join(f"{hook_verdicts.count(v)} {v}" for v in dict.fromkeys(hook_verdicts))
            + f"; other records slower beside it: {rate(others, other_total)}",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--factor", type=float, default=1.3)
    parser.add_argument("--hook", help="workload to slow (default: the grid's first record)")
    parser.add_argument("--base-runs", type=int, default=1, metavar="K",
                        help="compare against the K latest same-code runs (default 1)")
    parser.add_argument("--new-runs", type=int, default=1, metavar="K",
                        help="runs on the NEW side of each comparison (default 1)")
    parser.add_argument("--history", action="store_true",
                        help="let the runs build a private run history (default: none)")
    parser.add_argument("--json", type=Path, help="write every run and comparison here")
    parser.add_argument("extra", nargs="*", help="more fnbench ops options, after --")
    args = parser.parse_args()
    if args.pairs < 1 or args.base_runs < 1 or args.new_runs < 1 or not 1.0 < args.factor <= 100:
        parser.error("--pairs, --base-runs and --new-runs must be at least 1 and --factor above 1")
    with tempfile.TemporaryDirectory(prefix="fnbench-false-alarms-") as tmp:
        root = Path(tmp)
        env = {"FNBENCH_CACHE": str(root / "cache")}
        same_runs = [measure(root / f"R0-{k}", args.extra, env, args.history)
                     for k in range(args.base_runs)]
        base = same_runs[0]
        hooked = args.hook or json.loads(Path(base["dir"], "run.json").read_text()
                                         )["records"][0]["name"]
        runs = list(same_runs)
        print(f"R0: {args.base_runs} run(s), {sum(r['wall_s'] for r in same_runs):.0f} s, load "
              f"{base['load']:.2f}; slowing {hooked} {args.factor}x in the H runs", flush=True)
        pairs = []
        for i in range(1, args.pairs + 1):
            slow_env = {**env, "FNBENCH_TEST_SLOWDOWN": f"{hooked}={args.factor}"}
            if args.history:  # reads the history, adds nothing to it
                copy = root / f"cache-H{i}"
                shutil.copytree(root / "cache", copy, dirs_exist_ok=True)
                slow_env["FNBENCH_CACHE"] = str(copy)
            slow, same = [], []
            for k in range(args.new_runs):
                slow.append(measure(root / f"H{i}-{k}", args.extra, slow_env, args.history))
                same.append(measure(root / f"R{i}-{k}", args.extra, env, args.history))
            runs += slow + same
            bases = same_runs[-args.base_runs:]
            same_runs += same
            pairs.append({"null": {m: compare(bases, same, m) for m in MODES},
                          "detect": {m: compare(bases, slow, m) for m in MODES}})
            status = "; ".join(
                f"{m}: same exit {pairs[-1]['null'][m]['exit']}, hooked "
                f"{pairs[-1]['detect'][m]['records'][hooked]['verdict']} "
                f"({pairs[-1]['detect'][m]['records'][hooked]['ratio']:.2f}x)" for m in MODES)
            print(f"pair {i}: H{i} {sum(r['wall_s'] for r in slow):.0f} s load "
                  f"{slow[0]['load']:.2f}, R{i} {sum(r['wall_s'] for r in same):.0f} s load "
                  f"{same[0]['load']:.2f}; {status}", flush=True)
    loads = [r["load"] for r in runs]
    summary = [f"{len(runs)} runs of fnbench ops --quick {' '.join(GRID + args.extra)}, "
               f"{'private history' if args.history else 'no history (prior spreads)'}, "
               f"threshold 5%, hook {args.factor}x on {hooked}, BASE the {args.base_runs} "
               f"latest same-code run(s), NEW {args.new_runs} run(s)",
               f"load average (1 min) before each run: min {min(loads):.2f}, median "
               f"{statistics.median(loads):.2f}, max {max(loads):.2f} on {os.cpu_count()} "
               f"CPUs; wall per run {min(r['wall_s'] for r in runs):.0f}-"
               f"{max(r['wall_s'] for r in runs):.0f} s",
               *summarise(pairs, hooked)]
    print("\n".join(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "factor": args.factor,
                                         "hooked": hooked, "grid": GRID + args.extra,
                                         "history": args.history,
                                         "base_runs": args.base_runs,
                                         "new_runs": args.new_runs,
                                         "runs": [{k: r[k] for k in ("wall_s", "load")}
                                                  for r in runs],
                                         "pairs": pairs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
