"""A device's ceilings: from the cache when its fingerprint has them, else measured and stored.

Set ``FNBENCH_ROOFLINE_QUICK=1`` for tiny kernels and working sets (tests): such ceilings are
cached under their own key and say so; they are not the machine's ceilings.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from fnbench.roofline import store

if TYPE_CHECKING:
    from fnbench.devices import Device

QUICK_VARIABLE = "FNBENCH_ROOFLINE_QUICK"


@dataclass(frozen=True)
class Lookup:
    """Ceilings, whether they came from the cache, their file, and a warning (None if none)."""

    ceilings: dict[str, Any]
    cached: bool
    path: Path
    warning: str | None = None


def quick_sizes() -> bool:
    return os.environ.get(QUICK_VARIABLE, "") not in ("", "0")


def _versions(*names: str) -> dict[str, str | None]:
    from fnbench.devices.fingerprint import package_versions

    versions = package_versions()
    return {name: versions.get(name) for name in names}


def identity(device: "Device", quick: bool) -> dict[str, Any]:
    """What the cache key digests: machine, packages, device, runtime, threads, sizes."""
    base = {"device": device.name, "runtime": device.runtime, "threads": device.threads,
            "sizes": "quick" if quick else "full", "host": getattr(device, "host", None)}
    if base["host"]:
        board = dict(getattr(device, "board", {}) or {})
        return {**base, "machine": board}
    import psutil

    from fnbench.devices.fingerprint import cpu_model

    machine = {"cpu": cpu_model(), "arch": platform.machine(),
               "logical_cores": psutil.cpu_count(logical=True),
               "physical_cores": psutil.cpu_count(logical=False)}
    if device.name == "cuda":
        machine["gpu"] = device.describe()
    packages = (_versions("torch") if device.runtime == "torch"
                else _versions("onnxruntime", "numpy"))
    return {**base, "machine": machine, "packages": packages}


def measure_device(device: "Device", quick: bool,
                   step: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Measure the ceilings of ``device`` with its runtime and threads (no cache)."""
    from fnbench.roofline.kernels import kernel_set

    if getattr(device, "host", None):
        from fnbench.roofline.remote import measure_remote

        return measure_remote(device, quick, step)
    if device.runtime == "onnxruntime":
        from fnbench.devices.ceilings import measure_onnxruntime
        from fnbench.roofline.kernels import onnx_spec

        with tempfile.TemporaryDirectory(prefix="fnbench-roofline-") as tmp:
            step("writing the ONNX kernels")
            spec = onnx_spec(kernel_set(device.name, quick), Path(tmp), device.threads, quick)
            return measure_onnxruntime(spec, tmp, step)
    from fnbench.roofline.torch_ceilings import measure_torch

    return measure_torch(device.name, device.threads, quick, step)


def ceilings_for(device: "Device", refresh: bool = False,
                 step: Callable[[str], None] = lambda text: None) -> Lookup:
    """The cached ceilings of ``device``; measured (and stored) when missing or ``refresh``."""
    quick = quick_sizes()
    ident = identity(device, quick)
    path = store.cache_path(ident)
    if not refresh:
        cached = store.load(ident)
        if cached is not None:
            return Lookup(cached, True, path)
    began = time.perf_counter()
    measured = measure_device(device, quick, step)
    ceilings = {"schema": store.SCHEMA, "key": store.cache_key(ident),
                "device": device.name, "runtime": device.runtime, "threads": device.threads,
                "host": ident["host"], "sizes": ident["sizes"],
                "measured_at": datetime.now(timezone.utc).isoformat(),
                "measure_s": round(time.perf_counter() - began, 2),
                "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                "identity": ident, **measured}
    try:
        path = store.save(ceilings, ident)
    except OSError as error:
        return Lookup(ceilings, False, path,
                      f"could not cache the roofline in {path.parent} ({error.strerror or error}):"
                      " set FNBENCH_CACHE to a writable folder")
    return Lookup(ceilings, False, path)
