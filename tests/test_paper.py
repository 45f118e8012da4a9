"""fnbench paper: tables from saved runs beside the packaged paper tables, the claims computed
from the records, bad input, and the measuring path (measure, interrupt, resume)."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from conftest import REPO, assert_usage_error, cli_env, run_cli
from fnbench.records import record_key
from fnbench.published import paper_table
from fnbench.report.reproduction import times
from fnbench.results import load_run

REFERENCE = REPO / "results" / "reference"
OPS = REFERENCE / "ops-cpu-torch-20261201T171213Z"  # schema 2: no re-run interval
ORT_OPS = REFERENCE / "ops-cpu-onnxruntime-20261201T171403Z"
PAPER_SET = REFERENCE / "models-cpu-torch-20261125T200213Z"  # schema 1, Table 3's 35 rows
ABLATION = REFERENCE / "models-cpu-torch-20261125T201037Z"  # schema 1, Table 5's models
TABLE1 = paper_table("table1_operators")
TABLE3 = paper_table("table3_imagenet").set_index("network")
TABLE5 = paper_table("table5_ablation").set_index("variant")


# --- reading the report -------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [re.sub(r"\\(.)", r"\1", cell).strip() for cell in re.split(r"(?<!\\)\|", inner)]


def md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every Markdown table of index.md under its heading, as rows of {column: cell}."""
    tables, title, lines = {}, None, text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            title = re.sub(r"\\(.)", r"\1", line.lstrip("#").strip())
        elif line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = _cells(line)
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("| "):
                    break
                cells = _cells(row)
                assert len(cells) == len(header), row
                rows.append(dict(zip(header, cells)))
            tables[title] = rows
    return tables


def claim(text: str, start: str) -> tuple[str, str]:
    """(verdict, the whole line) of the claim whose statement starts with ``start``."""
    for line in text.splitlines():
        match = re.match(r"- \*\*(yes|no|undecided|not measured)\*\*: (.*)$", line)
        if match and re.sub(r"\\(.)", r"\1", match.group(2)).startswith(start):
            return match.group(1), re.sub(r"\\(.)", r"\1", line)
    raise AssertionError(f"no claim starting {start!r}")


def number(cell: str) -> float:
    return float(cell.replace(",", "").removesuffix("x"))


def close(cell: str, value: float, digits: int) -> None:
    """A cell is ``value`` rounded to ``digits`` decimals."""
    assert number(cell) == pytest.approx(round(value, digits), abs=10 ** -digits * 0.51), \
        (cell, value)


def ratio_cell(cell: str, value: float) -> None:
    """A ratio cell ('1.12x') is ``value`` to three significant digits."""
    assert cell.endswith("x"), cell
    assert number(cell) == pytest.approx(value, rel=6e-3), (cell, value)


def by(rows: list[dict[str, str]], **where: str) -> dict[str, str]:
    match = [r for r in rows if all(r[k] == v for k, v in where.items())]
    assert len(match) == 1, (where, match)
    return match[0]


# --- editing copies of runs ---------------------------------------------------------------


def copy_run(source: Path, folder: Path, edit=None) -> Path:
    """A run.json of ``source`` in the current format, edited by ``edit(data)``."""
    data = load_run(source)
    if edit:
        edit(data)
    target = folder / source.name
    target.mkdir(parents=True)
    (target / "run.json").write_text(json.dumps(data))
    return target


def set_latency(record: dict, ms: float, spread: float, within: float | None = None) -> None:
    """The record measured ``ms`` with a re-run interval of x/÷ (1 + spread) and a within-run
    one of x/÷ (1 + within) (``spread`` unless given)."""
    within = spread if within is None else within
    record.update(latency_ms=ms, latency_lo_ms=ms / (1 + spread),
                  latency_hi_ms=ms * (1 + spread), latency_within_lo_ms=ms / (1 + within),
                  latency_within_hi_ms=ms * (1 + within), throughput=record["batch"] * 1e3 / ms,
                  achieved_flops=record["flops"] * record["batch"] * 1e3 / ms)


def narrow(data: dict, spread: float = 0.01) -> None:
    for record in data["records"]:
        set_latency(record, record["latency_ms"], spread)


def named(data: dict, name: str) -> dict:
    return next(r for r in data["records"] if r["name"] == name)


# --- tables from the committed reference runs ---------------------------------------------


@pytest.fixture(scope="module")
def reference_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper") / "report"
    result = run_cli("paper", "--device", "cpu", "-o", str(out), "--from", str(OPS),
                     str(PAPER_SET), str(ABLATION))
    assert result.returncode == 0, result.stderr
    return out, result


def test_from_reused_runs_writes_no_new_run(reference_report):
    out, result = reference_report
    # the pages and the figures of the reused runs; no runs/ folder: nothing was measured
    assert sorted(p.name for p in out.iterdir()) == ["figures", "index.html", "index.md"]
    assert "status: complete" in result.stdout
    text = (out / "index.md").read_text()
    runs = md_tables(text)["Runs"]
    assert [r["measured"] for r in runs] == ["reused (--from)"] * 3
    assert [r["table"] for r in runs] == ["1", "3", "3, 5"]


def test_table1_is_the_records_beside_the_published_table(reference_report):
    out, _ = reference_report
    rows = md_tables((out / "index.md").read_text())["Table 1: operators (torch)"]
    records = load_run(OPS)["records"]
    assert len(rows) == len(records) == 16
    for record in records:
        meta = record["meta"]
        size = f"{meta['channels']}x{meta['height']}x{meta['width']}"
        row = by(rows, operator=meta["label"], size=size)
        published = TABLE1[(TABLE1.operator == meta["label"])
                           & (TABLE1.channels == meta["channels"])].iloc[0]
        close(row["latency ms"], record["latency_ms"], 3)
        close(row["GFLOPS"], record["achieved_flops"] / 1e9, 2)
        close(row["FLOPs M"], record["flops"] / 1e6, 1)
        close(row["paper ms"], published.cpu_latency_ms, 2)
        close(row["paper GFLOPS"], published.cpu_flops_g, 2)
        ratio_cell(row["measured/paper"], record["latency_ms"] / published.cpu_latency_ms)
        ratio_cell(row["GFLOPS measured/paper"],
                   record["achieved_flops"] / 1e9 / published.cpu_flops_g)
        # a schema-2 run has a within-run interval only: no re-run interval is shown
        assert row["95% interval ms"] == "–" and row["status"] == "ok, no re-run interval"
        assert row["run"] == "R1"


def test_tables_3_and_5_are_the_records_beside_the_published_tables(reference_report):
    out, _ = reference_report
    tables = md_tables((out / "index.md").read_text())
    table3 = tables["Table 3: ImageNet-1k networks (torch)"]
    records = {r["name"]: r for r in load_run(PAPER_SET)["records"]}
    assert [r["network"] for r in table3] == list(TABLE3.index)  # the paper's order
    for row in table3:
        record, published = records[row["model"]], TABLE3.loc[row["network"]]
        close(row["latency ms"], record["latency_ms"], 2)
        close(row["paper ms"], published.cpu_latency_ms, 2)
        ratio_cell(row["measured/paper"], record["latency_ms"] / published.cpu_latency_ms)
        close(row["top-1 (published)"], published.top1, 1)
        close(row["paper FLOPs G"], published.flops_g, 2)
        close(row["FLOPs G"], record["flops"] / 1e9, 3)
        assert row["run"] == "R2"
    table5 = tables["Table 5: ablations (torch)"]
    ablation = {r["name"]: r for r in load_run(ABLATION)["records"]}
    assert [r["variant"] for r in table5] == list(TABLE5.index)
    for row in table5:
        published = TABLE5.loc[row["variant"]]
        close(row["paper ms"], published.cpu_latency_ms, 2)
        close(row["top-1 (published)"], published.top1, 1)
        if row["variant"] == "T0* ReLU":  # its width is not published: not built
            assert row["model"] == "–" and row["status"].startswith("not built")
            continue
        record = ablation[row["model"]]  # Table 5 takes T0 and T2 from the ablation run
        assert row["run"] == "R3"
        close(row["latency ms"], record["latency_ms"], 2)
        ratio_cell(row["measured/paper"], record["latency_ms"] / published.cpu_latency_ms)
    # the same model in Table 3 comes from the run that covers Table 3
    t0 = by(table3, model="fasternet_t0")
    close(t0["latency ms"], records["fasternet_t0"]["latency_ms"], 2)


def test_claims_without_re_run_intervals_are_undecided(reference_report):
    out, result = reference_report
    text = (out / "index.md").read_text()
    verdict, line = claim(text, "PConv reaches more FLOPS than DWConv")
    # OPS is schema 2: within-run intervals only, which decide comparisons inside that one run
    # (PConv reaches 3-10x DWConv's FLOPS there, far beyond its rounds' spread)
    assert verdict == "yes" and "no re-run interval" not in line
    # the paper's own verdict and range, from the packaged Table 1 (CPU GFLOPS)
    cpu = TABLE1.set_index(["operator", "channels"]).cpu_flops_g
    ratios = [cpu["pconv3x3_r1/4", c] / cpu["dwconv3x3", c] for c in (96, 192, 384, 768)]
    assert f"paper: yes, {min(ratios):.2f}x–{max(ratios):.2f}x on Intel i9-9900X" in line
    # counted quantities need no interval
    assert claim(text, "PConv (r=1/4) has 1/16 of Conv's FLOPs")[0] == "yes"
    assert claim(text, "PConv (r=1/4) has at most 1/4 of Conv's memory access")[0] == "yes"
    verdict, line = claim(text, "FasterNet-T0 (top-1 71.9) is faster than MobileViT-XXS")
    records = {r["name"]: r for r in load_run(PAPER_SET)["records"]}
    speedup = records["mobilevit_xxs"]["latency_ms"] / records["fasternet_t0"]["latency_ms"]
    assert verdict == "undecided" and f"{speedup:.2f}x (no re-run interval)" in line
    assert "paper: yes, 3.35x" in line  # 30.8 / 9.2
    assert "[torch]" not in result.stdout and "FasterNet-T0" in result.stdout
    html = (out / "index.html").read_text()
    # Table 2 is not invented: without weights and images the page says what it needs
    assert "Table 2 needs --approx-weights RESNET50.pth" in text
    assert "Table 2 needs --approx-weights RESNET50.pth" in html
    assert (out / "figures" / "pareto-cpu.svg").is_file() and "pareto-cpu.svg" in text


# --- claims computed from edited numbers --------------------------------------------------


def test_claims_follow_the_numbers(tmp_path):
    def ops(data):
        narrow(data)  # decisive: every interval x/÷ 1.01
        dw = named(data, "dwconv3x3-192x28x28")
        set_latency(dw, dw["latency_ms"] / 100, 0.01)  # DWConv now far above PConv there

    def models(data):
        narrow(data)
        xxs = named(data, "mobilevit_xxs")
        set_latency(named(data, "fasternet_t0"), xxs["latency_ms"] * 10, 0.01)
        resnet = named(data, "resnet50")
        resnet.update(status="error", error="<script>alert(1)</script> | **x** [a](http://e)")

    def ablation(data):
        narrow(data)
        t0 = named(data, "fasternet_t0")
        set_latency(named(data, "fasternet_t0_ln"), t0["latency_ms"] / 2, 0.01)  # LN faster
        t2 = named(data, "fasternet_t2")
        set_latency(named(data, "fasternet_t2_gelu"), t2["latency_ms"], 1.0)  # overlapping

    runs = [copy_run(OPS, tmp_path / "in", ops), copy_run(PAPER_SET, tmp_path / "in", models),
            copy_run(ABLATION, tmp_path / "in", ablation)]
    out = tmp_path / "report"
    result = run_cli("paper", "--device", "cpu", "-o", str(out), "--from",
                     *map(str, runs))
    assert result.returncode == 0, result.stderr
    text = (out / "index.md").read_text()
    verdict, line = claim(text, "PConv reaches more FLOPS than DWConv")
    assert verdict == "no" and "not at 192x28x28" in line
    assert claim(text, "Conv reaches the most FLOPS")[0] == "no"
    verdict, line = claim(text, "PConv is faster than Conv at every size")
    data = load_run(runs[0])
    speedups = [named(data, f"conv3x3-{s}")["latency_ms"]
                / named(data, f"pconv3x3_r1/4-split_cat-{s}")["latency_ms"]
                for s in ("96x56x56", "192x28x28", "384x14x14", "768x7x7")]
    assert verdict == "yes" and f"{times(min(speedups))}–{times(max(speedups))} over 4 sizes" \
        in line
    verdict, line = claim(text, "FasterNet-T0 (top-1 71.9) is faster than MobileViT-XXS")
    assert verdict == "no"
    assert "(0.1x (0.098x–0.102x); paper: yes, 3.35x on Intel i9-9900X)" in line
    assert claim(text, "FasterNet-T0 (top-1 71.9) is faster than every other")[0] == "no"
    assert claim(text, "BatchNorm is faster than LayerNorm")[0] == "no"
    verdict, line = claim(text, "ReLU is faster than GELU in T2")
    assert verdict == "undecided" and "paper: yes, 1.06x" in line
    # a group whose every comparison is decided in FasterNet's favour
    lat = {r["meta"]["paper_row"]: r["latency_ms"] for r in load_run(runs[1])["records"]}
    group = ["CycleMLP-B2", "PoolFormer-S24", "PoolFormer-S36", "ConvNeXt-T", "Swin-T",
             "PVT-Small", "PVT-Medium"]
    speedups = [lat[n] / lat["FasterNet-S"] for n in group]  # decided beyond 1.01 ** 2
    expected = "no" if min(speedups) < 1 / 1.0201 else \
        "yes" if min(speedups) > 1.0201 else "undecided"
    verdict, line = claim(text, "FasterNet-S (top-1 81.3)")
    assert verdict == expected and f"{times(min(speedups))}–{times(max(speedups))} over 7 " \
        "networks" in line
    # text from the data is escaped in both renderings; the HTML is self-contained
    row = by(md_tables(text)["Table 3: ImageNet-1k networks (torch)"], model="resnet50")
    assert row["status"] == "error: <script>alert(1)</script> | **x** [a](http://e)"
    html = (out / "index.html").read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"(src|href)=\"https?:", html)


def test_records_of_one_run_are_compared_round_by_round(tmp_path):
    """Two records of one run are compared on their rounds that ran back to back: a steady
    1.5x between them is decided however wide their re-run intervals, and rounds whose
    ratio swings from 0.5x to 4.5x are not."""
    def ops(data, swing):
        for record in data["records"]:
            set_latency(record, record["latency_ms"], 0.6)  # re-run intervals x/÷ 1.6
        conv = named(data, "conv3x3-96x56x56")
        pconv = named(data, "pconv3x3_r1/4-split_cat-96x56x56")
        rounds = []
        for i, taken in enumerate(conv["measurement"]["rounds"]):
            wobble = swing if i % 2 else 1 / swing  # the pair's ratio, round by round
            rounds.append({**taken, "samples": [x / 1.5 * wobble for x in taken["samples"]]})
        pconv["measurement"] = {**pconv["measurement"], "rounds": rounds}
        set_latency(pconv, conv["latency_ms"] / 1.5, 0.6)

    verdicts = {}
    for swing in (1.01, 3.0):
        runs = [copy_run(OPS, tmp_path / f"in{swing}", lambda d: ops(d, swing))]
        out = tmp_path / f"report{swing}"
        result = run_cli("paper", "--device", "cpu", "--tables", "1", "-o", str(out),
                         "--from", *map(str, runs))
        assert result.returncode == 0, result.stderr
        text = (out / "index.md").read_text()
        verdicts[swing] = claim(text, "PConv is faster than Conv at every size")[0]
    # crosswise re-run intervals of x/÷1.6 each could not tell 1.5x apart; the paired rounds
    # can, unless their ratio itself swings
    assert verdicts == {1.01: "yes", 3.0: "undecided"}


def test_gpu_tables_are_throughput_beside_the_papers_fps(tmp_path):
    """A cuda run (edited from a CPU one: no GPU needed to read it) gets Table 1 in samples/s
    beside the paper's 2080Ti fps, without opening the device."""
    def to_cuda(data):
        data["device"] = "cuda"
        for record in data["records"]:
            record.update(device="cuda", mode="throughput", batch=32)
            record["key"] = record_key(record["spec"], "cuda", "torch", "throughput", 32, 1)
            set_latency(record, record["latency_ms"] * 4, 0.02)
        data["planned"] = [{"key": r["key"], "name": r["name"], "mode": "throughput"}
                           for r in data["records"]]

    run = copy_run(OPS, tmp_path / "in", to_cuda)
    out = tmp_path / "report"
    result = run_cli("paper", "--device", "cuda", "--tables", "1", "-o", str(out), "--from",
                     str(run))
    assert result.returncode == 0, result.stderr
    rows = md_tables((out / "index.md").read_text())["Table 1: operators (torch)"]
    for record in load_run(run)["records"]:
        meta = record["meta"]
        row = by(rows, operator=meta["label"],
                 size=f"{meta['channels']}x{meta['height']}x{meta['width']}")
        published = TABLE1[(TABLE1.operator == meta["label"])
                           & (TABLE1.channels == meta["channels"])].iloc[0]
        close(row["samples/s"], record["throughput"], 1)
        close(row["paper fps"], published.gpu_throughput_fps, 0)
        ratio_cell(row["measured/paper"], record["throughput"] / published.gpu_throughput_fps)
        close(row["paper GFLOPS"], published.gpu_flops_g, 2)
        low, high = (32e3 / record["latency_hi_ms"], 32e3 / record["latency_lo_ms"])
        assert row["95% interval"] == f"{low:,.1f}–{high:,.1f}"


def test_runtime_both_gives_each_runtime_its_tables_and_claims(tmp_path):
    out = tmp_path / "report"
    result = run_cli("paper", "--device", "cpu", "--runtime", "both", "--tables", "1", "-o",
                     str(out), "--from", str(OPS), str(ORT_OPS))
    assert result.returncode == 0, result.stderr
    text = (out / "index.md").read_text()
    tables = md_tables(text)
    ort = {r["name"]: r for r in load_run(ORT_OPS)["records"]}
    row = by(tables["Table 1: operators (onnxruntime)"], operator="dwconv3x3", size="96x56x56")
    close(row["latency ms"], ort["dwconv3x3-96x56x56"]["latency_ms"], 3)
    assert "### torch" in text and "### onnxruntime" in text
    assert "[onnxruntime] PConv reaches more FLOPS than DWConv" in result.stdout


# --- bad input: one line, exit 2, nothing written -----------------------------------------


def _schema_99(folder: Path) -> Path:
    run = copy_run(OPS, folder)
    data = json.loads((run / "run.json").read_text())
    data["schema"] = "fnbench.run/99"
    (run / "run.json").write_text(json.dumps(data))
    return run


def _empty(folder: Path) -> Path:
    def edit(data):
        data.update(records=[], status="interrupted", interrupted_by="SIGINT")
    return copy_run(OPS, folder, edit)


def _arm(folder: Path) -> Path:
    def edit(data):
        data["device"] = "arm"
        for record in data["records"]:
            record["device"] = "arm"
    return copy_run(OPS, folder, edit)


def _not_a_run(folder: Path) -> Path:
    (folder / "notes").mkdir()
    return folder / "notes"


def _throughput(folder: Path) -> Path:
    def edit(data):
        for record in data["records"]:
            record.update(mode="throughput", batch=32)
            record["key"] = record_key(record["spec"], "cpu", "torch", "throughput", 32, 1)
        data["planned"] = []
    return copy_run(OPS, folder, edit)


def run_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """``fnbench ARGS`` in this process (bad input fails before anything is imported or
    measured, so a subprocess per case would only cost time)."""
    from fnbench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, exit_.value.code, captured.out, captured.err)


@pytest.mark.parametrize("make,extra,fragments", [
    (_not_a_run, [], ["no run at", "notes"]),
    (_empty, [], ["is an empty run", "leave it out of --from"]),
    (_schema_99, [], ["fnbench.run/99", "cannot read"]),
    (_arm, [], ["was measured on arm, not on cpu"]),
    (_throughput, [], ["holds no record the selected tables use", "latency mode, batch 1"]),
    (lambda folder: ORT_OPS, [], ["measured with onnxruntime", "--runtime both"]),
    (lambda folder: OPS, ["--device", "tpu"], ["unknown device 'tpu'"]),
    (lambda folder: OPS, ["--runtime", "both", "--device", "cuda"], ["is for cpu and arm"]),
    (lambda folder: OPS, ["--tables", "2"], ["--tables '2'"]),
    (lambda folder: OPS, ["--models", "resmlp_12_224"], ["in neither Table 3"]),
    (lambda folder: OPS, ["--approx-weights", "/nonexistent.pth"], ["does not exist"]),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, make, extra, fragments):
    run = make(tmp_path)
    out = tmp_path / "report"
    args = ["--device", "cpu", *extra] if "--device" not in extra else extra
    result = run_here(capsys, "paper", *args, "-o", str(out), "--from", str(run))
    assert_usage_error(result, *fragments)
    assert not out.exists()


def test_runs_need_from_and_from_needs_runs(tmp_path, capsys):
    out = tmp_path / "report"
    assert_usage_error(run_here(capsys, "paper", "--device", "cpu", "-o", str(out), str(OPS)),
                       "go after --from")
    assert_usage_error(run_here(capsys, "paper", "--device", "cpu", "-o", str(out), "--from"),
                       "--from names no run")
    assert_usage_error(run_cli("paper", "--device", "cpu", "--from", str(OPS)), "--out")
    assert not out.exists()


# --- figures and Table 2 when this build has them -----------------------------------------


def test_figures_and_table2_are_written_and_embedded_when_available(tmp_path, monkeypatch):
    """With stand-ins for fnbench.figures and fnbench.approx (other branches), each run's
    figures land in DIR/figures/, with the Pareto, linked from index.md and embedded in
    index.html; Table 2 is the approx module's table."""
    from fnbench import reproduce
    from fnbench.report.table import TextTable

    png = b"\x89PNG\r\n\x1a\nstand-in"
    drawn = []

    def write_run_figures(run, directory):
        directory.mkdir(parents=True)
        drawn.append(run["suite"])
        (directory / "operator_flops.png").write_bytes(png)
        return [directory / "operator_flops.png"]

    class Pareto:
        def savefig(self, path):
            Path(path).write_bytes(png)

    figures = types.SimpleNamespace(write_run_figures=write_run_figures,
                                    pareto_figure=lambda runs: Pareto())
    approx = types.SimpleNamespace(paper_table2=lambda weights, images: TextTable(
        "Table 2 (measured)", ["stage", "PConv MSE"], [["1", "0.0070"]]))
    monkeypatch.setitem(sys.modules, "fnbench.figures", figures)
    monkeypatch.setitem(sys.modules, "fnbench.approx", approx)
    monkeypatch.setattr(reproduce, "_available", lambda name: True)
    selection = reproduce.Selection("cpu", ("torch",), ("table1", "table3"))
    out = tmp_path / "report"
    options = reproduce.PaperOptions(selection, out, [OPS, PAPER_SET])
    code, report = reproduce.run_paper(options, measure=None, say=lambda text: None)
    assert code == 0 and drawn == ["ops", "models"]
    assert (out / "figures" / OPS.name / "operator_flops.png").read_bytes() == png
    assert (out / "figures" / "pareto-cpu.png").exists()
    text = (out / "index.md").read_text()
    assert f"](figures/{OPS.name}/operator_flops.png)" in text
    assert "](figures/pareto-cpu.png)" in text and "[svg](figures/pareto-cpu.svg)" in text
    html = (out / "index.html").read_text()
    assert html.count('src="data:image/png;base64,') == 3
    assert md_tables(text)["Table 2 (measured)"] == [{"stage": "1", "PConv MSE": "0.0070"}]


# --- the measuring path: measure, interrupt, resume ---------------------------------------

TINY = ["paper", "--device", "cpu", "--quick", "--no-roofline", "--ops", "dwconv,pconv",
        "--sizes", "16x8x8", "--layers", "1", "--models", "fasternet_t0"]


def test_measure_interrupt_and_resume(tmp_path):
    out = tmp_path / "report"
    process = subprocess.Popen([sys.executable, "-m", "fnbench", *TINY, "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=cli_env())
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:  # Table 1's run complete, Table 3's under way
            done = [json.loads(p.read_text()) for p in out.glob("runs/ops-*/run.json")]
            if done and done[0]["status"] == "complete":
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    runs = sorted((out / "runs").iterdir())
    assert [r.name.split("-")[0] for r in runs] == ["ops"]  # an empty run is not kept
    ops_run = runs[0]
    before = (ops_run / "run.json").read_text()
    text = (out / "index.md").read_text()
    assert "status: interrupted (SIGINT)" in text
    command = re.search(r"^resume with: `(fnbench paper .*)`$", text, re.M).group(1)
    assert command.endswith(f" --from {out / 'runs'}/*")
    resume = shlex.split(command.removesuffix(f" --from {out / 'runs'}/*"))
    assert resume[0] == "fnbench" and set(TINY) <= set(resume)

    # resume, with the command it printed: what is complete is reused, what is missing is
    # measured
    resumed = run_cli(*resume[1:], "--from", *map(str, (out / "runs").iterdir()))
    assert resumed.returncode == 0, resumed.stderr
    runs = sorted((out / "runs").iterdir())
    assert [r.name.split("-")[0] for r in runs] == ["models", "ops"]
    assert (ops_run / "run.json").read_text() == before
    text = (out / "index.md").read_text()
    assert "status: complete" in text
    tables = md_tables(text)
    ops = load_run(ops_run)["records"]
    assert len(ops) == 2
    for record in ops:
        row = by(tables["Table 1: operators (torch)"], operator=record["meta"]["label"] + " x1")
        close(row["latency ms"], record["latency_ms"], 3)
        low, high = record["latency_lo_ms"], record["latency_hi_ms"]
        assert row["95% interval ms"] == f"{low:,.3f}–{high:,.3f}"
        assert row["paper ms"] == "–"  # one layer of 16x8x8 is not in the paper's grid
    model = load_run(runs[0])
    assert [r["name"] for r in model["records"]] == ["fasternet_t0"]  # serves 3 and 5
    t0 = model["records"][0]
    row = by(tables["Table 3: ImageNet-1k networks (torch)"], model="fasternet_t0")
    close(row["latency ms"], t0["latency_ms"], 2)
    close(row["paper ms"], 9.2, 2)
    ratio_cell(row["measured/paper"], t0["latency_ms"] / 9.2)
    for variant in ("T0 r=1/4", "T0 BN", "T0 GELU"):
        row = by(tables["Table 5: ablations (torch)"], variant=variant)
        close(row["latency ms"], t0["latency_ms"], 2)
        assert row["run"] == by(md_tables(text)["Runs"], table="3, 5")["run"]

    # a second resume finds everything: no new run
    again = run_cli(*TINY, "-o", str(out), "--from", *map(str, runs))
    assert again.returncode == 0, again.stderr
    assert sorted((out / "runs").iterdir()) == runs
