"""PVT v1 (Wang et al., ICCV 2021, "Pyramid Vision Transformer") for ImageNet classification.

Four stages at strides 4, 8, 16, 32, each a patch embedding (conv with kernel = stride, then
LayerNorm), a learned position embedding and transformer blocks whose attention shrinks keys and
values by a strided conv (spatial-reduction attention). The last stage prepends a cls token that
feeds the head. Attention is written as explicit matmuls so fvcore counts its MACs. Position
embeddings are sized for ``img_size`` and are not interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class PVTConfig:
    """Hyper-parameters of one PVT variant (official defaults for everything but depths)."""

    depths: tuple[int, int, int, int]
    embed_dims: tuple[int, int, int, int] = (64, 128, 320, 512)
    num_heads: tuple[int, int, int, int] = (1, 2, 5, 8)
    mlp_ratios: tuple[int, int, int, int] = (8, 8, 4, 4)
    sr_ratios: tuple[int, int, int, int] = (8, 4, 2, 1)
    patch_size: int = 4


CONFIGS: dict[str, PVTConfig] = {
    "pvt_tiny": PVTConfig(depths=(2, 2, 2, 2)),
    "pvt_small": PVTConfig(depths=(3, 4, 6, 3)),
    "pvt_medium": PVTConfig(depths=(3, 4, 18, 3)),
    "pvt_large": PVTConfig(depths=(3, 8, 27, 3)),
}

BLOCK_NORM_EPS = 1e-6  # blocks and the final norm; patch embeds and the reduction norm use 1e-5


class Mlp(nn.Module):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SRAttention(nn.Module):
    """Multi-head attention whose keys and values come from a map shrunk ``sr_ratio`` times per
    side by a strided conv and a LayerNorm."""

    def __init__(self, dim: int, num_heads: int, sr_ratio: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(b, n, heads, c // heads).transpose(1, 2)
        if self.sr_ratio > 1:
            x = x.transpose(1, 2).reshape(b, c, height, width)
            x = self.norm(self.sr(x).flatten(2).transpose(1, 2))
        k, v = self.kv(x).reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int, sr_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.attn = SRAttention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), height, width)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Non-overlapping patches: conv with kernel = stride = ``patch_size``, then LayerNorm."""

    def __init__(self, in_chans: int, dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        height, width = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


class Stage(nn.Module):
    """Patch embedding, (cls token,) position embedding and blocks of one resolution."""

    def __init__(self, in_chans: int, dim: int, patch_size: int, num_patches: int, depth: int,
                 num_heads: int, mlp_ratio: int, sr_ratio: int, cls_token: bool) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + int(cls_token), dim))
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio, sr_ratio)
                                    for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the next (B, C', H', W') map, or (B, 1 + N, C') tokens with a cls
        token."""
        x, height, width = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x, height, width)
        if self.cls_token is not None:
            return x
        return x.transpose(1, 2).reshape(x.shape[0], -1, height, width)


def _init_weights(module: nn.Module) -> None:
    """The official initialisation: truncated normal Linear weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)


class PyramidVisionTransformer(nn.Module):
    """PVT v1 classifier: four stages, LayerNorm, Linear head on the cls token."""

    def __init__(self, config: PVTConfig, num_classes: int = 1000, img_size: int = 224) -> None:
        super().__init__()
        stages, in_chans, stride = [], 3, 1
        for i, dim in enumerate(config.embed_dims):
            patch = config.patch_size if i == 0 else 2
            stride *= patch
            stages.append(Stage(in_chans, dim, patch, (img_size // stride) ** 2, config.depths[i],
                                config.num_heads[i], config.mlp_ratios[i], config.sr_ratios[i],
                                cls_token=i == len(config.embed_dims) - 1))
            in_chans = dim
        self.stages = nn.ModuleList(stages)
        self.norm = nn.LayerNorm(in_chans, eps=BLOCK_NORM_EPS)
        self.head = nn.Linear(in_chans, num_classes)
        self.apply(_init_weights)
        for stage in self.stages:
            nn.init.trunc_normal_(stage.pos_embed, std=0.02)
            if stage.cls_token is not None:
                nn.init.trunc_normal_(stage.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return self.head(self.norm(x)[:, 0])


def _build(name: str, num_classes: int, **kwargs) -> PyramidVisionTransformer:
    return PyramidVisionTransformer(CONFIGS[name], num_classes=num_classes, **kwargs)


def pvt_tiny(num_classes: int = 1000, **kwargs) -> nn.Module:
    """PVT-Tiny: depths 2-2-2-2 (13.2 M params, 1.94 G MACs in the paper)."""
    return _build("pvt_tiny", num_classes, **kwargs)


def pvt_small(num_classes: int = 1000, **kwargs) -> nn.Module:
    """PVT-Small: depths 3-4-6-3 (24.5 M params, 3.83 G MACs in the paper)."""
    return _build("pvt_small", num_classes, **kwargs)


def pvt_medium(num_classes: int = 1000, **kwargs) -> nn.Module:
    """PVT-Medium: depths 3-4-18-3 (44.2 M params, 6.69 G MACs in the paper)."""
    return _build("pvt_medium", num_classes, **kwargs)


def pvt_large(num_classes: int = 1000, **kwargs) -> nn.Module:
    """PVT-Large: depths 3-8-27-3 (61.4 M params, 9.85 G MACs in the paper)."""
    return _build("pvt_large", num_classes, **kwargs)
