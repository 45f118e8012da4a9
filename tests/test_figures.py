"""Figures: what is plotted equals the records (read back from the artists), the Pareto frontier
is the true Pareto set, labels exist and do not overlap, and every committed run draws."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib import cbook
from scipy.stats import spearmanr

from conftest import swallow_a_signal
from fnbench.figures import (FIGURES, FiguresError, figures_for, latency_flops_figure,
                             operator_flops_figure, pareto_figure, pareto_front,
                             roofline_figure, write_run_figures)
from fnbench.figures.base import as_run
from fnbench.figures.labels import overlaps, text_box
from fnbench.published import table1_reference
from fnbench.records import SCHEMA
from fnbench.results import load_run

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "results" / "reference"
REFERENCE_RUNS = sorted(p for p in REFERENCE.iterdir() if (p / "run.json").exists())


def record(name: str, *, family: str = "CNN", latency: float = 10.0, top1: float | None = 75.0,
           lo: float | None = None, hi: float | None = None, flops: float = 1e9,
           mode: str = "latency", batch: int = 1, suite: str = "models",
           meta: dict | None = None, **fields) -> dict:
    """A record dict as run.json holds it, with its derived columns consistent."""
    if meta is None:
        meta = {"model": name, "resolution": 224, "top1": top1}
    throughput = batch / (latency / 1e3)
    return {"key": f"{suite}|{name}|{mode}", "workload_hash": None, "name": name,
            "suite": suite, "family": family, "device": "cpu", "runtime": "torch",
            "mode": mode, "batch": batch, "threads": 1, "input_shape": [batch, 3, 224, 224],
            "spec": {"suite": suite}, "meta": meta, "status": "ok", "flops": flops,
            "params": 1_000_000, "memory_bytes": flops / 10, "latency_ms": latency,
            "latency_lo_ms": lo, "latency_hi_ms": hi, "throughput": throughput,
            "achieved_flops": flops * batch / (latency / 1e3), **fields}


def op_record(op: str, label: str, channels: int, height: int, latency: float,
              flops: float, **fields) -> dict:
    meta = {"op": op, "label": label, "channels": channels, "height": height,
            "width": height, "layers": 10, "ratio": None, "groups": 1, "impl": None}
    return record(f"{label}-{channels}x{height}x{height}", family="operator", latency=latency,
                  flops=flops, suite="ops", meta=meta, **fields)


def run_of(records: list[dict], suite: str = "models", runtime: str = "torch",
           roofline: dict | None = None) -> dict:
    for r in records:
        r["runtime"] = runtime
    return {"schema": SCHEMA, "suite": suite, "device": "cpu", "runtime": runtime,
            "threads": 1, "started": "2026-12-01T10:00:00+00:00", "fnbench_version": "0.1.0",
            "records": records, "reference": None, "roofline": roofline,
            "status": "complete"}


def lines(figure, gid: str, ax=None):
    axes = [ax] if ax is not None else figure.axes
    return [line for a in axes for line in a.get_lines() if line.get_gid() == gid]


def points(figure, prefix: str = "points", ax=None) -> list[tuple[float, float]]:
    """Every plotted (x, y) of the Line2D artists whose gid starts with ``prefix``, sorted."""
    axes = [ax] if ax is not None else figure.axes
    return sorted((float(x), float(y)) for a in axes for line in a.get_lines()
                  if (line.get_gid() or "").startswith(prefix)
                  for x, y in zip(line.get_xdata(), line.get_ydata()))


def assert_points(actual, expected) -> None:
    """The same points (to rounding), whatever the order."""
    expected = sorted((float(x), float(y)) for x, y in expected)
    assert len(actual) == len(expected), (actual, expected)
    for (ax_, ay), (ex, ey) in zip(actual, expected):
        assert ax_ == pytest.approx(ex, rel=1e-9) and ay == pytest.approx(ey, rel=1e-9)


def labels(ax) -> list:
    return [t for t in ax.texts if t.get_gid() == "label"]


def interval_segments(ax) -> list:
    return [[tuple(map(float, p)) for p in segment] for c in ax.collections
            if c.get_gid() == "interval" for segment in c.get_segments()]


def assert_labels_readable(figure, draw: bool = True) -> None:
    """Every label inside its axes, none overlapping another or the legend, measured after a
    draw (the layout is frozen once labels are placed, so a figure saved since needs none)."""
    if draw:
        figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        boxes = [text_box(t, renderer) for t in labels(ax)]
        assert not overlaps(boxes), [(labels(ax)[i].get_text(), labels(ax)[j].get_text())
                                     for i, j in overlaps(boxes)]
        legend = ax.get_legend()
        if legend is not None:
            assert not overlaps([legend.get_window_extent(renderer), *boxes])
        frame = ax.get_window_extent(renderer)
        for box in boxes:
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1, box
            assert frame.y0 <= box.y0 and box.y1 <= frame.y1, box


# --- the Pareto set --------------------------------------------------------------------------

# (name, latency ms, top-1): the answer is known by hand.
PARETO_CASE = [
    ("fast", 10.0, 70.0),       # fastest: on the frontier
    ("fast_twin", 10.0, 70.0),  # identical to fast: neither beats the other, both on it
    ("slow_same", 15.0, 70.0),  # as accurate as fast but slower: beaten
    ("best_mid", 20.0, 80.0),   # on it
    ("mid_worse", 20.0, 75.0),  # as fast as best_mid, less accurate: beaten
    ("tie_acc", 30.0, 80.0),    # as accurate as best_mid, slower: beaten
    ("top", 40.0, 85.0),        # the most accurate: on it
    ("worst", 50.0, 60.0),      # beaten by everything
]
PARETO_FRONT = {"fast", "fast_twin", "best_mid", "top"}


def test_pareto_front_is_the_true_pareto_set():
    names = [c[0] for c in PARETO_CASE]
    front = pareto_front([c[1] for c in PARETO_CASE], [c[2] for c in PARETO_CASE])
    assert {names[i] for i in front} == PARETO_FRONT
    # in throughput mode higher is better: the same ranking with speed = 1 / latency
    front = pareto_front([1 / c[1] for c in PARETO_CASE], [c[2] for c in PARETO_CASE],
                         higher_speed_is_better=True)
    assert {names[i] for i in front} == PARETO_FRONT
    assert pareto_front([], []) == []
    assert pareto_front([5.0], [50.0]) == [0]


def test_pareto_figure_plots_the_records_and_the_frontier():
    run = run_of([record(n, latency=t, top1=a, family="FasterNet" if n == "top" else "CNN")
                  for n, t, a in PARETO_CASE])
    figure = pareto_figure(run)
    (ax,) = figure.axes
    assert_points(points(figure), [(t, a) for _, t, a in PARETO_CASE])
    (front,) = lines(figure, "frontier")
    expected = sorted((t, a) for n, t, a in PARETO_CASE if n in PARETO_FRONT)
    assert list(zip(front.get_xdata(), front.get_ydata())) == expected
    assert ax.get_xscale() == "log"
    assert "latency" in ax.get_xlabel() and "ms" in ax.get_xlabel()
    assert "top-1" in ax.get_ylabel() and "%" in ax.get_ylabel()
    # families are colours and markers, FasterNet drawn larger
    (highlight,) = lines(figure, "points:FasterNet")
    (cnn,) = lines(figure, "points:CNN")
    assert highlight.get_marker() != cnn.get_marker()
    assert highlight.get_color() != cnn.get_color()
    assert highlight.get_markersize() > cnn.get_markersize()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("FasterNet") for t in legend) and "CNN" in legend
    assert sorted(t.get_text() for t in labels(ax)) == sorted(n for n, _, _ in PARETO_CASE)
    assert ax.get_title()
    assert_labels_readable(figure)


def test_pareto_throughput_mode_prefers_higher_throughput():
    records = [record(n, latency=t, top1=a, mode="throughput", batch=8)
               for n, t, a in PARETO_CASE]
    figure = pareto_figure(run_of(records))
    (ax,) = figure.axes
    assert "throughput" in ax.get_xlabel() and "samples/s" in ax.get_xlabel()
    assert_points(points(figure), [(8 / (t / 1e3), a) for _, t, a in PARETO_CASE])
    (front,) = lines(figure, "frontier")
    assert_points(sorted(zip(front.get_xdata(), front.get_ydata())),
                  [(8 / (t / 1e3), a) for n, t, a in PARETO_CASE if n in PARETO_FRONT])


def test_pareto_one_panel_per_runtime_and_no_top1_is_left_out():
    torch_run = run_of([record("a", latency=10, top1=70), record("b", latency=20, top1=80),
                        record("no_top1", latency=5, top1=None)])
    ort_run = run_of([record("a", latency=5, top1=70), record("b", latency=9, top1=80)],
                     runtime="onnxruntime")
    figure = pareto_figure([torch_run, ort_run])
    assert len(figure.axes) == 2
    assert "torch" in figure.axes[0].get_title()
    assert "onnxruntime" in figure.axes[1].get_title()
    assert points(figure, ax=figure.axes[0]) == [(10.0, 70.0), (20.0, 80.0)]
    assert points(figure, ax=figure.axes[1]) == [(5.0, 70.0), (9.0, 80.0)]
    notes = [t.get_text() for t in figure.axes[0].texts if t.get_gid() == "note"]
    assert notes and "no_top1" in notes[0]
    # one speed axis for both panels: they can be compared by eye
    assert figure.axes[0].get_xlim() == figure.axes[1].get_xlim()


def test_error_bars_are_the_records_intervals_and_absent_where_null():
    run = run_of([record("a", latency=10, lo=8, hi=13, top1=70),
                  record("b", latency=20, top1=80),  # no interval: no bar
                  record("c", latency=40, lo=35, hi=41, top1=82)])
    (ax,) = pareto_figure(run).axes
    assert sorted(interval_segments(ax)) == [[(8.0, 70.0), (13.0, 70.0)],
                                             [(35.0, 82.0), (41.0, 82.0)]]
    (ax,) = latency_flops_figure(run).axes
    assert sorted(interval_segments(ax)) == [[(1.0, 8.0), (1.0, 13.0)],
                                             [(1.0, 35.0), (1.0, 41.0)]]


# --- latency against FLOPs -------------------------------------------------------------------

def test_latency_flops_points_and_spearman():
    values = [(0.3e9, 9.0), (0.6e9, 20.0), (1.0e9, 15.0), (4.0e9, 80.0), (9.0e9, 70.0)]
    run = run_of([record(f"m{i}", flops=f, latency=t) for i, (f, t) in enumerate(values)])
    figure = latency_flops_figure(run)
    (ax,) = figure.axes
    assert_points(points(figure), [(f / 1e9, t) for f, t in values])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "multiply-accumulates" in ax.get_xlabel() and "ms" in ax.get_ylabel()
    (text,) = [t.get_text() for t in ax.texts if t.get_gid() == "spearman"]
    rho = spearmanr([f for f, _ in values], [t for _, t in values]).statistic
    assert f"ρ = {rho:.2f}" in text and "n = 5" in text
    assert len(labels(ax)) == 5
    assert_labels_readable(figure)


def test_latency_flops_with_too_few_models_says_so():
    run = run_of([record("a", flops=1e9, latency=10), record("b", flops=2e9, latency=12)])
    (ax,) = latency_flops_figure(run).axes
    (text,) = [t.get_text() for t in ax.texts if t.get_gid() == "spearman"]
    assert "undefined" in text


# --- operator FLOPS --------------------------------------------------------------------------

def ops_run(roofline: dict | None = None, intervals: bool = True) -> dict:
    cases = [("conv", "conv3x3", 2601.1e6, 32.0), ("dwconv", "dwconv3x3", 27.1e6, 3.5),
             ("pconv", "pconv3x3_r1/4", 162.6e6, 5.8)]
    records = [op_record(op, label, 96, 56, latency, flops,
                         **({"latency_lo_ms": latency * 0.9, "latency_hi_ms": latency * 1.2}
                            if intervals else {}))
               for op, label, flops, latency in cases]
    # a case the paper did not measure, beside the one it did (the figure groups by operator)
    records.insert(2, op_record("dwconv", "dwconv3x3", 64, 7, 0.5, 0.3e6))
    return run_of(records, suite="ops", roofline=roofline)


def test_operator_flops_bars_are_measured_and_published_values():
    run = ops_run()
    figure = operator_flops_figure(run)
    (ax,) = figure.axes
    measured = [r["achieved_flops"] / 1e9 for r in run["records"]]
    heights = [p.get_height() for p in ax.containers[0].patches]
    assert heights == pytest.approx(measured)
    in_paper = [run["records"][i] for i in (0, 1, 3)]
    paper = [table1_reference(r["meta"]["label"], 96, 56, 56, 10, "cpu")["gflops"]
             for r in in_paper]
    assert [p.get_height() for p in ax.containers[1].patches] == pytest.approx(paper)
    # the paper's bar stands right beside the measured one of the same case
    beside = [ax.containers[0].patches[i] for i in (0, 1, 3)]
    for mine, theirs in zip(beside, ax.containers[1].patches):
        assert theirs.get_x() == pytest.approx(mine.get_x() + mine.get_width())
    assert "multiply-accumulates" in ax.get_ylabel() and "GFLOPS" in ax.get_ylabel()
    (ratio,) = [t.get_text() for t in ax.texts if t.get_gid() == "ratio"]
    here = run["records"][3]["achieved_flops"] / run["records"][1]["achieved_flops"]
    assert f"{here:.1f}x here" in ratio and "in the paper" in ratio
    segments = interval_segments(ax)
    assert len(segments) == 3  # the case without an interval has no bar
    for segment, r in zip(segments, in_paper):
        low, high = sorted(y for _, y in segment)
        assert low == pytest.approx(r["flops"] / (r["latency_hi_ms"] / 1e3) / 1e9)
        assert high == pytest.approx(r["flops"] / (r["latency_lo_ms"] / 1e3) / 1e9)
    tick_text = [t.get_text() for t in ax.get_xticklabels(minor=True)]
    assert tick_text == ["conv3x3", "dwconv3x3", "pconv3x3_r1/4"]


def test_operator_flops_without_intervals_draws_no_error_bars():
    (ax,) = operator_flops_figure(ops_run(intervals=False)).axes
    assert interval_segments(ax) == []


# --- roofline --------------------------------------------------------------------------------

CEILINGS = {"peak_macs_per_s": 80e9, "peak_kernel": "conv3x3_128x56x56",
            "measured_at": "2026-12-01T16:08:53+00:00", "sizes": "full", "notes": [],
            "levels": [{"level": "L2", "capacity_bytes": 2 << 20, "bytes_per_s": 70e9,
                        "points": [{"working_set_bytes": 1 << 20, "bytes_per_s": 70e9}]},
                       {"level": "DRAM", "capacity_bytes": None, "bytes_per_s": 10e9,
                        "points": [{"working_set_bytes": 300 << 20, "bytes_per_s": 8e9},
                                   {"working_set_bytes": 1200 << 20, "bytes_per_s": 10e9}]}]}


def test_roofline_places_records_under_the_measured_ceilings():
    from fnbench.records import Record

    run = ops_run(roofline=CEILINGS)
    typed = [Record.from_dict(r).with_roofline(CEILINGS) for r in run["records"]]
    run["records"] = [r.to_dict() for r in typed]
    figure = roofline_figure(run)
    ax = figure.axes[0]
    assert_points(points(figure), [(r.arithmetic_intensity, r.achieved_flops / 1e9)
                                   for r in typed])
    assert_points(points(figure, "bounds"), [(r.arithmetic_intensity, r.roofline_bound / 1e9)
                                             for r in typed])
    (peak,) = lines(figure, "peak")
    assert list(peak.get_ydata()) == [pytest.approx(80.0)] * 2
    (l2,) = lines(figure, "roof:L2")
    x, y = l2.get_xdata(), l2.get_ydata()
    assert y[0] == pytest.approx(min(x[0] * 70.0, 80.0))  # MAC/byte x GB/s, capped at peak
    assert y[-1] == pytest.approx(80.0)
    (dram,) = lines(figure, "roof:DRAM")
    assert dram.get_ydata()[0] == pytest.approx(dram.get_xdata()[0] * 10.0)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "MAC/byte" in ax.get_xlabel() and "MAC/s" in ax.get_ylabel()
    assert not [t for t in ax.texts if t.get_gid() == "no-ceilings"]
    assert len(interval_segments(ax)) == 3


def test_roofline_without_ceilings_says_so():
    figure = roofline_figure(ops_run(roofline=None))
    ax = figure.axes[0]
    (message,) = [t.get_text() for t in ax.texts if t.get_gid() == "no-ceilings"]
    assert message.startswith("No ceilings were measured")
    assert not lines(figure, "peak") and not lines(figure, "bounds")
    assert len(points(figure)) == 4  # the records still stand at their intensity


# --- text from data --------------------------------------------------------------------------

def test_a_dollar_in_a_model_name_is_drawn_as_text(tmp_path):
    names = ["$x$ net", "cost $5 $6", "a\\$b", "$$", "_^{}"]
    run = run_of([record(n, latency=10 + i, top1=70 + i, family="$fam$")
                  for i, n in enumerate(names)])
    paths = write_run_figures(run, tmp_path)
    assert {p.name for p in paths} == {f"{s}.{f}" for s in FIGURES["models"]
                                       for f in ("png", "svg")}
    figure = pareto_figure(run)
    drawn = [t.get_text() for t in labels(figure.axes[0])]
    assert len(drawn) == len(names)
    for text in drawn + [t.get_text() for t in figure.axes[0].get_legend().get_texts()]:
        assert not cbook.is_math_text(text), text
    figure.canvas.draw()


# --- writing ---------------------------------------------------------------------------------

def test_write_run_figures_writes_what_applies(tmp_path):
    paths = write_run_figures(ops_run(), tmp_path / "new", formats=("png",))
    assert [p.name for p in paths] == ["operator_flops.png", "roofline.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "new").glob("*.tmp"))
    no_top1 = run_of([record("a", top1=None)])
    assert figures_for(as_run(no_top1)) == ["latency_vs_flops", "roofline"]
    failed = run_of([dict(record("a"), status="error", latency_ms=None)])
    assert write_run_figures(failed, tmp_path / "none") == []
    with pytest.raises(ValueError, match="unknown figure format"):
        write_run_figures(ops_run(), tmp_path, formats=("gif",))


def test_a_failing_figure_does_not_stop_the_others(tmp_path, monkeypatch):
    from fnbench.figures import write as write_module

    def broken(run):
        raise RuntimeError("boom")

    monkeypatch.setitem(write_module.FIGURES["ops"], "operator_flops", broken)
    with pytest.raises(FiguresError) as error:
        write_run_figures(ops_run(), tmp_path, formats=("png",))
    assert [p.name for p in error.value.written] == ["roofline.png"]
    assert error.value.failures[0][0] == "operator_flops"


def test_the_cli_warns_when_figures_fail_and_keeps_going(tmp_path, monkeypatch, capsys):
    import fnbench.figures
    from fnbench import cli

    def broken(run, directory):
        raise RuntimeError("no display\nsecond line")

    monkeypatch.setattr(fnbench.figures, "write_run_figures", broken)
    cli._write_figures(as_run(ops_run()), tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: figures not written (RuntimeError: no display); the run is saved"]


def test_a_half_imported_matplotlib_is_a_warning_too(monkeypatch, capsys, tmp_path):
    """An import that was cut short leaves modules behind, and importing again fails with
    AttributeError, not ImportError: the run is still saved with a warning."""
    import sys

    from fnbench import cli

    class Broken:
        def find_spec(self, name, path=None, target=None):
            if name == "fnbench.figures":
                raise AttributeError("module 'matplotlib' has no attribute 'get_data_path'"
                                     "\nsecond line")  # the warning stays one line
            return None

    monkeypatch.delitem(sys.modules, "fnbench.figures")
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    cli._write_figures(as_run(ops_run()), tmp_path)
    assert capsys.readouterr().err.strip().splitlines() == [
        "warning: figures not written (AttributeError: module 'matplotlib' has no attribute "
        "'get_data_path'); the run is saved"]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["import", "figure"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_a_library_swallows_while_figures_are_drawn_still_stops_the_command(
        tmp_path, monkeypatch, capsys, where, signum):
    import fnbench.figures
    from fnbench import cli
    from fnbench.errors import RunInterrupted, interrupts_raise
    from fnbench.figures import write as write_module

    if where == "import":  # the first figure imports matplotlib's compiled modules
        monkeypatch.setattr(fnbench.figures, "write_run_figures",
                            lambda run, directory: swallow_a_signal(signum))
    else:  # write_run_figures goes on past a failing figure: not past a signal
        monkeypatch.setitem(write_module.FIGURES["ops"], "operator_flops",
                            lambda run: swallow_a_signal(signum))
    with interrupts_raise(), pytest.raises(RunInterrupted) as caught:
        cli._write_figures(as_run(ops_run()), tmp_path)
    assert caught.value.exit_code == 128 + signum
    assert "warning" not in capsys.readouterr().err
    assert not (tmp_path / "roofline.png").exists()  # nothing drawn after the signal
    # the next command in this process starts clean: a caught signal is not remembered
    monkeypatch.undo()
    with interrupts_raise():
        cli._write_figures(as_run(ops_run()), tmp_path / "next")
    assert (tmp_path / "next" / "roofline.png").exists()


@pytest.mark.parametrize("run_dir", REFERENCE_RUNS, ids=lambda p: p.name)
def test_every_committed_run_draws_readable_figures(run_dir, tmp_path):
    run = as_run(load_run(run_dir))
    stems = figures_for(run)
    assert stems == list(FIGURES[run.suite])
    for stem in stems:
        figure = FIGURES[run.suite][stem](run)
        data = points(figure)
        ok = [r for r in run.records if r.status == "ok"]
        if stem == "pareto":
            assert_points(data, [(r.latency_ms, r.meta["top1"]) for r in ok])
            assert len(labels(figure.axes[0])) == len(ok)
        if stem == "latency_vs_flops":
            assert_points(data, [(r.flops / 1e9, r.latency_ms) for r in ok])
        if stem == "operator_flops":
            heights = [p.get_height() for p in figure.axes[0].containers[0].patches]
            assert heights == pytest.approx([r.achieved_flops / 1e9 for r in ok])
        if stem == "roofline":
            said = [t for t in figure.axes[0].texts if t.get_gid() == "no-ceilings"]
            assert bool(said) == (run.roofline is None)
        assert_labels_readable(figure, draw=False)
    paths = write_run_figures(run, tmp_path, formats=("png",))
    assert [p.stem for p in paths] == stems


def test_pareto_of_two_committed_runs_has_readable_labels():
    runs = [load_run(REFERENCE / "models-cpu-torch-20261125T200213Z"),
            load_run(REFERENCE / "models-cpu-onnxruntime-20261125T200524Z")]
    figure = pareto_figure(runs)
    assert len(figure.axes) == 2 and all(len(labels(ax)) == 35 for ax in figure.axes)
    assert_labels_readable(figure)


def test_figures_never_import_torch(tmp_path):
    for source in (REPO / "fnbench" / "figures").glob("*.py"):
        assert "torch" not in [w.strip(",") for line in source.read_text().splitlines()
                               if line.lstrip().startswith(("import ", "from "))
                               for w in line.replace(".", " ").split()], source
    script = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
        "from fnbench.figures import write_run_figures\n"
        f"print(len(write_run_figures({str(REFERENCE_RUNS[-1])!r}, {str(tmp_path)!r}, "
        "formats=('png',))))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


def test_ops_cli_writes_figures_unless_no_plots(tmp_path):
    from conftest import run_cli

    tiny = ["ops", "--ops", "dwconv", "--sizes", "16x8x8", "--layers", "1", "--quick",
            "--no-reference"]
    result = run_cli(*tiny, "--out", str(tmp_path / "plots"))
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "plots").iterdir()
    names = {p.name for p in run_dir.iterdir()}
    assert {"operator_flops.png", "operator_flops.svg", "roofline.png",
            "roofline.svg"} <= names
    assert "warning" not in result.stderr
    result = run_cli(*tiny, "--no-plots", "--out", str(tmp_path / "none"))
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "none").iterdir()
    assert {p.name for p in run_dir.iterdir()} == {"run.json", "results.csv", "results.md"}
    json.loads((run_dir / "run.json").read_text())
