"""Where a record sits under its device's roofline: a pure function of (record, ceilings).

- ``arithmetic_intensity``: MACs per byte of one call, ``flops * batch / traffic``. The traffic
  is the record's memory access per sample times the batch, with the weights (4 bytes per
  parameter) read once per call; at batch 1 this is exactly ``flops / memory_bytes``.
- ``roofline_level``: the smallest measured cache level (L2, L3) whose capacity holds the
  working set of one layer, ``traffic / layers``, else DRAM. A stack's activations stay in
  cache between layers, so a layer, not the stack, is what has to fit. Operators know their
  layers; a model counts its leaf-module calls (an average layer).
- ``roofline_bound``: ``min(peak MAC/s, intensity * bandwidth)``, the bandwidth being the
  level's copy bandwidth at the largest working set it was timed at that is not above the
  record's (a copy's bandwidth only falls as its working set grows, so this bounds the record;
  without such a point, the level's smallest).
- ``roofline_fraction``: achieved MAC/s / bound. Above 1 means the accounting or a ceiling is
  wrong: :func:`above_roofline` flags it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from fnbench.records import Record

BYTES_PER_PARAM = 4  # FP32
FIELDS = ("arithmetic_intensity", "roofline_level", "roofline_bound", "roofline_fraction")


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def traffic_bytes(memory_bytes: float, params: int | None, batch: int) -> float:
    """Bytes one call of ``batch`` samples moves: activations per sample times the batch, and
    the weights once."""
    weights = min(max(params or 0, 0) * BYTES_PER_PARAM, memory_bytes)
    return batch * (memory_bytes - weights) + weights


def level_for(working_set: float, levels: Sequence[Mapping[str, Any]]
              ) -> Mapping[str, Any] | None:
    """The smallest measured cache level whose capacity holds ``working_set``; else the DRAM
    level (no capacity); else the largest cache; None when no level has a bandwidth."""
    measured = [level for level in levels if _positive(level.get("bytes_per_s"))]
    caches = sorted((level for level in measured if _positive(level.get("capacity_bytes"))),
                    key=lambda level: level["capacity_bytes"])
    for level in caches:
        if working_set <= level["capacity_bytes"]:
            return level
    dram = [level for level in measured if not _positive(level.get("capacity_bytes"))]
    if dram:
        return dram[0]
    return caches[-1] if caches else None


def level_bandwidth(level: Mapping[str, Any], working_set: float) -> float | None:
    """Bytes/s of ``level`` for ``working_set``: at its largest timed point not above it, else
    at its smallest point (a level without points: its own ``bytes_per_s``)."""
    points = sorted((p for p in level.get("points") or ()
                     if _positive(p.get("bytes_per_s")) and _positive(p.get("working_set_bytes"))),
                    key=lambda p: p["working_set_bytes"])
    if not points:
        return level.get("bytes_per_s") if _positive(level.get("bytes_per_s")) else None
    below = [p for p in points if p["working_set_bytes"] <= working_set]
    return (below[-1] if below else points[0])["bytes_per_s"]


def layers_of(record: "Record") -> int:
    """Layers the record's work is spread over: the operator stack's, the model's leaf-module
    calls, else 1."""
    for source in (record.meta, record.spec):
        value = (source or {}).get("layers")
        if _positive(value):
            return int(value)
    return 1


def roofline_fields(record: "Record", ceilings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The four roofline fields of ``record`` under ``ceilings`` (all None without ceilings or
    accounting; the fraction None without a measurement)."""
    out: dict[str, Any] = dict.fromkeys(FIELDS)
    if not ceilings or not _positive(record.flops) or not _positive(record.memory_bytes):
        return out
    batch = record.batch if _positive(record.batch) else 1
    traffic = traffic_bytes(record.memory_bytes, record.params, batch)
    intensity = record.flops * batch / traffic
    working_set = traffic / layers_of(record)
    level = level_for(working_set, ceilings.get("levels") or ())
    candidates = [ceilings.get("peak_macs_per_s")]
    bandwidth = level_bandwidth(level, working_set) if level is not None else None
    if bandwidth is not None:
        candidates.append(intensity * bandwidth)
    bounds = [value for value in candidates if _positive(value)]
    bound = min(bounds) if bounds else None
    achieved = record.achieved_flops
    out.update(arithmetic_intensity=intensity,
               roofline_level=level["level"] if level is not None else None,
               roofline_bound=bound,
               roofline_fraction=achieved / bound if bound and _positive(achieved) else None)
    return out


def above_roofline(fraction: float | None) -> bool:
    """A record faster than its bound: the accounting or a ceiling is wrong."""
    return _positive(fraction) and fraction > 1.0
