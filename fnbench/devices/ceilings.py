"""Device ceilings with numpy and ONNX Runtime alone: cache sizes, copy bandwidth, peak MAC/s.

Used in this process for ``--runtime onnxruntime`` and shipped to a board (``--host``) beside
``measure.py`` and ``ort_session.py``: nothing here may import torch or fnbench when it runs as
a script. On a board: ``python3 ceilings.py SPEC.json`` prints ``step`` events while it works
and one ``ceilings`` event at the end, one JSON object per line.

Bandwidth is a copy of ``working_set / 2`` bytes into another buffer of the same size, so the
bytes moved (read + write) equal the working set. numpy's copy is single-threaded whatever the
runtime's thread count; the result says so.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

import numpy as np

if __package__:  # imported as fnbench.devices.ceilings
    from fnbench import measure
    from fnbench.devices import ort_session
else:  # run as a script on a board, beside measure.py and ort_session.py
    import measure  # type: ignore[no-redef]
    import ort_session  # type: ignore[no-redef]

CACHE_ROOT = "/sys/devices/system/cpu/cpu0/cache"
MiB = 1 << 20
#: The smallest working set that is read as DRAM only, and its multiple of the largest cache.
DRAM_MIN_BYTES = 256 * MiB
DRAM_CACHE_MULTIPLE = 4
#: Assumed cache sizes when the system does not say (then the result notes it).
FIXED_CACHES = {"L2": 1 * MiB, "L3": 8 * MiB}
#: Working sets of the quick mode (tests): small enough to take a second.
QUICK_LIMITS = {"L2": 256 << 10, "L3": 4 * MiB, "DRAM": 16 * MiB}


def protocol(quick: bool = False) -> "measure.Protocol":
    """How each ceiling is timed: short warm-up, rounds of 0.1 s in blocks of about 5 ms,
    3 to 10 rounds, at most 1.5 s."""
    if quick:
        return measure.Protocol(warmup_runs=1, warmup_time_s=0.0, round_warmup_runs=0,
                                round_time_s=0.01, min_rounds=2, max_rounds=3, max_time_s=0.1,
                                target_rel_ci=0.5, block_time_s=0.002)
    return measure.Protocol(warmup_runs=2, warmup_time_s=0.1, round_warmup_runs=0,
                            round_time_s=0.1, min_rounds=3, max_rounds=10, max_time_s=1.5,
                            target_rel_ci=0.05, block_time_s=0.005)


def parse_size(text: str) -> int | None:
    """'48K' -> 49152, '2048K' -> 2 MiB, '1M' -> 1 MiB; None when unreadable."""
    text = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * scale if digits.isdigit() else None


def read_caches(root: str = CACHE_ROOT) -> dict[str, Any]:
    """CPU 0's data caches from sysfs: ``{"L1d": bytes, "L2": bytes, "L3": bytes, "source"}``
    (levels the system does not list are absent)."""
    caches: dict[str, Any] = {}
    try:
        entries = sorted(name for name in os.listdir(root) if name.startswith("index"))
    except OSError:
        entries = []
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "level")) as f:
                level = int(f.read())
            with open(os.path.join(root, entry, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(root, entry, "size")) as f:
                size = parse_size(f.read())
        except (OSError, ValueError):
            continue
        if kind == "Instruction" or not size:
            continue
        caches["L1d" if level == 1 else f"L{level}"] = size
    caches["source"] = root if any(k in caches for k in ("L2", "L3")) else None
    return caches


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes, or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def ladder(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each level with the working sets its copy is timed at (``points``): its own
    (``working_set_bytes``) and, above the first level, also its lower edge (the previous
    level's capacity) and steps of 4x from there. Bandwidth only falls as a working set grows,
    so a record is read against the largest point not above its own working set
    (:func:`fnbench.roofline.bounds.level_bandwidth`)."""
    out, previous = [], None
    for entry in levels:
        main = entry["working_set_bytes"]
        points = [main]
        if previous:
            edge, points = previous, []
            while edge <= main // 4:
                points.append(edge)
                edge *= 4
            points.append(main)
        out.append({**entry, "points": [{"working_set_bytes": ws} for ws in sorted(set(points))]})
        previous = entry.get("capacity_bytes")
    return out


def shrink(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quick mode: every working set capped at ``QUICK_LIMITS`` of its level."""
    out = []
    for entry in levels:
        limit = QUICK_LIMITS.get(entry["level"], QUICK_LIMITS["DRAM"])
        sets = sorted({min(p["working_set_bytes"], limit) for p in entry["points"]})
        out.append({**entry, "working_set_bytes": min(entry["working_set_bytes"], limit),
                    "points": [{"working_set_bytes": ws} for ws in sets]})
    return out


def copy_levels(caches: dict[str, Any], quick: bool = False,
                memory: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The levels to time a copy at: half of L2, half of L3, and only DRAM
    (``DRAM_CACHE_MULTIPLE`` times the largest cache, at least 256 MiB, at most half the free
    memory), each with its ladder of working sets (:func:`ladder`); with notes."""
    notes: list[str] = []
    sizes = {k: caches[k] for k in ("L2", "L3") if caches.get(k)}
    if not sizes:
        sizes = dict(FIXED_CACHES)
        notes.append("cache sizes unreadable from sysfs: assumed L2 1 MiB and L3 8 MiB")
    levels = [{"level": name, "capacity_bytes": size, "working_set_bytes": size // 2}
              for name, size in sorted(sizes.items(), key=lambda item: item[1])]
    dram = max(DRAM_MIN_BYTES, DRAM_CACHE_MULTIPLE * max(sizes.values()))
    if memory and dram > memory // 2:
        dram = memory // 2
        notes.append(f"DRAM working set capped at half the free memory ({dram / MiB:.0f} MiB)")
    levels.append({"level": "DRAM", "capacity_bytes": None, "working_set_bytes": dram})
    levels = ladder(levels)
    if quick:
        levels = shrink(levels)
        notes.append("quick sizes (FNBENCH_ROOFLINE_QUICK): small kernels and working sets, "
                     "not the machine's ceilings")
    return levels, notes


def summary(m: "measure.Measurement") -> dict[str, Any]:
    """Seconds per call: the fastest sample (``best_seconds``, what a ceiling uses: a roof is a
    maximum, and STREAM too reports the best time; a busy machine slows most samples, not the
    best) and the estimate (``seconds``, geometric mean of the round medians, as records use);
    rounds and the re-run interval's relative half-width."""
    return {"best_seconds": m.stats.min, "seconds": m.estimate,
            "rounds": len(m.rounds),
            "rel_interval": m.interval.rel_half_width if m.interval else None}


def time_copy(make_block: Callable[[int], "measure.TimeBlock"], working_set: int,
              proto: "measure.Protocol") -> dict[str, Any]:
    """Bandwidth of a copy that moves ``working_set`` bytes (read + write) per call."""
    m = measure.measure(make_block(working_set), proto, calls_per_sample=None)
    out = summary(m)
    out["bytes_per_s"] = working_set / out["best_seconds"]
    out["bytes_per_s_typical"] = working_set / out["seconds"]
    return out


def numpy_copy(working_set: int) -> "measure.TimeBlock":
    """A timed ``np.copyto`` between two float32 buffers of ``working_set / 2`` bytes each."""
    n = max(1, working_set // 8)
    src = np.ones(n, dtype=np.float32)
    dst = np.zeros_like(src)

    def time_block(calls: int) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            np.copyto(dst, src)
        return time.perf_counter() - start
    return time_block


def bandwidths(levels: list[dict[str, Any]], make_block: Callable[[int], "measure.TimeBlock"],
               proto: "measure.Protocol", step: Callable[[str], None]) -> list[dict[str, Any]]:
    """Each level with the copy bandwidth at each of its points; the level's own
    ``bytes_per_s`` is the one at its own working set."""
    out = []
    for entry in levels:
        points = []
        for point in entry["points"]:
            ws = point["working_set_bytes"]
            step(f"copy {ws / MiB:.1f} MiB ({entry['level']})")
            points.append({"working_set_bytes": ws, **time_copy(make_block, ws, proto)})
        own = next(p for p in points if p["working_set_bytes"] == entry["working_set_bytes"])
        out.append({**entry, "points": points, "bytes_per_s": own["bytes_per_s"]})
    return out


def ort_kernel(path: str, input_shape: list[int], threads: int) -> "measure.TimeBlock":
    """A timed ONNX Runtime session of one kernel graph, fed a fixed random input."""
    sess = ort_session.session(path, threads)
    x = np.random.default_rng(0).standard_normal(input_shape, dtype=np.float32)
    feed = {sess.get_inputs()[0].name: x}

    def time_block(calls: int) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            sess.run(None, feed)
        return time.perf_counter() - start
    return time_block


def time_kernel(kernel: dict[str, Any], block: "measure.TimeBlock",
                proto: "measure.Protocol") -> dict[str, Any]:
    """One kernel's MAC/s from its measured seconds per call."""
    out = {k: v for k, v in kernel.items() if k != "file"}
    out.update(summary(measure.measure(block, proto, calls_per_sample=None)))
    out["macs_per_s"] = kernel["macs"] / out["best_seconds"]
    out["macs_per_s_typical"] = kernel["macs"] / out["seconds"]
    return out


def assemble(kernels: list[dict[str, Any]], levels: list[dict[str, Any]],
             caches: dict[str, Any], copy: str, notes: list[str]) -> dict[str, Any]:
    """The measured ceilings: every kernel, the best as the peak, and each level's bandwidth."""
    best = max(kernels, key=lambda k: k["macs_per_s"])
    busy = busy_note()
    return {"peak_macs_per_s": best["macs_per_s"], "peak_kernel": best["name"],
            "kernels": kernels, "levels": levels, "caches": caches, "copy": copy,
            "notes": notes + ([busy] if busy else [])}


def busy_note() -> str | None:
    """A note when the 1-minute load average exceeds the CPUs: ceilings may then be low."""
    cpus = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load <= cpus:
        return None
    return (f"the machine was busy while measuring (load average {load:.1f} on {cpus} CPUs): "
            "ceilings may be low; measure again with --refresh when it is quiet")


def measure_onnxruntime(spec: dict[str, Any], folder: str,
                        step: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Ceilings under ONNX Runtime: the kernels of ``spec`` (ONNX files in ``folder``) with
    ``spec["threads"]`` intra-op threads, and numpy copies at each cache level."""
    quick, threads = bool(spec.get("quick")), int(spec["threads"])
    proto = protocol(quick)
    kernels = []
    for kernel in spec["kernels"]:
        step(f"{kernel['name']} (onnxruntime, {threads} thread(s))")
        block = ort_kernel(os.path.join(folder, kernel["file"]), kernel["input_shape"], threads)
        kernels.append(time_kernel(kernel, block, proto))
    caches = read_caches()
    levels, notes = copy_levels(caches, quick, available_memory())
    levels = bandwidths(levels, numpy_copy, proto, step)
    return assemble(kernels, levels, caches,
                    "numpy.copyto, single-threaded (the thread count does not apply)", notes)


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    """On a board: measure the ceilings the spec asks for and print them as JSON events."""
    spec_path = sys.argv[1]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    folder = os.path.dirname(os.path.abspath(spec_path))
    ceilings = measure_onnxruntime(spec, folder, lambda text: emit(event="step", text=text))
    ceilings["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    emit(event="ceilings", ceilings=ceilings, torch_loaded="torch" in sys.modules,
         fnbench_loaded=any(name.startswith("fnbench") for name in sys.modules))


if __name__ == "__main__":
    main()
