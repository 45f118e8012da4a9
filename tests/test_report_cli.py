"""``fnbench report`` as a user runs it: several runs, four formats, files with --out, no torch,
and one-line errors that write nothing."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, assert_usage_error, cli_env, run_cli
from fnbench.records import SCHEMA, Record, Run
from fnbench.report.runs import run_table
from fnbench.report.table import render_markdown
from fnbench.results import RunWriter

REFERENCE = REPO / "results" / "reference"
REFERENCE_RUNS = sorted(p for p in REFERENCE.iterdir() if (p / "run.json").is_file())
#: What a machine without the measuring stack lacks.
BLOCKED = ("torch", "torchvision", "timm", "onnxruntime")


def blocking(*modules: str) -> str:
    """``python -c`` this, then fnbench's arguments: fnbench with ``modules`` (and their
    submodules) unimportable."""
    return f"""
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {modules!r}:
            raise ImportError("blocked for this test: " + name)

sys.meta_path.insert(0, Blocked())
from fnbench.cli import main
main(sys.argv[1:])
"""


def run_without(modules: tuple[str, ...], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", blocking(*modules), *args],
                          capture_output=True, text=True, timeout=300, env=cli_env(), cwd=REPO)


def run_without_torch(*args: str) -> subprocess.CompletedProcess:
    return run_without(BLOCKED, *args)


def model_record(name: str, paper_row: str | None, latency_ms: float, mode: str = "latency",
                 **fields) -> Record:
    """A finished models record, as ``fnbench models`` writes one."""
    batch = 1 if mode == "latency" else 32
    meta = {"resolution": 224, "top1": 71.9 if paper_row else None,
            "paper_table": "table3_imagenet" if paper_row else None, "paper_row": paper_row}
    return Record(
        key=f"models|model={name}|device=cpu|runtime=torch|mode={mode}|batch={batch}|threads=1",
        workload_hash=None, name=name, suite="models", family="FasterNet", device="cpu",
        runtime="torch", mode=mode, batch=batch, threads=1, input_shape=(batch, 3, 224, 224),
        spec={"suite": "models", "model": name}, meta=meta, flops=0.34e9, params=3.9e6,
        memory_bytes=55e6, latency_ms=latency_ms, latency_lo_ms=latency_ms * 0.98,
        latency_hi_ms=latency_ms * 1.03, throughput=batch * 1e3 / latency_ms,
        achieved_flops=0.34e9 * batch * 1e3 / latency_ms, converged=True, samples=40,
        rounds=8, **fields)


def write_run(directory: Path, *records: Record, status: str = "complete") -> Path:
    """A run directory written by fnbench's own writer, as a measuring command leaves it."""
    directory.mkdir(parents=True)
    run = Run(suite="models", device="cpu", runtime="torch", threads=1,
              started="2026-12-02T10:00:00+00:00", fnbench_version="0.1.0",
              planned=tuple({"key": r.key, "name": r.name, "mode": r.mode} for r in records))
    writer = RunWriter(directory, run)
    for record in records:
        writer.add(record)
    writer.finish(status, lambda saved: render_markdown(run_table(saved)))
    return directory


@pytest.fixture
def own_run(tmp_path) -> Path:
    return write_run(tmp_path / "models-cpu-torch-20261202T100000Z",
                     model_record("fasternet_t0", "FasterNet-T0", 8.0),
                     model_record("fasternet_t0", "FasterNet-T0", 200.0, mode="throughput"),
                     model_record("timm:tiny", None, 3.0))


def test_the_blocker_really_blocks_torch(tmp_path):
    result = run_without_torch("ops", "--quick", "--out", str(tmp_path))
    assert result.returncode != 0
    assert "blocked for this test: torch" in result.stderr


@pytest.mark.parametrize("format", ["table", "md", "csv", "html"])
def test_every_format_of_every_run_needs_no_torch(own_run, format):
    runs = [own_run, *REFERENCE_RUNS]
    result = run_without_torch("report", *map(str, runs), "--format", format)
    assert result.returncode == 0, result.stderr
    counts = [len(json.loads((run / "run.json").read_text())["records"]) for run in runs]
    if format == "table":
        assert result.stdout.count("status: complete") == len(runs)
        assert result.stdout.count("┃ model ") + result.stdout.count("┃ operator ") == len(runs)
    elif format == "md":
        blocks = result.stdout.split("\n# fnbench ")
        assert [block.count("\n| ") - 1 for block in blocks] == counts
    elif format == "csv":
        blocks = result.stdout.split("\n\n")
        assert [len(list(csv.DictReader(io.StringIO(b)))) for b in blocks] == counts
        assert result.stderr.count("status: complete") == len(runs)
    else:
        assert result.stdout.count("<!DOCTYPE html>") == len(runs)
        pages = result.stdout.split("<!DOCTYPE html>")[1:]
        assert [page.count("<tr>") - 1 for page in pages] == counts


def test_md_of_a_run_is_its_paper_comparison(own_run):
    result = run_cli("report", str(own_run), "--format", "md")
    assert result.returncode == 0, result.stderr
    header, _, t0, t0_throughput, other = result.stdout.split("\n\n")[2].splitlines()[:5]
    cells = dict(zip(header.strip("| ").split(" | "), t0.strip("| ").split(" | ")))
    # FasterNet-T0 on the i9-9900X: 9.2 ms, top-1 71.9 (the paper's Table 3)
    assert (cells["latency ms"], cells["paper ms"], cells["top-1"]) == ("8.00", "9.20", "71.9")
    assert "| – |" in t0_throughput  # the paper measured this CPU in latency mode only
    assert other.startswith("| timm:tiny |") and other.count("| – |") >= 2


def test_csv_has_unformatted_values_and_the_ratio_to_the_paper(own_run):
    result = run_cli("report", str(own_run), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["mode"] for row in rows] == ["latency b1", "throughput b32", "latency b1"]
    t0 = rows[0]
    assert float(t0["latency_ms"]) == 8.0 and float(t0["paper_ms"]) == 9.2
    assert float(t0["speed_vs_paper"]) == pytest.approx(8.0 / 9.2)
    assert float(t0["flops_g"]) == pytest.approx(0.34) and float(t0["top1_pct"]) == 71.9
    assert rows[1]["paper_ms"] == rows[1]["speed_vs_paper"] == ""  # no paper value there
    assert rows[2]["paper_ms"] == rows[2]["top1_pct"] == ""
    assert result.stderr.strip() == f"{own_run}: status: complete, 3 of 3 planned record(s)"


def test_out_writes_one_file_per_run_named_after_it(own_run, tmp_path):
    out = tmp_path / "reports" / "new"
    reference = REFERENCE / "ops-cpu-torch-20261125T194828Z"
    result = run_cli("report", str(own_run / "run.json"), str(reference), "--format", "html",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == [f"{own_run.name}.html",
                                                     f"{reference.name}.html"]
    assert f"wrote {out / (own_run.name + '.html')}" in result.stderr
    printed = run_cli("report", str(reference), "--format", "html")
    assert (out / f"{reference.name}.html").read_text() == printed.stdout


def test_the_same_run_twice_is_reported_once(own_run):
    result = run_cli("report", str(own_run), str(own_run / "run.json"), "--format", "md")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("# fnbench models") == 1


MARKUP = "fnbench[/x] [bold]<script>alert('&')</script>"


def test_text_from_data_is_verbatim_in_md_and_escaped_in_html(tmp_path):
    run = write_run(tmp_path / "run", model_record(MARKUP, None, 3.0, status="error",
                                                   error=f"RuntimeError: {MARKUP}"))
    markdown = run_cli("report", str(run), "--format", "md")
    assert markdown.returncode == 0, markdown.stderr
    assert f"| {MARKUP} |" in markdown.stdout
    assert f"- {MARKUP} (latency): RuntimeError: {MARKUP}" in markdown.stdout
    page = run_cli("report", str(run), "--format", "html").stdout
    assert "<script>" not in page and "[/x]" in page
    escaped = "fnbench[/x] [bold]&lt;script&gt;alert(&#x27;&amp;&#x27;)&lt;/script&gt;"
    assert f"<td class=\"text\">{escaped}</td>" in page
    assert f"<li>{escaped} (latency): RuntimeError: {escaped}</li>" in page


def _empty(run: dict) -> dict:
    return {**run, "records": [], "status": "interrupted", "interrupted_by": "SIGINT"}


@pytest.mark.parametrize("case,fragments", [
    ("missing", ["no run at", "no such file or folder", "give a run directory or its run.json"]),
    ("folder without run.json", ["the folder has no run.json", "give a run directory"]),
    ("folder of runs", ["the folder has no run.json; it holds 1 run(s), such as",
                        "give those"]),
    ("not json", ["is not a readable fnbench run", "give a run.json written by fnbench"]),
    ("json, not a run", [f"is not an fnbench run (schema {SCHEMA} expected)",
                         "give a run.json written by fnbench"]),
    ("newer schema", ["has schema fnbench.run/9, which this fnbench", "cannot read",
                      "upgrade fnbench"]),
    ("no records", ["has no records (interrupted (SIGINT), 0 of 16 planned record(s))",
                    "nothing to report; rerun the benchmark"]),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case, fragments):
    given = tmp_path / "given"
    reference = json.loads((REFERENCE / "ops-cpu-torch-20261201T171213Z" / "run.json")
                           .read_text())
    if case == "folder without run.json":
        (given / "results.md").parent.mkdir()
        (given / "results.md").write_text("# a table\n")
    elif case == "folder of runs":
        shutil.copytree(REFERENCE / "ops-cpu-torch-20261201T171213Z", given / "a-run")
    elif case == "not json":
        given.write_text("name,latency_ms\nconv,1.0\n")
    elif case == "json, not a run":
        given.write_text(json.dumps({"records": [], "schema": "coverage/1"}))
    elif case == "newer schema":
        given.mkdir()
        (given / "run.json").write_text(json.dumps({**reference, "schema": "fnbench.run/9"}))
    elif case == "no records":
        given.mkdir()
        (given / "run.json").write_text(json.dumps(_empty(reference)))
    out = tmp_path / "out"
    for format in ("md", "csv", "html"):
        result = run_cli("report", str(given), "--format", format, "--out", str(out))
        assert_usage_error(result, *fragments)
        assert result.stdout == "" and not out.exists()
    alongside = run_cli("report", str(REFERENCE_RUNS[0]), str(given), "--format", "md", "--out",
                        str(out))  # a good run first: still nothing written
    assert_usage_error(alongside, *fragments)
    assert not out.exists()


@pytest.mark.parametrize("args,fragments", [
    (["--format", "pdf"], ["unknown --format 'pdf'", "table, md, csv, html"]),
    (["--out", "OUT"], ["--out writes md, csv or html files", "add --format md"]),
    (["--format", "md", "--out", ""], ["'--out'", "is empty"]),
])
def test_bad_options_are_one_line_exit_2(tmp_path, args, fragments):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    result = run_cli("report", str(REFERENCE_RUNS[0]), *args)
    assert_usage_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_file_is_refused_and_kept(tmp_path):
    blocker = tmp_path / "report.md"
    blocker.write_text("keep me")
    result = run_cli("report", str(REFERENCE_RUNS[0]), "--format", "md", "--out", str(blocker))
    assert_usage_error(result, f"--out {blocker} is a file, not a folder")
    assert blocker.read_text() == "keep me"


def test_two_runs_of_one_name_are_refused_with_out(tmp_path, own_run):
    twin = tmp_path / "elsewhere" / own_run.name
    shutil.copytree(own_run, twin)
    result = run_cli("report", str(own_run), str(twin), "--format", "csv", "--out",
                     str(tmp_path / "out"))
    assert_usage_error(result, f"two runs are named {own_run.name}")
    assert not (tmp_path / "out").exists()


def test_plots_draw_each_runs_figures_without_torch(own_run, tmp_path):
    ops_run = shutil.copytree(REFERENCE / "ops-cpu-torch-20261201T171213Z",
                              tmp_path / "ops-cpu-torch-20261201T171213Z")
    result = run_without_torch("report", str(own_run), str(ops_run), "--plots")
    assert result.returncode == 0, result.stderr
    for run, figure in ((own_run, "pareto"), (ops_run, "operator_flops")):
        assert (run / f"{figure}.png").stat().st_size > 0 and (run / f"{figure}.svg").exists()
        assert f"figures of {run.name}: {run / figure}." in result.stderr
    assert result.stdout.count("status: complete") == 2  # the tables, as without --plots


def test_plots_with_out_go_under_it_and_leave_the_run_alone(own_run, tmp_path):
    before = sorted(p.name for p in own_run.iterdir())
    out = tmp_path / "out"
    result = run_cli("report", str(own_run), "--plots", "--format", "md", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in own_run.iterdir()) == before
    assert (out / f"{own_run.name}.md").exists()
    assert (out / own_run.name / "pareto.png").exists()


def test_plots_without_matplotlib_is_one_line_and_writes_nothing(own_run, tmp_path):
    before = sorted(p.name for p in own_run.iterdir())
    result = run_without(("matplotlib",), "report", str(own_run), "--plots", "--format", "md",
                         "--out", str(tmp_path / "out"))
    assert_usage_error(result, "figures are not available in this build",
                       "blocked for this test: matplotlib", "drop --plots")
    assert sorted(p.name for p in own_run.iterdir()) == before
    assert not (tmp_path / "out").exists()
