"""The operators of the paper's Table 1 (and PWConv and PConv + PWConv), as data.

Each operator knows how to build one layer at ``channels`` and its per-layer MACs, parameters and
memory access by the paper's formulas (memory in elements; FP32 bytes are 4x).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import torch.nn as nn

from fnbench.accounting import conv_macs, conv_memory_elements, conv_params
from fnbench.operators.pconv import PConv, partial_channels


@dataclass(frozen=True)
class LayerConfig:
    """One operator layer: c -> c channels on an h x w map."""

    channels: int
    height: int
    width: int
    ratio: float = 0.25
    groups: int = 16
    impl: str = "split_cat"


@dataclass(frozen=True)
class LayerCost:
    macs: float
    params: int
    memory_elements: float


def partial_label(channels: int, ratio: float) -> str:
    """What PConv convolves: 'r1/4' (the paper's form) when floor(c r) / c is exactly the ratio,
    else the channel count itself, 'cp95of96', so that a label never rounds what runs."""
    cp = partial_channels(channels, ratio)
    share = Fraction(cp, channels)
    if share == Fraction(ratio).limit_denominator(1 << 16):
        return f"r{share}"
    return f"cp{cp}of{channels}"


def _conv_cost(c_in: int, c_out: int, k: int, cfg: LayerConfig, groups: int = 1) -> LayerCost:
    return LayerCost(conv_macs(c_in, c_out, k, cfg.height, cfg.width, groups),
                     conv_params(c_in, c_out, k, groups),
                     conv_memory_elements(c_in, c_out, k, cfg.height, cfg.width, groups))


def _plus(a: LayerCost, b: LayerCost) -> LayerCost:
    return LayerCost(a.macs + b.macs, a.params + b.params, a.memory_elements + b.memory_elements)


def _conv(k: int, groups_of: Callable[[LayerConfig], int]) -> Callable[[LayerConfig], nn.Module]:
    def build(cfg: LayerConfig) -> nn.Module:
        return nn.Conv2d(cfg.channels, cfg.channels, k, 1, k // 2, groups=groups_of(cfg),
                         bias=False)
    return build


def _pconv(cfg: LayerConfig) -> nn.Module:
    return PConv(cfg.channels, cfg.ratio, 3, cfg.impl)


def _pconv_pwconv(cfg: LayerConfig) -> nn.Module:
    return nn.Sequential(_pconv(cfg), nn.Conv2d(cfg.channels, cfg.channels, 1, bias=False))


def _pconv_label(cfg: LayerConfig) -> str:
    return f"pconv3x3_{partial_label(cfg.channels, cfg.ratio)}"


def _pconv_cost(cfg: LayerConfig) -> LayerCost:
    cp = partial_channels(cfg.channels, cfg.ratio)
    return _conv_cost(cp, cp, 3, cfg)


@dataclass(frozen=True)
class OperatorSpec:
    """An operator of the zoo: its name, how to label, build and cost one layer."""

    name: str
    description: str
    label: Callable[[LayerConfig], str]
    build: Callable[[LayerConfig], nn.Module]
    cost: Callable[[LayerConfig], LayerCost]
    groups: Callable[[LayerConfig], int]
    uses_ratio: bool = False


OPERATORS: dict[str, OperatorSpec] = {spec.name: spec for spec in (
    OperatorSpec("conv", "regular 3x3 convolution",
                 lambda c: "conv3x3", _conv(3, lambda c: 1),
                 lambda c: _conv_cost(c.channels, c.channels, 3, c), lambda c: 1),
    OperatorSpec("gconv", "3x3 group convolution (--groups, default 16)",
                 lambda c: f"gconv3x3_g{c.groups}", _conv(3, lambda c: c.groups),
                 lambda c: _conv_cost(c.channels, c.channels, 3, c, c.groups),
                 lambda c: c.groups),
    OperatorSpec("dwconv", "3x3 depthwise convolution",
                 lambda c: "dwconv3x3", _conv(3, lambda c: c.channels),
                 lambda c: _conv_cost(c.channels, c.channels, 3, c, c.channels),
                 lambda c: c.channels),
    OperatorSpec("pwconv", "1x1 pointwise convolution",
                 lambda c: "pwconv1x1", _conv(1, lambda c: 1),
                 lambda c: _conv_cost(c.channels, c.channels, 1, c), lambda c: 1),
    OperatorSpec("pconv", "3x3 partial convolution on --ratio of the channels",
                 _pconv_label, _pconv, _pconv_cost,
                 lambda c: 1, uses_ratio=True),
    OperatorSpec("pconv_pwconv", "PConv followed by PWConv (a T-shaped conv)",
                 lambda c: f"{_pconv_label(c)}+pwconv1x1", _pconv_pwconv,
                 lambda c: _plus(_pconv_cost(c), _conv_cost(c.channels, c.channels, 1, c)),
                 lambda c: 1, uses_ratio=True),
)}
