"""A fingerprint of the machine and software a run measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

import fnbench

PACKAGES = ("torch", "torchvision", "timm", "onnx", "onnxruntime", "onnxscript", "fvcore",
            "numpy", "pandas")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "KMP_AFFINITY", "GOMP_CPU_AFFINITY",
                    "OMP_PROC_BIND", "OMP_PLACES", "CUDA_VISIBLE_DEVICES", "TIMM_FUSED_ATTN")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or what platform knows."""
    info = _read("/proc/cpuinfo") or ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
            return value.strip()
    return platform.processor() or platform.machine()


def cpu_frequency_mhz() -> dict[str, float] | None:
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, FileNotFoundError):
        return None
    return None if freq is None else {"current": freq.current, "min": freq.min, "max": freq.max}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict[str, Any] | None:
    """Commit and dirtiness of the checkout fnbench runs from, if it runs from one."""
    root = Path(fnbench.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True, timeout=5).stdout.strip()
        status = subprocess.run(["git", "--no-optional-locks", "-C", str(root), "status",
                                 "--porcelain"], check=True,
                                capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity where the OS reports one, else all CPUs."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def environment(threads: int) -> dict[str, Any]:
    """Everything about this machine and software that can change a measurement."""
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    memory = psutil.virtual_memory()
    return {
        "hostname": platform.node(),
        "cpu": {
            "model": cpu_model(),
            "arch": platform.machine(),
            "physical_cores": psutil.cpu_count(logical=False),
            "logical_cores": psutil.cpu_count(logical=True),
            "affinity": affinity,
            "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            "frequency_mhz": cpu_frequency_mhz(),
        },
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "memory": {"total_bytes": memory.total, "available_bytes": memory.available},
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "fnbench": {"version": fnbench.__version__, "git": git_commit()},
        "threads": {"requested": threads, "usable_cpus": usable_cpus(),
                    "environment": {k: os.environ[k] for k in THREAD_VARIABLES
                                    if k in os.environ}},
    }
