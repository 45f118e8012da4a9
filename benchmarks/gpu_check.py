"""The GPU check: one short, prepared run of fnbench's CUDA paths (about 3–5 minutes on an H200).

Runs, each as a user would (``python -m fnbench``), into one output folder:

1. ``ops --device cuda --mode throughput --quick`` (the Table 1 grid);
2. ``models --device cuda --models fasternet_t0,resnet50 --mode throughput --quick``;
3. the same with ``--dtype fp16``;
4. ``models --device cuda --models fasternet_t0 --runtime torch-compile`` (throughput, quick);
5. ``--runtime onnxruntime`` for fasternet_t0, only when onnxruntime-gpu is installed.

Prints the GPU, then one line per record (latency per call, throughput, achieved GFLOPS,
compile seconds) and each step's wall time; a failing step is reported and the next one runs.

    python benchmarks/gpu_check.py [--out DIR] [--json summary.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = "fasternet_t0,resnet50"
STEPS = (
    ("ops fp32", ["ops", "--mode", "throughput", "--quick"]),
    ("models fp32", ["models", "--models", MODELS, "--mode", "throughput", "--quick"]),
    ("models fp16", ["models", "--models", MODELS, "--mode", "throughput", "--quick",
                     "--dtype", "fp16"]),
    ("torch-compile", ["models", "--models", "fasternet_t0", "--mode", "throughput", "--quick",
                       "--runtime", "torch-compile", "--no-reference"]),
)
ORT_STEP = ("onnxruntime-gpu", ["models", "--models", "fasternet_t0", "--mode", "throughput",
                                "--quick", "--runtime", "onnxruntime", "--no-reference"])
STEP_TIMEOUT_S = 240


def gpu_name() -> str:
    import torch

    if not torch.cuda.is_available():
        return "none (torch.cuda.is_available() is False)"
    props = torch.cuda.get_device_properties(0)
    return (f"{props.name}, {props.total_memory / 2**30:.0f} GiB, capability "
            f"{props.major}.{props.minor}, torch {torch.__version__}, CUDA {torch.version.cuda}")


def ort_has_cuda() -> bool:
    try:
        import onnxruntime
    except ImportError:
        return False
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def run_step(name: str, args: list[str], out: Path) -> dict:
    """One fnbench command into its own folder; its records as short rows."""
    folder = out / name.replace(" ", "-")
    command = [sys.executable, "-m", "fnbench", *args, "--device", "cuda", "--out", str(folder)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
        code, tail = done.returncode, done.stderr.strip().splitlines()[-1:] or [""]
    except subprocess.TimeoutExpired:
        code, tail = "timeout", [f"over {STEP_TIMEOUT_S} s"]
    step = {"step": name, "command": " ".join(command[2:]), "exit": code, "last_line": tail[0],
            "wall_s": round(time.perf_counter() - started, 1), "records": []}
    for run_json in sorted(folder.glob("*/run.json")):
        for record in json.loads(run_json.read_text())["records"]:
            step["records"].append(row(record))
    return step


def row(record: dict) -> dict:
    notes = record.get("notes") or {}
    gflops = record.get("achieved_flops")
    return {"name": record["name"], "runtime": record["runtime"],
            "dtype": record.get("dtype", "fp32"), "mode": record["mode"],
            "batch": record["batch"], "status": record["status"],
            "latency_ms": record.get("latency_ms"), "throughput": record.get("throughput"),
            "gflops": gflops / 1e9 if gflops else None, "compile_s": notes.get("compile_s"),
            "error": record.get("error")}


def show(step: dict) -> None:
    print(f"\n== {step['step']} (exit {step['exit']}, {step['wall_s']} s): {step['command']}")
    if step["exit"] not in (0, 1):
        print(f"   {step['last_line']}")
    for r in step["records"]:
        if r["status"] != "ok":
            print(f"   {r['name']:<36} {r['dtype']} b{r['batch']}: ERROR {r['error']}")
            continue
        compiled = f", compile {r['compile_s']:.1f} s" if r["compile_s"] is not None else ""
        print(f"   {r['name']:<36} {r['runtime']:<13} {r['dtype']} b{r['batch']:<3} "
              f"{r['latency_ms']:9.3f} ms/call {r['throughput']:11,.0f} samples/s "
              f"{r['gflops'] or 0:9.1f} GFLOPS{compiled}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the runs (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit(f"GPU: {gpu_name()}: nothing to check here")
    out = args.out or Path(tempfile.mkdtemp(prefix="fnbench-gpu-check-"))
    print(f"GPU: {gpu_name()}\nruns in {out}")
    steps = [*STEPS, ORT_STEP] if ort_has_cuda() else list(STEPS)
    if not ort_has_cuda():
        print("onnxruntime-gpu: not installed, its step is skipped")
    summary = {"gpu": gpu_name(), "steps": []}
    for name, step_args in steps:
        step = run_step(name, step_args, out)
        show(step)
        summary["steps"].append(step)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
