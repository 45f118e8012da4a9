"""Models as workloads: what ``fnbench models`` runs."""

from __future__ import annotations

from functools import lru_cache, partial
from itertools import chain
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from fnbench.accounting import BYTES_PER_ELEMENT, model_accounting
from fnbench.errors import UsageError, raise_if_interrupted
from fnbench.memory import Footprint, check_fits, peak_bytes
from fnbench.models.weights import load_weights
from fnbench.models.zoo import REGISTRY, TIMM_PREFIX, create, model_names, spec
from fnbench.operators.grid import split_list, unique
from fnbench.workload import Accounting, Workload

#: Bound on a model's largest activation per sample, as a multiple of its input. The widest
#: registry models reach about 12 (MobileNetV2 x1.4: 32 x 112 x 112 x 6 at 224 px).
ACTIVATION_PER_INPUT = 16


def select_models(model_set: str, models: str | None) -> list[str]:
    """Names from ``--models a,b,c`` when given, else the names of ``--set``; all validated,
    each once in the order given."""
    names = split_list(models) if models is not None else model_names(model_set)
    if not names:
        raise UsageError("--models is empty: name at least one model, e.g. --models "
                         "fasternet_t0,resnet50")
    for name in names:
        spec(name)
    return unique(names)


@lru_cache(maxsize=None)
def _footprint(name: str) -> Footprint | None:
    """Weights and buffers counted on the meta device (nothing is allocated), the largest
    activation bounded from the input size; None when the model cannot be built on meta. Torch
    holds two copies of the weights while BN folding copies the convolutions."""
    try:
        with torch.device("meta"):
            model = create(name)
    except Exception:  # noqa: BLE001 - some constructors need real tensors: estimate unknown
        raise_if_interrupted()
        return None
    weights = sum(t.numel() * t.element_size()
                  for t in chain(model.parameters(), model.buffers()))
    activation = ACTIVATION_PER_INPUT * 3 * spec(name).resolution ** 2 * BYTES_PER_ELEMENT
    return Footprint(weights, activation, weight_copies=2)


def estimate_model_memory(name: str, batch: int, runtime: str) -> float | None:
    """Estimated peak bytes of preparing and running registry model ``name`` (see
    fnbench.memory); None when unknown."""
    footprint = _footprint(name)
    return None if footprint is None else peak_bytes(footprint, batch, runtime)


def model_workload(name: str, weights: Path | None = None) -> Workload:
    """The registry model ``name`` at its resolution, optionally with a local checkpoint."""
    entry = spec(name)

    def build() -> nn.Module:
        model = create(name)
        return load_weights(model, weights) if weights is not None else model

    shape = (3, entry.resolution, entry.resolution)
    meta = {"model": entry.paper_row or name, "resolution": entry.resolution,
            "source": entry.source, "top1": entry.top1, "top1_source": entry.top1_source,
            "paper_table": entry.paper_table, "paper_row": entry.paper_row,
            "weights": str(weights) if weights is not None else None}

    def accounting(element_bytes: int = BYTES_PER_ELEMENT) -> Accounting:
        check_fits(estimate_model_memory(name, 1, "torch"))  # counting builds and runs it
        return model_accounting(build, shape, element_bytes)

    return Workload(name=name, suite="models", family=entry.family, input_shape=shape,
                    build=build, accounting=accounting, meta=meta,
                    spec={"suite": "models", "model": name,
                          "weights": str(weights) if weights is not None else None},
                    estimate_memory=lambda batch, runtime: estimate_model_memory(
                        name, batch, runtime))


def _check_takes_weights(names: Sequence[str]) -> None:
    """UsageError unless ``names`` is one of fnbench's own FasterNet models."""
    if len(names) != 1:
        raise UsageError(f"--weights loads one checkpoint into one model, but --models names "
                         f"{len(names)}: give exactly one model, e.g. --models fasternet_t0")
    name = names[0]
    if name.startswith("fasternet_") and name in REGISTRY:
        return
    own = name.removeprefix(TIMM_PREFIX)
    suggestion = own if own.startswith("fasternet_") and own in REGISTRY else "fasternet_t0"
    what = f"{name}: timm:NAME models cannot take --weights" if name.startswith(TIMM_PREFIX) \
        else f"{name} cannot take --weights"
    raise UsageError(f"{what}: --weights is supported for fnbench's own FasterNet models "
                     f"(fasternet_t0..fasternet_l and the ablations); use e.g. --models "
                     f"{suggestion}")


def model_workloads(names: Sequence[str], weights: Path | None = None) -> list[Workload]:
    """Workloads for ``names``; ``weights`` needs exactly one of fnbench's FasterNet models and
    is checked now, before anything runs."""
    if weights is not None:
        _check_takes_weights(names)
        load_weights(create(names[0]), weights)
    return [model_workload(name, weights) for name in names]
