"""CycleMLP (Chen et al., ICLR 2022, "CycleMLP: A MLP-like Architecture for Dense Prediction").

A 7x7/4 conv stem, four stages of CycleMLP blocks joined by 3x3/2 convs, LayerNorm, mean pooling
and a Linear head; features stay channels-last (B, H, W, C) inside the stages.

The official CycleFC is ``torchvision.ops.deform_conv2d`` with a 1x1 kernel and fixed integer
offsets: input channel ``i`` is read shifted by ``(i + k // 2) % k - k // 2`` along one axis
(k = 3), with zeros beyond the border, then mixed by a 1x1 weight plus bias. Here the shift is done
with padding and slicing, grouping the channels that share a shift, and the mixing is one
``F.linear``. The result is the same; fvcore counts the linear (C_in * C_out MACs per position,
what the official operator multiplies) and nothing for the shift, which has no arithmetic. Only
this count fits the paper: B1 comes to 2.13 G and B2 to 3.89 G (paper 2.10 and 3.90, the CycleMLP
paper's 2.1 and 3.9); leaving CycleFC out would give 1.82 G for B1, counting its k = 3 taps 2.76 G.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class CycleMLPConfig:
    """Hyper-parameters of one CycleMLP variant."""

    layers: tuple[int, int, int, int]
    embed_dims: tuple[int, int, int, int] = (64, 128, 320, 512)
    mlp_ratios: tuple[int, int, int, int] = (4, 4, 4, 4)


CONFIGS: dict[str, CycleMLPConfig] = {
    "cyclemlp_b1": CycleMLPConfig(layers=(2, 2, 4, 2)),
    "cyclemlp_b2": CycleMLPConfig(layers=(2, 3, 10, 3)),
}


def cycle_shift(channel: int, size: int) -> int:
    """Shift of input ``channel`` along a CycleFC axis of ``size`` taps (official offsets)."""
    return (channel + size // 2) % size - size // 2


class CycleFC(nn.Module):
    """Cycle fully-connected layer on channels-last input (B, H, W, C_in) -> (B, H, W, C_out).

    ``kernel_size`` is (1, k) to shift along the width or (k, 1) along the height, as in the
    official code. ``weight`` keeps the official (C_out, C_in, 1, 1) layout.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int]) -> None:
        super().__init__()
        if 1 not in kernel_size:
            raise ValueError(f"kernel_size must be (1, k) or (k, 1), got {kernel_size}")
        self.kernel_size = tuple(kernel_size)
        self.taps = max(kernel_size)
        self.axis = 2 if kernel_size[0] == 1 else 1  # shift along W or H of (B, H, W, C)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.empty(out_channels))
        # Channels i = r (mod taps) share a shift; the shifted map holds them group by group, so
        # the weight's input columns are taken in that order.
        self.residues = min(self.taps, in_channels)
        order = torch.cat([torch.arange(r, in_channels, self.taps) for r in range(self.residues)])
        self.register_buffer("order", order, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv2d's default initialisation, as the official layer."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.weight.shape[1])
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length, half = x.shape[self.axis], self.taps // 2
        pad = (0, 0, half, half) if self.axis == 2 else (0, 0, 0, 0, half, half)
        padded = F.pad(x, pad)
        groups = [padded[..., r::self.taps].narrow(self.axis, half + cycle_shift(r, self.taps),
                                                   length)
                  for r in range(self.residues)]
        shifted = torch.cat(groups, dim=-1)
        return F.linear(shifted, self.weight.flatten(1)[:, self.order], self.bias)

    def extra_repr(self) -> str:
        out_channels, in_channels = self.weight.shape[:2]
        return f"{in_channels}, {out_channels}, kernel_size={self.kernel_size}"


class Mlp(nn.Module):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int, out: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out or dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class CycleMLP(nn.Module):
    """Token mixer: a height CycleFC, a width CycleFC and a channel FC, fused by weights a small
    MLP predicts from their pooled sum (split attention), then a projection."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp_c = nn.Linear(dim, dim, bias=False)
        self.sfc_h = CycleFC(dim, dim, (1, 3))
        self.sfc_w = CycleFC(dim, dim, (3, 1))
        self.reweight = Mlp(dim, dim // 4, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, _, c = x.shape
        h, w, ch = self.sfc_h(x), self.sfc_w(x), self.mlp_c(x)
        a = (h + w + ch).flatten(1, 2).mean(1)
        a = self.reweight(a).reshape(b, c, 3).permute(2, 0, 1).softmax(dim=0)[:, :, None, None]
        return self.proj(h * a[0] + w * a[1] + ch * a[2])


class CycleBlock(nn.Module):
    """Pre-norm block: x + CycleMLP(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, dim: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CycleMLP(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Downsample(nn.Module):
    """3x3 stride-2 conv between stages, channels-last in and out."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_dim, out_dim, kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class CycleNet(nn.Module):
    """CycleMLP classifier."""

    def __init__(self, config: CycleMLPConfig, num_classes: int = 1000) -> None:
        super().__init__()
        dims = config.embed_dims
        self.patch_embed = nn.Conv2d(3, dims[0], kernel_size=7, stride=4, padding=2)
        network: list[nn.Module] = []
        for i, (depth, dim) in enumerate(zip(config.layers, dims)):
            if i > 0:
                network.append(Downsample(dims[i - 1], dim))
            network.append(nn.Sequential(*(CycleBlock(dim, config.mlp_ratios[i])
                                           for _ in range(depth))))
        self.network = nn.Sequential(*network)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.network(self.patch_embed(x).permute(0, 2, 3, 1))
        return self.head(self.norm(x.flatten(1, 2)).mean(1))


def _init_weights(module: nn.Module) -> None:
    """The official initialisation: truncated normal Linear and CycleFC weights, zero biases."""
    if isinstance(module, (nn.Linear, CycleFC)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def cyclemlp_b1(num_classes: int = 1000, **kwargs) -> nn.Module:
    """CycleMLP-B1: layers 2-2-4-2 (15.2 M params, 2.10 G MACs in the paper)."""
    return CycleNet(CONFIGS["cyclemlp_b1"], num_classes=num_classes, **kwargs)


def cyclemlp_b2(num_classes: int = 1000, **kwargs) -> nn.Module:
    """CycleMLP-B2: layers 2-3-10-3 (26.8 M params, 3.90 G MACs in the paper)."""
    return CycleNet(CONFIGS["cyclemlp_b2"], num_classes=num_classes, **kwargs)
