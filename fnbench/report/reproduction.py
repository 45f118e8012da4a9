"""The report of ``fnbench paper``: the paper's Tables 1, 3 and 5 measured on one device beside
the published numbers, and the paper's claims checked one by one against the measurements.

Pure data in, text out (no torch): :mod:`fnbench.reproduce` chooses the records, this module
lays them out and renders ``index.md`` and ``index.html``.

A ratio A/B of two records of one run gets the 95% confidence interval of the ratio of their
rounds that ran back to back (same slot: the machine's drift moved both alike); of records of
different runs, the quotient of their 95% re-run intervals (``latency_lo_ms``..), ends divided
crosswise. It is decided only when that interval lies wholly above 1 ("yes") or wholly below
it ("no"); otherwise, or without an interval (runs written by fnbench 0.1 have one stretch of
samples and no re-run interval), it is "undecided". A claim over several
items (sizes, networks) is "yes" when every item is, "no" when any item is, else "undecided";
a claim none of whose records exist is "not measured".
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from fnbench.published import (CITATION, PAPER_HARDWARE, SPEED_COLUMNS,
                                  TABLE1_FLOPS_COLUMNS, model_reference, paper_table,
                                  table1_reference)
from fnbench.measure import Interval, Round
from fnbench.report.table import TextTable, fmt

VERDICTS = ("yes", "no", "undecided", "not measured")
TABLE_TITLES = {"table1": "Table 1: operators", "table3": "Table 3: ImageNet-1k networks",
                "table5": "Table 5: ablations"}


# --- measured values ---------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A quantity with its 95% re-run interval (``low``/``high`` None when there is none)."""

    value: float
    low: float | None = None
    high: float | None = None

    def over(self, other: "Value") -> "Value":
        """self / other; the interval divides the ends crosswise (both can be off at once)."""
        low = high = None
        if None not in (self.low, self.high, other.low, other.high) and other.low > 0:
            low, high = self.low / other.high, self.high / other.low
        return Value(self.value / other.value, low, high)

    def verdict(self) -> str:
        """Whether this ratio is above 1: yes, no, or undecided (the interval holds 1, or
        there is no interval)."""
        if self.low is None or self.high is None:
            return "undecided"
        if self.low > 1:
            return "yes"
        if self.high < 1:
            return "no"
        return "undecided"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def usable(record: Mapping[str, Any] | None) -> bool:
    """A record with a measurement: status ok and a positive latency."""
    return bool(record) and record.get("status") == "ok" \
        and (_number(record.get("latency_ms")) or 0) > 0


def latency(record: Mapping[str, Any]) -> Value:
    """Milliseconds per call and the record's re-run interval."""
    low, high = _number(record.get("latency_lo_ms")), _number(record.get("latency_hi_ms"))
    if low is None or high is None or low <= 0:
        low = high = None
    return Value(float(record["latency_ms"]), low, high)


def _per_call(record: Mapping[str, Any], amount: float, stored: Any) -> Value:
    """``amount`` per call turned into a rate: the stored value (as the record has it), its
    interval from the latency's (the slow end gives the low rate)."""
    lat = latency(record)
    value = _number(stored)
    if value is None:
        value = amount * 1e3 / lat.value
    if lat.low is None:
        return Value(value)
    return Value(value, amount * 1e3 / lat.high, amount * 1e3 / lat.low)


def speed(record: Mapping[str, Any]) -> Value:
    """Samples per second (the record's ``throughput``: batch / time per call)."""
    return _per_call(record, float(record.get("batch") or 1), record.get("throughput"))


def gflops(record: Mapping[str, Any]) -> Value | None:
    """Achieved GFLOPS (1e9 MAC/s, the record's ``achieved_flops``); None without FLOPs."""
    flops = _number(record.get("flops"))
    if not flops:
        return None
    stored = _number(record.get("achieved_flops"))
    value = _per_call(record, flops * float(record.get("batch") or 1) / 1e9,
                      None if stored is None else stored / 1e9)
    return value


# --- the rows the tables show ------------------------------------------------------------


@dataclass
class Row:
    """One row of a paper table: what it shows (``fields``: label, size, names...), the
    record chosen for it (None: not measured) and the id of that record's run."""

    fields: dict[str, Any]
    record: dict[str, Any] | None = None
    run: str | None = None
    key: str | None = None


@dataclass
class Claim:
    """One of the paper's claims checked on this device: the statement, the verdict (yes, no,
    undecided, not measured) and the numbers behind it."""

    text: str
    verdict: str
    detail: str

    def line(self) -> str:
        return f"{self.text}: {self.verdict}" + (f", {self.detail}" if self.detail else "")


@dataclass
class RunInfo:
    """A run the report draws on: its id in the tables (R1, R2...), where it is, whether this
    invocation measured it, and how many of its records the tables use."""

    id: str
    path: str
    run: dict[str, Any]
    new: bool
    serves: str = "–"
    used: int = 0


@dataclass
class Figure:
    """A figure file: its caption, its path relative to the report folder and on disk."""

    caption: str
    relative: str
    path: Path


@dataclass
class PaperReport:
    device: str
    runtimes: list[str]
    mode: str
    batch: int
    status: list[str]
    runs: list[RunInfo]
    claims: dict[str, list[Claim]]
    sections: list[tuple[str, TextTable]]
    table2: TextTable | str
    figures: list[Figure] | str
    notes: list[str] = field(default_factory=list)
    resume: str | None = None  # the command that resumes an interrupted report


# --- formatting ---------------------------------------------------------------------------


def times(value: float | None) -> str:
    """A ratio as '2.13x' or '0.665x' (three significant digits), or an en dash."""
    if value is None or not math.isfinite(value):
        return "–"
    if value >= 100:
        return f"{value:.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    if value >= 1:
        return f"{value:.2f}x"
    return f"{value:.3g}x"


def interval_text(value: Value | None, digits: int) -> str:
    if value is None or value.low is None:
        return "–"
    return f"{fmt(value.low, digits)}–{fmt(value.high, digits)}"


def _record_status(row: Row) -> str:
    record = row.record
    if record is None:
        return row.fields.get("missing", "not measured")
    if record.get("status") != "ok":
        return f"error: {record.get('error') or 'unknown error'}"
    if latency(record).low is None:
        return "ok, no re-run interval"
    return "ok" if record.get("converged") in (True, 1) else "not converged"


def _paper_speed(reference: Mapping[str, Any] | None) -> tuple[float | None, str | None]:
    if not reference:
        return None, None
    return reference["speed"], reference["unit"]


def _speed_cells(row: Row, mode: str, digits: int, paper: float | None,
                 with_paper: bool) -> list[str]:
    """The measured speed in the paper's mode, its interval, the published one and the ratio."""
    record = row.record if usable(row.record) else None
    if mode == "throughput":
        value = speed(record) if record else None
        cells = [fmt(value.value if value else None, 1), interval_text(value, 1)]
        paper_cell = fmt(paper, 0)
    else:
        value = latency(record) if record else None
        cells = [fmt(value.value if value else None, digits), interval_text(value, digits)]
        paper_cell = fmt(paper, 2)
    if with_paper:
        ratio = value.value / paper if value and paper else None
        cells += [paper_cell, times(ratio)]
    return cells


def _speed_columns(mode: str, with_paper: bool) -> list[str]:
    if mode == "throughput":
        columns = ["samples/s", "95% interval"]
        paper = ["paper fps", "measured/paper"]
    else:
        columns = ["latency ms", "95% interval ms"]
        paper = ["paper ms", "measured/paper"]
    return columns + (paper if with_paper else [])


def _size(fields: Mapping[str, Any]) -> str:
    return f"{fields['channels']}x{fields['height']}x{fields['width']}"


# --- the tables ---------------------------------------------------------------------------


def table1(rows: Sequence[Row], device: str, mode: str, runtime: str) -> TextTable:
    """Table 1: each operator case's speed and achieved GFLOPS beside the paper's."""
    with_paper = device in SPEED_COLUMNS
    columns = ["operator", "size", "FLOPs M"] + _speed_columns(mode, with_paper) \
        + ["GFLOPS", "95% interval GFLOPS"] \
        + (["paper GFLOPS", "GFLOPS measured/paper"] if with_paper else []) + ["run", "status"]
    table = TextTable(title=f"{TABLE_TITLES['table1']} ({runtime})", columns=columns)
    for row in rows:
        f = row.fields
        ref = table1_reference(f["label"], f["channels"], f["height"], f["width"],
                               f["layers"], device) if with_paper else None
        record = row.record if usable(row.record) else None
        achieved = gflops(record) if record else None
        label = f["label"] + (f" x{f['layers']}" if f["layers"] != 10 else "")
        flops = (row.record or {}).get("flops")
        cells = [label, _size(f), fmt(flops, 1, 1e-6)]
        cells += _speed_cells(row, mode, 3, _paper_speed(ref)[0], with_paper)
        cells += [fmt(achieved.value if achieved else None), interval_text(achieved, 2)]
        if with_paper:
            paper_gflops = ref["gflops"] if ref else None
            cells += [fmt(paper_gflops), times(achieved.value / paper_gflops
                                               if achieved and paper_gflops else None)]
        table.rows.append(cells + [row.run or "–", _record_status(row)])
    return table


def table3(rows: Sequence[Row], device: str, mode: str, runtime: str) -> TextTable:
    """Table 3: each network's speed on this device beside the paper's, with the published
    top-1."""
    with_paper = device in SPEED_COLUMNS
    columns = ["network", "model", "family", "FLOPs G", "paper FLOPs G"] \
        + _speed_columns(mode, with_paper) + ["top-1 (published)", "run", "status"]
    frame = paper_table("table3_imagenet").set_index("network")
    table = TextTable(title=f"{TABLE_TITLES['table3']} ({runtime})", columns=columns)
    for row in rows:
        f = row.fields
        published = frame.loc[f["network"]]
        ref = model_reference("table3_imagenet", f["network"], device) if with_paper else None
        cells = [f["network"], f["name"], str(published["family"]),
                 fmt((row.record or {}).get("flops"), 3, 1e-9), fmt(published["flops_g"])]
        cells += _speed_cells(row, mode, 2, _paper_speed(ref)[0], with_paper)
        table.rows.append(cells + [fmt(published["top1"], 1), row.run or "–",
                                   _record_status(row)])
    return table


def table5(rows: Sequence[Row], device: str, mode: str, runtime: str) -> TextTable:
    """Table 5: each ablation variant's speed beside the paper's, with the published top-1."""
    with_paper = device in SPEED_COLUMNS
    columns = ["ablation", "variant", "model", "FLOPs G"] + _speed_columns(mode, with_paper) \
        + ["top-1 (published)", "run", "status"]
    frame = paper_table("table5_ablation").set_index("variant")
    table = TextTable(title=f"{TABLE_TITLES['table5']} ({runtime})", columns=columns)
    for row in rows:
        f = row.fields
        published = frame.loc[f["variant"]]
        ref = model_reference("table5_ablation", f["variant"], device) if with_paper else None
        cells = [str(published["ablation"]).replace("_", " "), f["variant"],
                 f.get("name") or "–", fmt((row.record or {}).get("flops"), 3, 1e-9)]
        cells += _speed_cells(row, mode, 2, _paper_speed(ref)[0], with_paper)
        table.rows.append(cells + [fmt(published["top1"], 1), row.run or "–",
                                   _record_status(row)])
    return table


def table_notes(device: str, mode: str, batch: int) -> list[str]:
    """What every paper table's columns mean."""
    notes = ["95% interval: the record's 95% re-run interval (latency_lo_ms..latency_hi_ms; "
             "rates are batch or FLOPs over its ends): where a repeat on this machine is "
             "expected to land; '–' when the run has none (written by an older fnbench)"]
    if device in SPEED_COLUMNS:
        what = ("samples/s over the paper's fps: above 1 is faster than the paper's machine"
                if mode == "throughput" else
                "latency over the paper's: above 1 is slower than the paper's machine")
        notes.append(f"paper columns: {CITATION}, {PAPER_HARDWARE[device]}, PyTorch eager, "
                     f"as published, not measured here; measured/paper: {what}; GFLOPS "
                     "measured/paper: above 1 is more achieved FLOPS than the paper's machine")
    else:
        notes.append(f"the paper did not measure a {device} device: measured columns only")
    notes.append(f"measured in {mode} mode, batch {batch}, 1 thread, fp32 (the paper's setting "
                 "for this device); FLOPs are MACs, GFLOPS = 1e9 MAC/s; top-1 is published, "
                 "never measured here")
    return notes


# --- the claims ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One comparison inside a claim: its label, group (the claim shows each group's weakest
    item), the measured ratio (None: a record is missing) and the published one."""

    label: str
    group: str
    measured: Value | None
    paper: float | None


def _weakest(items: Iterable[Item], paper: bool = False) -> list[tuple[str, float]]:
    """Per group, the smallest ratio (measured or published): what the claim rests on."""
    best: dict[str, tuple[str, float]] = {}
    for item in items:
        value = item.paper if paper else (item.measured.value if item.measured else None)
        if value is None:
            continue
        if item.group not in best or value < best[item.group][1]:
            best[item.group] = (item.label, value)
    return list(best.values())


def _range(values: Sequence[float]) -> str:
    if not values:
        return "–"
    low, high = min(values), max(values)
    return times(low) if times(low) == times(high) else f"{times(low)}–{times(high)}"


def _with_interval(value: Value) -> str:
    if value.low is None:
        return f"{times(value.value)} (no re-run interval)"
    return f"{times(value.value)} ({times(value.low)}–{times(value.high)})"


def combine(verdicts: Sequence[str]) -> str:
    """A claim over several items: no if any is no, yes if all are yes, else undecided."""
    if "no" in verdicts:
        return "no"
    return "yes" if verdicts and all(v == "yes" for v in verdicts) else "undecided"


def _listed(items: Sequence[Item], limit: int = 3) -> str:
    """The items, weakest first, with their ratios and intervals."""
    ordered = sorted(items, key=lambda item: item.measured.value)
    text = ", ".join(f"{item.label} {_with_interval(item.measured)}" for item in
                     ordered[:limit])
    return text + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def judge(items: Sequence[Item], hardware: str | None, noun: str) -> tuple[str, str]:
    """The verdict over ``items`` and the numbers: the measured ratios (each group's weakest),
    the items that decide a "no" or leave it undecided, what is missing, and the paper's
    verdict and ratios on its hardware for this device."""
    measured = [item for item in items if item.measured is not None]
    groups = list(dict.fromkeys(item.group for item in items))
    paper_items = [item for item in items if item.paper is not None]
    paper = ""
    if hardware:
        paper = "paper: –"
        if paper_items:
            paper_verdict = "yes" if all(i.paper > 1 for i in paper_items) else "no"
            paper_range = _range([v for _, v in _weakest(paper_items, paper=True)])
            paper = f"paper: {paper_verdict}, {paper_range} on {hardware}"
    if not measured:
        return "not measured", paper
    verdict = combine([item.measured.verdict() for item in measured])
    parts = []
    if len(measured) == 1:
        parts.append(_with_interval(measured[0].measured))
    else:
        measured_groups = {item.group for item in measured}
        count = len(measured_groups)
        parts.append(f"{_range([v for _, v in _weakest(measured)])} over {count} "
                     f"{noun if count > 1 else noun.removesuffix('s')}")
        if verdict == "no":
            parts.append("not at " + _listed([i for i in measured
                                                if i.measured.verdict() == "no"]))
        elif verdict == "undecided":
            overlap = [i for i in measured if i.measured.verdict() == "undecided"
                       and i.measured.low is not None]
            bare = [i for i in measured if i.measured.low is None]
            if overlap:
                parts.append("intervals overlap at " + _listed(overlap))
            if bare:
                parts.append(f"no re-run interval for {len(bare)} of {len(measured)} "
                             "comparisons (a run by an older fnbench)")
    missing = [g for g in groups if not any(i.group == g and i.measured for i in items)]
    if missing:
        parts.append(f"not measured: {', '.join(missing)}")
    if paper:
        parts.append(paper)
    return verdict, "; ".join(parts)


def _paper_rate(value: Any, unit: str | None) -> float | None:
    """A published speed as a rate (bigger is faster): fps as is, ms inverted."""
    number = _number(value)
    if number is None or number <= 0 or unit is None:
        return None
    return number if unit == "fps" else 1.0 / number


def _paired_factor(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[float, float] | None:
    """For two records of one run: the 95% confidence interval of B's latency over A's from
    their rounds that ran back to back (same slot), as factors of its estimate; None when
    fewer than two rounds pair up. The machine's drift moved both rounds of a pair alike."""
    def medians(record: Mapping[str, Any]) -> dict[tuple, float]:
        rounds = (record.get("measurement") or {}).get("rounds") or ()
        out = {}
        for data in rounds:
            try:
                taken = Round.from_dict(data)
            except (KeyError, TypeError, ValueError):
                return {}
            if taken.samples:
                out[tuple(taken.slot)] = taken.median
        return out

    mine, theirs = medians(a), medians(b)
    ratios = [theirs[slot] / mine[slot] for slot in mine if slot in theirs and mine[slot] > 0]
    interval = Interval.from_values(ratios)
    if interval is None:
        return None
    return interval.ci_low / interval.estimate, interval.ci_high / interval.estimate


def _ratio_of(row_a: Row | None, row_b: Row | None,
              quantity: Callable[[Mapping[str, Any]], Value | None]) -> Value | None:
    """A over B with its 95% interval: for two records of one run, the confidence interval of
    their paired rounds' ratio (drift cancels); else the re-run intervals divided crosswise."""
    a, b = (row_a.record if row_a else None), (row_b.record if row_b else None)
    if not (usable(a) and usable(b)):
        return None
    qa, qb = quantity(a), quantity(b)
    if qa is None or qb is None or not qb.value:
        return None
    factor = _paired_factor(a, b) if row_a.run is not None and row_a.run == row_b.run \
        else None
    if factor is None:  # other runs, or one stretch of samples each (fnbench 0.1)
        return qa.over(qb)
    value = qa.value / qb.value
    return Value(value, value * factor[0], value * factor[1])


NAMES = {"conv": "Conv", "gconv": "GConv", "dwconv": "DWConv", "pconv": "PConv"}


def table1_claims(rows: Sequence[Row], device: str) -> list[Claim]:
    """Table 1's claims: the FLOPS ordering (PConv above DWConv, Conv highest, DWConv
    lowest), PConv's FLOPs (1/16 of Conv's) and memory access (at most 1/4) and its speed
    against Conv."""
    hardware = PAPER_HARDWARE.get(device)
    flops_column = TABLE1_FLOPS_COLUMNS.get(device)
    sizes: dict[str, dict[str, Row]] = {}
    for row in rows:
        size = _size(row.fields) + (f" x{row.fields['layers']}"
                                    if row.fields["layers"] != 10 else "")
        sizes.setdefault(size, {})[row.fields["op"]] = row

    def published(row: Row, column: str | None) -> float | None:
        f = row.fields
        if column is None:
            return None
        ref = table1_reference(f["label"], f["channels"], f["height"], f["width"], f["layers"],
                               device)
        if ref is None:
            return None
        return ref["gflops"] if column == "gflops" else _paper_rate(ref["speed"], ref["unit"])

    def items(a: str, b: str, quantity: Callable, column: str | None,
              name: str | None = None) -> list[Item]:
        """a over b at each size holding both; ``name`` (the other operator) in the label."""
        out = []
        for size, ops in sizes.items():
            if a not in ops or b not in ops:
                continue
            pa, pb = published(ops[a], column), published(ops[b], column)
            label = f"{size} ({name})" if name else size
            out.append(Item(label, size, _ratio_of(ops[a], ops[b], quantity),
                            pa / pb if pa and pb else None))
        return out

    flops = "gflops" if flops_column else None
    speed_column = "speed" if hardware else None
    claims = []
    verdict, detail = judge(items("pconv", "dwconv", gflops, flops), hardware, "sizes")
    claims.append(Claim("PConv reaches more FLOPS than DWConv at every size (achieved GFLOPS, "
                        "PConv/DWConv)", verdict, detail))
    others = ("gconv", "dwconv", "pconv")
    verdict, detail = judge([i for o in others
                             for i in items("conv", o, gflops, flops, f"Conv/{NAMES[o]}")],
                            hardware, "sizes")
    claims.append(Claim("Conv reaches the most FLOPS of the four operators at every size "
                        "(Conv over the next one)", verdict, detail))
    verdict, detail = judge([i for o in ("conv", "gconv", "pconv")
                             for i in items(o, "dwconv", gflops, flops, f"{NAMES[o]}/DWConv")],
                            hardware, "sizes")
    claims.append(Claim("DWConv reaches the fewest FLOPS of the four operators at every size "
                        "(the next one over DWConv)", verdict, detail))
    claims.append(_exact_claim(sizes, "flops", "PConv (r=1/4) has 1/16 of Conv's FLOPs",
                               lambda r: math.isclose(r, 1 / 16, rel_tol=1e-9)))
    claims.append(_exact_claim(sizes, "memory_bytes", "PConv (r=1/4) has at most 1/4 of "
                               "Conv's memory access", lambda r: r <= 0.25 + 1e-12))
    verdict, detail = judge(items("pconv", "conv", speed, speed_column), hardware, "sizes")
    claims.append(Claim("PConv is faster than Conv at every size (PConv's speed over Conv's)",
                        verdict, detail))
    return claims


def _exact_claim(sizes: Mapping[str, Mapping[str, Row]], field_name: str, text: str,
                 holds: Callable[[float], bool]) -> Claim:
    """A claim on counted quantities (no interval: the formulas are exact)."""
    ratios = []
    for size, ops in sizes.items():
        pconv = (ops.get("pconv") and ops["pconv"].record) or {}
        conv = (ops.get("conv") and ops["conv"].record) or {}
        a, b = _number(pconv.get(field_name)), _number(conv.get(field_name))
        if a is not None and b:
            ratios.append((size, a / b))
    if not ratios:
        return Claim(text, "not measured", "")
    bad = [f"{size} ({ratio:.4f})" for size, ratio in ratios if not holds(ratio)]
    values = [r for _, r in ratios]
    shown = f"1/{1 / max(values):.1f}" if math.isclose(min(values), max(values)) \
        else f"1/{1 / max(values):.1f}–1/{1 / min(values):.1f}"
    detail = f"PConv/Conv {shown} over {len(ratios)} size{'s' if len(ratios) > 1 else ''} " \
        "(counted, exact)"
    if bad:
        detail += "; not at " + ", ".join(bad)
    return Claim(text, "no" if bad else "yes", detail)


#: Table 3's headline comparisons in the paper's text: (FasterNet row, baseline row).
HEADLINES = (("FasterNet-T0", "MobileViT-XXS"), ("FasterNet-L", "Swin-B"))


def _model_rate(table: str, row_name: str, key: str, device: str) -> float | None:
    if device not in SPEED_COLUMNS:
        return None
    frame = paper_table(table)
    match = frame[frame[key] == row_name]
    if match.empty:
        return None
    column, unit = SPEED_COLUMNS[device]
    return _paper_rate(match.iloc[0][column], unit)


def _model_items(pairs: Sequence[tuple[str, str]], records: Mapping[str, Row],
                 device: str, table: str, key: str) -> list[Item]:
    """Speed of A over B for each (A, B) of table rows named in ``records``."""
    out = []
    for a, b in pairs:
        ra, rb = records.get(a), records.get(b)
        pa, pb = (_model_rate(table, a, key, device), _model_rate(table, b, key, device))
        out.append(Item(b, b, _ratio_of(ra, rb, speed),
                        pa / pb if pa and pb else None))
    return out


def accuracy_groups() -> list[tuple[str, list[str]]]:
    """Table 3's groups of similar accuracy: each FasterNet row with the rows printed above
    it since the previous FasterNet row."""
    groups, pending = [], []
    for network, family in paper_table("table3_imagenet")[["network", "family"]].itertuples(
            index=False):
        if family == "FasterNet":
            groups.append((network, pending))
            pending = []
        else:
            pending.append(network)
    return groups


def table3_claims(rows: Sequence[Row], device: str) -> list[Claim]:
    """FasterNet against MobileViT-XXS and Swin-B (the paper's text) and against every
    network of similar accuracy (Table 3's groups)."""
    hardware = PAPER_HARDWARE.get(device)
    by_network = {row.fields["network"]: row for row in rows}
    top1 = dict(paper_table("table3_imagenet")[["network", "top1"]].itertuples(index=False))
    claims = []
    for fasternet, baseline in HEADLINES:
        if fasternet not in by_network and baseline not in by_network:
            continue
        items = _model_items([(fasternet, baseline)], by_network, device, "table3_imagenet",
                             "network")
        verdict, detail = judge(items, hardware, "networks")
        claims.append(Claim(f"{fasternet} (top-1 {top1[fasternet]}) is faster than {baseline} "
                            f"({top1[baseline]})", verdict, detail))
    for fasternet, group in accuracy_groups():
        present = [b for b in group if b in by_network]
        if fasternet not in by_network and not present:
            continue
        accuracies = [top1[b] for b in group]
        items = _model_items([(fasternet, b) for b in present], by_network, device,
                             "table3_imagenet", "network")
        if fasternet not in by_network or not present:
            items = [Item(b, b, None, None) for b in group]
        verdict, detail = judge(items, hardware, "networks")
        claims.append(Claim(f"{fasternet} (top-1 {top1[fasternet]}) is faster than every other "
                            f"network of its accuracy group in Table 3 ({len(group)}, top-1 "
                            f"{min(accuracies)}–{max(accuracies)})", verdict, detail))
    return claims


#: Table 5's claims: (text, faster variant, slower variant).
ABLATION_CLAIMS = (
    ("T0 r=1/4", "T0* r=1/2", "r=1/4 is the best trade-off of the partial ratios: T0 (r=1/4) "
     "has the best published top-1 (71.9; r=1/2 71.7, r=1/8 71.3) and is faster than T0* "
     "r=1/2 at about the same FLOPs"),
    ("T0 BN", "T0 LN", "BatchNorm is faster than LayerNorm (T0 BN over T0 LN)"),
    ("T0 ReLU", "T0 GELU", "ReLU is faster than GELU in T0 (T0 ReLU over T0 GELU)"),
    ("T2 ReLU", "T2 GELU", "ReLU is faster than GELU in T2 (T2 ReLU over T2 GELU)"),
)


def table5_claims(rows: Sequence[Row], device: str) -> list[Claim]:
    hardware = PAPER_HARDWARE.get(device)
    by_variant = {row.fields["variant"]: row for row in rows if row.fields.get("name")}
    claims = []
    for faster, slower, text in ABLATION_CLAIMS:
        if faster not in by_variant and slower not in by_variant:
            continue
        items = _model_items([(faster, slower)], by_variant, device, "table5_ablation",
                             "variant")
        verdict, detail = judge(items, hardware, "variants")
        claims.append(Claim(text, verdict, detail))
    return claims


# --- rendering ----------------------------------------------------------------------------


def md_text(text: Any) -> str:
    """Text from data made inert in Markdown: markup characters escaped, one line."""
    out = []
    value = " ".join(str(text).split())
    for i, char in enumerate(value):
        if char in "\\`*[]<>|#!&":
            out.append("\\" + char)
        elif char == "_" and not (0 < i < len(value) - 1 and value[i - 1].isalnum()
                                  and value[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(char)
    return "".join(out)


def _md_table(table: TextTable, level: str = "##") -> list[str]:
    lines = [f"{level} {md_text(table.title)}", ""]
    lines += ["| " + " | ".join(md_text(c) for c in table.columns) + " |",
              "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"- {md_text(note)}" for note in table.notes]
    return lines + [""]


def _claim_md(claim: Claim) -> str:
    return f"- **{claim.verdict}**: {md_text(claim.text)}" + (
        f" ({md_text(claim.detail)})" if claim.detail else "")


def _figure_groups(figures: Sequence[Figure]) -> list[list[Figure]]:
    """Figures of the same name in several formats together, PNG first."""
    groups: dict[str, list[Figure]] = {}
    for figure in figures:
        groups.setdefault(str(Path(figure.relative).with_suffix("")), []).append(figure)
    order = {".png": 0, ".svg": 1}
    return [sorted(g, key=lambda f: order.get(Path(f.relative).suffix.lower(), 2))
            for g in groups.values()]


def render_markdown(report: PaperReport) -> str:
    runtimes = ", ".join(report.runtimes)
    lines = [f"# The FasterNet paper on {md_text(report.device)} ({md_text(runtimes)})", ""]
    lines += [md_text(line) + "  " for line in report.status] + [""]
    if report.resume:
        ticks = "``" if "`" in report.resume else "`"
        lines += [f"resume with: {ticks}{report.resume}{ticks}", ""]
    lines += ["## Runs", "", "| run | table | runtime | path | status | records used | "
              "measured |", "|---|---|---|---|---|---|---|"]
    for info in report.runs:
        lines.append("| " + " | ".join(md_text(c) for c in _run_cells(info)) + " |")
    lines += [""]
    lines += ["## The paper's claims on this device", ""]
    for runtime, claims in report.claims.items():
        if len(report.claims) > 1:
            lines += [f"### {md_text(runtime)}", ""]
        lines += [_claim_md(claim) for claim in claims] or ["- no claim applies to the "
                                                            "tables selected"]
        lines.append("")
    lines += [md_text(note) for note in report.notes] + ([""] if report.notes else [])
    for _, table in report.sections:
        lines += _md_table(table)
    lines += ["## Table 2: approximation", ""]
    if isinstance(report.table2, str):
        lines += [md_text(report.table2), ""]
    else:
        lines += _md_table(report.table2, "###")
    lines += ["## Figures", ""]
    if isinstance(report.figures, str):
        lines += [md_text(report.figures), ""]
    else:
        for group in _figure_groups(report.figures):
            first = group[0]
            link = first.relative.replace(" ", "%20")
            lines.append(f"![{md_text(first.caption)}]({link})")
            others = [f"[{Path(f.relative).suffix.lstrip('.')}]"
                      f"({f.relative.replace(' ', '%20')})" for f in group[1:]]
            lines += ["", md_text(first.caption) + (" " + " ".join(others) if others else ""),
                      ""]
        if not report.figures:
            lines += ["no figures were written", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _run_cells(info: RunInfo) -> list[str]:
    from fnbench.report.status import run_state

    run = info.run
    state = run_state(run)
    return [info.id, info.serves, str(run.get("runtime")), info.path,
            f"{state.status}, {state.counts()}", str(info.used),
            "now" if info.new else "reused (--from)"]


_CSS = ("body{font-family:sans-serif;margin:2em;max-width:100em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}.yes{color:#060}.no{color:#a00}"
        ".undecided{color:#850}.notes{font-size:90%;color:#444}img{max-width:100%}")


def _html_table(table: TextTable, level: int = 2) -> list[str]:
    e = html.escape
    out = [f"<h{level}>{e(table.title)}</h{level}>", "<table>",
           "<tr>" + "".join(f"<th>{e(c)}</th>" for c in table.columns) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table.rows]
    out.append("</table>")
    if table.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in table.notes)
                   + "</ul>")
    return out


MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg", ".gif": "image/gif"}


def render_html(report: PaperReport) -> str:
    """One self-contained page: every text escaped, figures embedded as data URIs."""
    e = html.escape
    runtimes = ", ".join(report.runtimes)
    title = f"The FasterNet paper on {report.device} ({runtimes})"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(title)}</h1>"]
    out += [f"<p>{e(line)}</p>" for line in report.status]
    if report.resume:
        out.append(f"<p>resume with: <code>{e(report.resume)}</code></p>")
    out += ["<h2>Runs</h2>", "<table>", "<tr>" + "".join(
        f"<th>{e(c)}</th>" for c in ("run", "table", "runtime", "path", "status",
                                     "records used", "measured")) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in _run_cells(info)) + "</tr>"
            for info in report.runs]
    out += ["</table>", "<h2>The paper's claims on this device</h2>"]
    for runtime, claims in report.claims.items():
        if len(report.claims) > 1:
            out.append(f"<h3>{e(runtime)}</h3>")
        out.append("<ul>" + "".join(
            f'<li><b class="{e(c.verdict.replace(" ", "-"))}">{e(c.verdict)}</b>: {e(c.text)}'
            + (f" ({e(c.detail)})" if c.detail else "") + "</li>" for c in claims) + "</ul>")
    out += [f'<p class="notes">{e(note)}</p>' for note in report.notes]
    for _, table in report.sections:
        out += _html_table(table)
    out.append("<h2>Table 2: approximation</h2>")
    if isinstance(report.table2, str):
        out.append(f"<p>{e(report.table2)}</p>")
    else:
        out += _html_table(report.table2, 3)
    out.append("<h2>Figures</h2>")
    if isinstance(report.figures, str):
        out.append(f"<p>{e(report.figures)}</p>")
    else:
        for group in _figure_groups(report.figures):
            out.append(_html_figure(group))
        if not report.figures:
            out.append("<p>no figures were written</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_figure(group: Sequence[Figure]) -> str:
    """The first embeddable format of a figure inline (data URI); the caption under it."""
    e = html.escape
    for figure in group:
        mime = MIME.get(Path(figure.relative).suffix.lower())
        if mime is None:
            continue
        try:
            data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
        except OSError:
            continue
        return (f'<figure><img alt="{e(figure.caption)}" src="data:{mime};base64,{data}">'
                f"<figcaption>{e(figure.caption)}</figcaption></figure>")
    return f"<p>{e(group[0].caption)}: {e(group[0].relative)} (not embeddable)</p>"
