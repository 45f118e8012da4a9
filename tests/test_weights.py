"""Loading checkpoints: timm and official naming, .pth and .safetensors, strict errors."""

from __future__ import annotations

import pickle
import warnings

import pytest
import timm
import torch
import torch.nn as nn
from safetensors.torch import save_file

from conftest import randomize_norms
from fnbench.errors import UsageError
from fnbench.models.fasternet import fasternet
from fnbench.models.weights import (from_timm_state_dict, is_timm_naming, load_weights,
                                    to_timm_state_dict)


def save(state_dict: dict, path) -> None:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    else:
        torch.save(state_dict, path)


def outputs(model: nn.Module, seed: int = 1) -> torch.Tensor:
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("variant", ["T0", "S"])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_checkpoint_loads_into_our_model(tmp_path, variant, suffix):
    torch.manual_seed(0)
    reference = randomize_norms(timm.create_model(f"fasternet_{variant.lower()}",
                                                  pretrained=False))
    path = tmp_path / f"timm{suffix}"
    save(reference.state_dict(), path)
    ours = load_weights(fasternet(variant), path)
    torch.testing.assert_close(outputs(ours), outputs(reference), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"state_dict": sd, "epoch": 3},
    lambda sd: {"model": sd},
    lambda sd: {"model_ema": sd},
    lambda sd: {f"module.{k}": v for k, v in sd.items()},
    lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}},
], ids=["raw", "state_dict", "model", "model_ema", "module-prefix", "lightning"])
def test_official_naming_round_trips(tmp_path, wrap):
    torch.manual_seed(0)
    source = randomize_norms(fasternet("T0"))
    path = tmp_path / "ours.pt"
    torch.save(wrap(source.state_dict()), path)
    target = load_weights(fasternet("T0"), str(path))
    assert all(torch.equal(v, target.state_dict()[k]) for k, v in source.state_dict().items())
    assert torch.equal(outputs(target), outputs(source))


def test_our_weights_run_identically_in_timm():
    torch.manual_seed(0)
    ours = randomize_norms(fasternet("T2"))
    timm_names = to_timm_state_dict(ours.state_dict())
    assert is_timm_naming(timm_names) and not is_timm_naming(ours.state_dict())
    assert from_timm_state_dict(timm_names).keys() == ours.state_dict().keys()
    theirs = timm.create_model("fasternet_t2", pretrained=False)
    theirs.load_state_dict(timm_names, strict=True)
    torch.testing.assert_close(outputs(theirs), outputs(ours), rtol=1e-5, atol=1e-5)


def test_batch_counters_may_be_missing(tmp_path):
    source = randomize_norms(fasternet("T0"))
    state = {k: v for k, v in source.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    save(state, tmp_path / "no_counters.safetensors")
    target = load_weights(fasternet("T0"), tmp_path / "no_counters.safetensors")
    assert torch.equal(outputs(target), outputs(source))


def assert_one_line_usage_error(call, *fragments: str) -> str:
    with pytest.raises(UsageError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_missing_file(tmp_path):
    model = fasternet("T0")
    assert_one_line_usage_error(lambda: load_weights(model, tmp_path / "nope.pth"),
                                "not found", "nope.pth")


@pytest.mark.parametrize("name, content", [
    ("notes.pth", b"these are not weights\nat all\n"),
    ("noise.pt", bytes(range(256)) * 8),
    ("noise.safetensors", bytes(range(256)) * 8),
    ("empty.pth", b""),
])
def test_file_that_is_not_a_checkpoint(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    model = fasternet("T0")
    before = snapshot(model)
    assert_one_line_usage_error(lambda: load_weights(model, path), name, "checkpoint")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("payload", [[1, 2, 3], {"epoch": 3}, {"state_dict": {"w": 1.0}}],
                         ids=["list", "no-tensors", "nested-non-tensor"])
def test_pickle_without_a_state_dict(tmp_path, payload):
    path = tmp_path / "other.pth"
    torch.save(payload, path)
    assert_one_line_usage_error(lambda: load_weights(fasternet("T0"), path), "no state dict")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_wrong_variant_is_refused_and_leaves_the_model_untouched(tmp_path, suffix):
    path = tmp_path / f"t1{suffix}"
    save(timm.create_model("fasternet_t1", pretrained=False).state_dict(), path)
    model = randomize_norms(fasternet("T0"))
    before = snapshot(model)
    message = assert_one_line_usage_error(
        lambda: load_weights(model, path), "patch_embed.proj.weight", "same variant")
    mismatched = sum(v.shape != before[k].shape for k, v in fasternet("T1").state_dict().items())
    assert f"shape mismatches {mismatched} (" in message
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = fasternet("T0").state_dict()
    del state["head.weight"], state["head.bias"]
    state["extra.weight"] = torch.zeros(3)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    model = fasternet("T0")
    before = snapshot(model)
    assert_one_line_usage_error(lambda: load_weights(model, path),
                                "missing keys 2 (head.weight, head.bias)",
                                "unexpected keys 1 (extra.weight)")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_deeper_variant_is_refused(tmp_path):
    path = tmp_path / "s.pth"
    torch.save(fasternet("S").state_dict(), path)
    assert_one_line_usage_error(lambda: load_weights(fasternet("T2"), path), "shape mismatches",
                                "unexpected keys", "stages.4.blocks.8.")


def test_a_directory_is_named_as_one(tmp_path):
    assert_one_line_usage_error(lambda: load_weights(fasternet("T0"), tmp_path),
                                "is a directory", "pass the file itself")


def test_a_whole_pickled_module_is_refused_without_a_warning(tmp_path):
    path = tmp_path / "whole.pth"
    with open(path, "wb") as handle:
        pickle.dump(fasternet("T0"), handle)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_one_line_usage_error(lambda: load_weights(fasternet("T0"), path),
                                    "not a checkpoint", "model.state_dict()")
    assert not caught, [str(w.message) for w in caught]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_and_leave_the_model_untouched(tmp_path, value):
    state = randomize_norms(fasternet("T0")).state_dict()
    state["head.bias"][3] = value
    path = tmp_path / "diverged.pth"
    torch.save(state, path)
    model = fasternet("T0")
    before = snapshot(model)
    assert_one_line_usage_error(lambda: load_weights(model, path), "contains NaN/inf",
                                "tensors 1 (head.bias)")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
