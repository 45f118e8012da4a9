"""FasterNet (Chen et al., CVPR 2023), written for fnbench.

Module names follow the official repository (``patch_embed``, ``stages.0..6`` with blocks and
merging layers interleaved, ``avgpool_pre_head``, ``head``), so an official checkpoint's state
dict loads as is. Every BatchNorm directly follows its convolution inside an ``nn.Sequential``,
so ``fnbench.fusion.fuse_batchnorm`` folds them all without tracing.

Ablations (the paper's Table 5, ``ABLATIONS``): "T0*" is T0 with its width changed so that it
stays comparable with the default T0 (r = 1/4, c = 40, 0.34 GFLOPs). Convolving more channels
(r = 1/2) costs FLOPs, so T0* r=1/2 is narrower; convolving fewer (r = 1/8) saves them, so
T0* r=1/8 is wider: the paper prints c = 42 (0.342 G). The r = 1/2 width is not printed; we use
c = 35, the width whose FLOPs (0.344 G) are closest to T0's (0.338 G, printed 0.34); c = 34 gives
0.325 G and c = 36 0.364 G. "T0* ReLU" is T0 ReLU widened, presumably to T0 GELU's latency
(activations cost no FLOPs, and its CPU/ARM latency matches T0 GELU's); its width is not
published, so it has no entry. The default-setting rows (T0 r=1/4, T0 BN, T0 GELU, T2 ReLU) are
the plain variants (``TABLE5_DEFAULT_ROWS``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from fnbench.errors import UsageError
from fnbench.operators.pconv import FORWARD_FORMS, PConv

NORMS = ("bn", "ln")
ACTS = ("relu", "gelu")
MLP_RATIO = 2
HEAD_FEATURES = 1280


@dataclass(frozen=True)
class FasterNetConfig:
    """One published variant: stage-1 width c (stages are c, 2c, 4c, 8c), blocks per stage,
    activation and the stochastic-depth rate of the last block."""

    width: int
    depths: tuple[int, int, int, int]
    act: str
    drop_path_rate: float


#: The paper's six variants (Table 3 / the official configs).
VARIANTS: dict[str, FasterNetConfig] = {
    "T0": FasterNetConfig(40, (1, 2, 8, 2), "gelu", 0.0),
    "T1": FasterNetConfig(64, (1, 2, 8, 2), "gelu", 0.02),
    "T2": FasterNetConfig(96, (1, 2, 8, 2), "relu", 0.05),
    "S": FasterNetConfig(128, (1, 2, 13, 2), "relu", 0.1),
    "M": FasterNetConfig(144, (3, 4, 18, 3), "relu", 0.2),
    "L": FasterNetConfig(192, (3, 4, 18, 3), "relu", 0.3),
}


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW tensor (each pixel normalised on its own)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.weight.shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a sample's branch with probability ``rate`` and scale
    the kept ones by 1 / (1 - rate); the identity in eval mode."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class PartialConv3(PConv):
    """fnbench's PConv (3x3) with its conv registered as ``partial_conv3``, the official name."""

    def __init__(self, channels: int, ratio: float, forward_form: str) -> None:
        super().__init__(channels, ratio, 3, forward_form)
        self.partial_conv3 = self._modules.pop("conv")

    @property
    def conv(self) -> nn.Conv2d:
        return self.partial_conv3


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "bn" else LayerNorm2d(channels)


def _act(kind: str) -> nn.Module:
    return nn.ReLU(inplace=True) if kind == "relu" else nn.GELU()


class FasterNetBlock(nn.Module):
    """PConv 3x3 -> Conv 1x1 (c -> 2c) -> norm -> act -> Conv 1x1 (2c -> c), plus the input."""

    def __init__(self, dim: int, partial_ratio: float, norm: str, act: str, forward_form: str,
                 drop_path_rate: float) -> None:
        super().__init__()
        hidden = dim * MLP_RATIO
        self.spatial_mixing = PartialConv3(dim, partial_ratio, forward_form)
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, bias=False),
            _norm(norm, hidden),
            _act(act),
            nn.Conv2d(hidden, dim, 1, bias=False),
        )
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.spatial_mixing(x)))


class BasicStage(nn.Module):
    """The blocks of one stage, under ``blocks`` as in the official code."""

    def __init__(self, blocks: list[FasterNetBlock]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class PatchEmbed(nn.Sequential):
    """Stem: Conv 4x4 stride 4 (``proj``) + norm."""

    def __init__(self, in_chans: int, dim: int, norm: str) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, 4, 4, bias=False)
        self.norm = _norm(norm, dim)


class PatchMerging(nn.Sequential):
    """Between stages: Conv 2x2 stride 2, dim -> 2 dim (``reduction``) + norm."""

    def __init__(self, dim: int, norm: str) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, 2, 2, bias=False)
        self.norm = _norm(norm, 2 * dim)


class FasterNet(nn.Module):
    """Stem, four stages of FasterNet blocks with merging layers between them, and the head
    (global pool -> Conv 1x1 to 1280 -> act -> Linear)."""

    def __init__(self, width: int, depths: tuple[int, ...], *, partial_ratio: float = 0.25,
                 norm: str = "bn", act: str = "relu", forward_form: str = "split_cat",
                 drop_path_rate: float = 0.0, num_classes: int = 1000, in_chans: int = 3) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, width, norm)
        # the official rule: the rate grows linearly from 0 over all blocks of the network
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        layers: list[nn.Module] = []
        for i, depth in enumerate(depths):
            dim = width * 2 ** i
            if i:
                layers.append(PatchMerging(dim // 2, norm))
            first = sum(depths[:i])
            layers.append(BasicStage([
                FasterNetBlock(dim, partial_ratio, norm, act, forward_form, rate)
                for rate in rates[first:first + depth]]))
        self.stages = nn.Sequential(*layers)
        self.avgpool_pre_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(width * 2 ** (len(depths) - 1), HEAD_FEATURES, 1, bias=False),
            _act(act),
        )
        self.head = nn.Linear(HEAD_FEATURES, num_classes)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool_pre_head(self.stages(self.patch_embed(x)))
        return self.head(torch.flatten(x, 1))


def _init_weights(module: nn.Module) -> None:
    """The official initialisation: truncated normal (std 0.02) weights, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def fasternet(variant: str, *, partial_ratio: float = 0.25, width: int | None = None,
              norm: str = "bn", act: str | None = None, forward_form: str = "split_cat",
              drop_path_rate: float | None = None, num_classes: int = 1000) -> FasterNet:
    """A FasterNet variant (T0, T1, T2, S, M, L); ``width``, ``act`` and ``drop_path_rate``
    default to the variant's published values."""
    config = VARIANTS.get(variant.upper())
    if config is None:
        raise UsageError(f"unknown FasterNet variant {variant!r}; choose one of "
                         f"{', '.join(VARIANTS)}")
    if not 0 < partial_ratio <= 1:
        raise UsageError(f"partial ratio must be in (0, 1], got {partial_ratio}")
    if width is not None and width < 1:
        raise UsageError(f"width must be a positive number of channels, got {width}")
    return FasterNet(
        config.width if width is None else width, config.depths,
        partial_ratio=partial_ratio,
        norm=_choice("norm", norm, NORMS),
        act=_choice("activation", config.act if act is None else act, ACTS),
        forward_form=_choice("forward form", forward_form, FORWARD_FORMS),
        drop_path_rate=config.drop_path_rate if drop_path_rate is None else drop_path_rate,
        num_classes=num_classes,
    )


#: Registry name -> the Table 5 row it reproduces and the ``fasternet`` keyword arguments.
ABLATIONS: dict[str, dict] = {
    "fasternet_t0_r1_2": {"paper_row": "T0* r=1/2",
                          "kwargs": {"variant": "T0", "partial_ratio": 1 / 2, "width": 35}},
    "fasternet_t0_r1_8": {"paper_row": "T0* r=1/8 (width 42)",
                          "kwargs": {"variant": "T0", "partial_ratio": 1 / 8, "width": 42}},
    "fasternet_t0_ln": {"paper_row": "T0 LN", "kwargs": {"variant": "T0", "norm": "ln"}},
    "fasternet_t0_relu": {"paper_row": "T0 ReLU", "kwargs": {"variant": "T0", "act": "relu"}},
    "fasternet_t2_gelu": {"paper_row": "T2 GELU", "kwargs": {"variant": "T2", "act": "gelu"}},
}

#: Table 5 rows that are a variant's default setting -> that variant.
TABLE5_DEFAULT_ROWS: dict[str, str] = {
    "T0 r=1/4": "T0", "T0 BN": "T0", "T0 GELU": "T0", "T2 ReLU": "T2",
}
