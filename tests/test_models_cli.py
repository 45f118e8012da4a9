"""`fnbench models` as a user runs it, and one failing workload among good ones."""

from __future__ import annotations

import pytest
import torch

from conftest import assert_usage_error, run_cli
from fnbench.devices import open_device
from fnbench.models import create
from fnbench.models.workloads import select_models
from fnbench.results import load_run
from fnbench.runner import RunSettings, run_workloads
from fnbench.measure import Protocol
from fnbench.operators import operator_grid
from fnbench.workload import Accounting, Workload

MODELS = "fasternet_t0,mobilevit_xxs"


def only_run(out):
    runs = list(out.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_models_run_writes_records_with_published_references(tmp_path, runtime):
    result = run_cli("models", "--models", MODELS, "--runtime", runtime, "--quick",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run = load_run(only_run(tmp_path))
    assert run["suite"] == "models" and run["status"] == "complete"
    t0, mvit = run["records"]
    assert t0["name"] == "fasternet_t0" and t0["status"] == "ok", t0.get("error")
    assert round(t0["flops"] / 1e9, 2) == 0.34 and round(t0["params"] / 1e6, 1) == 3.9
    assert t0["notes"]["bn_left"] == 0 and t0["notes"]["bn_folded"] > 0
    assert mvit["input_shape"] == [3, 256, 256] and mvit["meta"]["top1"] == 69.0
    assert mvit["uncounted_ops"]  # softmax, silu, ... are listed, not silently dropped
    if runtime == "onnxruntime":
        assert all(r["notes"]["parity_ok"] for r in run["records"])
    markdown = (only_run(tmp_path) / "results.md").read_text()
    assert "paper ms" in markdown and "| 9.20 |" in markdown  # Table 3: T0 on the i9 CPU
    assert "| 71.9 |" in markdown  # T0's published top-1


def test_models_throughput_mode_and_timm_names(tmp_path):
    result = run_cli("models", "--models", "timm:resnet18", "--mode", "throughput",
                     "--batch", "2", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (record,) = load_run(only_run(tmp_path))["records"]
    assert record["batch"] == 2 and record["family"] == "timm" and record["status"] == "ok"


def test_models_get_longer_rounds_and_more_time_by_default(tmp_path):
    result = run_cli("models", "--models", "fasternet_t0", "--warmup", "1", "--min-rounds", "2",
                     "--max-rounds", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run = load_run(only_run(tmp_path))
    protocol = run["settings"]["protocol"]
    assert protocol["max_time_s"] == 10.0 and protocol["round_time_s"] == 0.25
    assert protocol["warmup_runs"] == 1 and run["records"][0]["rounds"] == 2


def test_weights_are_loaded_into_the_model(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "t0.pth"
    torch.save(create("fasternet_t0").state_dict(), path)
    out = tmp_path / "out"
    result = run_cli("models", "--models", "fasternet_t0", "--weights", str(path), "--quick",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert load_run(only_run(out))["records"][0]["meta"]["weights"] == str(path)


@pytest.mark.parametrize("args,fragment", [
    (["--models", "fasternet_t9"], "did you mean fasternet_t"),
    (["--models", "timm:not_a_model_at_all"], "unknown timm model"),
    (["--set", "favourites"], "unknown set 'favourites'"),
    (["--models", "fasternet_t0", "--weights", "/nonexistent/w.pth"], "w.pth"),
    (["--models", "fasternet_t0,resnet50", "--weights", "/nonexistent/w.pth"],
     "exactly one FasterNet model"),
])
def test_models_bad_input(tmp_path, args, fragment):
    out = tmp_path / "out"
    assert_usage_error(run_cli("models", "--out", str(out), *args), fragment)
    assert not out.exists()


def test_weights_that_are_not_a_checkpoint(tmp_path):
    bogus = tmp_path / "w.pth"
    bogus.write_text("not a checkpoint")
    out = tmp_path / "out"
    result = run_cli("models", "--models", "fasternet_t0", "--weights", str(bogus),
                     "--out", str(out))
    assert_usage_error(result, "w.pth")
    assert not out.exists()


def test_one_failing_workload_never_loses_the_others():
    def broken() -> torch.nn.Module:
        raise RuntimeError("cannot build this one")

    bad = Workload("broken", "models", "test", (3, 8, 8), broken,
                   lambda: Accounting(None, 0, None))
    good = operator_grid(["pconv"], [(16, 8, 8)], layers=1)[0]
    records = []
    run_workloads([bad, good], open_device("cpu"), RunSettings(protocol=Protocol.quick()),
                  records.append)
    assert [r["status"] for r in records] == ["error", "ok"]
    assert records[0]["error"] == "RuntimeError: cannot build this one"
    assert "Traceback" in records[0]["traceback"]


def test_a_model_named_twice_is_selected_once_in_the_order_given():
    assert select_models("paper", "resnet50,fasternet_t0, resnet50,fasternet_t0") == \
        ["resnet50", "fasternet_t0"]
