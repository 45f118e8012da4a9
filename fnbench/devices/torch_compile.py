"""``--runtime torch-compile``: ``torch.compile`` (inductor) of the BN-folded module.

Compilation happens in prepare: the first call traces and compiles (its time is the record's
``compile_s``, never a latency sample), then the compiled output is checked against eager's.
Every workload is compiled with static shapes (``dynamic=False``): a run compiles many modules
of the same class (every operator stack is an ``nn.Sequential``), and dynamo's automatic dynamic
shapes would otherwise compile the second one for symbolic shapes — other kernels than a
deployed model gets. For the same reason the recompile limit is raised while compiling, and
hitting it is an error instead of a silent fall-back to eager.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn as nn

from fnbench.devices.torch_eager import output_errors

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
#: Compiled against eager output in the same dtype: max |difference| / max |eager|. Inductor
#: fuses and reorders, so narrower types get a looser bound, and so does fp32 on a GPU, where
#: cuDNN convolves in TF32 (10-bit mantissa) and may pick other algorithms for each.
COMPILE_RTOL = {"fp32": 1e-3, "fp16": 1e-2, "bf16": 5e-2}
GPU_FP32_RTOL = 1e-2
#: Distinct compiled graphs one code object (e.g. ``nn.Sequential.forward``) may hold in a run.
RECOMPILE_LIMIT = 4096


class CompileError(RuntimeError):
    """torch.compile compiled nothing: dynamo gave up and would run the module eagerly."""


class CompileParityError(RuntimeError):
    """The compiled module's output differs from eager's; ``notes`` say by how much."""

    def __init__(self, message: str, notes: dict[str, Any]) -> None:
        super().__init__(message)
        self.notes = notes


def _counts() -> dict[str, Any]:
    """Dynamo's and inductor's process-wide counters that prepare reports as differences."""
    from torch._dynamo.utils import counters

    return {"graphs": counters["stats"]["unique_graphs"],
            "graph_breaks": sum(counters["graph_break"].values()),
            "cache_hits": counters["inductor"]["fxgraph_cache_hit"],
            "unsupported": dict(counters["unimplemented"])}


def _gave_up(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """Dynamo's reason when it captured no graph and fell back to eager, else None (a module
    compiled earlier in this process is reused without a new graph: not a failure)."""
    if after["graphs"] > before["graphs"]:
        return None
    new = [reason for reason, count in after["unsupported"].items()
           if count > before["unsupported"].get(reason, 0)]
    return new[0].strip().splitlines()[0] if new else None


def _first_call(compiled: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The call that compiles, timed to completion (synchronised on a GPU)."""
    import torch._dynamo.config as dynamo_config

    with dynamo_config.patch(recompile_limit=RECOMPILE_LIMIT,
                             accumulated_recompile_limit=RECOMPILE_LIMIT,
                             fail_on_recompile_limit_hit=True), torch.inference_mode():
        started = time.perf_counter()
        out = compiled(x)
        if out.is_cuda:
            torch.cuda.synchronize()
        return out, time.perf_counter() - started


def compile_checked(module: nn.Module, x: torch.Tensor, mode: str, dtype: str
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """``torch.compile(module, mode=mode)`` compiled now for input ``x`` and checked against
    eager; returns the compiled module and notes (``compile_s``, ``compile_rel_err``, graphs,
    graph breaks, inductor cache hits). A mismatch raises :class:`CompileParityError`."""
    with torch.inference_mode():
        reference = module(x).float().cpu()
    compiled = torch.compile(module, mode=mode, dynamic=False)
    before = _counts()
    out, seconds = _first_call(compiled, x)
    after = _counts()
    reason = _gave_up(before, after)
    if reason:
        raise CompileError(f"torch.compile fell back to eager (dynamo: {reason}): this module "
                           "cannot be compiled; use --runtime torch")
    _, rel_err = output_errors(reference, out.float().cpu())
    notes = {"compile_mode": mode, "compile_s": round(seconds, 3), "compile_rel_err": rel_err,
             "compiled_graphs": after["graphs"] - before["graphs"],
             "graph_breaks": after["graph_breaks"] - before["graph_breaks"],
             "compile_cache_hits": after["cache_hits"] - before["cache_hits"]}
    rtol = GPU_FP32_RTOL if x.is_cuda and dtype == "fp32" else COMPILE_RTOL[dtype]
    if not rel_err <= rtol:
        raise CompileParityError(f"torch.compile output differs from eager: relative error "
                                 f"{rel_err:.2e} above {rtol} ({dtype})", notes)
    return compiled, notes
