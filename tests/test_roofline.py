"""Rooflines: the pure bound/level/fraction function against hand-computed cases, the working
sets and kernels, the cache (real measurements at quick sizes) and the shipped board script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from fnbench.accounting import traced_memory
from fnbench.devices import ceilings as shared
from fnbench.devices import open_device
from fnbench.devices.remote import _SHIPPED
from fnbench.records import Record, Run
from fnbench.roofline import store
from fnbench.roofline.bounds import level_for, roofline_fields, traffic_bytes
from fnbench.roofline.kernels import CPU_KERNELS, kernel_set, onnx_spec
from fnbench.roofline.lookup import QUICK_VARIABLE, ceilings_for
from fnbench.roofline.torch_ceilings import gpu_levels, measure_torch, torch_settings

MiB = 1 << 20
#: Hand-made ceilings: peak 100 GMAC/s; copies L2 (2 MiB) 50 GB/s, L3 (32 MiB) 20, DRAM 10.
CEILINGS = {"peak_macs_per_s": 100e9, "peak_kernel": "k",
            "levels": [{"level": "DRAM", "capacity_bytes": None, "bytes_per_s": 10e9},
                       {"level": "L3", "capacity_bytes": 32 * MiB, "bytes_per_s": 20e9},
                       {"level": "L2", "capacity_bytes": 2 * MiB, "bytes_per_s": 50e9}]}


def record(flops=27.1e6, memory=24.12e6, params=8640, layers=10, batch=1, achieved=30e9,
           suite="ops") -> Record:
    meta = {"layers": layers} if layers else {}
    return Record(key="k", workload_hash=None, name="dwconv3x3-96x56x56", suite=suite,
                  family="operator", device="cpu", runtime="onnxruntime", mode="latency",
                  batch=batch, threads=1, input_shape=(96, 56, 56), spec={}, meta=meta,
                  flops=flops, params=params, memory_bytes=memory, achieved_flops=achieved)


def test_a_memory_bound_layer_is_read_against_the_level_its_layer_fits_in():
    # DWConv x10 at 96x56x56: 1.1235 MAC/byte; one layer moves 2.412 MB > 2 MiB: L3
    fields = roofline_fields(record(), CEILINGS)
    assert fields["arithmetic_intensity"] == pytest.approx(27.1 / 24.12)
    assert fields["roofline_level"] == "L3"
    assert fields["roofline_bound"] == pytest.approx(27.1 / 24.12 * 20e9)
    assert fields["roofline_fraction"] == pytest.approx(30e9 / (27.1 / 24.12 * 20e9))
    # the same stack spread over 20 layers: 1.206 MB a layer fits in L2
    fields = roofline_fields(record(layers=20), CEILINGS)
    assert fields["roofline_level"] == "L2"
    assert fields["roofline_bound"] == pytest.approx(27.1 / 24.12 * 50e9)
    # one layer of 24 MB fits L3 (32 MiB); 40 MB fits nothing: DRAM
    assert roofline_fields(record(layers=1), CEILINGS)["roofline_level"] == "L3"
    fields = roofline_fields(record(memory=40e6, layers=1), CEILINGS)
    assert fields["roofline_level"] == "DRAM"
    assert fields["roofline_bound"] == pytest.approx(27.1e6 / 40e6 * 10e9)


def test_a_compute_bound_layer_is_bound_by_the_peak():
    # Conv x10 at 96x56x56: 2601.1 M MAC over 27.40 MB is 94.9 MAC/byte: the peak binds
    fields = roofline_fields(record(flops=2601.1e6, memory=27.40e6, achieved=80e9), CEILINGS)
    assert fields["roofline_bound"] == 100e9
    assert fields["roofline_fraction"] == pytest.approx(0.8)


def test_a_batch_reads_its_weights_once():
    # 10 MB a sample of which 4 MB are weights (1 M params): batch 32 moves 32 * 6 + 4 MB
    assert traffic_bytes(10e6, 1_000_000, 32) == pytest.approx(196e6)
    assert traffic_bytes(10e6, 1_000_000, 1) == pytest.approx(10e6)
    fields = roofline_fields(record(flops=50e6, memory=10e6, params=1_000_000, layers=1,
                                    batch=32, achieved=None), CEILINGS)
    assert fields["arithmetic_intensity"] == pytest.approx(50e6 * 32 / 196e6)
    assert fields["roofline_level"] == "DRAM"  # 196 MB in one layer
    assert fields["roofline_fraction"] is None  # nothing measured


def test_missing_ceilings_or_accounting_give_no_fields():
    empty = dict.fromkeys(("arithmetic_intensity", "roofline_level", "roofline_bound",
                           "roofline_fraction"))
    assert roofline_fields(record(), None) == empty
    assert roofline_fields(record(flops=None), CEILINGS) == empty
    assert roofline_fields(record(memory=0.0), CEILINGS) == empty


def test_level_choice_skips_unmeasured_levels_and_falls_back():
    levels = [{"level": "L2", "capacity_bytes": 2 * MiB, "bytes_per_s": None},
              {"level": "L3", "capacity_bytes": 32 * MiB, "bytes_per_s": 20e9}]
    assert level_for(1 * MiB, levels)["level"] == "L3"  # L2 has no bandwidth
    assert level_for(64 * MiB, levels)["level"] == "L3"  # no DRAM level: the largest cache
    assert level_for(1 * MiB, []) is None
    assert roofline_fields(record(), {"peak_macs_per_s": 100e9, "levels": []})[
        "roofline_bound"] == 100e9


def test_a_record_above_its_bound_is_flagged_and_one_below_is_not():
    above = record().with_roofline(CEILINGS)  # 30 GMAC/s against a 22.5 GMAC/s bound
    assert above.roofline_fraction > 1 and above.notes["above_roofline"] is True
    below = record(achieved=10e9).with_roofline(CEILINGS)
    assert below.roofline_fraction < 1 and "above_roofline" not in below.notes
    plain = record().with_roofline(None)
    assert plain.roofline_fraction is None and "above_roofline" not in plain.notes


def test_roofline_fields_round_trip_through_run_json():
    run = Run(suite="ops", device="cpu", runtime="torch", threads=1, started="now",
              fnbench_version="x", records=(record().with_roofline(CEILINGS),),
              roofline=CEILINGS)
    again = Run.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again.roofline == CEILINGS
    assert again.records[0].roofline_level == "L3"
    assert "roofline" in again.to_dict()["schema_history"]["2"]


def test_the_table_shows_the_fraction_and_warns_above_the_roof():
    from fnbench.report.runs import run_table
    from fnbench.report.table import render_markdown

    meta = {"op": "dwconv", "label": "dwconv3x3", "channels": 96, "height": 56, "width": 56,
            "layers": 10}
    fast, slow = (replace(record(achieved=speed), meta=meta).with_roofline(CEILINGS)
                  for speed in (30e9, 10e9))
    run = Run(suite="ops", device="cpu", runtime="onnxruntime", threads=1, started="now",
              fnbench_version="x", records=(fast,),
              roofline={**CEILINGS, "copy": "c", "measured_at": "2026-12-01"})
    markdown = render_markdown(run_table(run))
    assert "% roof" in markdown and "| 134 L3 ! |" in markdown
    assert "WARNING dwconv3x3-96x56x56 (latency) is above its roofline (134% of the L3 bound)" \
        in markdown
    markdown = render_markdown(run_table(replace(run, records=(slow,))))
    assert "| 45 L3 |" in markdown and "WARNING" not in markdown
    plain = replace(record(), meta=meta)
    assert "% roof" not in render_markdown(run_table(replace(run, records=(plain,),
                                                             roofline=None)))


def test_a_model_counts_its_leaf_calls_as_layers():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
    memory, calls = traced_memory(model, (3, 8, 8))
    assert calls == 3
    conv1 = (3 + 8) * 64 + 8 * 3 * 9 + 8  # input, output, weights, bias
    assert memory == 4 * (conv1 + 2 * 8 * 64 + (8 + 8) * 64 + 8 * 8 + 8)


def test_working_sets_are_half_of_each_cache_and_dram_beyond_them():
    levels, notes = shared.copy_levels({"L1d": 48 << 10, "L2": 2 * MiB, "L3": 300 * MiB})
    sets = {level["level"]: level["working_set_bytes"] for level in levels}
    assert sets == {"L2": 1 * MiB, "L3": 150 * MiB, "DRAM": 1200 * MiB} and notes == []
    ladders = {lv["level"]: [p["working_set_bytes"] // MiB for p in lv["points"]]
               for lv in levels}
    # each level above L2 is also timed from its lower edge up, in steps of 4x
    assert ladders == {"L2": [1], "L3": [2, 8, 32, 150], "DRAM": [300, 1200]}
    levels, _ = shared.copy_levels({"L2": 1 * MiB})  # a board without L3
    assert [level["level"] for level in levels] == ["L2", "DRAM"]
    assert levels[-1]["working_set_bytes"] == 256 * MiB  # at least 256 MiB
    assert [p["working_set_bytes"] // MiB for p in levels[-1]["points"]] == [1, 4, 16, 64, 256]
    levels, notes = shared.copy_levels({}, memory=200 * MiB)
    assert [level["working_set_bytes"] for level in levels] == [512 << 10, 4 * MiB, 100 * MiB]
    assert any("unreadable" in note for note in notes) and any("capped" in n for n in notes)
    quick, _ = shared.copy_levels({"L2": 2 * MiB, "L3": 300 * MiB}, quick=True)
    assert max(p["working_set_bytes"] for lv in quick for p in lv["points"]) == 16 * MiB


def test_a_record_is_read_against_the_largest_timed_working_set_below_its_own():
    ladder = {"peak_macs_per_s": 1e12, "levels": [
        {"level": "L2", "capacity_bytes": 2 * MiB, "working_set_bytes": 1 * MiB,
         "bytes_per_s": 70e9, "points": [{"working_set_bytes": 1 * MiB, "bytes_per_s": 70e9}]},
        {"level": "L3", "capacity_bytes": 300 * MiB, "working_set_bytes": 150 * MiB,
         "bytes_per_s": 7e9, "points": [
             {"working_set_bytes": 2 * MiB, "bytes_per_s": 45e9},
             {"working_set_bytes": 8 * MiB, "bytes_per_s": 27e9},
             {"working_set_bytes": 150 * MiB, "bytes_per_s": 7e9}]},
        {"level": "DRAM", "capacity_bytes": None, "working_set_bytes": 1200 * MiB,
         "bytes_per_s": 10e9, "points": [{"working_set_bytes": 1200 * MiB,
                                          "bytes_per_s": 10e9}]}]}
    intensity = 27.1 / 24.12
    # DWConv 96x56x56: 2.41 MB a layer is L3, just past its 2 MiB edge: 45 GB/s
    fields = roofline_fields(record(), ladder)
    assert fields["roofline_level"] == "L3"
    assert fields["roofline_bound"] == pytest.approx(intensity * 45e9)
    # 24.12 MB in one layer: the 8 MiB point; 200 MB: the 150 MiB point
    assert roofline_fields(record(layers=1), ladder)["roofline_bound"] == pytest.approx(
        intensity * 27e9)
    big = roofline_fields(record(flops=100e6, memory=200e6, layers=1), ladder)
    assert big["roofline_bound"] == pytest.approx(0.5 * 7e9) and big["roofline_level"] == "L3"
    # beyond every cache, below the DRAM level's only point: that point
    dram = roofline_fields(record(flops=100e6, memory=400e6, layers=1), ladder)
    assert dram["roofline_level"] == "DRAM" and dram["roofline_bound"] == pytest.approx(2.5e9)


def test_cache_sizes_are_read_from_sysfs(tmp_path):
    for index, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                                 (2, "Unified", "2048K"),
                                                 (3, "Unified", "300M")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
    assert shared.read_caches(str(tmp_path)) == {"L1d": 48 << 10, "L2": 2 * MiB,
                                                 "L3": 300 * MiB, "source": str(tmp_path)}
    assert shared.read_caches(str(tmp_path / "missing")) == {"source": None}


def test_default_kernels_are_the_real_sizes():
    names = [k.name for k in kernel_set("cpu")]
    assert names == ["matmul_2048", "conv3x3_128x56x56", "conv3x3_256x28x28",
                     "conv1x1_256x56x56"]
    assert CPU_KERNELS[0].macs == 2048 ** 3 and CPU_KERNELS[1].macs == 56 * 56 * 9 * 128 * 128
    assert [k.name for k in kernel_set("cuda")][0] == "matmul_8192"
    levels, _ = gpu_levels(50 * MiB)
    assert [(lv["level"], lv["working_set_bytes"]) for lv in levels] == [
        ("L2", 25 * MiB), ("DRAM", 1 << 30)]
    assert [p["working_set_bytes"] // MiB for p in levels[1]["points"]] == [50, 200, 1024]


def test_torch_ceilings_restore_the_thread_count():
    before = torch.get_num_threads()
    with torch_settings(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    result = measure_torch("cpu", 1, quick=True)
    assert torch.get_num_threads() == before
    best = max(result["kernels"], key=lambda k: k["macs_per_s"])
    assert result["peak_kernel"] == best["name"] and result["peak_macs_per_s"] > 1e8
    assert [lv["level"] for lv in result["levels"]][-1] == "DRAM"
    assert all(lv["bytes_per_s"] > 1e8 for lv in result["levels"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_ceilings_on_the_gpu():
    result = measure_torch("cuda", 1, quick=True)
    assert result["peak_macs_per_s"] > 1e9 and result["levels"][-1]["level"] == "DRAM"
    assert "device to device" in result["copy"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FNBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(QUICK_VARIABLE, "1")
    return tmp_path / "cache" / "rooflines"


def test_the_cache_reuses_refreshes_and_keys_by_threads_and_runtime(cache):
    device = open_device("cpu", "torch", 1)
    first = ceilings_for(device)
    assert not first.cached and first.path.parent == cache and first.path.exists()
    again = ceilings_for(device)
    assert again.cached and again.ceilings["measured_at"] == first.ceilings["measured_at"]
    fresh = ceilings_for(device, refresh=True)
    assert not fresh.cached and fresh.ceilings["measured_at"] != first.ceilings["measured_at"]
    assert ceilings_for(device).ceilings["measured_at"] == fresh.ceilings["measured_at"]
    two = ceilings_for(open_device("cpu", "torch", 2))
    assert not two.cached and two.path != first.path and two.ceilings["threads"] == 2
    ort = ceilings_for(open_device("cpu", "onnxruntime", 1))
    assert not ort.cached and ort.path != first.path
    assert "single-threaded" in ort.ceilings["copy"]
    assert len(list(cache.glob("*.json"))) == 3


def test_quick_and_full_sizes_never_share_an_entry(cache, monkeypatch):
    device = open_device("cpu", "torch", 1)
    quick = ceilings_for(device)
    assert quick.ceilings["sizes"] == "quick"
    monkeypatch.delenv(QUICK_VARIABLE)
    from fnbench.roofline.lookup import identity

    assert store.cache_path(identity(device, False)) != quick.path
    assert store.load(identity(device, False)) is None


def test_a_damaged_cache_entry_is_measured_again(cache):
    device = open_device("cpu", "torch", 1)
    first = ceilings_for(device)
    first.path.write_text("{not json")
    again = ceilings_for(device)
    assert not again.cached and json.loads(first.path.read_text())["key"]


def test_an_unwritable_cache_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("FNBENCH_CACHE", str(blocker))
    monkeypatch.setenv(QUICK_VARIABLE, "1")
    lookup = ceilings_for(open_device("cpu", "torch", 1))
    assert lookup.ceilings["peak_macs_per_s"] > 0 and not lookup.cached
    assert "FNBENCH_CACHE" in lookup.warning


def test_the_shipped_script_runs_alone_with_numpy_and_onnxruntime(tmp_path):
    """What a board runs: ceilings.py beside measure.py and ort_session.py, no fnbench on the
    path; it must never import torch or fnbench."""
    spec = onnx_spec(kernel_set("cpu", quick=True), tmp_path, threads=1, quick=True)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    shutil.copy(Path(shared.__file__), tmp_path / "ceilings.py")
    for name in ("measure.py", "ort_session.py"):
        shutil.copy(_SHIPPED[name], tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-E", "-s", str(tmp_path / "ceilings.py"),
                           str(tmp_path / "spec.json")], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    final = events[-1]
    points = sum(len(level["points"]) for level in final["ceilings"]["levels"])
    assert [e["event"] for e in events[:-1]] == ["step"] * (3 + points)
    assert final["event"] == "ceilings"
    assert final["torch_loaded"] is False and final["fnbench_loaded"] is False
    result = final["ceilings"]
    assert [k["name"] for k in result["kernels"]] == [k.name for k in kernel_set("cpu", True)]
    assert result["peak_macs_per_s"] == max(k["macs_per_s"] for k in result["kernels"])
    assert [lv["level"] for lv in result["levels"]][-1] == "DRAM"
