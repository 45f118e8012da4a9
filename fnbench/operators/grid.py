"""The operator grid: the paper's Table 1 by default, or what the user asks for."""

from __future__ import annotations

import difflib
import re
from fractions import Fraction
from functools import partial
from typing import Iterable, Sequence, TypeVar

import torch.nn as nn

from fnbench.accounting import BYTES_PER_ELEMENT
from fnbench.errors import UsageError
from fnbench.memory import Footprint, peak_bytes
from fnbench.operators.pconv import FORWARD_FORMS, partial_channels
from fnbench.operators.zoo import OPERATORS, LayerConfig, OperatorSpec
from fnbench.workload import Accounting, Workload

PAPER_OPERATORS = ("conv", "gconv", "dwconv", "pconv")
PAPER_SIZES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))
PAPER_LAYERS = 10
PAPER_RATIO = 0.25
PAPER_GROUPS = 16

T = TypeVar("T")

_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*$")


def split_list(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [part.strip() for part in text.split(",") if part.strip()]


def unique(items: Iterable[T]) -> list[T]:
    """Each item once, in the order first given: a name listed twice runs once."""
    return list(dict.fromkeys(items))


def unknown_name_error(kind: str, name: str, known: Iterable[str], option: str) -> UsageError:
    """A one-line error for an unknown name, suggesting the closest known ones."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return UsageError(f"unknown {kind} {name!r}: {hint}choose from {', '.join(known)} ({option})")


def parse_operators(text: str) -> list[str]:
    names = split_list(text)
    if not names:
        raise UsageError("--ops is empty: name at least one of " + ", ".join(OPERATORS))
    for name in names:
        if name not in OPERATORS:
            raise unknown_name_error("operator", name, OPERATORS, "--ops")
    return unique(names)


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    """'96x56x56,192x28x28' -> [(96, 56, 56), (192, 28, 28)] (channels x height x width)."""
    sizes = []
    for part in split_list(text):
        match = _SIZE.match(part)
        if not match or min(int(g) for g in match.groups()) < 1:
            raise UsageError(f"malformed size {part!r}: write CxHxW with positive integers, "
                             "e.g. --sizes 96x56x56,192x28x28")
        sizes.append(tuple(int(g) for g in match.groups()))
    if not sizes:
        raise UsageError("--sizes is empty: give at least one CxHxW, e.g. --sizes 96x56x56")
    return unique(sizes)


def parse_ratio(text: str) -> float:
    """'1/4' or '0.25' -> 0.25; the ratio must lie in (0, 1]."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"malformed ratio {text!r}: give a fraction or decimal in (0, 1], "
                         "e.g. --ratio 1/4") from None
    if not 0 < value <= 1:
        raise UsageError(f"ratio {text} is outside (0, 1]: PConv convolves a fraction of the "
                         "channels, e.g. --ratio 1/4")
    return value


def parse_impls(text: str) -> list[str]:
    impls = split_list(text)
    for impl in impls:
        if impl not in FORWARD_FORMS:
            raise unknown_name_error("PConv forward form", impl, FORWARD_FORMS, "--impl")
    if not impls:
        raise UsageError("--impl is empty: choose split_cat, slicing or both (comma-separated)")
    return unique(impls)


def _stack(spec: OperatorSpec, cfg: LayerConfig, layers: int) -> nn.Module:
    return nn.Sequential(*[spec.build(cfg) for _ in range(layers)])


def _accounting(spec: OperatorSpec, cfg: LayerConfig, layers: int,
                element_bytes: int = BYTES_PER_ELEMENT) -> Accounting:
    cost = spec.cost(cfg)
    return Accounting(flops=cost.macs * layers, params=cost.params * layers,
                      memory_bytes=cost.memory_elements * layers * element_bytes)


def _footprint(spec: OperatorSpec, cfg: LayerConfig, layers: int) -> Footprint:
    """Weights of every layer (two copies); the largest activation is one full map (each
    layer's output)."""
    map_bytes = cfg.channels * cfg.height * cfg.width * BYTES_PER_ELEMENT
    # two weight copies at the peak: preparing for inference (eval, folding, the output check)
    # holds a second one for a moment (measured: growth ~1.4x the weights for a conv stack)
    return Footprint(spec.cost(cfg).params * layers * BYTES_PER_ELEMENT, map_bytes,
                     weight_copies=2)


def operator_workload(op: str, cfg: LayerConfig, layers: int) -> Workload:
    """``layers`` stacked layers of operator ``op`` on a ``cfg.channels`` x h x w map."""
    spec = OPERATORS[op]
    label = spec.label(cfg)
    impl = cfg.impl if spec.uses_ratio else None
    size = f"{cfg.channels}x{cfg.height}x{cfg.width}"
    name = f"{label}-{impl}-{size}" if impl else f"{label}-{size}"
    if layers != PAPER_LAYERS:
        name += f"-L{layers}"
    meta = {"op": op, "label": label, "channels": cfg.channels, "height": cfg.height,
            "width": cfg.width, "layers": layers,
            "ratio": cfg.ratio if spec.uses_ratio else None,
            "conv_channels": partial_channels(cfg.channels, cfg.ratio) if spec.uses_ratio
            else None,
            "groups": spec.groups(cfg), "impl": impl}
    return Workload(name=name, suite="ops", family="operator",
                    input_shape=(cfg.channels, cfg.height, cfg.width),
                    build=lambda: _stack(spec, cfg, layers),
                    accounting=partial(_accounting, spec, cfg, layers), meta=meta,
                    spec=operator_spec(op, cfg, layers),
                    estimate_memory=lambda batch, runtime: peak_bytes(
                        _footprint(spec, cfg, layers), batch, runtime))


def operator_spec(op: str, cfg: LayerConfig, layers: int) -> dict:
    """The workload as data: only the parameters ``op`` uses, so that e.g. --ratio does not
    change a conv's spec."""
    spec = OPERATORS[op]
    return {"suite": "ops", "op": op, "channels": cfg.channels, "height": cfg.height,
            "width": cfg.width, "layers": layers,
            "ratio": cfg.ratio if spec.uses_ratio else None,
            "groups": cfg.groups if op == "gconv" else None,
            "impl": cfg.impl if spec.uses_ratio else None}


def operator_grid(ops: Sequence[str] = PAPER_OPERATORS,
                  sizes: Sequence[tuple[int, int, int]] = PAPER_SIZES,
                  layers: int = PAPER_LAYERS, ratio: float = PAPER_RATIO,
                  groups: int = PAPER_GROUPS, impls: Sequence[str] = ("split_cat",)
                  ) -> list[Workload]:
    """Workloads for every operator x size (x forward form for PConv), validated."""
    if layers < 1:
        raise UsageError(f"--layers {layers} must be at least 1")
    if not 0 < ratio <= 1:
        raise UsageError(f"ratio {ratio} is outside (0, 1]: e.g. --ratio 1/4")
    if groups < 1:
        raise UsageError(f"--groups {groups} must be at least 1")
    workloads = []
    for op in ops:
        spec = OPERATORS[op]
        for channels, height, width in sizes:
            if op == "gconv" and channels % groups:
                raise UsageError(f"gconv with {groups} groups needs channels divisible by "
                                 f"{groups}, but a size has {channels}: change --groups or --sizes")
            for impl in (impls if spec.uses_ratio else ("split_cat",)):
                cfg = LayerConfig(channels, height, width, ratio, groups, impl)
                workloads.append(operator_workload(op, cfg, layers))
    return workloads
