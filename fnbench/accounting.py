"""FLOPs (as MACs), parameters and memory access.

Operators use the paper's closed-form formulas; models are counted by tracing (fvcore for MACs,
forward hooks for memory access). Every count is per sample.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from fnbench.workload import Accounting

BYTES_PER_ELEMENT = 4  # FP32, the default
#: Bytes per element of each ``--dtype``: memory access is counted in the dtype measured.
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


def conv_macs(c_in: int, c_out: int, k: int, h: int, w: int, groups: int = 1) -> float:
    """MACs of a k x k convolution producing an h x w map (stride 1, 'same' padding)."""
    return h * w * k * k * c_in * c_out / groups


def conv_params(c_in: int, c_out: int, k: int, groups: int = 1) -> int:
    """Weights of a k x k convolution without bias."""
    return k * k * c_in * c_out // groups


def conv_memory_elements(c_in: int, c_out: int, k: int, h: int, w: int, groups: int = 1) -> float:
    """The paper's memory access of a convolution: input and output maps plus the weights."""
    return h * w * (c_in + c_out) + conv_params(c_in, c_out, k, groups)


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def _shape(value: Any) -> list[int]:
    return value.type().sizes()


def _sdpa_macs(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of aten::scaled_dot_product_attention: Q K^T and the weighted sum of V."""
    q, k, v = (_shape(value) for value in inputs[:3])
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def fvcore_macs(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[float, dict[str, int]]:
    """MACs of one sample of ``input_shape`` counted by fvcore, and the ops it could not count.

    Fused attention (``scaled_dot_product_attention``) is counted too. ``uncounted`` keeps only
    ops fvcore has no formula for; its own ignore list (shape ops, copies) is not reported.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # fvcore scripts a loss at import
        from fvcore.nn import FlopCountAnalysis

    module = module.eval()
    x = torch.randn(1, *input_shape)
    analysis = FlopCountAnalysis(module, x)
    analysis.set_op_handle("aten::scaled_dot_product_attention", _sdpa_macs)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter, not findings
        total = float(analysis.total())
    uncounted = {op: int(n) for op, n in analysis.unsupported_ops().items()}
    return total, uncounted


def traced_memory_bytes(module: nn.Module, input_shape: tuple[int, ...],
                        element_bytes: int = BYTES_PER_ELEMENT) -> float:
    """Per-layer memory access of one sample: inputs, outputs and weights of every leaf module,
    ``element_bytes`` bytes per element."""
    return traced_memory(module, input_shape, element_bytes)[0]


def traced_memory(module: nn.Module, input_shape: tuple[int, ...],
                  element_bytes: int = BYTES_PER_ELEMENT) -> tuple[float, int]:
    """Memory access of one sample (as :func:`traced_memory_bytes`) and the number of leaf-module
    calls it is spread over (the model's layers, for the roofline's working set)."""
    total = calls = 0

    def numel(value: object) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel()
        if isinstance(value, (tuple, list)):
            return sum(numel(v) for v in value)
        return 0

    def hook(mod: nn.Module, inputs: tuple, output: object) -> None:
        nonlocal total, calls
        calls += 1
        weights = sum(p.numel() for p in mod.parameters(recurse=False))
        weights += sum(b.numel() for b in mod.buffers(recurse=False))
        total += numel(inputs) + numel(output) + weights

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            module.eval()(torch.randn(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return float(total * element_bytes), calls


@contextmanager
def unfused_timm_attention() -> Iterator[None]:
    """Build timm models with explicit attention matmuls, which tracers can count."""
    from timm.layers import set_fused_attn, use_fused_attn

    previous = use_fused_attn()
    set_fused_attn(False)
    try:
        yield
    finally:
        set_fused_attn(previous)


def structure_hash(module: nn.Module) -> str:
    """A digest of what runs: every submodule's name and type and every parameter's and buffer's
    name and shape (not their values). Two builds of the same architecture share it."""
    digest = hashlib.sha256()
    for name, sub in module.named_modules():
        digest.update(f"m {name} {type(sub).__module__}.{type(sub).__qualname__}\n".encode())
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        digest.update(f"t {name} {tuple(tensor.shape)} {tensor.dtype}\n".encode())
    return digest.hexdigest()[:16]


def model_accounting(build: Callable[[], nn.Module], input_shape: tuple[int, ...],
                     element_bytes: int = BYTES_PER_ELEMENT) -> Accounting:
    """MACs (fvcore, before BN folding, attention included), params and per-layer memory access
    (``element_bytes`` per element) of the model ``build`` returns, per sample."""
    with unfused_timm_attention():
        model = build().eval()
    macs, uncounted = fvcore_macs(model, input_shape)
    memory, calls = traced_memory(model, input_shape, element_bytes)
    return Accounting(flops=macs, params=count_params(model), memory_bytes=memory,
                      uncounted_ops=uncounted, structure_hash=structure_hash(model),
                      layers=calls or None)
