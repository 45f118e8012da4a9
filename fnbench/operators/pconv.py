"""Partial convolution (PConv): a k x k conv on the first ``ratio`` of the channels, the rest
passed through untouched."""

from __future__ import annotations

import math
from fractions import Fraction

import torch
import torch.nn as nn

FORWARD_FORMS = ("split_cat", "slicing")


def partial_channels(channels: int, ratio: float) -> int:
    """Channels PConv convolves: floor(channels * ratio), at least one (as the official code)."""
    exact = Fraction(channels) * Fraction(ratio).limit_denominator(1 << 16)
    return max(1, math.floor(exact))


class PConv(nn.Module):
    """Partial convolution.

    ``split_cat`` splits the channels, convolves the first part and concatenates (exports cleanly
    to ONNX). ``slicing`` clones the input and writes the convolved channels in place; the clone
    keeps it safe when the input also feeds a residual connection.
    """

    def __init__(self, channels: int, ratio: float = 0.25, kernel_size: int = 3,
                 forward_form: str = "split_cat") -> None:
        super().__init__()
        if forward_form not in FORWARD_FORMS:
            raise ValueError(f"forward_form must be one of {FORWARD_FORMS}, got {forward_form!r}")
        self.channels = channels
        self.conv_channels = partial_channels(channels, ratio)
        self.forward_form = forward_form
        self.conv = nn.Conv2d(self.conv_channels, self.conv_channels, kernel_size, 1,
                              kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cp = self.conv_channels
        if self.forward_form == "slicing":
            x = x.clone()
            x[:, :cp] = self.conv(x[:, :cp])
            return x
        head, tail = torch.split(x, [cp, self.channels - cp], dim=1)
        return torch.cat((self.conv(head), tail), dim=1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, conv_channels={self.conv_channels}, " \
               f"forward_form={self.forward_form}"
