"""A signal that a library hands back as an ordinary error still stops the run: the places
that turn a library's errors into a fallback (the next exporter, an unfused model) let it
through. The runner's and the figures' own cases are in test_runner.py and test_figures.py."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from conftest import spin, swallow_a_signal
from fnbench.devices.onnx_runtime import export_onnx
from fnbench.errors import RunInterrupted, interrupts_raise
from fnbench.fusion import fuse_batchnorm


class Swallows(nn.Module):
    """Its forward is where a signal lands and comes back as ImportError."""

    def __init__(self, signum: int) -> None:
        super().__init__()
        self.signum = signum
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        swallow_a_signal(self.signum)
        return self.bn(self.conv(x))


class Fails(Swallows):
    def forward(self, x):
        raise ImportError("initialization failed")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_export_that_swallows_a_signal_stops_instead_of_trying_the_next_exporter(
        tmp_path, signum):
    x = torch.randn(1, 3, 8, 8)
    with interrupts_raise(), pytest.raises(RunInterrupted) as caught:
        export_onnx(Swallows(signum).eval(), x, tmp_path / "m.onnx",
                    order=("torchscript", "torchscript"))
    assert caught.value.exit_code == 128 + signum
    # the same error without a signal is an exporter's failure, and the next one is tried
    with interrupts_raise(), pytest.raises(RuntimeError, match="torchscript: .*torchscript: "):
        export_onnx(Fails(signum).eval(), x, tmp_path / "m.onnx",
                    order=("torchscript", "torchscript"))


def test_tracing_for_fusion_that_swallows_a_signal_stops_instead_of_running_unfused():
    with interrupts_raise(), pytest.raises(RunInterrupted):
        fuse_batchnorm(Swallows(signal.SIGINT).eval())
    with interrupts_raise():  # a model that does not trace runs unfused
        module, _, _ = fuse_batchnorm(Fails(signal.SIGINT).eval())
    assert isinstance(module, Fails)


# --- held signals: the files of a run or a report are written whole ------------------------

def test_a_held_signal_waits_for_the_block_and_is_reported_after_it():
    from fnbench.errors import interrupts_held, signalled_while_held

    with interrupts_raise():
        with interrupts_held() as held:
            assert not signalled_while_held()
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)  # a second one is held too
            spin()
            assert signalled_while_held() and held.interrupt is None
            finished = True
        assert finished and held.interrupt.signal_name == "SIGINT"
        assert not signalled_while_held()
        with pytest.raises(RunInterrupted):  # after the block a signal raises at once
            os.kill(os.getpid(), signal.SIGINT)
            spin()
    with interrupts_raise(), interrupts_held() as held:  # a new command has none pending
        assert not signalled_while_held()
    assert held.interrupt is None


@pytest.mark.parametrize("signals", [1, 2])
def test_a_signal_while_the_run_files_are_written_leaves_them_all_written(
        tmp_path, monkeypatch, signals):
    """After the last record: the run stays `complete` with results.csv and results.md, the
    figures are skipped and the interruption is returned (exit 130)."""
    import fnbench.report.table
    from fnbench import cli
    from fnbench.devices import open_device
    from fnbench.measure import Protocol
    from fnbench.operators import operator_grid
    from fnbench.results import load_run
    from fnbench.runner import RunSettings

    real = fnbench.report.table.render_markdown

    def render_and_get_signalled(table):
        for _ in range(signals):
            os.kill(os.getpid(), signal.SIGINT)
            spin()
        return real(table)

    monkeypatch.setattr(fnbench.report.table, "render_markdown", render_and_get_signalled)
    protocol = Protocol(warmup_runs=1, warmup_time_s=0.0, round_warmup_runs=1,
                        round_time_s=0.005, min_rounds=3, max_rounds=3, max_time_s=0.5)
    settings = RunSettings(protocol=protocol, reference=False, history=False)
    workloads = operator_grid(["dwconv"], [(16, 8, 8)], layers=1)
    with interrupts_raise():
        run_dir, run, interrupt = cli._measure_into("ops", workloads,
                                                    open_device("cpu", "torch", 1), settings,
                                                    tmp_path, no_roofline=True)
    assert interrupt is not None and interrupt.exit_code == 130
    assert load_run(run_dir)["status"] == "complete" and run.status == "complete"
    assert (run_dir / "results.csv").read_text().count("\n") == 2  # header and the record
    assert "dwconv" in (run_dir / "results.md").read_text()
    assert not list(run_dir.glob("*.png")) and not list(run_dir.glob("*.tmp"))


def test_a_signal_while_the_paper_report_is_built_still_writes_the_pages(tmp_path, capsys):
    """The figures left are skipped and say so, Table 2 is not computed, index.md and
    index.html are written, and the command exits 130."""
    import fnbench.figures
    from fnbench import reproduce

    runs = Path(__file__).resolve().parent.parent / "results" / "reference"
    ops, models = (sorted(runs.glob(f"{suite}-cpu-torch-2026112*"))[0]
                   for suite in ("ops", "models"))
    real = fnbench.figures.write_run_figures
    drawn = []

    def draw_and_get_signalled(run, directory):
        drawn.append(run["suite"])
        paths = real(run, directory)
        os.kill(os.getpid(), signal.SIGINT)
        spin()
        return paths

    selection = reproduce.Selection("cpu", ("torch",), ("table1", "table3"))
    out = tmp_path / "report"
    options = reproduce.PaperOptions(selection, out, [ops, models])
    said = []
    with pytest.MonkeyPatch.context() as patch, interrupts_raise():
        patch.setattr(fnbench.figures, "write_run_figures", draw_and_get_signalled)
        code, report = reproduce.run_paper(options, measure=None, say=said.append)
    assert code == 130 and drawn == ["ops"]  # the second run's figures and the Pareto skipped
    assert [s for s in said if "figures left" in s] == [
        f"warning: the figures left were not drawn (interrupted); the same command with "
        f"--from {out / 'runs'}/* draws them"]
    assert not (out / "figures" / "pareto-cpu.png").exists()
    text = (out / "index.md").read_text()
    assert "Table 2: not computed (interrupted)" in text
    assert (out / "index.html").read_text().count("<table") >= 2


def test_the_resume_command_names_only_runs_that_exist(tmp_path):
    """Stopped before its first record, `paper` has no runs/ folder: an unmatched
    `--from DIR/runs/*` would reach fnbench as it is and fail."""
    from fnbench import reproduce

    selection = reproduce.Selection("cpu", ("torch",), ("table1",))
    out = tmp_path / "report"
    elsewhere = tmp_path / "old run"
    assert "--from" not in reproduce.resume_command(reproduce.PaperOptions(selection, out))
    (out / "runs").mkdir(parents=True)
    assert "--from" not in reproduce.resume_command(reproduce.PaperOptions(selection, out))
    with_old = reproduce.resume_command(reproduce.PaperOptions(selection, out, [elsewhere]))
    assert with_old.endswith(f" --from '{elsewhere}'")
    (out / "runs" / "ops-cpu-torch-1").mkdir()
    assert reproduce.resume_command(reproduce.PaperOptions(selection, out, [elsewhere])) \
        .endswith(f" --from '{elsewhere}' {out / 'runs'}/*")


def test_ctrl_c_while_the_command_loads_is_exit_130_without_a_traceback():
    """The `fnbench` entry point (fnbench.__main__:main, as pyproject.toml names it)."""
    import subprocess
    import sys

    script = ("import os, signal, sys\n"
              "class CtrlC:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name == 'fnbench.cli':\n"
              "            os.kill(os.getpid(), signal.SIGINT)\n"
              "            for _ in range(1000): pass\n"
              "sys.meta_path.insert(0, CtrlC())\n"
              "from fnbench.__main__ import main\n"
              "sys.argv = ['fnbench', 'ops', '--device', 'cpu']\n"
              "main()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert (result.returncode, result.stderr) == (130, "")
    entry = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert 'fnbench = "fnbench.__main__:main"' in entry
