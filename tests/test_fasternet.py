"""Our FasterNet: the paper's params and FLOPs, official names, timm's architecture, BN fusion,
forward forms, stochastic depth and the Table 5 ablations."""

from __future__ import annotations

import copy
import math

import pytest
import timm
import torch
import torch.nn as nn

from fnbench.accounting import count_params, fvcore_macs
from conftest import randomize_norms
from fnbench.errors import UsageError
from fnbench.fusion import count_batchnorm, fuse_batchnorm
from fnbench.models.fasternet import (ABLATIONS, TABLE5_DEFAULT_ROWS, VARIANTS, BasicStage,
                                      DropPath, LayerNorm2d, PatchMerging, fasternet)
from fnbench.models.weights import to_timm_state_dict
from fnbench.published import paper_table

INPUT = (3, 224, 224)
# FLOPs the official repository's README prints, for the BN-fused models (the paper counts BN).
FUSED_GFLOPS = {"T0": 0.34, "T1": 0.85, "T2": 1.90, "S": 4.55, "M": 8.72, "L": 15.49}


def printed(value: float, decimals: int) -> set[float]:
    """What a paper may print for ``value``: rounded or truncated to ``decimals``."""
    scale = 10 ** decimals
    return {round(value, decimals), math.floor(value * scale) / scale}


def gflops(model: nn.Module) -> float:
    macs, uncounted = fvcore_macs(model, INPUT)
    # only MAC-free element-wise ops (residual adds, GELU) may be left uncounted
    assert set(uncounted) <= {"aten::add", "aten::gelu"}, uncounted
    return macs / 1e9


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_params_and_flops_match_the_paper(variant):
    row = paper_table("table3_imagenet").set_index("network").loc[f"FasterNet-{variant}"]
    model = fasternet(variant)
    # the paper rounds (T1: 7.595 -> 7.6) but also truncates (S: 31.181 -> 31.1)
    assert row.params_m in printed(count_params(model) / 1e6, 1)
    assert round(gflops(model), 2) == row.flops_g
    assert round(gflops(fuse_batchnorm(model)[0]), 2) == FUSED_GFLOPS[variant]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_same_architecture_as_timm(variant):
    ours = fasternet(variant)
    theirs = timm.create_model(f"fasternet_{variant.lower()}", pretrained=False)
    assert {k: v.shape for k, v in to_timm_state_dict(ours.state_dict()).items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    assert type(ours.stages[0].blocks[0].mlp[2]) is type(theirs.stages[0].blocks[0].mlp[2])


def test_official_module_names_and_structure():
    model = fasternet("T2")
    names = set(model.state_dict())
    for name in ("patch_embed.proj.weight", "patch_embed.norm.running_var",
                 "stages.0.blocks.0.spatial_mixing.partial_conv3.weight",
                 "stages.1.reduction.weight", "stages.1.norm.bias",
                 "stages.4.blocks.7.mlp.1.running_mean", "stages.6.blocks.1.mlp.3.weight",
                 "avgpool_pre_head.1.weight", "head.weight", "head.bias"):
        assert name in names
    assert [type(s) for s in model.stages] == [BasicStage, PatchMerging] * 3 + [BasicStage]
    config = VARIANTS["T2"]
    for i, depth in enumerate(config.depths):
        blocks = model.stages[2 * i].blocks
        assert len(blocks) == depth
        dim = config.width * 2 ** i
        assert blocks[0].spatial_mixing.partial_conv3.in_channels == dim // 4
        assert blocks[0].mlp[0].out_channels == 2 * dim
    assert model.head.out_features == 1000


def test_drop_path_rates_grow_linearly_to_the_variants_rate():
    model = fasternet("L")
    rates = [m.rate for m in model.modules() if isinstance(m, DropPath)]
    assert len(rates) == sum(VARIANTS["L"].depths)
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(VARIANTS["L"].drop_path_rate)
    assert rates == sorted(rates)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_batchnorm_folds_away_with_equal_outputs(variant):
    torch.manual_seed(0)
    model = randomize_norms(fasternet(variant)).eval()
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected = model(x)
        fused, folded, left = fuse_batchnorm(copy.deepcopy(model))
        actual = fused(x)
    assert folded == count_batchnorm(model) and left == 0 and count_batchnorm(fused) == 0
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4 * expected.abs().max())


def test_forward_forms_give_identical_outputs():
    torch.manual_seed(0)
    split_cat = randomize_norms(fasternet("T0")).eval()
    slicing = fasternet("T0", forward_form="slicing").eval()
    slicing.load_state_dict(split_cat.state_dict())
    x = torch.randn(2, *INPUT)
    with torch.no_grad():
        expected = split_cat(x)
        assert torch.equal(slicing(x), expected)
        fused, _, left = fuse_batchnorm(slicing)  # folds without tracing the in-place write
        assert left == 0
        torch.testing.assert_close(fused(x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max())


def test_drop_path_is_identity_in_eval_and_stochastic_in_training():
    torch.manual_seed(0)
    drop = DropPath(0.5)
    x = torch.randn(64, 8, 4, 4)
    assert drop.eval()(x) is x
    y = drop.train()(x)
    kept = y.flatten(1).ne(0).all(1)
    assert 0 < kept.sum() < len(x)  # some samples dropped, some kept
    torch.testing.assert_close(y[kept], 2 * x[kept])
    assert not y[~kept].any()

    model = fasternet("T0", drop_path_rate=0.5)
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), model(x))
        assert not torch.equal(model.train()(x), model(x))
        model = fasternet("T0", drop_path_rate=0.0).train()
        assert torch.equal(model(x), model(x))


def test_layernorm2d_normalises_each_pixel_over_channels():
    torch.manual_seed(0)
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight.view(1, -1, 1, 1) \
        + norm.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(norm(x), expected)


def test_ablations_map_to_table5_rows():
    rows = set(paper_table("table5_ablation").variant)
    assert {entry["paper_row"] for entry in ABLATIONS.values()} <= rows
    assert set(TABLE5_DEFAULT_ROWS) <= rows
    # every Table 5 row is covered except T0* ReLU, whose width the paper does not give
    covered = {entry["paper_row"] for entry in ABLATIONS.values()} | set(TABLE5_DEFAULT_ROWS)
    assert rows - covered == {"T0* ReLU"}


def test_ablation_models_change_only_what_they_ablate():
    t0_ln = fasternet(**ABLATIONS["fasternet_t0_ln"]["kwargs"])
    assert count_batchnorm(t0_ln) == 0
    assert sum(isinstance(m, LayerNorm2d) for m in t0_ln.modules()) == \
        count_batchnorm(fasternet("T0"))
    assert count_params(t0_ln) == count_params(fasternet("T0"))
    t0_relu = fasternet(**ABLATIONS["fasternet_t0_relu"]["kwargs"])
    assert not any(isinstance(m, nn.GELU) for m in t0_relu.modules())
    t2_gelu = fasternet(**ABLATIONS["fasternet_t2_gelu"]["kwargs"])
    assert not any(isinstance(m, nn.ReLU) for m in t2_gelu.modules())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert t0_ln.eval()(x).shape == (1, 1000)


def _ratio_gflops(ratio: float, width: int) -> float:
    return gflops(fasternet("T0", partial_ratio=ratio, width=width))


def test_partial_ratio_ablations_keep_t0s_flops():
    t0 = gflops(fasternet("T0"))
    half = ABLATIONS["fasternet_t0_r1_2"]["kwargs"]
    width = half["width"]
    model = fasternet(**half)
    assert model.stages[0].blocks[0].spatial_mixing.partial_conv3.in_channels == width // 2
    # the chosen width is the one whose FLOPs are closest to T0's
    gaps = {w: abs(_ratio_gflops(half["partial_ratio"], w) - t0)
            for w in (width - 1, width, width + 1)}
    assert min(gaps, key=gaps.get) == width
    eighth = ABLATIONS["fasternet_t0_r1_8"]["kwargs"]
    model = fasternet(**eighth)
    assert eighth["width"] == 42  # the paper's "T0* r=1/8 (width 42)"
    assert model.stages[0].blocks[0].spatial_mixing.partial_conv3.in_channels == 42 // 8
    t0_printed = paper_table("table3_imagenet").set_index("network").flops_g["FasterNet-T0"]
    assert round(gflops(model), 2) == t0_printed


@pytest.mark.parametrize("kwargs", [{"variant": "T9"}, {"variant": "T0", "norm": "gn"},
                                    {"variant": "T0", "act": "swish"},
                                    {"variant": "T0", "forward_form": "inplace"},
                                    {"variant": "T0", "partial_ratio": 0.0},
                                    {"variant": "T0", "width": 0}])
def test_bad_arguments_raise_usage_errors(kwargs):
    with pytest.raises(UsageError):
        fasternet(**kwargs)
