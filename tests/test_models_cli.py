"""`fnbench models` as a user runs it, and one failing workload among good ones."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import torch

from conftest import assert_usage_error, randomize_norms, run_cli
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


def checksum(model: torch.nn.Module) -> list[float]:
    """Sum and abs-sum of the model's output on the seed-0 input of 1 x 3 x 224 x 224."""
    x = torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.eval()(x).double()
    return [float(out.sum()), float(out.abs().sum())]


def test_weights_are_loaded_into_the_model(tmp_path):
    torch.manual_seed(0)  # the weights fnbench gives the model without --weights (seed 0)
    seeded = checksum(create("fasternet_t0"))
    torch.manual_seed(1)
    trained = randomize_norms(create("fasternet_t0"), seed=1)
    path = tmp_path / "t0.pth"
    torch.save(trained.state_dict(), path)
    expected = checksum(trained)
    assert expected[1] != pytest.approx(seeded[1], rel=1e-3)
    out = tmp_path / "out"
    result = run_cli("models", "--models", "fasternet_t0", "--weights", str(path), "--quick",
                     "--runtime", "onnxruntime", "--out", str(out))
    assert result.returncode == 0, result.stderr
    (record,) = load_run(only_run(out))["records"]
    assert record["meta"]["weights"] == str(path) and record["notes"]["parity_ok"]
    assert record["notes"]["output_checksum"] == pytest.approx(expected, rel=1e-5)


def test_without_weights_the_seeded_model_runs(tmp_path):
    torch.manual_seed(0)
    expected = checksum(create("fasternet_t0"))
    result = run_cli("models", "--models", "fasternet_t0", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (record,) = load_run(only_run(tmp_path))["records"]
    assert record["notes"]["output_checksum"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("args,fragment", [
    (["--models", "fasternet_t9"], "did you mean fasternet_t"),
    (["--models", "timm:not_a_model_at_all"], "unknown timm model"),
    (["--set", "favourites"], "unknown set 'favourites'"),
    (["--models", "fasternet_t0", "--weights", "/nonexistent/w.pth"], "w.pth"),
    (["--models", "fasternet_t0,resnet50", "--weights", "/nonexistent/w.pth"],
     "exactly one model"),
    (["--models", "timm:fasternet_t0", "--weights", "/nonexistent/w.pth"],
     "timm:NAME models cannot take --weights"),
    (["--models", "resnet50", "--weights", "/nonexistent/w.pth"],
     "fnbench's own FasterNet models (fasternet_t0..fasternet_l and the ablations)"),
])
def test_models_bad_input(tmp_path, args, fragment):
    out = tmp_path / "out"
    assert_usage_error(run_cli("models", "--out", str(out), *args), fragment)
    assert not out.exists()


def _whole_module(path):
    with open(path, "wb") as handle:  # a raw pickle of the nn.Module, not a state dict
        pickle.dump(create("fasternet_t0"), handle)


def _directory(path):
    path.mkdir()
    torch.save(create("fasternet_t0").state_dict(), path / "t0.pth")


def _nan(path):
    state = create("fasternet_t0").state_dict()
    state["patch_embed.proj.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, path)


@pytest.mark.parametrize("write,fragments", [
    (_whole_module, ["is not a checkpoint", "torch.save(model.state_dict(), path)"]),
    (_directory, ["is a directory, not a checkpoint file", "pass the file itself"]),
    (_nan, ["contains NaN/inf", "patch_embed.proj.weight"]),
], ids=["whole-module-pickle", "directory", "nan"])
def test_bad_weights_are_one_line_that_says_what_is_wrong(tmp_path, write, fragments):
    path = tmp_path / "w.pth"
    write(path)
    out = tmp_path / "out"
    result = run_cli("models", "--models", "fasternet_t0", "--weights", str(path),
                     "--out", str(out))
    assert_usage_error(result, str(path), *fragments)  # one line: no torch warning before it
    assert not out.exists()


def test_timm_models_cannot_take_weights(tmp_path):
    path = tmp_path / "t0.pth"
    torch.save(create("fasternet_t0").state_dict(), path)
    result = run_cli("models", "--models", "timm:fasternet_t0", "--weights", str(path),
                     "--out", str(tmp_path / "out"))
    assert_usage_error(result, "timm:NAME models cannot take --weights",
                       "fnbench's own FasterNet models", "--models fasternet_t0")


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
                   lambda element_bytes=4: Accounting(None, 0, None))
    good = operator_grid(["pconv"], [(16, 8, 8)], layers=1)[0]
    records = []
    run_workloads([bad, good], open_device("cpu"), RunSettings(protocol=Protocol.quick()),
                  records.append)
    assert [r.status for r in records] == ["error", "ok"]
    assert records[0].error == "RuntimeError: cannot build this one"
    assert "Traceback" in records[0].traceback


def test_a_model_named_twice_is_selected_once_in_the_order_given():
    assert select_models("paper", "resnet50,fasternet_t0, resnet50,fasternet_t0") == \
        ["resnet50", "fasternet_t0"]


def test_an_accounting_error_keeps_the_timing():
    def no_formula(element_bytes: int = 4) -> Accounting:
        raise ValueError("no formula for this op")

    workload = dataclasses.replace(operator_grid(["conv"], [(16, 8, 8)], layers=1)[0],
                                   accounting=no_formula)
    records = []
    run_workloads([workload], open_device("cpu"), RunSettings(protocol=Protocol.quick()),
                  records.append)
    (record,) = records
    assert record.status == "ok" and record.latency_ms > 0 and record.rounds >= 4
    assert record.notes["accounting_error"] == "ValueError: no formula for this op"
    assert record.flops is None and record.achieved_flops is None
