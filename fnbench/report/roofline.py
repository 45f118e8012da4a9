"""Rooflines in tables: the ceilings of ``fnbench roofline`` and the "% roof" column of runs."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from fnbench.report.table import TextTable, fmt

MiB = 1 << 20


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def roof_cell(row: Any) -> str:
    """'34 L3': achieved MAC/s in percent of the bound, and the bound's level; '!' above it."""
    fraction = _number(row.get("roofline_fraction"))
    if fraction is None:
        return "–"
    level = row.get("roofline_level")
    mark = " !" if fraction > 1 else ""
    return f"{fraction * 100:.0f} {level if isinstance(level, str) else ''}".strip() + mark


def roof_notes(rows: Iterable[Any], ceilings: Mapping[str, Any] | None) -> list[str]:
    """The column's meaning, the run's ceilings, and a warning per record above its bound."""
    notes = ["% roof: achieved MAC/s in percent of the record's roofline bound, min(peak, "
             "MAC/byte x copy bandwidth of the level one layer's working set fits in: L2, L3 "
             "or DRAM); ceilings in run.json (roofline)"]
    if ceilings:
        notes.append("roofline: " + summary(ceilings))
    for row in rows:
        fraction = _number(row.get("roofline_fraction"))
        if fraction is not None and fraction > 1:
            notes.append(f"WARNING {row['name']} ({row['mode']}) is above its roofline "
                         f"({fraction * 100:.0f}% of the {row.get('roofline_level')} bound): "
                         "its accounting or a ceiling is wrong")
    return notes


def summary(ceilings: Mapping[str, Any]) -> str:
    """One line: peak, best kernel, bandwidth per level, copy method, when measured."""
    levels = ", ".join(f"{level['level']} {_range(level)} GB/s"
                       for level in ceilings.get("levels") or ())
    sizes = " (QUICK SIZES, not the machine's ceilings)" if ceilings.get("sizes") == "quick" \
        else ""
    if any(str(note).startswith("the machine was busy") for note in ceilings.get("notes", ())):
        sizes += " on a busy machine (see run.json roofline.notes)"
    return (f"peak {fmt(ceilings.get('peak_macs_per_s'), 1, 1e-9)} GMAC/s "
            f"({ceilings.get('peak_kernel')}); copy {levels} ({ceilings.get('copy')}); "
            f"measured {ceilings.get('measured_at', '?')[:19]}{sizes}")


def _range(level: Mapping[str, Any]) -> str:
    """'7.2–45.1': the level's bandwidths over its working sets (one number if one)."""
    values = sorted(v for v in (_number(p.get("bytes_per_s")) for p in level.get("points") or
                                [level]) if v)
    if not values:
        return "–"
    low, high = fmt(values[0], 1, 1e-9), fmt(values[-1], 1, 1e-9)
    return low if low == high else f"{low}–{high}"


def _interval(value: Any) -> str:
    number = _number(value)
    return "–" if number is None else f"±{number * 100:.1f}%"


def ceilings_table(ceilings: Mapping[str, Any], cached: bool, path: Any) -> TextTable:
    """The ceilings of one device as a table: every kernel, then every level's bandwidth."""
    host = f" on {ceilings['host']}" if ceilings.get("host") else ""
    table = TextTable(
        title=f"fnbench roofline: {ceilings.get('device')}{host} ({ceilings.get('runtime')}, "
              f"{ceilings.get('threads')} thread(s))",
        columns=["ceiling", "size", "GMAC/s", "GB/s", "ridge MAC/B", "±95%", "note"],
        kinds=["text", "fixed", "number", "number", "number", "number", "text"])
    peak = _number(ceilings.get("peak_macs_per_s"))
    for kernel in ceilings.get("kernels") or ():
        best = kernel.get("name") == ceilings.get("peak_kernel")
        table.rows.append([kernel["name"], f"{fmt(kernel.get('macs'), 1, 1e-6)} M MAC",
                           fmt(kernel.get("macs_per_s"), 1, 1e-9), "–", "–",
                           _interval(kernel.get("rel_interval")), "peak" if best else ""])
    for level in ceilings.get("levels") or ():
        capacity = _number(level.get("capacity_bytes"))
        where = f"fits {fmt(capacity, 1, 1 / MiB)} MiB" if capacity else "beyond every cache"
        for point in level.get("points") or [level]:
            bandwidth = _number(point.get("bytes_per_s"))
            own = point.get("working_set_bytes") == level.get("working_set_bytes")
            table.rows.append([
                f"copy {level['level']}",
                f"{fmt(point.get('working_set_bytes'), 1, 1 / MiB)} MiB", "–",
                fmt(bandwidth, 1, 1e-9), fmt(peak / bandwidth, 1) if peak and bandwidth else "–",
                _interval(point.get("rel_interval")), where if own else "ladder"])
    caches = ceilings.get("caches") or {}
    table.notes += [
        "peak = the best kernel; bandwidth = bytes read + written per second by "
        f"{ceilings.get('copy')}; ridge = peak / bandwidth (below it a record is memory-bound); "
        "ladder = smaller working sets of a level, from its lower edge: a record is read "
        "against the largest one not above its own working set",
        "caches: " + ", ".join(f"{k} {fmt(v, 2, 1 / MiB)} MiB" for k, v in caches.items()
                               if k != "source" and _number(v))
        + f" (from {caches.get('source') or 'nowhere: fixed sizes assumed'})",
        *ceilings.get("notes", ()),
        f"{'cached' if cached else 'measured'} {str(ceilings.get('measured_at'))[:19]} UTC "
        f"(load average then {ceilings.get('load_average')}); {path}"
        + ("; --refresh measures again" if cached else "")]
    return table
