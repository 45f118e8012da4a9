"""Devices with the real runtimes: PyTorch eager and ONNX Runtime on this CPU; CUDA and ARM
availability checks."""

from __future__ import annotations

import platform

import numpy as np
import pytest
import torch
import torch.nn as nn

from fnbench.devices import DEVICES, open_device
from fnbench.devices.onnx_runtime import (ParityError, export_onnx, exporter_order, parity,
                                         prepare_onnxruntime)
from fnbench.errors import UsageError
from fnbench.fusion import count_batchnorm, fuse_batchnorm
from fnbench.operators import operator_grid
from fnbench.workload import Accounting, Workload

HAS_CUDA = torch.cuda.is_available()
IS_ARM = platform.machine().lower() in ("aarch64", "arm64")


def small(op: str, impl: str = "split_cat"):
    return operator_grid([op], [(32, 14, 14)], layers=2, impls=[impl])[0]


def test_cpu_torch_runs_with_the_requested_threads():
    device = open_device("cpu", threads=1)
    prepared = device.prepare(small("conv"), batch=2, seed=0)
    assert prepared.notes["torch_threads"] == 1
    assert prepared.notes["bn_folded"] == 0
    assert prepared.time_block(3) > 0


@pytest.mark.parametrize("op,impl", [("conv", "split_cat"), ("gconv", "split_cat"),
                                     ("dwconv", "split_cat"), ("pconv", "split_cat"),
                                     ("pconv", "slicing"), ("pconv_pwconv", "split_cat")])
def test_onnxruntime_matches_pytorch(op, impl):
    prepared = prepare_onnxruntime(small(op, impl), batch=1, seed=0, threads=1)
    notes = prepared.notes
    assert notes["parity_ok"] and notes["parity_rel_err"] <= 1e-3
    # operators go through TorchScript first (fast, same Conv/Slice/Concat graph), models
    # through dynamo first: see fnbench.devices.onnx_runtime.EXPORTER_ORDER
    assert notes["onnx_exporter"] == "torchscript"
    assert prepared.time_block(2) > 0


class ExportsSomethingElse(nn.Module):
    """Doubles its output only while being exported: the ONNX graph computes something else."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return 2 * y if torch.onnx.is_in_onnx_export() else y


class DataDependentBranch(nn.Module):
    """Python control flow on a tensor's value: torch.export cannot capture it, the
    TorchScript tracer records the branch taken."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return 2 * y if y.sum().item() > 0 else y - 1


def _test_workload(module: type[nn.Module]) -> Workload:
    return Workload(module.__name__, "test", "test", (4, 8, 8), module,
                    lambda element_bytes=4: Accounting(None, 0, None))


def test_onnxruntime_parity_failure_raises_with_its_numbers():
    with pytest.raises(ParityError) as info:
        prepare_onnxruntime(_test_workload(ExportsSomethingElse), batch=1, seed=0, threads=1)
    notes = info.value.notes
    assert notes["parity_ok"] is False and notes["onnx_exporter"] == "dynamo"
    assert notes["parity_rel_err"] == pytest.approx(1.0, rel=1e-4)  # |2y - y| / max |y|
    assert notes["parity_max_abs_err"] > 0


def test_a_parity_error_reaches_the_record():
    from fnbench.measure import Protocol
    from fnbench.runner import RunSettings, run_workloads

    records = []
    run_workloads([_test_workload(ExportsSomethingElse)], open_device("cpu", "onnxruntime"),
                  RunSettings(protocol=Protocol.quick(), reference=False), records.append)
    (record,) = records
    assert record.status == "error" and record.error.startswith("ParityError: ")
    assert record.notes["parity_rel_err"] == pytest.approx(1.0, rel=1e-4)
    assert record.latency_ms is None and record.measurement is None


def test_torchscript_export_is_the_fallback_when_dynamo_fails(tmp_path):
    with pytest.raises(Exception) as info:  # the premise: dynamo cannot export this module
        torch.onnx.export(DataDependentBranch().eval(), (torch.randn(1, 4, 8, 8),),
                          str(tmp_path / "m.onnx"), dynamo=True, external_data=False)
    assert not isinstance(info.value, TypeError), info.value
    prepared = prepare_onnxruntime(_test_workload(DataDependentBranch), batch=1, seed=0,
                                   threads=1)
    assert prepared.notes["onnx_exporter"] == "torchscript"
    assert prepared.notes["parity_ok"] and prepared.time_block(2) > 0


def test_exporters_are_tried_in_the_given_order_and_every_failure_is_named(tmp_path):
    module, x = DataDependentBranch().eval(), torch.randn(1, 4, 8, 8)
    assert export_onnx(module, x, tmp_path / "a.onnx", ("torchscript", "dynamo")) == \
        "torchscript"
    with pytest.raises(RuntimeError, match=r"ONNX export failed \(dynamo: "):
        export_onnx(module, x, tmp_path / "b.onnx", ("dynamo",))
    assert exporter_order(small("conv")) == ("torchscript", "dynamo")
    assert exporter_order(_test_workload(DataDependentBranch)) == ("dynamo", "torchscript")


def _bn_workload() -> Workload:
    def build() -> nn.Module:
        model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                              nn.ReLU())
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        return model
    return Workload("conv-bn", "test", "test", (8, 10, 10), build,
                    lambda element_bytes=4: Accounting(None, 0, None))


def test_onnxruntime_exports_the_folded_model():
    prepared = prepare_onnxruntime(_bn_workload(), batch=3, seed=1, threads=1)
    assert prepared.notes["bn_folded"] == 1 and prepared.notes["bn_left"] == 0
    assert prepared.notes["parity_ok"]


def test_bn_folding_keeps_outputs():
    torch.manual_seed(0)
    model = _bn_workload().build().eval()
    x = torch.randn(2, 8, 10, 10)
    reference = model(x)
    fused, folded, left = fuse_batchnorm(model)
    assert (folded, left, count_batchnorm(fused)) == (1, 0, 0)
    assert torch.allclose(fused(x), reference, atol=1e-5)


def test_bn_folding_through_tracing_when_not_in_a_sequential():
    class ConvBn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(self.conv(x)) + x

    torch.manual_seed(0)
    model = ConvBn().eval()
    model.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 4, 5, 5)
    reference = model(x)
    fused, folded, left = fuse_batchnorm(model)
    assert (folded, left) == (1, 0)
    assert torch.allclose(fused(x), reference, atol=1e-5)


def test_parity_detects_a_mismatch():
    reference = np.linspace(-1, 1, 100, dtype=np.float32)
    assert parity(reference, reference.copy())["parity_ok"]
    off = reference.copy()
    off[3] += 0.01
    result = parity(reference, off)
    assert not result["parity_ok"] and result["parity_rel_err"] == pytest.approx(0.01, rel=1e-3)
    assert not parity(reference, reference[:50])["parity_ok"]


def test_parity_error_carries_its_numbers():
    error = ParityError("differs", {"parity_rel_err": 0.5})
    assert error.notes["parity_rel_err"] == 0.5


def test_device_registry_and_runtimes():
    assert set(DEVICES) == {"cpu", "cuda", "arm"}
    assert open_device("cpu").runtime == "torch"
    assert open_device("cpu", "onnxruntime", threads=2).threads == 2


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(name="tpu"), "unknown device"),
    (dict(name="cpu", runtime="tensorrt"), "does not offer --runtime tensorrt"),
    (dict(name="cpu", threads=0), "--threads 0"),
    (dict(name="cpu", host="pi@nowhere.invalid"), "cannot connect to --host"),
])
def test_open_device_rejects_bad_requests(kwargs, fragment):
    with pytest.raises(UsageError) as info:
        open_device(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU: the no-GPU error cannot occur")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(UsageError) as info:
        open_device("cuda")
    assert "no CUDA GPU" in str(info.value) and "--device cpu" in str(info.value)


@pytest.mark.skipif(IS_ARM, reason="this host is ARM: the device is available here")
def test_arm_on_a_non_arm_host_says_so():
    with pytest.raises(UsageError) as info:
        open_device("arm")
    assert platform.machine() in str(info.value) and "aarch64" in str(info.value)


@pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU (none visible to torch)")
def test_cuda_times_with_events():
    device = open_device("cuda")
    prepared = device.prepare(small("pconv"), batch=4, seed=0)
    assert prepared.notes["cudnn_benchmark"] and prepared.time_block(5) > 0
    assert device.describe()["gpu"]


@pytest.mark.skipif(not IS_ARM, reason="needs an aarch64 host")
def test_arm_runs_onnxruntime():
    device = open_device("arm")
    assert device.runtime == "onnxruntime"
    assert device.prepare(small("pconv"), batch=1, seed=0).time_block(2) > 0


class BatchNormAct(nn.BatchNorm2d):
    """Like timm's BatchNormAct2d: BN, then an activation, in one module."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(super().forward(x))


class NormBeforeConv(nn.Module):
    """Has ``conv`` and ``bn`` like timm's ConvNormAct, but applies them the other way round."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), BatchNormAct(4)

    def forward(self, x):
        return self.conv(self.bn(x))


def test_a_fold_that_changes_the_outputs_is_an_error_not_a_silent_change():
    from fnbench.devices.torch_eager import build_for_inference

    def build() -> nn.Module:
        model = NormBeforeConv()
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
        return model

    workload = Workload("wrong-order", "test", "test", (4, 6, 6), build,
                        lambda element_bytes=4: Accounting(None, 0, None))
    with pytest.raises(RuntimeError, match="changed the outputs"):
        build_for_inference(workload, seed=0)


@pytest.mark.parametrize("name,path", [("mobilevit_xxs", "ConvNormAct attributes"),
                                       ("efficientnet_b0", "fx tracing"),
                                       ("resnet50", "fx tracing")])
def test_timm_batchnorm_act_layers_are_folded(name, path):
    from conftest import randomize_norms
    from fnbench.models import create, spec

    torch.manual_seed(0)
    model = randomize_norms(create(name)).eval()
    size = spec(name).resolution
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        reference = model(x)
        before = count_batchnorm(model)
        fused, folded, left = fuse_batchnorm(model)
        out = fused(x)
    assert before > 0 and (folded, left) == (before, 0), path
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert torch.allclose(out, reference, rtol=1e-4, atol=1e-4 * float(reference.abs().max()))


def test_train_time_branches_are_reparameterised():
    from fnbench.fusion import reparameterize
    from fnbench.models import create

    torch.manual_seed(0)
    model = create("repvit_m1_0").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        reference = model(x)
        params = sum(p.numel() for p in model.parameters())
        assert reparameterize(model) > 0
        out = model(x)
    assert sum(p.numel() for p in model.parameters()) < params  # branches merged
    assert torch.allclose(out, reference, rtol=1e-4, atol=1e-4 * float(reference.abs().max()))


class Overflows(nn.Module):
    """Finite weights, infinite outputs."""

    def forward(self, x):
        return x * 1e30 * 1e30


def test_non_finite_weights_or_outputs_are_named_not_blamed_on_folding():
    from fnbench.devices.torch_eager import build_for_inference

    def nan_weights() -> nn.Module:
        model = _bn_workload().build()
        with torch.no_grad():
            model[0].weight[0, 0, 0, 0] = float("nan")
        return model

    workload = Workload("nan", "test", "test", (8, 10, 10), nan_weights,
                        lambda element_bytes=4: Accounting(None, 0, None))
    with pytest.raises(RuntimeError, match=r"weights contain NaN/inf \(first: 0.weight\)"):
        build_for_inference(workload, seed=0)
    with pytest.raises(RuntimeError, match="outputs contain NaN/inf"):
        build_for_inference(_test_workload(Overflows), seed=0)
