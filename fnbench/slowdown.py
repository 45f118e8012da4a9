"""A test hook that makes chosen workloads really slower, without changing what they are.

``FNBENCH_TEST_SLOWDOWN="NAME=FACTOR[,NAME=FACTOR...]"`` makes every timed call of the workload
named NAME (a record's ``name``, e.g. ``conv3x3-8x4x4-L1`` or ``fasternet_t0``) take FACTOR
times as long: after each call the timing loop busy-waits for ``(FACTOR - 1)`` times that
call's own duration, inside the timed block. The workload, its key and its hash stay the same,
so ``fnbench compare`` sees the same record, measured slower — a regression made to order, for
testing the comparison end to end. The record's notes carry ``test_slowdown`` so that a run made
with the hook says so. It applies to the local CPU paths (PyTorch eager, torch.compile, ONNX
Runtime); not to CUDA (its clock is the GPU's) or boards.

This is a test hook: never set it for a measurement you mean to keep.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, Mapping

from fnbench.errors import UsageError

VARIABLE = "FNBENCH_TEST_SLOWDOWN"
MAX_FACTOR = 100.0


def slowdowns(environ: Mapping[str, str] | None = None) -> dict[str, float]:
    """The workloads the hook slows, by name, with their factors (empty when unset);
    UsageError for a value that is not ``NAME=FACTOR`` pairs with 1 <= FACTOR <= 100."""
    text = (os.environ if environ is None else environ).get(VARIABLE, "").strip()
    out: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = entry.rpartition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = math.nan
        if not sep or not name.strip() or not 1.0 <= factor <= MAX_FACTOR:
            raise UsageError(f"{VARIABLE}={text!r}: each entry must be NAME=FACTOR with a "
                             f"factor from 1 to {MAX_FACTOR:g}, e.g. conv3x3-8x4x4-L1=1.5 "
                             "(a test hook; unset it for real measurements)")
        out[name.strip()] = factor
    return out


def slowdown_for(name: str) -> float:
    """The factor the hook applies to workload ``name`` (1.0: none)."""
    return slowdowns().get(name, 1.0)


def slowed(call: Callable[[], object], factor: float) -> Callable[[], object]:
    """``call``, followed by busy work of ``factor - 1`` times its own duration (``call``
    itself when the factor is 1)."""
    if factor == 1.0:
        return call
    extra = factor - 1.0

    def slow_call() -> object:
        begin = time.perf_counter()
        result = call()
        deadline = time.perf_counter()
        deadline += (deadline - begin) * extra
        while time.perf_counter() < deadline:
            pass
        return result
    return slow_call
