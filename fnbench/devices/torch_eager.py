"""PyTorch eager on the CPU or a CUDA GPU: the paper's own runtime."""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn as nn

from fnbench.devices.ort_session import output_errors  # noqa: F401 - one definition
from fnbench.fusion import fuse_batchnorm, reparameterize
from fnbench.workload import Workload

FUSION_RTOL = 1e-3  # FP32 re-association after folding stays far below this
#: ``--dtype`` names and the torch dtypes they cast to (the module and the input are cast, as
#: the paper measured; autocast would keep fp32 copies and casts around each op).
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def build_for_inference(workload: Workload, seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """The workload's module in eval mode, re-parameterised and with BN folded, built under a
    fixed seed. Its notes include the checksum of the unfolded model's output on the batch-1
    input of ``seed``."""
    torch.manual_seed(seed)
    module = workload.build().eval()
    _check_finite_weights(module)
    x = make_input(workload, 1, seed)
    with torch.inference_mode():
        reference = module(x)
    if not torch.isfinite(reference).all():
        raise RuntimeError("the model's outputs contain NaN/inf on a random input, before any "
                           "BN folding: check its weights and layers")
    reparameterized = reparameterize(module)
    module, folded, left = fuse_batchnorm(module)
    for p in module.parameters():
        p.requires_grad_(False)
    with torch.inference_mode():
        _, error = output_errors(reference, module(x))
    if not error <= FUSION_RTOL:
        raise RuntimeError(f"folding BN / re-parameterising changed the outputs (relative error "
                           f"{error:.2e} > {FUSION_RTOL}); please report this model")
    return module, {"reparameterized": reparameterized, "bn_folded": folded, "bn_left": left,
                    "fusion_rel_err": error, "output_checksum": output_checksum(reference)}


def output_checksum(output: torch.Tensor) -> list[float]:
    """Sum and sum of absolute values of an output: a fingerprint of the weights that ran."""
    values = output.double()
    return [float(values.sum()), float(values.abs().sum())]


def _check_finite_weights(module: nn.Module) -> None:
    """RuntimeError naming the first parameter or buffer that holds NaN or infinity."""
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise RuntimeError(f"the model's weights contain NaN/inf (first: {name}): load a "
                               f"checkpoint with finite weights")


def make_input(workload: Workload, batch: int, seed: int) -> torch.Tensor:
    """A random FP32 input of the workload's shape, the same for a given seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *workload.input_shape), generator=generator)


def cast(module: nn.Module, x: torch.Tensor, target: str, dtype: str
         ) -> tuple[nn.Module, torch.Tensor, dict[str, Any]]:
    """``module`` and ``x`` moved to ``target`` and cast to ``dtype``. For a narrower dtype the
    notes carry ``dtype_rel_err``: the cast output against the fp32 one (information, not a
    check: narrower types are expected to differ)."""
    module, x = module.to(target), x.to(target)
    if dtype == "fp32":
        return module, x, {}
    with torch.inference_mode():
        reference = module(x).float().cpu()
        module, x = module.to(TORCH_DTYPES[dtype]), x.to(TORCH_DTYPES[dtype])
        candidate = module(x).float().cpu()
    return module, x, {"dtype_rel_err": output_errors(reference, candidate)[1]}


def prepare_module(workload: Workload, batch: int, seed: int, target: str, dtype: str,
                   compile_mode: str | None) -> tuple[nn.Module, torch.Tensor, dict[str, Any]]:
    """The BN-folded module and its input on ``target`` in ``dtype``, compiled with
    ``torch.compile(mode=compile_mode)`` unless that is None, with the notes of each step."""
    module, notes = build_for_inference(workload, seed)
    module, x, cast_notes = cast(module, make_input(workload, batch, seed), target, dtype)
    notes.update(cast_notes, dtype=dtype)
    if compile_mode is not None:
        from fnbench.devices.torch_compile import compile_checked

        module, compile_notes = compile_checked(module, x, compile_mode, dtype)
        notes.update(compile_notes)
    return module, x, notes


def cpu_time_block(module: nn.Module, x: torch.Tensor, slowdown: float = 1.0):
    """Time n calls on the CPU with a monotonic wall clock, autograd off. ``slowdown`` above 1
    is the test hook of :mod:`fnbench.slowdown`: each call is followed by busy work inside the
    timed block, so that the workload takes that many times as long."""
    if slowdown != 1.0:
        from fnbench.slowdown import slowed

        call = slowed(lambda: module(x), slowdown)

        def slow_block(n: int) -> float:
            with torch.inference_mode():
                start = time.perf_counter()
                for _ in range(n):
                    call()
                return time.perf_counter() - start
        return slow_block

    def time_block(n: int) -> float:
        with torch.inference_mode():
            start = time.perf_counter()
            for _ in range(n):
                module(x)
            return time.perf_counter() - start
    return time_block


def cuda_time_block(module: nn.Module, x: torch.Tensor):
    """Time n calls on the GPU with CUDA events: no host sync inside the block."""
    start_event = torch.cuda.Event(enable_timing=True)
    end_event = torch.cuda.Event(enable_timing=True)

    def time_block(n: int) -> float:
        with torch.inference_mode():
            start_event.record()
            for _ in range(n):
                module(x)
            end_event.record()
            end_event.synchronize()
        return start_event.elapsed_time(end_event) / 1000.0
    return time_block
