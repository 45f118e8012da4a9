"""A workload: a named, parameterised thing to run, with its accounting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import torch.nn as nn


@dataclass(frozen=True)
class Accounting:
    """Work and traffic of one sample.

    ``flops`` are multiply-accumulates (MACs) per sample, as the paper and fvcore count them;
    ``memory_bytes`` is memory access per sample in bytes (FP32 unless the run's dtype is
    narrower); ``uncounted_ops`` names the ops
    the FLOP counter had no formula for, with how often each occurred; ``structure_hash`` digests
    the module structure and parameter shapes when the workload was built to count it;
    ``layers`` is how many layers the work is spread over (a model's leaf-module calls).
    """

    flops: float | None
    params: int
    memory_bytes: float | None
    uncounted_ops: Mapping[str, int] = field(default_factory=dict)
    structure_hash: str | None = None
    layers: int | None = None


@dataclass(frozen=True)
class Workload:
    """Builds an ``nn.Module`` and knows its per-sample input shape and accounting.

    ``accounting(element_bytes=4)`` counts it with that many bytes per element (the dtype's).
    ``spec`` describes the workload as plain data (JSON): any process can rebuild it with
    :func:`fnbench.specs.workload_from_spec`. ``meta`` holds suite-specific columns (for
    operators: op, channels, height, ...). ``estimate_memory(batch, runtime)`` is the estimated peak memory in bytes of preparing and
    running it, computed without building it (None: unknown).
    """

    name: str
    suite: str
    family: str
    input_shape: tuple[int, ...]
    build: Callable[[], "nn.Module"]
    accounting: Callable[..., Accounting]
    meta: Mapping[str, Any] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)
    estimate_memory: Callable[[int, str], float | None] | None = None
