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
from fnbench.report.paper import paper_table

TABLE3 = paper_table("table3_imagenet")


def meta_params(name: str) -> int:
    """Parameters of a registry model, built on the meta device (no memory, no init cost)
    where its constructor allows it."""
    try:
        with torch.device("meta"):
            return count_params(create(name))
    except (NotImplementedError, RuntimeError):
        return count_params(create(name))


def test_the_paper_set_is_table3_in_order():
    names = model_names("paper")
    assert len(names) == len(TABLE3) == 35
    assert [REGISTRY[n].paper_row for n in names] == list(TABLE3.network)
    assert [REGISTRY[n].family for n in names] == list(TABLE3.family)
    assert [REGISTRY[n].top1 for n in names] == list(TABLE3.top1)


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
    published = TABLE3.set_index("network").loc[REGISTRY[name].paper_row].params_m
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
