"""fnbench dashboard: the page's content from real and synthetic runs, loaded in a real browser.

The browser tests run headless Chromium (``chromium`` or ``chromium-browser`` on PATH); where
there is none they skip with that reason, and with ``FNBENCH_REQUIRE_CHROMIUM=1`` (set by
``.ci/run``, which installs it) they fail instead. The page's scale (build time, size, load
time) is measured by ``benchmarks/dashboard_scale.py``, not here: tests check content.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPO, assert_usage_error, cli_env, run_cli

from fnbench.compare import compare, load_side
from fnbench.report.dashboard import DRAW_LIMIT, VERDICTS, fmt_ms
from fnbench.results import read_run

sys.path.insert(0, str(REPO / "benchmarks"))
from dashboard_scale import MACHINES, latency_of, machine_of, write_history  # noqa: E402

TINY = ("--ops", "conv,pconv", "--sizes", "8x4x4", "--layers", "1", "--quick", "--no-roofline")
EVIL = "<script>alert(1)</script>\"&'"


# --- a small DOM, from the page or from Chromium's --dump-dom --------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.text_parts: list[str] = []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def text(self) -> str:
        return "".join(self.text_parts) + "".join(c.text() for c in self.children)

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list["Node"]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes) \
                    and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(child)
            found.extend(child.all(tag, cls, **attrs))
        return found

    def hidden(self) -> bool:
        node: Node | None = self
        while node is not None:
            if "hidden" in node.attrs:
                return True
            node = node.parent
        return False


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def dom(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    return builder.root


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="fnbench-data">(.*?)</script>', text,
                      re.S)
    return json.loads(found.group(1))


# --- headless Chromium ---------------------------------------------------------------------

def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        reason = "no chromium or chromium-browser on PATH (apt-get install chromium)"
        if os.environ.get("FNBENCH_REQUIRE_CHROMIUM"):
            pytest.fail(f"chromium required but unavailable: {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


def rendered(page: Path, fragment: str = "") -> Node:
    """The DOM of ``page`` after Chromium loaded it and ran its script."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="fnbench-chromium-") as profile:
        done = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu",
                               "--no-first-run", f"--user-data-dir={profile}",
                               "--virtual-time-budget=5000", "--dump-dom",
                               page.resolve().as_uri() + fragment],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<body" in done.stdout, done.stderr[-2000:]
    return dom(done.stdout)


# --- runs written directly -----------------------------------------------------------------

def synthetic_run(folder: Path, name: str = "fasternet_t0", host: str = "box",
                  cpu: str = "Some CPU", started: str = "2026-12-01T10:00:00+00:00",
                  latency: float = 10.0, commit: str = "abc1234def", spread: float = 0.02,
                  runtime: str = "torch", suite: str = "models", dirty: bool = False) -> Path:
    """A minimal schema-3 run of one record, with its results.md."""
    folder.mkdir(parents=True)
    key = f"{suite}|model={name}|device=cpu|runtime={runtime}|mode=latency|batch=1|threads=1"
    record = {"key": key, "workload_hash": "h1", "name": name, "suite": suite,
              "family": "CNN", "device": "cpu", "runtime": runtime, "mode": "latency",
              "batch": 1, "threads": 1, "status": "ok", "meta": {"resolution": 224},
              "spec": {"suite": suite, "model": name}, "latency_ms": latency,
              "latency_lo_ms": latency * 0.9, "latency_hi_ms": latency * 1.1,
              "latency_ci_low_ms": latency * 0.99, "latency_ci_high_ms": latency * 1.01,
              "rounds": 8}
    run = {"schema": "fnbench.run/3", "suite": suite, "device": "cpu", "runtime": runtime,
           "threads": 1, "started": started, "fnbench_version": "0.1.0", "status": "complete",
           "settings": {"dtype": "fp32", "spread": {"sd": spread, "relative_sd": spread,
                                                    "df": 30, "runs": 30, "context": host}},
           "environment": {"hostname": host, "cpu": {"model": cpu},
                           "fnbench": {"git": {"commit": commit, "dirty": dirty}}},
           "records": [record], "reference": None, "planned": []}
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "results.md").write_text(f"# {name}\n")
    return folder


def build(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = run_cli("dashboard", str(folder), "-o", str(out), *extra)
    assert result.returncode == 0, result.stderr
    return result


# --- the command ---------------------------------------------------------------------------

def test_a_folder_without_runs_is_one_line_exit_2_and_writes_nothing(tmp_path):
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    out = tmp_path / "page.html"
    assert_usage_error(run_cli("dashboard", str(tmp_path / "runs"), "-o", str(out)),
                       "no fnbench run under")
    assert not out.exists()
    (tmp_path / "runs" / "bad").mkdir()
    (tmp_path / "runs" / "bad" / "run.json").write_text("{not json")
    assert_usage_error(run_cli("dashboard", str(tmp_path / "runs"), "-o", str(out)),
                       "no fnbench run under", "could not be read")
    assert not out.exists()
    assert_usage_error(run_cli("dashboard", str(tmp_path / "nowhere"), "-o", str(out)),
                       "is not a folder")


def test_non_runs_are_skipped_with_one_warning_each(tmp_path):
    runs = tmp_path / "runs"
    synthetic_run(runs / "deep" / "er" / "good")
    (runs / "broken").mkdir()
    (runs / "broken" / "run.json").write_text("{not json")
    (runs / "other").mkdir()
    (runs / "other" / "run.json").write_text(json.dumps({"schema": "someone-else/1"}))
    (runs / "notes").mkdir()
    (runs / "notes" / "readme.txt").write_text("not a run")
    damaged = synthetic_run(runs / "nan\nline")  # a NaN latency, and a line break in its name
    data = json.loads((damaged / "run.json").read_text())
    data["records"][0]["latency_ms"] = float("nan")
    (damaged / "run.json").write_text(json.dumps(data))
    result = build(runs, tmp_path / "page.html")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3, result.stderr
    assert any("broken" in w for w in warnings) and any("other" in w for w in warnings)
    assert any("nan\\nline" in w and "is damaged" in w for w in warnings), warnings
    assert "1 run(s) on 1 machine(s)" in result.stderr
    assert "fasternet_t0" in (tmp_path / "page.html").read_text()


def test_every_string_from_runs_is_escaped(tmp_path):
    runs = tmp_path / "runs"
    synthetic_run(runs / "a", name=EVIL, host=EVIL, cpu=EVIL, commit=EVIL,
                  started="2026-12-01T10:00:00+00:00")
    synthetic_run(runs / "b", name=EVIL, host=EVIL, cpu=EVIL, commit=EVIL,
                  started="2026-12-02T10:00:00+00:00", latency=20.0)
    page = tmp_path / "page.html"
    build(runs, page)
    text = page.read_text()
    assert "<script>alert" not in text and "alert(1)</script>\"" not in text
    assert text.count("<script") == 2  # the data and the page's own script, nothing else
    assert html.escape(EVIL, quote=True) in text
    data = page_data(text)
    assert data["machines"]["m1"] == f"{EVIL} ({EVIL})"  # the JSON holds the text as is
    tree = dom(text)
    (figure,) = tree.all("figure", cls="chart")
    assert figure.all("figcaption")[0].all("b")[0].text() == EVIL
    assert figure.attrs["data-key"].startswith(f"models|model={EVIL}|")


def test_the_dashboard_needs_no_torch(tmp_path):
    synthetic_run(tmp_path / "runs" / "a")
    script = ("import sys; sys.modules['torch'] = None; from fnbench.cli import main; "
              "main(sys.argv[1:])")
    page = tmp_path / "page.html"
    result = subprocess.run([sys.executable, "-c", script, "dashboard", str(tmp_path / "runs"),
                             "-o", str(page)], capture_output=True, text=True, timeout=120,
                            env=cli_env())
    assert result.returncode == 0, result.stderr
    assert page.exists()


def test_machines_get_separate_labelled_series_and_own_verdicts(tmp_path):
    runs = tmp_path / "runs"
    for day, (host, latency) in enumerate([("alpha", 10.0), ("beta", 30.0), ("alpha", 10.1),
                                           ("beta", 15.0)]):
        synthetic_run(runs / f"r{day}", host=host, latency=latency, spread=0.005,
                      started=f"2026-12-0{day + 1}T10:00:00+00:00")
    page = tmp_path / "out" / "page.html"
    build(runs, page)
    tree = dom(page.read_text())
    (figure,) = tree.all("figure", cls="chart")
    series = figure.all("g", cls="series")
    assert sorted(g.attrs["data-machine"] for g in series) == ["m1", "m2"]
    assert [g.attrs["data-points"] for g in series] == ["2", "2"]
    assert all(len(g.all("circle", cls="mark")) == 2 for g in series)
    legend = [li.text() for li in figure.all("li")]
    assert any(t.startswith("alpha (Some CPU)") for t in legend)
    assert any(t.startswith("beta (Some CPU)") for t in legend)
    # each machine's latest run against its own previous one: alpha unchanged, beta faster
    verdicts = {a.all("span", cls="machine")[0].text(): [tr.attrs["data-verdict"] for tr in
                                                         a.all("tr") if "data-verdict" in tr.attrs]
                for a in tree.all("article", cls="context")}
    assert verdicts == {"alpha (Some CPU)": ["unchanged"], "beta (Some CPU)": ["faster"]}


def _verdict_articles(page: Path) -> list[tuple[str, dict[str, str]]]:
    """Each verdict article's first paragraph as text, and its verdict per workload."""
    text = page.read_text()
    firsts = [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in
              re.findall(r'<article class="context"[^>]*><h3>.*?</h3><p>(.*?)</p>', text, re.S)]
    articles = dom(text).all("article", cls="context")
    assert len(firsts) == len(articles)
    return [(" ".join(first.split()),
             {tr.all("td")[0].text(): tr.attrs["data-verdict"] for tr in a.all("tr")
              if "data-verdict" in tr.attrs})
            for first, a in zip(firsts, articles)]


def test_the_latest_commits_repeats_are_compared_with_the_previous_commits(tmp_path):
    """CI stores several runs per commit: the page compares the latest commit's runs with the
    previous commit's, all repeats pooled, exactly as `fnbench compare` does on them; a run
    with uncommitted changes is code of its own; one commit throughout falls back to the
    latest run against the one before it."""
    runs = tmp_path / "runs"
    plan = [("a" * 40, 10.0), ("a" * 40, 10.2), ("a" * 40, 9.8),
            ("b" * 40, 13.0), ("b" * 40, 13.3), ("b" * 40, 12.8)]
    paths = []
    for hour, (commit, latency) in enumerate(plan):
        paths.append(synthetic_run(runs / f"r{hour}", commit=commit, latency=latency,
                                   started=f"2026-12-01T{10 + hour:02d}:00:00+00:00"))
    page = tmp_path / "out" / "page.html"
    build(runs, page)
    ((text, rows),) = _verdict_articles(page)
    assert "latest 3 runs of commit bbbbbbbbbb" in text, text
    assert "against previous 3 runs of commit aaaaaaaaaa" in text, text
    expected = compare(load_side("BASE", paths[:3]), load_side("NEW", paths[3:]))
    assert rows == {r.name: r.verdict for r in expected.rows} == {"fasternet_t0": "slower"}
    # a dirty run after them is new code: the three runs of b are its BASE
    paths.append(synthetic_run(runs / "r6", commit="b" * 40, latency=13.1, dirty=True,
                               started="2026-12-01T16:00:00+00:00"))
    build(runs, page)
    ((text, rows),) = _verdict_articles(page)
    assert "against previous 3 runs of commit bbbbbbbbbb" in text, text
    expected = compare(load_side("BASE", paths[3:6]), load_side("NEW", paths[6:]))
    assert rows == {r.name: r.verdict for r in expected.rows}
    assert rows["fasternet_t0"] != "slower"
    # one commit throughout: the latest run against the one before it
    same = tmp_path / "same"
    for hour, latency in enumerate((10.0, 10.1, 13.0)):
        synthetic_run(same / f"r{hour}", latency=latency,
                      started=f"2026-12-01T{10 + hour:02d}:00:00+00:00")
    build(same, page)
    ((text, rows),) = _verdict_articles(page)
    assert text.startswith("latest r2 ") and "against previous r1 " in text, text
    assert rows == {"fasternet_t0": "slower"}


def test_an_error_in_the_latest_run_is_errored_as_compare_says(tmp_path):
    runs = tmp_path / "runs"
    synthetic_run(runs / "r0", commit="a" * 40)
    failed = synthetic_run(runs / "r1", commit="b" * 40, started="2026-12-02T10:00:00+00:00")
    data = json.loads((failed / "run.json").read_text())
    data["records"][0].update(status="error", error="RuntimeError: out of memory",
                              latency_ms=None)
    (failed / "run.json").write_text(json.dumps(data))
    build(runs, tmp_path / "page.html")
    ((text, rows),) = _verdict_articles(tmp_path / "page.html")
    assert rows == {"fasternet_t0": "errored"}
    assert run_cli("compare", str(runs / "r0"), str(failed)).returncode == 1


def test_links_are_relative_to_the_page(tmp_path):
    runs = tmp_path / "results"
    synthetic_run(runs / "one run")  # a space: quoted in the link
    page = tmp_path / "site" / "deep" / "index.html"
    build(runs, page)
    hrefs = {a.attrs["href"] for a in dom(page.read_text()).all("a") if "href" in a.attrs}
    assert hrefs == {"../../results/one%20run/results.md"}
    for href in hrefs:
        assert (page.parent / urllib.parse.unquote(href)).resolve() == \
            (runs / "one run" / "results.md").resolve()


def test_out_must_be_a_file(tmp_path):
    """A folder, a path ending in a slash, a link or a pipe is refused (exit 2, left as it
    was); a page that cannot be written is one line, exit 1."""
    runs = tmp_path / "runs"
    synthetic_run(runs / "a")
    assert_usage_error(run_cli("dashboard", str(runs), "-o", str(tmp_path)), "is a folder")
    assert_usage_error(run_cli("dashboard", str(runs), "-o", f"{tmp_path}/new/"),
                       "names a folder")
    assert not (tmp_path / "new").exists()
    (tmp_path / "target.html").write_text("mine")
    (tmp_path / "link.html").symlink_to(tmp_path / "target.html")
    os.mkfifo(tmp_path / "pipe")
    for name in ("link.html", "pipe"):
        assert_usage_error(run_cli("dashboard", str(runs), "-o", str(tmp_path / name)),
                           "not a plain file")
    assert (tmp_path / "link.html").is_symlink() and (tmp_path / "pipe").is_fifo()
    assert (tmp_path / "target.html").read_text() == "mine"
    (tmp_path / "afile").write_text("")
    blocked = run_cli("dashboard", str(runs), "-o", str(tmp_path / "afile" / "x.html"))
    assert blocked.returncode == 1
    assert blocked.stderr.startswith("error: cannot write") and "Traceback" not in \
        blocked.stderr and len(blocked.stderr.strip().splitlines()) == 1, blocked.stderr


def test_the_threshold_is_checked_as_compare_checks_it(tmp_path):
    runs = tmp_path / "runs"
    synthetic_run(runs / "a")
    for bad in ("0", "-5", "nan", "2000"):
        compared = run_cli("compare", str(runs / "a"), str(runs / "a"), "--threshold", bad)
        shown = run_cli("dashboard", str(runs), "-o", str(tmp_path / "p.html"), "--threshold",
                        bad)
        assert_usage_error(shown, "--threshold", "must be a percentage")
        assert shown.stderr == compared.stderr  # one rule, one message
    build(runs, tmp_path / "p.html", "--threshold", "150")  # above 100% is a valid threshold


# --- a long history ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def long_history(tmp_path_factory):
    """2,000 runs of 50 records each (benchmarks/dashboard_scale.py), made once a session."""
    folder = tmp_path_factory.mktemp("long-history")
    write_history(folder / "history", runs=2000, records=50)
    return folder


def test_a_long_history_makes_a_complete_page_of_sane_size(long_history):
    page = long_history / "dashboard.html"
    if not page.exists():
        build(long_history / "history", page)
    text = page.read_text()
    assert len(text.encode()) < 12e6  # measured ~5 MB; benchmarks/dashboard_scale.py
    assert text.count('<figure class="chart"') == 50
    series = re.findall(r'<g class="series" data-machine="(m\d)" data-sid="(\d+)" '
                        r'data-points="(\d+)" data-drawn="(\d+)"', text)
    assert len(series) == 100
    counts = {(m, int(p)) for m, _, p, _ in series}
    assert counts == {("m1", 1500), ("m2", 500)}
    assert all(int(drawn) <= DRAW_LIMIT + 2 for *_, drawn in series)
    assert text.count('class="mark"') == 0  # too many points for a marker each
    data = page_data(text)
    assert len(data["runs"]) == 2000 and len(data["series"]) == 100
    assert sum(len(s) for s in data["series"]) == 100_000
    # a sample point: run 1234 (on the first machine), record 17
    assert machine_of(1234) == 0
    key = re.findall(r'data-key="([^"]*)"', text)[17]
    figure = text[text.index(f'data-key="{key}"'):]
    sid = int(re.search(r'data-machine="m1" data-sid="(\d+)"', figure).group(1))
    (point,) = [p for p in data["series"][sid] if p[0] == 1234]
    assert point[2] == pytest.approx(latency_of(1234, 17), rel=1e-4)
    assert point[3] == pytest.approx(latency_of(1234, 17) * math.exp(-0.09), rel=1e-4)
    assert data["runs"][1234][0] == "2026-02-21 10:00 UTC"
    assert data["machines"]["m1"] == f"{MACHINES[0][0]} ({MACHINES[0][1]})"
    # the workload that changed halfway is drawn as two segments with the change marked
    first = text[:text.index('data-key="', text.index('data-key="') + 1)]
    assert first.count('class="changed"') == 2  # once per machine
    # one verdict table per machine
    assert text.count('<article class="context"') == 2


# --- in a real browser ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Three quick fnbench runs (two torch, one ONNX Runtime) beside the committed
    reference runs, nested one folder deeper. The first torch run stands for the previous
    commit (its recorded commit is set to another one), so that the page compares the two
    torch runs whether or not this checkout has uncommitted changes."""
    chromium()  # skip (or fail) before making runs no browser will load
    folder = tmp_path_factory.mktemp("real-runs")
    shutil.copytree(REPO / "results" / "reference", folder / "runs" / "reference",
                    ignore=shutil.ignore_patterns("benchmarks"))
    for runtime in ("torch", "torch", "onnxruntime"):
        before = set((folder / "runs" / "fresh").glob("*"))
        result = run_cli("ops", *TINY, "--runtime", runtime, "--out",
                         str(folder / "runs" / "fresh"))
        assert result.returncode == 0, result.stderr
        if not before:
            (made,) = (folder / "runs" / "fresh").glob("*")
            data = json.loads((made / "run.json").read_text())
            data["environment"]["fnbench"]["git"] = {"commit": PREVIOUS_COMMIT, "dirty": False}
            (made / "run.json").write_text(json.dumps(data))
    page = folder / "site" / "index.html"
    build(folder / "runs", page)
    return folder, page


PREVIOUS_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _compared_runs(page: Path, name: str) -> dict[str, list[Path]]:
    """The run directories the verdict article naming run ``name`` compared: its "latest"
    links and its "previous" links, resolved against the page."""
    for paragraph in re.findall(r'<article class="context"[^>]*><h3>.*?</h3><p>(.*?)</p>',
                                page.read_text(), re.S):
        latest, found, previous = paragraph.partition(" against previous ")
        if found and f">{html.escape(name)}</a>" in latest:
            return {side: [(page.parent / urllib.parse.unquote(html.unescape(href))).resolve()
                           .parent for href in re.findall(r'<a href="([^"]+)"', text)]
                    for side, text in (("latest", latest), ("previous", previous))}
    raise AssertionError(f"no verdict article names {name}")


def test_the_page_renders_in_chromium_with_figures_verdicts_and_links(real_runs):
    folder, page = real_runs
    tree = rendered(page)
    runs = sorted((folder / "runs").rglob("run.json"))
    assert len(runs) == 12  # nine reference runs, three fresh
    figures = tree.all("figure", cls="chart")
    keys = {r.key for path in runs for r in read_run(path).records if r.latency_ms}
    assert {f.attrs["data-key"] for f in figures} == keys
    # the script ran: every figure is counted as shown
    (body,) = tree.all("body")
    assert body.attrs["data-shown-figures"] == str(len(figures))
    assert not any(f.hidden() for f in figures)
    # the fresh torch runs: one series of two points, each a marker with its date and commit
    fresh = [(read_run(p), p) for p in (folder / "runs" / "fresh").iterdir()]
    torch_runs = sorted((run for run, _ in fresh if run.runtime == "torch"),
                        key=lambda run: run.started)
    newest = max((p for run, p in fresh if run.runtime == "torch"), key=lambda p: p.name)
    conv = next(r for r in torch_runs[0].records if r.spec["op"] == "conv")
    (figure,) = [f for f in figures if f.attrs["data-key"] == conv.key]
    (series,) = figure.all("g", cls="series")
    assert series.attrs["data-points"] == "2"
    marks = series.all("circle", cls="mark")
    assert len(marks) == 2
    commits = [(run.environment["fnbench"]["git"] or {}).get("commit") or "unknown"
               for run in torch_runs]
    assert commits[0] == PREVIOUS_COMMIT
    titles = sorted(m.all("title")[0].text() for m in marks)
    assert all(" UTC" in t and "ms" in t for t in titles)
    assert sorted(c[:10] for c in commits) == sorted(t.split(" · ")[1].split()[1].rstrip("+")
                                                     for t in titles), titles
    assert sorted(t.split(" · ")[2].split(" ms")[0] for t in titles) == sorted(
        fmt_ms(r.latency_ms) for run in torch_runs for r in run.records if r.key == conv.key)
    # the committed Table 1 run and its schema-2 rerun: two points on one line
    reference = "ops|channels=96|height=56|layers=10|op=conv|width=56|device=cpu|runtime=torch" \
                "|mode=latency|batch=1|threads=1"
    (ref_figure,) = [f for f in figures if f.attrs["data-key"] == reference]
    assert [g.attrs["data-points"] for g in ref_figure.all("g", cls="series")] == ["2"]
    assert len(ref_figure.all("polyline", cls="line")) == 1
    # verdicts: the newest torch run's side against the side the page names, exactly as
    # fnbench compare decides on those runs (which runs form a side: the commits test above)
    (context,) = [a for a in tree.all("article", cls="context")
                  if newest.name in [link.text() for link in a.all("a")]]
    rows = {tr.all("td")[0].text(): tr.attrs["data-verdict"] for tr in context.all("tr")
            if "data-verdict" in tr.attrs}
    sides = _compared_runs(page, newest.name)
    assert sides["latest"] == [newest.resolve()], sides
    assert sides["previous"] == [min((p for run, p in fresh if run.runtime == "torch"),
                                     key=lambda p: p.name).resolve()], sides
    assert not set(sides["latest"]) & set(sides["previous"])
    expected = compare(load_side("BASE", sides["previous"]), load_side("NEW", sides["latest"]))
    assert rows and rows == {r.name: r.verdict for r in expected.rows}
    assert set(rows.values()) <= set(VERDICTS)
    # every run is linked, relative to the page, and each link resolves
    links = {a.attrs["href"] for a in tree.all("table", cls="runs")[0].all("a")}
    assert len(links) == 12
    for href in links:
        assert (page.parent / urllib.parse.unquote(href)).exists(), href


def test_filters_read_from_the_url_hide_what_does_not_match(real_runs):
    _, page = real_runs
    every = rendered(page).all("figure", cls="chart")
    tree = rendered(page, "#runtime=onnxruntime&suite=ops")
    figures = tree.all("figure", cls="chart")
    shown = [f for f in figures if not f.hidden()]
    assert len(figures) == len(every)
    assert shown and all(f.attrs["data-runtime"] == "onnxruntime" and
                         f.attrs["data-suite"] == "ops" for f in shown)
    assert len(shown) == sum(f.attrs["data-runtime"] == "onnxruntime" and
                             f.attrs["data-suite"] == "ops" for f in every)
    (body,) = tree.all("body")
    assert body.attrs["data-shown-figures"] == str(len(shown))
    selects = {s.attrs["data-filter"]: s for s in tree.all("select")}
    for context in tree.all("article", cls="context"):
        assert context.hidden() == (context.attrs["data-runtime"] != "onnxruntime"
                                    or context.attrs["data-suite"] != "ops")
    assert selects  # the filter controls are on the page
    # a machine no figure has hides them all; an unknown value is ignored
    nothing = rendered(page, "#machine=m9")
    assert not any(f.hidden() for f in nothing.all("figure", cls="chart"))


def test_escaped_strings_stay_text_in_the_browser(tmp_path):
    runs = tmp_path / "runs"
    synthetic_run(runs / "a", name=EVIL, host=EVIL, cpu=EVIL, commit=EVIL)
    page = tmp_path / "page.html"
    build(runs, page)
    tree = rendered(page)
    assert len(tree.all("script")) == 2
    (figure,) = tree.all("figure", cls="chart")
    assert figure.all("figcaption")[0].all("b")[0].text() == EVIL
    (body,) = tree.all("body")
    assert body.attrs["data-shown-figures"] == "1"  # the page's own script still ran


def test_hovering_a_point_shows_its_run_date_and_commit(real_runs):
    folder, page = real_runs
    # a copy of the page with a script that moves the mouse onto the last point of a figure
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", """<script>
      var mark = document.querySelector("figure.chart g.series a:last-of-type circle.mark");
      mark.closest("svg").scrollIntoView();
      var box = mark.getBoundingClientRect();
      mark.closest("svg").dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
        clientX: box.left + box.width / 2, clientY: box.top + box.height / 2}));
      document.body.dataset.probed = mark.querySelector("title").textContent;
    </script></body>"""))
    tree = rendered(probe)
    (body,) = tree.all("body")
    title = body.attrs["data-probed"]
    date, commit = title.split(" · ")[:2]
    (tip,) = [n for n in tree.all("div") if n.attrs.get("id") == "tip"]
    assert "hidden" not in tip.attrs
    lines = [div.text() for div in tip.all("div")]
    assert date in lines[1] and commit.split()[1] in lines[1], (lines, title)
    shown = float(lines[2].split(" ms")[0].replace(",", ""))  # the estimate, 3 digits
    assert shown == pytest.approx(float(title.split(" · ")[2].split(" ms")[0].replace(",", "")),
                                  rel=0.01)
