"""FLOPs (as MACs), parameters and memory access.

Operators use the paper's closed-form formulas; models are counted by tracing (fvcore for MACs,
forward hooks for memory access). Every count is per sample.
"""

from __future__ import annotations

import torch
import torch.nn as nn

BYTES_PER_ELEMENT = 4  # FP32


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


def fvcore_macs(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[float, dict[str, int]]:
    """MACs of one sample of ``input_shape`` counted by fvcore, and the ops it could not count.

    ``uncounted`` keeps only ops with real arithmetic: fvcore's own ignore list (shape ops,
    in-place copies) is not reported.
    """
    from fvcore.nn import FlopCountAnalysis

    module = module.eval()
    x = torch.randn(1, *input_shape)
    analysis = FlopCountAnalysis(module, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    with torch.no_grad():
        total = float(analysis.total())
    uncounted = {op: int(n) for op, n in analysis.unsupported_ops().items()}
    return total, uncounted


def traced_memory_bytes(module: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Per-layer memory access of one sample: inputs, outputs and weights of every leaf module."""
    total = 0

    def numel(value: object) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel()
        if isinstance(value, (tuple, list)):
            return sum(numel(v) for v in value)
        return 0

    def hook(mod: nn.Module, inputs: tuple, output: object) -> None:
        nonlocal total
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
    return float(total * BYTES_PER_ELEMENT)
