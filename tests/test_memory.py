"""The memory check: over-budget workloads become error records before anything is built, and
the estimate is checked against the real peak memory of real runs."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from conftest import run_cli_peak_rss
from fnbench.models import create, spec
from fnbench.models.workloads import ACTIVATION_PER_INPUT, estimate_model_memory
from fnbench.operators import operator_grid
from fnbench.results import load_run

GB = 1e9
#: fnbench with torch and ONNX Runtime imported stays far below this when nothing big is built.
SMALL_PROCESS = 1.5 * GB


def only_run(out):
    (run,) = list(out.iterdir())
    return load_run(run)


def assert_refused(record: dict) -> None:
    notes = record["notes"]
    assert record["status"] == "error", record
    assert record["error"].startswith("MemoryBudgetError: at batch 1: needs about"), record["error"]
    assert "available" in record["error"] and "--layers" in record["error"]
    assert notes["memory_needed_bytes"] > notes["memory_available_bytes"] > 0


def test_a_map_too_large_for_memory_is_an_error_record_and_the_others_run(tmp_path):
    result, peak = run_cli_peak_rss("ops", "--ops", "conv", "--sizes", "16x8x8,100000x1000x1000",
                                    "--layers", "1", "--quick", "--no-roofline", "--no-reference",
                                    "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    small, huge = only_run(tmp_path)["records"]
    assert small["status"] == "ok", small["error"]
    assert_refused(huge)
    # one map of 100000 x 1000 x 1000 floats is 400 GB; the estimate counts it and the weights
    assert huge["notes"]["memory_needed_bytes"] > 400 * GB
    assert "Traceback" not in result.stderr and "MemoryBudgetError" in result.stdout
    assert peak < SMALL_PROCESS, peak


def test_too_many_layers_are_refused_before_any_is_built(tmp_path):
    weights = 100_000 * 9 * 512 ** 2 * 4  # 100000 conv 3x3 layers of 512 channels, FP32
    assert weights > 2 * psutil.virtual_memory().total  # so this test never builds them
    result, peak = run_cli_peak_rss("ops", "--ops", "conv", "--sizes", "512x4x4",
                                    "--layers", "100000", "--quick", "--no-roofline",
                                    "--no-reference", "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    (record,) = only_run(tmp_path)["records"]
    assert_refused(record)
    assert record["notes"]["memory_needed_bytes"] >= weights
    assert peak < SMALL_PROCESS, peak


PEAK_SCRIPT = """
import json, sys, threading, time
import psutil
from fnbench.devices import open_device
from fnbench.operators import operator_grid

op, size, layers, runtime, batch = sys.argv[1:]
device = open_device("cpu", runtime)
device.prepare(operator_grid(["conv"], [(8, 8, 8)], 1)[0], 1, 0).time_block(2)  # load libraries
workload = operator_grid([op], [tuple(map(int, size.split("x")))], int(layers))[0]
process = psutil.Process()
base = peak = process.memory_info().rss
done = False

def poll():
    global peak
    while not done:
        peak = max(peak, process.memory_info().rss)
        time.sleep(0.001)

thread = threading.Thread(target=poll)
thread.start()
device.prepare(workload, int(batch), 0).time_block(3)
done = True
thread.join()
print(json.dumps({"growth": peak - base}))
"""


@pytest.mark.parametrize("op,size,layers,runtime,batch", [
    ("conv", "768x7x7", 10, "torch", 1),          # weights dominate: 212 MB
    ("conv", "768x7x7", 10, "onnxruntime", 1),    # and again in the export and the session
    ("dwconv", "96x112x112", 10, "torch", 8),     # activations dominate: 4.8 MB a map
])
def test_the_estimate_bounds_the_real_peak_within_a_factor_of_two(op, size, layers, runtime,
                                                                  batch):
    result = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, op, size, str(layers), runtime,
                             str(batch)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    growth = json.loads(result.stdout.splitlines()[-1])["growth"]
    c, h, w = map(int, size.split("x"))
    workload = operator_grid([op], [(c, h, w)], layers)[0]
    estimate = workload.estimate_memory(batch, runtime)
    assert growth < estimate < 2 * growth, (growth, estimate)


def test_a_model_estimate_bounds_its_real_peak():
    script = PEAK_SCRIPT.replace("operator_grid([op], [tuple(map(int, size.split(\"x\")))], "
                                 "int(layers))[0]", "model_workload(op)")
    script = script.replace("from fnbench.operators", "import timm, torchvision\n"
                            "from fnbench.models.workloads import model_workload\n"
                            "from fnbench.operators")
    result = subprocess.run([sys.executable, "-c", script, "resnet50", "0", "0", "torch", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    growth = json.loads(result.stdout.splitlines()[-1])["growth"]
    assert growth < estimate_model_memory("resnet50", 1, "torch") < 3 * growth
    # without allocating: 25.6 M parameters (Table 3), two FP32 copies while BN is folded
    assert estimate_model_memory("resnet50", 1, "torch") > 2 * 25.5e6 * 4


class LargestOutput(TorchDispatchMode):
    """Remembers the largest tensor any op produces."""

    largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in tree_leaves(out):
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.numel())
        return out


@pytest.mark.parametrize("name", ["mobilenetv2_140", "mobilevit_s", "pvt_tiny", "efficientnet_b0",
                                  "convnext_base", "swin_tiny_patch4_window7_224", "fasternet_l"])
def test_activation_bound_holds_for_the_widest_models(name):
    size = spec(name).resolution
    with torch.device("meta"):
        model = create(name).eval()
    mode = LargestOutput()
    with torch.inference_mode(), mode:
        model(torch.empty(1, 3, size, size, device="meta"))
    assert mode.largest <= ACTIVATION_PER_INPUT * 3 * size * size
