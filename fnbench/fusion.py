"""Inference preparation: BatchNorm folded into the convolution before it, as the paper does."""

from __future__ import annotations

import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_batchnorm(module: nn.Module) -> int:
    """BatchNorm layers (subclasses included) in ``module``."""
    return sum(isinstance(m, _BN) for m in module.modules())


def _fuse_sequential(module: nn.Module) -> int:
    """Fold every plain BN that directly follows a conv inside an nn.Sequential."""
    fused = sum(_fuse_sequential(child) for child in module.children())
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if isinstance(conv, _CONV) and type(bn) in _BN and bn.track_running_stats:
                module._modules[first] = fuse_conv_bn_eval(conv, bn)
                module._modules[second] = nn.Identity()
                fused += 1
    return fused


def _fuse_traced(module: nn.Module) -> nn.Module:
    """Fold conv -> BN pairs found by torch.fx tracing; the module unchanged if it won't trace."""
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(module)
    except Exception:  # noqa: BLE001 - many models do not trace; they run unfused, and say so
        return module


def fuse_batchnorm(module: nn.Module) -> tuple[nn.Module, int, int]:
    """Put ``module`` in eval mode and fold its BatchNorms into the preceding convolutions.

    Returns (module, folded, left). A BN after something other than a conv, or one fused with an
    activation (timm's BatchNormAct2d), stays and is counted in ``left``.
    """
    module = module.eval()
    before = count_batchnorm(module)
    _fuse_sequential(module)
    if count_batchnorm(module):
        module = _fuse_traced(module)
    left = count_batchnorm(module)
    return module, before - left, left
