"""Models as workloads: what ``fnbench models`` runs."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Sequence

import torch.nn as nn

from fnbench.accounting import model_accounting
from fnbench.errors import UsageError
from fnbench.models.weights import load_weights
from fnbench.models.zoo import create, model_names, spec
from fnbench.operators.grid import split_list
from fnbench.workload import Workload


def select_models(model_set: str, models: str | None) -> list[str]:
    """Names from ``--models a,b,c`` when given, else the names of ``--set``; all validated."""
    names = split_list(models) if models is not None else model_names(model_set)
    if not names:
        raise UsageError("--models is empty: name at least one model, e.g. --models "
                         "fasternet_t0,resnet50")
    for name in names:
        spec(name)
    return names


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
    return Workload(name=name, suite="models", family=entry.family, input_shape=shape,
                    build=build, accounting=partial(model_accounting, build, shape), meta=meta,
                    spec={"suite": "models", "model": name,
                          "weights": str(weights) if weights is not None else None})


def model_workloads(names: Sequence[str], weights: Path | None = None) -> list[Workload]:
    """Workloads for ``names``; ``weights`` needs exactly one FasterNet model and is checked
    now, before anything runs."""
    if weights is not None:
        if len(names) != 1 or not names[0].startswith("fasternet"):
            raise UsageError("--weights loads a FasterNet checkpoint: give exactly one "
                             "FasterNet model with --models, e.g. --models fasternet_t0")
        load_weights(create(names[0]), weights)
    return [model_workload(name, weights) for name in names]
