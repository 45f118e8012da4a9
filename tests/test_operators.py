"""Operator zoo: PConv semantics, the paper grid, and the accounting against fvcore and Table 1."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
import torch

from fnbench.accounting import count_params, fvcore_macs
from fnbench.errors import UsageError
from fnbench.operators import OPERATORS, LayerConfig, PConv, operator_grid, partial_channels
from fnbench.operators.grid import parse_impls, parse_operators, parse_ratio, parse_sizes
from fnbench.published import paper_table


def test_partial_channels_floors_like_the_official_code():
    assert partial_channels(96, 0.25) == 24
    assert partial_channels(42, 1 / 8) == 5
    assert partial_channels(3, 0.25) == 1  # never zero
    assert partial_channels(64, 1.0) == 64


@pytest.mark.parametrize("form", ["split_cat", "slicing"])
def test_pconv_convolves_only_the_first_channels(form):
    torch.manual_seed(0)
    pconv = PConv(16, 0.25, forward_form=form).eval()
    x = torch.randn(2, 16, 9, 9)
    y = pconv(x)
    assert torch.equal(y[:, 4:], x[:, 4:])
    assert torch.allclose(y[:, :4], pconv.conv(x[:, :4]))


def test_forward_forms_agree_and_slicing_leaves_its_input_intact():
    torch.manual_seed(0)
    split = PConv(32, 0.25, forward_form="split_cat").eval()
    slicing = PConv(32, 0.25, forward_form="slicing").eval()
    slicing.load_state_dict(split.state_dict())
    x = torch.randn(1, 32, 8, 8)
    before = x.clone()
    with torch.inference_mode():
        assert torch.allclose(split(x), slicing(x))
    assert torch.equal(x, before)  # residual-safe: the clone protects the caller's tensor


def test_unknown_forward_form_is_rejected():
    with pytest.raises(ValueError):
        PConv(8, forward_form="inplace")


def test_default_grid_is_table1():
    grid = operator_grid()
    table = paper_table("table1_operators")
    assert len(grid) == len(table) == 16
    for workload in grid:
        meta = workload.meta
        row = table[(table.operator == meta["label"]) & (table.channels == meta["channels"])
                    & (table.height == meta["height"])]
        assert len(row) == 1, workload.name
        acc = workload.accounting()
        # the paper prints FLOPs in millions to 0 or 2 decimals (some truncated, not rounded)
        printed = row.iloc[0].flops_m
        last_place = 0.01 if printed < 100 else 1
        assert abs(acc.flops / 1e6 - printed) < last_place


def test_conv_flops_equal_the_paper_formula():
    conv = operator_grid(["conv"], [(96, 56, 56)])[0].accounting()
    assert conv.flops == 56 * 56 * 3 * 3 * 96 * 96 * 10
    assert round(conv.flops / 1e6, 1) == 2601.1
    # memory: maps in and out plus weights, per layer, FP32
    assert conv.memory_bytes == 10 * 4 * (56 * 56 * 2 * 96 + 9 * 96 * 96)


def test_pconv_costs_a_sixteenth_of_conv_flops():
    conv, pconv = (w.accounting() for w in operator_grid(["conv", "pconv"], [(96, 56, 56)]))
    assert pconv.flops * 16 == conv.flops
    assert pconv.memory_bytes == 10 * 4 * (56 * 56 * 2 * 24 + 9 * 24 * 24)


def test_pconv_pwconv_is_a_t_shaped_conv():
    pair = operator_grid(["pconv_pwconv"], [(64, 14, 14)], layers=1)[0].accounting()
    assert pair.flops == 14 * 14 * (9 * 16 * 16 + 64 * 64)


CASES = [(op, impl) for op in OPERATORS for impl in
         (("split_cat", "slicing") if OPERATORS[op].uses_ratio else ("split_cat",))]


@pytest.mark.parametrize("op,impl", CASES)
@pytest.mark.parametrize("size", [(32, 12, 10), (96, 56, 56)])
def test_formulas_match_fvcore_and_module_parameters(op, impl, size):
    workload = operator_grid([op], [size], layers=3, groups=16, impls=[impl])[0]
    accounting = workload.accounting()
    module = workload.build()
    macs, uncounted = fvcore_macs(module, workload.input_shape)
    assert macs == accounting.flops
    assert count_params(module) == accounting.params
    assert all("conv" not in name for name in uncounted)


@pytest.mark.parametrize("ratio", [0.5, 1 / 8, 1.0, 0.3])
def test_pconv_ratio_changes_the_count_as_fvcore_sees_it(ratio):
    workload = operator_grid(["pconv"], [(48, 7, 7)], layers=2, ratio=ratio)[0]
    macs, _ = fvcore_macs(workload.build(), workload.input_shape)
    assert macs == workload.accounting().flops
    assert workload.meta["ratio"] == ratio


def test_names_and_labels():
    names = [w.name for w in operator_grid(["gconv", "pconv"], [(64, 7, 7)], groups=8,
                                           impls=["split_cat", "slicing"])]
    assert names == ["gconv3x3_g8-64x7x7", "pconv3x3_r1/4-split_cat-64x7x7",
                     "pconv3x3_r1/4-slicing-64x7x7"]


@pytest.mark.parametrize("ratio,label", [
    (0.5, "pconv3x3_r1/2"), (1.0, "pconv3x3_r1"), (1 / 3, "pconv3x3_r1/3"),
    (0.999, "pconv3x3_cp95of96"),  # floor(95.9): 95 of 96 channels, not "r1"
    (0.01, "pconv3x3_cp1of96"), (1 / 1000, "pconv3x3_cp1of96"),  # one channel, not r1/64, r0
    (0.3, "pconv3x3_cp28of96"),  # 28/96 = 7/24, not 3/10
])
def test_pconv_labels_name_the_channels_that_run(ratio, label):
    assert operator_grid(["pconv"], [(96, 7, 7)], ratio=ratio)[0].meta["label"] == label


def _convolved(workload) -> int:
    """Channels the first built PConv layer really convolves, read from its conv."""
    layer = workload.build()[0]
    pconv = layer[0] if isinstance(layer, torch.nn.Sequential) else layer
    return pconv.conv.in_channels


def _stated_share(label: str) -> Fraction:
    """The share of the channels a label says is convolved: r1/4 -> 1/4, cp95of96 -> 95/96."""
    match = re.match(r"pconv3x3_(?:r(\d+)(?:/(\d+))?|cp(\d+)of(\d+))(\+pwconv1x1)?$", label)
    assert match, label
    num, den, cp, channels, _ = match.groups()
    return Fraction(int(cp), int(channels)) if cp else Fraction(int(num), int(den or 1))


RATIOS = [0.01, 1 / 1000, 1 / 64, 0.1, 0.25, 0.26, 0.3, 1 / 3, 0.5, 0.99, 0.999, 1.0]


@pytest.mark.parametrize("op", ["pconv", "pconv_pwconv"])
@pytest.mark.parametrize("channels", [96, 42, 7])
def test_a_pconv_label_states_the_share_really_convolved(op, channels):
    for ratio in RATIOS:
        workload = operator_grid([op], [(channels, 5, 5)], layers=1, ratio=ratio)[0]
        convolved = _convolved(workload)
        assert _stated_share(workload.meta["label"]) == Fraction(convolved, channels), ratio
        assert workload.meta["conv_channels"] == convolved


def test_ratios_that_convolve_different_channels_get_different_names():
    convolved_by_name: dict[str, set[int]] = {}
    for ratio in RATIOS:
        workload = operator_grid(["pconv"], [(96, 7, 7)], layers=1, ratio=ratio)[0]
        convolved_by_name.setdefault(workload.name, set()).add(_convolved(workload))
    assert all(len(counts) == 1 for counts in convolved_by_name.values()), convolved_by_name
    assert len(convolved_by_name) >= 8  # 1, 9, 24, 28, 32, 48, 95 and 96 channels


def test_workload_builds_the_stack_it_describes():
    workload = operator_grid(["dwconv"], [(16, 8, 8)], layers=4)[0]
    module = workload.build()
    assert len(module) == 4
    assert module(torch.randn(1, *workload.input_shape)).shape == (1, 16, 8, 8)


def test_parsers_accept_the_documented_forms():
    assert parse_sizes("96x56x56, 7x3x2") == [(96, 56, 56), (7, 3, 2)]
    assert parse_ratio("1/4") == 0.25 and parse_ratio("0.5") == 0.5 and parse_ratio("1") == 1
    assert parse_operators("conv,pconv") == ["conv", "pconv"]
    assert parse_impls("split_cat,slicing") == ["split_cat", "slicing"]


@pytest.mark.parametrize("call,fragment", [
    (lambda: parse_sizes("96x56"), "malformed size"),
    (lambda: parse_sizes("0x5x5"), "malformed size"),
    (lambda: parse_sizes(""), "empty"),
    (lambda: parse_ratio("0"), "outside (0, 1]"),
    (lambda: parse_ratio("1.5"), "outside (0, 1]"),
    (lambda: parse_ratio("quarter"), "malformed ratio"),
    (lambda: parse_operators("pconvv"), "did you mean pconv"),
    (lambda: parse_impls("inplace"), "unknown PConv forward form"),
    (lambda: operator_grid(["gconv"], [(100, 7, 7)], groups=16), "divisible by 16"),
    (lambda: operator_grid(["conv"], [(8, 7, 7)], layers=0), "--layers"),
])
def test_bad_operator_input_is_a_usage_error(call, fragment):
    with pytest.raises(UsageError, match=None) as info:
        call()
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_layer_config_defaults_are_the_papers():
    cfg = LayerConfig(96, 56, 56)
    assert (cfg.ratio, cfg.groups, cfg.impl) == (0.25, 16, "split_cat")
