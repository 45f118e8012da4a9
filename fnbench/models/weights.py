"""Loading local FasterNet checkpoints, in the official or in timm's naming.

The official code names the layers ``stages.0..6`` (blocks of stage i at 2i, the merging layer
before it at 2i - 1), ``avgpool_pre_head.1`` and ``head``; timm names them ``stages.0..3`` with
``stages.i.downsample`` (i >= 1), ``conv_head`` and ``classifier``. Our models use the official
names; timm checkpoints are converted on load.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn

from fnbench.errors import UsageError

StateDict = dict[str, torch.Tensor]

_NESTED = ("state_dict", "model", "model_ema")
_PREFIXES = ("module.", "model.")
_SHOWN = 3  # offending keys named in an error message

_TIMM_STAGE = re.compile(r"stages\.(\d+)\.(downsample\.)?(.*)")
_OFFICIAL_STAGE = re.compile(r"stages\.(\d+)\.(.*)")


def _rename_head(key: str, renames: Mapping[str, str]) -> str:
    for old, new in renames.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def from_timm_state_dict(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """timm's FasterNet names -> the official names."""
    out = {}
    for key, value in state_dict.items():
        match = _TIMM_STAGE.fullmatch(key)
        if match:
            stage, downsample, rest = int(match[1]), match[2], match[3]
            key = f"stages.{2 * stage - 1 if downsample else 2 * stage}.{rest}"
        out[_rename_head(key, {"conv_head.": "avgpool_pre_head.1.", "classifier.": "head."})] \
            = value
    return out


def to_timm_state_dict(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """The official FasterNet names -> timm's names."""
    out = {}
    for key, value in state_dict.items():
        match = _OFFICIAL_STAGE.fullmatch(key)
        if match:
            index, rest = int(match[1]), match[2]
            key = (f"stages.{index // 2}.{rest}" if index % 2 == 0
                   else f"stages.{(index + 1) // 2}.downsample.{rest}")
        out[_rename_head(key, {"avgpool_pre_head.1.": "conv_head.", "head.": "classifier."})] \
            = value
    return out


def is_timm_naming(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys use timm's FasterNet naming."""
    return any(key.startswith(("conv_head.", "classifier.")) or ".downsample." in key
               for key in state_dict)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160]


def _read(path: Path) -> object:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as error:  # noqa: BLE001 - a damaged header fails in several ways
            raise UsageError(f"{path} is not a safetensors checkpoint ({_first_line(error)}); "
                             f"pass a file saved with safetensors.torch.save_file") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the error below says it all, on one line
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch.load fails in many ways on a non-checkpoint
        raise UsageError(f"{path} is not a checkpoint that torch.load(weights_only=True) can "
                         f"read ({type(error).__name__}); pass a .pth/.pt file holding a state "
                         f"dict of tensors (torch.save(model.state_dict(), path), not the whole "
                         f"model), or a .safetensors file") from None


def _state_dict_of(checkpoint: object, path: Path) -> StateDict:
    """The tensors of a raw state dict or of one nested under a usual key, prefixes stripped."""
    if isinstance(checkpoint, Mapping):
        nested = next((checkpoint[k] for k in _NESTED if isinstance(checkpoint.get(k), Mapping)),
                      None)
        checkpoint = checkpoint if nested is None else nested
    if not isinstance(checkpoint, Mapping) or not checkpoint or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in checkpoint.items()):
        raise UsageError(f"{path} holds no state dict (expected a mapping of names to tensors, "
                         f"raw or under {'/'.join(_NESTED)}); pass a model checkpoint")
    state = dict(checkpoint)
    for prefix in _PREFIXES:
        if all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN]) + (", ..." if len(keys) > _SHOWN else "")
    return f"{len(keys)} ({shown})"


def _check_fits(model: nn.Module, state: StateDict, path: Path) -> StateDict:
    """``state`` completed with the model's batch counters, or a UsageError naming the keys that
    do not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k} {list(state[k].shape)} vs model {list(v.shape)}"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = [f"{what} {_listed(keys)}" for what, keys in
                (("shape mismatches", mismatched), ("missing keys", missing),
                 ("unexpected keys", unexpected)) if keys]
    if problems:
        raise UsageError(f"checkpoint {path} does not fit the model: {'; '.join(problems)}; "
                         f"load a checkpoint of the same variant (width, depths, partial ratio, "
                         f"norm, classes)")
    return {**{k: v for k, v in expected.items() if k not in state}, **state}


def _check_finite(state: StateDict, path: Path) -> None:
    """UsageError naming the tensors that hold NaN or infinity."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UsageError(f"checkpoint {path} contains NaN/inf: tensors {_listed(bad)}; pass a "
                         f"checkpoint with finite weights (e.g. from before training diverged)")


def read_state_dict(path: str | Path) -> StateDict:
    """The finite tensors of a local checkpoint (.pth/.pt read with weights_only, or
    .safetensors), raw or nested under a usual key, prefixes stripped; any problem (no such
    file, not a checkpoint, no state dict, NaN/inf) is a one-line UsageError."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not a checkpoint file: pass the file itself "
                         f"(a .pth, .pt or .safetensors file)")
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}; pass the path of a local .pth, .pt or "
                         f".safetensors file")
    state = _state_dict_of(_read(path), path)
    _check_finite(state, path)
    return state


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local checkpoint (.pth/.pt or .safetensors, official or timm naming) into
    ``model``, strictly: on any mismatch a UsageError is raised and ``model`` is untouched."""
    path = Path(path)
    state = read_state_dict(path)
    if is_timm_naming(state):
        state = from_timm_state_dict(state)
    model.load_state_dict(_check_fits(model, state, path), strict=True)
    return model
