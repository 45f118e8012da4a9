"""PVT v1 and CycleMLP: size and MACs against the paper's Table 3, CycleFC against the official
deform_conv2d formulation, and ONNX Runtime parity."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import deform_conv2d

from fnbench.accounting import count_params, fvcore_macs
from fnbench.devices.onnx_runtime import prepare_onnxruntime
from fnbench.models.cyclemlp import CycleFC, cyclemlp_b1, cyclemlp_b2
from fnbench.models.pvt import pvt_large, pvt_medium, pvt_small, pvt_tiny
from fnbench.models.workloads import model_workload
from fnbench.published import paper_table

MODELS = {
    "PVT-Tiny": pvt_tiny,
    "PVT-Small": pvt_small,
    "PVT-Medium": pvt_medium,
    "PVT-Large": pvt_large,
    "CycleMLP-B1": cyclemlp_b1,
    "CycleMLP-B2": cyclemlp_b2,
}
# Ops fvcore leaves uncounted here: element-wise, normalising and data-movement ops only.
ACCEPTED_UNCOUNTED = {"aten::add", "aten::mul", "aten::softmax", "aten::gelu",
                                  "aten::mean", "aten::pad"}


@pytest.mark.parametrize("network", MODELS)
def test_size_and_macs_match_paper(network: str) -> None:
    table = paper_table("table3_imagenet").set_index("network")
    model = MODELS[network]().eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    params_m = count_params(model) / 1e6
    macs, uncounted = fvcore_macs(model, (3, 224, 224))
    assert params_m == pytest.approx(table.loc[network, "params_m"], rel=0.02)
    assert macs / 1e9 == pytest.approx(table.loc[network, "flops_g"], rel=0.02)
    assert set(uncounted) <= ACCEPTED_UNCOUNTED, uncounted


def official_offset(in_channels: int, kernel_size: tuple[int, int]) -> torch.Tensor:
    """CycleFC's fixed deform_conv2d offsets as the official code builds them: (dy, dx) pairs per
    input channel, shape (1, 2 * in_channels, 1, 1)."""
    offset = torch.zeros(1, 2 * in_channels, 1, 1)
    kh, kw = kernel_size
    start = kh * kw // 2
    for i in range(in_channels):
        if kh == 1:
            offset[0, 2 * i + 1] = (i + start) % kw - kw // 2
        else:
            offset[0, 2 * i] = (i + start) % kh - kh // 2
    return offset


@pytest.mark.parametrize("kernel_size", [(1, 3), (3, 1), (1, 5), (7, 1)])
@pytest.mark.parametrize("in_channels", [1, 2, 7, 12])
def test_cyclefc_equals_deform_conv2d(kernel_size: tuple[int, int], in_channels: int) -> None:
    torch.manual_seed(0)
    layer = CycleFC(in_channels, 5, kernel_size)
    x = torch.randn(2, in_channels, 6, 5)
    offset = official_offset(in_channels, kernel_size).expand(2, -1, 6, 5)
    expected = deform_conv2d(x, offset, layer.weight, layer.bias)
    with torch.no_grad():
        got = layer(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["pvt_tiny", "cyclemlp_b1"])
def test_onnx_runtime_matches_pytorch(name) -> None:
    prepared = prepare_onnxruntime(model_workload(name), batch=1, seed=0, threads=1)
    notes = prepared.notes
    assert notes["onnx_exporter"] == "dynamo"
    assert notes["parity_ok"] and notes["parity_rel_err"] <= 1e-3
    assert prepared.time_block(1) > 0
