"""Runtimes and dtypes: torch.compile, bf16/fp16, ONNX Runtime's CUDA provider, out of memory,
and settings scoped to each measurement — with real torch, real torch.compile and real ONNX
Runtime. CUDA itself is covered from the CPU side; GPU-only checks skip with their reason."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn as nn

from conftest import assert_usage_error, run_cli
from fnbench.accounting import model_accounting
from fnbench.devices import open_device
from fnbench.devices.cpu import CpuDevice, bf16_problem, cpu_flags
from fnbench.devices.cuda import CudaDevice, cuda_provider_problem
from fnbench.devices.base import Prepared
from fnbench.devices.onnx_runtime import bound_call, export_onnx, prepare_onnxruntime, session
from fnbench.devices.torch_compile import CompileParityError, compile_checked
from fnbench.devices.torch_eager import cast, cpu_time_block, make_input, prepare_module
from fnbench.measure import Protocol
from fnbench.operators import operator_grid
from fnbench.records import record_key
from fnbench.results import load_run
from fnbench.runner import InProcessExecutor, RunSettings, error_text, is_out_of_memory, \
    plan_jobs, run_jobs
from fnbench.workload import Accounting, Workload

HAS_CUDA = torch.cuda.is_available()
CPU_BF16 = CpuDevice.dtype_problem("bf16", "torch")
ORT_CUDA = cuda_provider_problem(__import__("onnxruntime").get_available_providers()) is None
TINY = Protocol(warmup_runs=1, warmup_time_s=0.0, round_warmup_runs=1, round_time_s=0.005,
                min_rounds=2, max_rounds=3, max_time_s=0.5, target_rel_ci=0.5)
QUICK = ("--quick", "--no-reference", "--sizes", "16x8x8", "--layers", "1")


def tiny(op: str = "conv"):
    return operator_grid([op], [(16, 8, 8)], layers=1)[0]


def module_workload(name: str, build, shape=(4, 6, 6)) -> Workload:
    """A workload around any module (in-process runs need no spec)."""
    return Workload(name, "ops", "test", shape, build, lambda *_: Accounting(None, 0, None))


def run(device, workloads, settings=RunSettings(protocol=TINY, reference=False)):
    records = []
    run_jobs(plan_jobs(workloads, device, settings),
             InProcessExecutor(device, settings.seed, settings.protocol), settings,
             records.append)
    return {r.name: r for r in records}


# --- torch.compile ---------------------------------------------------------------------------

class GivesUp(nn.Module):
    """Runs eagerly, but dynamo cannot trace it (it raises only while being compiled)."""

    def forward(self, x):
        if torch.compiler.is_compiling():
            raise RuntimeError("not while compiling")
        return x * 2


class Noisy(nn.Module):
    """Compiled, its random numbers differ from eager's: the parity check must catch it."""

    def forward(self, x):
        return x + torch.rand_like(x)


def test_torch_compile_is_checked_and_its_compile_time_kept_out_of_the_latency():
    device = open_device("cpu", "torch-compile")
    assert device.compile_mode == "default"
    records = run(device, [tiny("conv"), module_workload("gives-up", GivesUp)])
    record = records[tiny("conv").name]
    assert record.status == "ok", record.error
    notes = record.notes
    assert notes["compile_mode"] == "default" and notes["compile_rel_err"] <= 1e-3
    samples = [s for r in record.measurement["rounds"] for s in r["samples"]]
    assert notes["compile_s"] > max(samples) > 0  # the compiling call is no sample
    assert record.runtime == "torch-compile" and "runtime=torch-compile" in record.key
    # a module dynamo gives up on is an error record; the other workload still ran
    failed = records["gives-up"]
    assert failed.status == "error" and "fell back to eager" in failed.error


def test_compiled_output_that_differs_from_eager_is_an_error():
    with pytest.raises(CompileParityError) as info:
        compile_checked(Noisy().eval(), torch.zeros(1, 4, 6, 6), "default", "fp32")
    assert info.value.notes["compile_rel_err"] > 1e-3 and "differs from eager" in str(info.value)


def test_ops_with_torch_compile_from_the_command_line(tmp_path):
    result = run_cli("ops", "--runtime", "torch-compile", "--ops", "pconv", *QUICK,
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run_data = load_run(next(tmp_path.iterdir()))
    assert run_data["settings"]["compile_mode"] == "default"
    assert run_data["records"][0]["notes"]["compile_s"] > 0
    assert "torch.compile: 1 workload(s) compiled" in result.stdout


@pytest.mark.parametrize("args,fragment", [
    (("--compile-mode", "max-autotune"), "--compile-mode applies to --runtime torch-compile"),
    (("--runtime", "torch-compile", "--compile-mode", "fastest"), "unknown --compile-mode"),
    (("--device", "arm", "--runtime", "torch-compile"), "does not offer --runtime"),
])
def test_compile_options_are_checked(args, fragment):
    assert_usage_error(run_cli("ops", *args), fragment)


# --- dtypes ----------------------------------------------------------------------------------

def test_an_fp32_key_is_exactly_the_key_before_dtypes():
    spec = dict(tiny("dwconv").spec)
    old = ("ops|channels=16|height=8|layers=1|op=dwconv|width=8|device=cpu|runtime=torch"
           "|mode=latency|batch=1|threads=1")
    assert record_key(spec, "cpu", "torch", "latency", 1, 1) == old
    assert record_key(spec, "cpu", "torch", "latency", 1, 1, dtype="fp32") == old
    assert record_key(spec, "cpu", "torch", "latency", 1, 1, dtype="bf16") == old + "|dtype=bf16"
    compiled = record_key(spec, "cpu", "torch-compile", "latency", 1, 1, None, "fp32",
                          "max-autotune")
    assert compiled.endswith("|threads=1|compile_mode=max-autotune")
    assert record_key(spec, "cpu", "torch-compile", "latency", 1, 1, None, "fp32",
                      "default").endswith("|threads=1")


def test_memory_access_counts_the_dtype_size_and_flops_do_not_change():
    workload = tiny("pconv")
    fp32, half = workload.accounting(), workload.accounting(2)
    assert half.memory_bytes == fp32.memory_bytes / 2 and half.flops == fp32.flops
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 4))
    wide = model_accounting(lambda: model, (3, 5, 5))
    narrow = model_accounting(lambda: model, (3, 5, 5), 2)
    assert narrow.memory_bytes == wide.memory_bytes / 2 and narrow.flops == wide.flops


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_casting_moves_module_and_input_and_reports_the_difference(dtype):
    workload = tiny("conv")
    module, x, notes = prepare_module(workload, 2, 0, "cpu", dtype, None)
    expected = {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    assert x.dtype == expected and x.shape == (2, 16, 8, 8)
    assert {p.dtype for p in module.parameters()} == {expected}
    assert notes["dtype"] == dtype and 0 < notes["dtype_rel_err"] < 5e-2
    assert cpu_time_block(module, x)(1) > 0


def test_fp32_is_not_cast():
    module, x, notes = cast(nn.Conv2d(2, 2, 1), torch.ones(1, 2, 3, 3), "cpu", "fp32")
    assert x.dtype == torch.float32 and notes == {}


@pytest.mark.skipif(CPU_BF16 is not None, reason=f"no bf16 on this CPU: {CPU_BF16}")
def test_bf16_on_a_cpu_with_native_bf16():
    records = run(open_device("cpu", dtype="bf16"), [tiny("conv")])
    fp32 = run(open_device("cpu"), [tiny("conv")])
    record, reference = records[tiny("conv").name], fp32[tiny("conv").name]
    assert record.status == "ok", record.error
    assert record.dtype == "bf16" and record.key == reference.key + "|dtype=bf16"
    assert record.memory_bytes == reference.memory_bytes / 2
    assert record.notes["dtype"] == "bf16" and reference.dtype == "fp32"


def test_dtype_reaches_worker_processes_and_the_run_settings(tmp_path):
    dtype = "fp32" if CPU_BF16 else "bf16"
    result = run_cli("ops", "--ops", "conv", *QUICK, "--processes", "2", "--dtype", dtype,
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run_data = load_run(next(tmp_path.iterdir()))
    assert run_data["settings"]["dtype"] == dtype
    record = run_data["records"][0]
    assert record["dtype"] == dtype and record["notes"]["dtype"] == dtype  # set in the worker


def test_the_bf16_rule():
    assert bf16_problem({"avx2", "amx_bf16"}, True) is None
    assert bf16_problem({"avx512f", "avx512_bf16"}, True) is None
    assert bf16_problem({"fp", "asimd", "bf16"}, True) is None  # ARM FEAT_BF16
    assert "no native bf16" in bf16_problem({"avx2", "avx512f", "avx512bw"}, True)
    assert "oneDNN" in bf16_problem({"amx_bf16"}, False)
    x86 = "processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"
    assert cpu_flags(x86) == {"fpu", "avx2", "avx512_bf16"} and "bf16" in cpu_flags(arm)
    assert cpu_flags("") == set()


@pytest.mark.parametrize("args,fragment", [
    (("--dtype", "fp16"), "--dtype fp16 is measured on --device cuda only"),
    (("--dtype", "int8"), "unknown --dtype 'int8'"),
    (("--runtime", "onnxruntime", "--dtype", "bf16"), "with ONNX Runtime is not supported yet"),
    (("--host", "pi@board", "--dtype", "bf16"), "fp32"),
])
def test_dtype_errors_are_one_line(args, fragment):
    assert_usage_error(run_cli("ops", *args), fragment)


def test_cpu_bf16_without_support_is_a_usage_error():
    if CPU_BF16 is None:
        assert open_device("cpu", dtype="bf16").dtype == "bf16"
    else:
        assert_usage_error(run_cli("ops", "--dtype", "bf16"), "bf16")


def test_cuda_dtype_rules_without_a_gpu():
    assert CudaDevice.dtype_problem("fp16", "torch") is None
    assert CudaDevice.dtype_problem("fp16", "torch-compile") is None
    assert "ONNX Runtime" in CudaDevice.dtype_problem("fp16", "onnxruntime")
    assert set(CudaDevice.runtimes) == {"torch", "torch-compile", "onnxruntime"}


# --- ONNX Runtime's CUDA provider --------------------------------------------------------------

def test_missing_cuda_provider_names_the_package():
    message = cuda_provider_problem(["CPUExecutionProvider"])
    assert "pip install onnxruntime-gpu" in message and "CUDAExecutionProvider" in message
    assert cuda_provider_problem(["CUDAExecutionProvider", "CPUExecutionProvider"]) is None


@pytest.mark.skipif(ORT_CUDA, reason="this onnxruntime has the CUDA provider")
def test_cuda_onnxruntime_without_onnxruntime_gpu_exits_2():
    assert_usage_error(run_cli("ops", "--device", "cuda", "--runtime", "onnxruntime"),
                       "pip install onnxruntime-gpu")


@pytest.mark.skipif(ORT_CUDA, reason="this onnxruntime has the CUDA provider")
def test_a_session_that_silently_lands_on_the_cpu_is_an_error():
    with pytest.raises(RuntimeError, match="did not start CUDAExecutionProvider"):
        prepare_onnxruntime(tiny("conv"), batch=1, seed=0, threads=1, gpu=True)


def test_io_binding_gives_the_plain_run_output(tmp_path):
    workload = tiny("pconv")
    x = make_input(workload, 2, 0)
    export_onnx(workload.build().eval(), x, tmp_path / "m.onnx")
    sess = session(tmp_path / "m.onnx", 1)
    call, output = bound_call(sess, x.numpy(), "cpu")
    call()
    np.testing.assert_array_equal(output(), sess.run(None, {"input": x.numpy()})[0])


@pytest.mark.skipif(not (HAS_CUDA and ORT_CUDA), reason="needs a GPU and onnxruntime-gpu")
def test_onnxruntime_on_the_gpu():
    prepared = open_device("cuda", "onnxruntime").prepare(tiny("conv"), 2, 0)
    assert prepared.notes["ort_providers"][0] == "CUDAExecutionProvider"
    assert prepared.notes["parity_ok"] and prepared.time_block(3) > 0


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("runtime,dtype", [("torch", "fp16"), ("torch-compile", "fp32")])
def test_cuda_runtimes_and_dtypes(runtime, dtype):
    record = run(open_device("cuda", runtime, dtype=dtype), [tiny("conv")])[tiny("conv").name]
    assert record.status == "ok", record.error
    assert record.dtype == dtype and record.notes["dtype"] == dtype


# --- out of memory -----------------------------------------------------------------------------

def test_an_impossible_batch_is_an_error_record_naming_it_and_nothing_is_lowered():
    batch = 2 ** 40  # a 16x8x8 input of this batch is 4 PiB: the allocator refuses at once
    settings = RunSettings(modes=("throughput",), throughput_batch=batch, protocol=TINY,
                           reference=False)
    # the memory check refuses it before anything is built, naming the batch ...
    refused = run(open_device("cpu"), [tiny("conv")], settings)[tiny("conv").name]
    assert refused.status == "error" and refused.batch == batch
    assert refused.error.startswith(f"MemoryBudgetError: at batch {batch}: needs about")
    # ... and without an estimate the allocator's refusal is an error record naming it too
    unchecked = dataclasses.replace(tiny("conv"), estimate_memory=None)
    record = run(open_device("cpu"), [unchecked], settings)[unchecked.name]
    assert record.status == "error" and record.batch == batch
    assert record.error.startswith(f"out of memory at batch {batch}: lower --batch")
    assert "can't allocate memory" in record.error


def onnxruntime_allocation_failure() -> Exception:
    """ONNX Runtime's own error for a 4 PiB buffer (ConstantOfShape), raised for real."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node("ConstantOfShape", ["shape"], ["out"])
    graph = helper.make_graph(
        [node], "huge", [helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.log_severity_level = 4
    sess = ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])
    try:
        sess.run(None, {"shape": np.array([2 ** 25, 2 ** 25], dtype=np.int64)})
    except Exception as error:  # noqa: BLE001 - the error object is what is tested
        return error
    pytest.fail("ONNX Runtime allocated 4 PiB")


def test_out_of_memory_is_told_from_other_errors():
    try:
        torch.empty(2 ** 62, dtype=torch.uint8)
    except RuntimeError as error:
        cpu_error = error
    assert is_out_of_memory(cpu_error)
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to "
                                                        "allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    ort_error = onnxruntime_allocation_failure()
    assert not isinstance(ort_error, RuntimeError) and is_out_of_memory(ort_error)
    assert error_text(ort_error, 8).startswith("out of memory at batch 8: lower --batch")
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert error_text(RuntimeError("shape mismatch"), 32) == "RuntimeError: shape mismatch"
    assert error_text(MemoryError(), 1).startswith("out of memory at batch 1: the workload "
                                                   "does not fit")


# --- settings scoped to each measurement -------------------------------------------------------

class Probe(nn.Module):
    """Notes the threads and cuDNN flag in force whenever it runs."""

    def __init__(self, seen: list) -> None:
        super().__init__()
        self.seen = seen

    def forward(self, x):
        self.seen.append((torch.get_num_threads(), torch.backends.cudnn.benchmark))
        return x + 1


def probe_workload(seen: list) -> Workload:
    return module_workload("probe", lambda: Probe(seen))


def test_threads_are_set_for_each_measurement_and_restored():
    seen: list = []
    before = torch.get_num_threads()
    wanted = 2 if before != 2 else 1
    records = run(open_device("cpu", threads=wanted), [probe_workload(seen)])
    assert records["probe"].status == "ok", records["probe"].error
    assert seen and {threads for threads, _ in seen} == {wanted}
    assert torch.get_num_threads() == before


class CudaOnCpu(CudaDevice):
    """The cuda device's settings with a CPU timer: what runs around prepare and rounds is
    the real ``CudaDevice.measuring``."""

    def prepare(self, workload, batch, seed):
        module = workload.build()
        return Prepared(cpu_time_block(module, make_input(workload, batch, seed)), {})


def test_cudnn_benchmark_is_set_for_each_measurement_and_restored():
    seen: list = []
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        records = run(CudaOnCpu("torch", 1), [probe_workload(seen)])
        assert records["probe"].status == "ok", records["probe"].error
        assert seen and {flag for _, flag in seen} == {True}
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before


def test_settings_are_restored_when_a_measurement_fails():
    before = torch.get_num_threads()
    device = open_device("cpu", threads=2 if before != 2 else 1)
    with pytest.raises(ValueError):
        with device.measuring():
            assert torch.get_num_threads() == device.threads
            raise ValueError("the workload failed")
    assert torch.get_num_threads() == before
