"""The model registry: every row of the paper's Table 3 and Table 5, and extra baselines.

Configs as data: each entry says where the model comes from (fnbench's own code, timm or
torchvision), its family, input resolution, which sets it belongs to, and where its published
top-1 comes from. Names follow timm where timm has the model, torchvision's for ShuffleNetV2 and
the official repositories' for the rest.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import torch.nn as nn

from fnbench.errors import UsageError
from fnbench.models import cyclemlp, pvt
from fnbench.models.fasternet import ABLATIONS, fasternet
from fnbench.published import rows

TIMM_PREFIX = "timm:"
SETS = ("paper", "fasternet", "ablation", "extended", "all")


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    ``paper_row`` names its row in the paper's ``paper_table`` (``table3_imagenet`` by network,
    ``table5_ablation`` by variant); ``top1`` is the published ImageNet-1k top-1 and
    ``top1_source`` says whose number it is.
    """

    name: str
    family: str
    source: str  # "fnbench", "timm" or "torchvision"
    resolution: int = 224
    paper_table: str | None = None
    paper_row: str | None = None
    top1: float | None = None
    top1_source: str | None = None
    sets: tuple[str, ...] = ()
    builder: Callable[[], nn.Module] | None = None


# Table 3, in the paper's order: registry name, the paper's network name (its row in
# table3_imagenet.csv), source, resolution.
_TABLE3 = [
    ("shufflenet_v2_x1_5", "ShuffleNetV2 x1.5", "torchvision", 224),
    ("mobilenetv2_100", "MobileNetV2", "timm", 224),
    ("mobilevit_xxs", "MobileViT-XXS", "timm", 256),
    ("edgenext_xx_small", "EdgeNeXt-XXS", "timm", 256),
    ("fasternet_t0", "FasterNet-T0", "fnbench", 224),
    ("ghostnet_130", "GhostNet x1.3", "timm", 224),
    ("shufflenet_v2_x2_0", "ShuffleNetV2 x2", "torchvision", 224),
    ("mobilenetv2_140", "MobileNetV2 x1.4", "timm", 224),
    ("mobilevit_xs", "MobileViT-XS", "timm", 256),
    ("edgenext_x_small", "EdgeNeXt-XS", "timm", 256),
    ("pvt_tiny", "PVT-Tiny", "fnbench", 224),
    ("fasternet_t1", "FasterNet-T1", "fnbench", 224),
    ("cyclemlp_b1", "CycleMLP-B1", "fnbench", 224),
    ("poolformer_s12", "PoolFormer-S12", "timm", 224),
    ("mobilevit_s", "MobileViT-S", "timm", 256),
    ("edgenext_small", "EdgeNeXt-S", "timm", 256),
    ("resnet50", "ResNet50", "timm", 224),
    ("fasternet_t2", "FasterNet-T2", "fnbench", 224),
    ("cyclemlp_b2", "CycleMLP-B2", "fnbench", 224),
    ("poolformer_s24", "PoolFormer-S24", "timm", 224),
    ("poolformer_s36", "PoolFormer-S36", "timm", 224),
    ("convnext_tiny", "ConvNeXt-T", "timm", 224),
    ("swin_tiny_patch4_window7_224", "Swin-T", "timm", 224),
    ("pvt_small", "PVT-Small", "fnbench", 224),
    ("pvt_medium", "PVT-Medium", "fnbench", 224),
    ("fasternet_s", "FasterNet-S", "fnbench", 224),
    ("poolformer_m36", "PoolFormer-M36", "timm", 224),
    ("convnext_small", "ConvNeXt-S", "timm", 224),
    ("swin_small_patch4_window7_224", "Swin-S", "timm", 224),
    ("pvt_large", "PVT-Large", "fnbench", 224),
    ("fasternet_m", "FasterNet-M", "fnbench", 224),
    ("poolformer_m48", "PoolFormer-M48", "timm", 224),
    ("convnext_base", "ConvNeXt-B", "timm", 224),
    ("swin_base_patch4_window7_224", "Swin-B", "timm", 224),
    ("fasternet_l", "FasterNet-L", "fnbench", 224),
]

# Extra rows of the `extended` set: name, family, resolution, top-1, its source (None where no
# published number is packaged).
_EXTENDED = [
    ("resmlp_12_224", "MLP", 224, 76.6, "ResMLP paper (Touvron et al. 2021), ResMLP-S12"),
    ("resmlp_24_224", "MLP", 224, 79.4, "ResMLP paper (Touvron et al. 2021), ResMLP-S24"),
    ("mixer_s16_224", "MLP", 224, None, None),
    ("mixer_b16_224", "MLP", 224, 76.4, "MLP-Mixer paper (Tolstikhin et al. 2021), "
                                        "B/16 trained on ImageNet-1k"),
    ("mobilenetv3_large_100", "CNN", 224, 75.2, "MobileNetV3 paper (Howard et al. 2019)"),
    ("mobilenetv3_small_100", "CNN", 224, 67.4, "MobileNetV3 paper (Howard et al. 2019)"),
    ("efficientnet_b0", "CNN", 224, None, None),
    ("ghostnetv2_100", "CNN", 224, None, None),
    ("repvit_m1_0", "CNN", 224, None, None),
    ("fastvit_t8", "ViT", 256, None, None),
    ("efficientvit_b0", "ViT", 224, None, None),
    ("efficientvit_m0", "ViT", 224, None, None),
]

_FASTERNET_VARIANTS = {"fasternet_t0": "T0", "fasternet_t1": "T1", "fasternet_t2": "T2",
                       "fasternet_s": "S", "fasternet_m": "M", "fasternet_l": "L"}
_OWN_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    **{name: partial(fasternet, variant) for name, variant in _FASTERNET_VARIANTS.items()},
    **{name: getattr(pvt, name) for name in ("pvt_tiny", "pvt_small", "pvt_medium",
                                             "pvt_large")},
    **{name: getattr(cyclemlp, name) for name in ("cyclemlp_b1", "cyclemlp_b2")},
}


def _paper_row(table: str, column: str, name: str) -> Mapping[str, Any]:
    """The one row of a packaged paper table whose ``column`` is ``name``."""
    match = [row for row in rows(table) if row[column] == name]
    if len(match) != 1:
        raise LookupError(f"{len(match)} rows named {name!r} in the paper's {table} (column "
                          f"{column}): fix the registry entry or fnbench/data/paper")
    return match[0]


def _registry() -> dict[str, ModelSpec]:
    specs: dict[str, ModelSpec] = {}
    for name, network, source, resolution in _TABLE3:
        row = _paper_row("table3_imagenet", "network", network)
        sets = ("paper", "extended", "all")
        if name.startswith("fasternet_"):
            sets += ("fasternet",)
        if name in ("fasternet_t0", "fasternet_t2"):
            sets += ("ablation",)
        specs[name] = ModelSpec(name, row["family"], source, resolution, "table3_imagenet",
                                network, float(row["top1"]), "FasterNet paper, Table 3", sets,
                                _OWN_BUILDERS.get(name))
    for name, ablation in ABLATIONS.items():
        row = _paper_row("table5_ablation", "variant", ablation["paper_row"])
        specs[name] = ModelSpec(name, "FasterNet", "fnbench", 224, "table5_ablation",
                                ablation["paper_row"], float(row["top1"]),
                                "FasterNet paper, Table 5", ("ablation", "all"),
                                partial(fasternet, **ablation["kwargs"]))
    for name, family, resolution, top1, top1_source in _EXTENDED:
        specs[name] = ModelSpec(name, family, "timm", resolution, top1=top1,
                                top1_source=top1_source, sets=("extended", "all"))
    return specs


REGISTRY: dict[str, ModelSpec] = _registry()


def model_names(model_set: str) -> list[str]:
    """Registry names of a set, in the paper's order."""
    if model_set not in SETS:
        raise UsageError(f"unknown set {model_set!r}: choose one of {', '.join(SETS)} (--set)")
    return [name for name, spec in REGISTRY.items() if model_set in spec.sets]


def _timm_spec(name: str) -> ModelSpec:
    """A spec for any timm model asked for as ``timm:NAME``."""
    import timm

    timm_name = name[len(TIMM_PREFIX):]
    if not timm.is_model(timm_name):
        close = difflib.get_close_matches(timm_name, timm.list_models(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(TIMM_PREFIX + c for c in close)}? " if close else ""
        raise UsageError(f"unknown timm model {timm_name!r}: {hint}see timm.list_models() "
                         "for names (--models)")
    input_size = timm.get_pretrained_cfg_value(timm_name, "input_size") or (3, 224, 224)
    return ModelSpec(name, "timm", "timm", int(input_size[-1]))


def spec(name: str) -> ModelSpec:
    """The registry entry of ``name`` (or ``timm:NAME``); UsageError naming close matches."""
    if name.startswith(TIMM_PREFIX):
        return _timm_spec(name)
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UsageError(f"unknown model {name!r}: {hint}see the README's model list, or use "
                         f"timm:NAME for any timm model (--models)")
    return REGISTRY[name]


def create(name: str) -> nn.Module:
    """The ``nn.Module`` (random weights) for any registry name or ``timm:NAME``."""
    entry = spec(name)
    if entry.builder is not None:
        return entry.builder()
    if entry.source == "torchvision":
        import torchvision

        return torchvision.models.get_model(name, weights=None)
    import timm

    return timm.create_model(name.removeprefix(TIMM_PREFIX), pretrained=False)
