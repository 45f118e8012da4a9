"""Inference preparation: train-time branches re-parameterised and BatchNorm folded into the
convolution before it, as the paper does for every model."""

from __future__ import annotations

from collections import Counter

import torch.fx as fx
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from fnbench.errors import raise_if_interrupted

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_batchnorm(module: nn.Module) -> int:
    """BatchNorm layers (subclasses included) in ``module``."""
    return sum(isinstance(m, _BN) for m in module.modules())


def _rest_after_folding(conv: nn.Module, bn: nn.Module) -> nn.Module | None:
    """What replaces ``bn`` once its statistics are folded into ``conv``: nothing for a plain BN,
    drop + activation for timm's BatchNormAct2d; None when the pair cannot be folded."""
    if not (isinstance(conv, _CONV) and isinstance(bn, _BN) and bn.track_running_stats):
        return None
    if type(bn) in _BN:
        return nn.Identity()
    if hasattr(bn, "act"):
        return nn.Sequential(getattr(bn, "drop", nn.Identity()), bn.act)
    return None


def _fuse_sequential(module: nn.Module) -> None:
    """Fold every BN that directly follows a conv inside an nn.Sequential."""
    for child in module.children():
        _fuse_sequential(child)
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            rest = _rest_after_folding(conv, bn)
            if rest is not None:
                module._modules[first] = fuse_conv_bn_eval(conv, bn)
                module._modules[second] = rest


def _fuse_conv_norm_act(module: nn.Module) -> None:
    """Fold timm's ConvNormAct (``conv``, then ``bn``: a BatchNormAct2d), whose forward applies
    them in that order."""
    for parent in module.modules():
        conv, bn = getattr(parent, "conv", None), getattr(parent, "bn", None)
        rest = _rest_after_folding(conv, bn) if type(bn) not in _BN else None
        if rest is not None:
            parent.conv = fuse_conv_bn_eval(conv, bn)
            parent.bn = rest


class _NormLeafTracer(fx.Tracer):
    """Keeps every BatchNorm (timm's BatchNormAct2d too) a module call in the traced graph."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, _BN) or super().is_leaf_module(module, qualified_name)


def _replace(root: nn.Module, qualified_name: str, module: nn.Module) -> None:
    parent, _, name = qualified_name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, module)


def _fuse_traced(module: nn.Module) -> nn.Module:
    """Fold conv -> BN pairs found by torch.fx tracing (each conv used once, feeding only its
    BN); the module unchanged if it does not trace or has no such pair."""
    try:
        traced = fx.GraphModule(module, _NormLeafTracer().trace(module))
    except Exception:  # noqa: BLE001 - many models do not trace; they run unfused, and say so
        raise_if_interrupted()
        return module
    modules = dict(traced.named_modules())
    calls = Counter(n.target for n in traced.graph.nodes if n.op == "call_module")
    folded = 0
    for node in traced.graph.nodes:
        source = node.args[0] if node.op == "call_module" and node.args else None
        if not isinstance(source, fx.Node) or source.op != "call_module":
            continue
        conv, bn = modules[source.target], modules[node.target]
        rest = _rest_after_folding(conv, bn)
        if rest is not None and len(source.users) == 1 and calls[source.target] == 1 \
                and calls[node.target] == 1:
            _replace(traced, source.target, fuse_conv_bn_eval(conv, bn))
            _replace(traced, node.target, rest)
            folded += 1
    if not folded:
        return module
    traced.recompile()
    return traced


def _functional_batchnorms(module: nn.Module) -> int:
    """batch_norm calls a traced graph makes outside BN modules (they cannot be folded)."""
    if not isinstance(module, fx.GraphModule):
        return 0
    return sum(n.op == "call_function" and "batch_norm" in str(n.target)
               for n in module.graph.nodes)


_REPARAMETERIZE = ("fuse", "reparameterize", "switch_to_deploy")


def reparameterize(module: nn.Module) -> int:
    """Fold RepVGG-style train-time branches (RepViT, FastViT, MobileOne, ...) with timm's
    ``reparameterize_model``; returns how many submodules offered it (0: nothing changed)."""
    offered = sum(any(hasattr(m, name) for name in _REPARAMETERIZE)
                  for m in module.modules() if m is not module)
    if offered:
        from timm.utils.model import reparameterize_model

        reparameterize_model(module, inplace=True)
    return offered


def fuse_batchnorm(module: nn.Module) -> tuple[nn.Module, int, int]:
    """Put ``module`` in eval mode and fold its BatchNorms into the preceding convolutions.

    Returns (module, folded, left). A BN after something other than a conv stays and is counted
    in ``left``. Callers check the outputs (``build_for_inference`` does).
    """
    module = module.eval()
    before = count_batchnorm(module)
    _fuse_sequential(module)
    _fuse_conv_norm_act(module)
    if count_batchnorm(module):
        module = _fuse_traced(module)
    left = count_batchnorm(module) + _functional_batchnorms(module)
    return module, before - count_batchnorm(module), left
