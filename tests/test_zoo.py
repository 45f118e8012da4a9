"""The model registry: every Table 3 row, the sets, names, and the accounting of baselines."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fnbench.accounting import count_params, fvcore_macs, model_accounting
from fnbench.errors import UsageError
from fnbench.models import REGISTRY, create, model_names, spec
from fnbench.models.workloads import model_workload, select_models
from fnbench.published import paper_table

TABLE3 = paper_table("table3_imagenet")


def meta_params(name: str) -> int:
    """Parameters of a registry model, built on the meta device (no memory, no init cost)
    where its constructor allows it."""
    try:
        with torch.device("meta"):
            return count_params(create(name))
    except (NotImplementedError, RuntimeError):
        return count_params(create(name))


# Each registry name and the network the paper's Table 3 prints for it, written out by hand.
PAPER_ROWS = {
    "shufflenet_v2_x1_5": "ShuffleNetV2 x1.5", "mobilenetv2_100": "MobileNetV2",
    "mobilevit_xxs": "MobileViT-XXS", "edgenext_xx_small": "EdgeNeXt-XXS",
    "fasternet_t0": "FasterNet-T0", "ghostnet_130": "GhostNet x1.3",
    "shufflenet_v2_x2_0": "ShuffleNetV2 x2", "mobilenetv2_140": "MobileNetV2 x1.4",
    "mobilevit_xs": "MobileViT-XS", "edgenext_x_small": "EdgeNeXt-XS", "pvt_tiny": "PVT-Tiny",
    "fasternet_t1": "FasterNet-T1", "cyclemlp_b1": "CycleMLP-B1",
    "poolformer_s12": "PoolFormer-S12", "mobilevit_s": "MobileViT-S",
    "edgenext_small": "EdgeNeXt-S", "resnet50": "ResNet50", "fasternet_t2": "FasterNet-T2",
    "cyclemlp_b2": "CycleMLP-B2", "poolformer_s24": "PoolFormer-S24",
    "poolformer_s36": "PoolFormer-S36", "convnext_tiny": "ConvNeXt-T",
    "swin_tiny_patch4_window7_224": "Swin-T", "pvt_small": "PVT-Small",
    "pvt_medium": "PVT-Medium", "fasternet_s": "FasterNet-S", "poolformer_m36": "PoolFormer-M36",
    "convnext_small": "ConvNeXt-S", "swin_small_patch4_window7_224": "Swin-S",
    "pvt_large": "PVT-Large", "fasternet_m": "FasterNet-M", "poolformer_m48": "PoolFormer-M48",
    "convnext_base": "ConvNeXt-B", "swin_base_patch4_window7_224": "Swin-B",
    "fasternet_l": "FasterNet-L",
}
# Published top-1 (Table 3) of rows that are easy to confuse, typed in from the paper.
PAPER_TOP1 = {"mobilevit_xs": 74.8, "edgenext_x_small": 75.0, "mobilevit_xxs": 69.0,
              "edgenext_xx_small": 71.2, "mobilevit_s": 78.4, "edgenext_small": 79.4,
              "mobilenetv2_100": 72.0, "mobilenetv2_140": 74.7, "fasternet_t0": 71.9,
              "fasternet_l": 83.5, "resnet50": 78.8, "swin_tiny_patch4_window7_224": 81.3}
FAMILIES = {"fasternet": "FasterNet", "mobilevit": "ViT", "edgenext": "ViT", "pvt": "ViT",
            "poolformer": "ViT", "swin": "ViT", "cyclemlp": "MLP", "shufflenet": "CNN",
            "mobilenetv2": "CNN", "ghostnet": "CNN", "resnet": "CNN", "convnext": "CNN"}


def test_the_paper_set_is_table3_in_order():
    names = model_names("paper")
    assert len(names) == len(TABLE3) == 35
    assert names == list(PAPER_ROWS)
    assert [REGISTRY[n].paper_row for n in names] == list(TABLE3.network)


@pytest.mark.parametrize("name", list(PAPER_ROWS))
def test_each_model_is_paired_with_its_own_paper_row(name):
    entry = REGISTRY[name]
    assert entry.paper_row == PAPER_ROWS[name]
    word = next(w for w in FAMILIES if name.startswith(w))
    assert entry.family == FAMILIES[word]
    assert entry.resolution == (256 if word in ("mobilevit", "edgenext") else 224)
    if name in PAPER_TOP1:
        assert entry.top1 == PAPER_TOP1[name]


def test_a_paper_row_that_is_not_in_the_table_is_an_error():
    from fnbench.models.zoo import _paper_row

    assert _paper_row("table3_imagenet", "network", "EdgeNeXt-XS")["top1"] == 75.0
    with pytest.raises(LookupError, match="MobileViT-XL"):
        _paper_row("table3_imagenet", "network", "MobileViT-XL")


def test_sets():
    assert model_names("fasternet") == ["fasternet_t0", "fasternet_t1", "fasternet_t2",
                                        "fasternet_s", "fasternet_m", "fasternet_l"]
    ablation = model_names("ablation")
    assert {"fasternet_t0", "fasternet_t2", "fasternet_t0_r1_2", "fasternet_t0_r1_8",
            "fasternet_t0_ln", "fasternet_t0_relu", "fasternet_t2_gelu"} == set(ablation)
    extended = model_names("extended")
    assert set(model_names("paper")) < set(extended)
    assert {"resmlp_12_224", "mixer_b16_224", "mobilenetv3_large_100", "efficientnet_b0",
            "repvit_m1_0", "fastvit_t8", "efficientvit_b0"} <= set(extended)
    assert set(model_names("all")) == set(REGISTRY)


def test_native_resolutions():
    for name in ("mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "edgenext_xx_small",
                 "edgenext_x_small", "edgenext_small"):
        assert REGISTRY[name].resolution == 256
    assert REGISTRY["resnet50"].resolution == 224


def test_sources():
    assert REGISTRY["shufflenet_v2_x1_5"].source == "torchvision"
    assert REGISTRY["fasternet_t0"].source == "fnbench"
    assert REGISTRY["pvt_tiny"].source == REGISTRY["cyclemlp_b1"].source == "fnbench"
    assert REGISTRY["swin_tiny_patch4_window7_224"].source == "timm"


@pytest.mark.parametrize("name", model_names("paper"))
def test_every_table3_model_has_the_papers_parameter_count(name):
    published = TABLE3.set_index("network").loc[PAPER_ROWS[name]].params_m
    assert meta_params(name) / 1e6 == pytest.approx(published, rel=0.03)


@pytest.mark.parametrize("name", sorted(set(model_names("all")) - set(model_names("paper"))))
def test_every_other_registry_model_builds(name):
    assert meta_params(name) > 0


@pytest.mark.parametrize("name,gmacs", [("resnet50", 4.11), ("swin_tiny_patch4_window7_224", 4.51),
                                        ("mobilevit_xxs", 0.42)])
def test_model_flops_match_timms_published_gmacs(name, gmacs):
    entry = spec(name)
    accounting = model_accounting(lambda: create(name), (3, entry.resolution, entry.resolution))
    assert round(accounting.flops / 1e9, 2) == gmacs
    assert "aten::scaled_dot_product_attention" not in accounting.uncounted_ops
    assert not any("matmul" in op or "linear" in op or "conv" in op
                   for op in accounting.uncounted_ops)
    assert accounting.memory_bytes > 0


def test_attention_is_counted_even_when_fused():
    class Attention(nn.Module):
        def forward(self, x):
            q = k = v = x.view(1, 2, 16, 8)
            return F.scaled_dot_product_attention(q, k, v)

    macs, uncounted = fvcore_macs(Attention(), (2, 16, 8))
    assert macs == 2 * 16 * 16 * (8 + 8)  # Q K^T and the weighted sum of V, per head
    assert not uncounted


def test_memory_access_is_the_per_layer_sum():
    model = nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), nn.ReLU())
    accounting = model_accounting(lambda: model, (3, 5, 5))
    conv = 3 * 25 + 4 * 25 + 12
    relu = 4 * 25 * 2
    assert accounting.memory_bytes == 4 * (conv + relu)
    assert accounting.flops == 4 * 3 * 25 and accounting.params == 12


def test_create_any_timm_model_by_name():
    with torch.device("meta"):
        model = create("timm:resnet18")
    assert count_params(model) == pytest.approx(11.7e6, rel=0.01)
    assert spec("timm:resnet18").resolution == 224


@pytest.mark.parametrize("name,fragment", [
    ("fasternet_t9", "did you mean fasternet_t2"),
    ("resnet5", "did you mean resnet50"),
    ("timm:resnet5", "did you mean timm:resnet50"),
    ("nothing-like-it", "timm:NAME"),
])
def test_unknown_model_names_suggest_the_closest(name, fragment):
    with pytest.raises(UsageError) as info:
        spec(name)
    assert fragment in str(info.value)


def test_model_selection():
    assert select_models("paper", "fasternet_t0, resnet50") == ["fasternet_t0", "resnet50"]
    assert select_models("fasternet", None) == model_names("fasternet")
    with pytest.raises(UsageError, match="unknown set"):
        select_models("favourites", None)
    with pytest.raises(UsageError, match="empty"):
        select_models("paper", " , ")


def test_model_workload_carries_the_published_reference():
    workload = model_workload("mobilevit_xxs")
    assert workload.input_shape == (3, 256, 256) and workload.family == "ViT"
    assert workload.meta["top1"] == 69.0 and workload.meta["paper_row"] == "MobileViT-XXS"
    ablation = model_workload("fasternet_t0_ln")
    assert ablation.meta["paper_table"] == "table5_ablation"
    assert ablation.meta["paper_row"] == "T0 LN"
