"""Workloads as data: build a workload from its spec, in any process.

A spec is a small JSON-able dict that names the operator or model and its parameters. The main
process, a worker process (``--processes``) and later a remote board rebuild the same workload
from it; records use it for their key and workload hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from fnbench.errors import UsageError
from fnbench.workload import Workload

#: Bumped when an operator's implementation changes what it computes or how: old records then
#: no longer match new ones.
OPERATORS_VERSION = 1

#: The reference workload every run measures beside its own: 4 stacked 64-channel 3x3
#: convolutions on a 28x28 map (about 115 M MACs, a millisecond or two on one core).
REFERENCE_SPEC: dict[str, Any] = {"suite": "reference", "op": "conv", "channels": 64,
                                  "height": 28, "width": 28, "layers": 4, "ratio": None,
                                  "groups": None, "impl": None}
REFERENCE_NAME = "reference-conv3x3x4-64x28x28"


def canonical(spec: Mapping[str, Any]) -> str:
    """The spec as compact JSON with sorted keys: equal specs give equal strings."""
    return json.dumps(dict(spec), sort_keys=True, separators=(",", ":"), default=str)


def workload_from_spec(spec: Mapping[str, Any]) -> Workload:
    """The workload a spec describes; UsageError for a spec that names nothing known."""
    suite = spec.get("suite")
    if suite in ("ops", "reference"):
        from fnbench.operators.grid import operator_workload
        from fnbench.operators.zoo import LayerConfig

        defaults = LayerConfig(1, 1, 1)
        cfg = LayerConfig(int(spec["channels"]), int(spec["height"]), int(spec["width"]),
                          spec.get("ratio") or defaults.ratio,
                          spec.get("groups") or defaults.groups,
                          spec.get("impl") or defaults.impl)
        workload = operator_workload(spec["op"], cfg, int(spec["layers"]))
        if suite == "reference":
            from dataclasses import replace

            workload = replace(workload, name=REFERENCE_NAME, suite="reference",
                               family="reference", spec=dict(spec))
        return workload
    if suite == "models":
        from pathlib import Path

        from fnbench.models.workloads import model_workload

        weights = spec.get("weights")
        return model_workload(spec["model"], Path(weights) if weights else None)
    raise UsageError(f"unknown workload spec {canonical(spec)}: a spec needs suite ops, "
                     "models or reference")


def reference_workload() -> Workload:
    """The fixed small workload that every run measures beside its own."""
    return workload_from_spec(REFERENCE_SPEC)


def workload_hash(spec: Mapping[str, Any], structure_hash: str | None) -> str | None:
    """Changes when what is measured changes: the operator parameters and implementation
    version, or the model's architecture (module structure and parameter shapes). None when the
    model's structure is unknown."""
    if spec.get("suite") in ("ops", "reference"):
        basis = f"ops-v{OPERATORS_VERSION}:{canonical(spec)}"
    elif structure_hash:
        basis = f"models:{spec.get('model')}:{structure_hash}"
    else:
        return None
    return hashlib.sha256(basis.encode()).hexdigest()[:16]
