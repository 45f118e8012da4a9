"""The ``fnbench`` command line: parses options and calls the library, nothing more."""

from __future__ import annotations

import json
from dataclasses import replace
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from fnbench import __version__
from fnbench.errors import RunInterrupted, UsageError, interrupts_held, interrupts_raise, \
    printable, raise_if_interrupted
from fnbench.history import load_spread
from fnbench.measure import Protocol, with_changes
from fnbench.runner import DEFAULT_THROUGHPUT_BATCH, RunSettings, error_text, history_identity
from fnbench.workload import Workload

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="fnbench: is this network actually fast on my hardware? Measures FLOPs, "
                       "memory access, latency, throughput and achieved FLOPS the way the "
                       "FasterNet paper does.")


def _pipe_width() -> int | None:
    """None (the terminal's or COLUMNS' width) on a terminal or with COLUMNS set, else 200."""
    columns = os.environ.get("COLUMNS", "")
    return None if Console().is_terminal or (columns.isdigit() and int(columns) > 0) else 200


# Nothing printed is ever markup or emoji codes: names, paths and errors come from data.
stdout = Console(width=_pipe_width(), markup=False, emoji=False)
stderr = Console(stderr=True, markup=False, emoji=False)

MODE_CHOICES = ("latency", "throughput", "both")


def _out_folder(value: str | Path) -> Path:
    """--out as a Path; an empty name would silently mean the current folder."""
    if not str(value).strip():
        raise typer.BadParameter("is empty: name a folder, e.g. --out results (or --out . for "
                                 "this one)")
    return Path(value)


# Options shared by every measuring command (ops and models).
DeviceOpt = typer.Option("cpu", "--device", "-d", help="cpu, cuda or arm.")
RuntimeOpt = typer.Option(None, "--runtime", "-r",
                          help="torch (eager), torch-compile (torch.compile, inductor; cpu and "
                               "cuda) or onnxruntime (default: the device's own: torch on cpu "
                               "and cuda, onnxruntime on arm).")
DtypeOpt = typer.Option("fp32", "--dtype",
                        help="fp32, fp16 (cuda) or bf16 (cuda; cpu with native bf16): module "
                             "and input are cast.")
CompileModeOpt = typer.Option(None, "--compile-mode",
                              help="torch.compile mode with --runtime torch-compile: default, "
                                   "reduce-overhead or max-autotune (default: default).")
ModeOpt = typer.Option("latency", "--mode", "-m",
                       help="latency (batch 1, a sample per call), throughput (batch --batch, "
                            "blocks of calls) or both.")
BatchOpt = typer.Option(None, "--batch", "-b",
                        help=f"Batch of throughput mode (default {DEFAULT_THROUGHPUT_BATCH}); "
                             "latency mode is always batch 1.")
ThreadsOpt = typer.Option(1, "--threads", "-t",
                          help="CPU intra-op threads (the paper uses 1 on CPU and ARM); at most "
                               "the CPUs this process may run on.")
OutOpt = typer.Option("results", "--out", "-o", parser=_out_folder, metavar="PATH",
                      help="Folder that receives the new run directory.")
QuickOpt = typer.Option(False, "--quick", help="A short protocol for smoke tests "
                                              "(rough numbers).")
HostOpt = typer.Option(None, "--host", help="[user@]HOST[:PORT] of a board to measure over SSH "
                                            "(--device cpu or arm; ONNX Runtime on the board); "
                                            "repeat for several boards, measured in parallel.")
BoardHostOpt = typer.Option(None, "--host", help="[user@]HOST[:PORT] of a board to measure over "
                                                 "SSH (--device cpu or arm).")
SshOptionOpt = typer.Option(None, "--ssh-option", help="Passed to ssh as is (repeat for more), "
                                                      "e.g. --ssh-option=-J --ssh-option=jump.")
RemotePythonOpt = typer.Option("python3", "--remote-python",
                               help="The board's Python with numpy and onnxruntime.")
SeedOpt = typer.Option(0, "--seed", help="Seed for weights and inputs (0 to 2**64 - 1).")
WarmupOpt = typer.Option(None, "--warmup", help="Warm-up calls when a workload is first "
                                                "prepared (default 10; 2 with --quick).")
RoundTimeOpt = typer.Option(None, "--round-time", help="Sampling seconds per round (default "
                                                       "0.1 for ops, 0.25 for models).")
MinRoundsOpt = typer.Option(None, "--min-rounds", help="Rounds every workload gets at least "
                                                       "(default 8; at least 2).")
MaxRoundsOpt = typer.Option(None, "--max-rounds", help="Rounds a workload gets at most "
                                                       "(default 40).")
MaxTimeOpt = typer.Option(None, "--max-time", help="Most seconds of rounds per workload before "
                                                   "it is recorded as not converged (default 5 "
                                                   "for ops, 10 for models).")
TargetCiOpt = typer.Option(None, "--target-ci", help="Stop adding rounds when the 95% re-run "
                                                     "interval lies within this many percent "
                                                     "of the estimate (default 3).")
ProcessesOpt = typer.Option(1, "--processes", help="Spread each workload's rounds over this "
                                                   "many fresh worker processes (run one "
                                                   "after another).")
NoReferenceOpt = typer.Option(False, "--no-reference", help="Do not measure the reference "
                                                            "workload (no relative_latency).")
NoHistoryOpt = typer.Option(False, "--no-history", help="Neither read nor add to this "
                            "machine's run history: the re-run interval then rests on the "
                            "prior run-to-run spread alone (see README).")
NoRooflineOpt = typer.Option(False, "--no-roofline", help="Do not attach the device's "
                                                          "roofline (measured once and cached "
                                                          "otherwise; see fnbench roofline).")
NoPlotsOpt = typer.Option(False, "--no-plots", help="Do not write the run's figures (PNG and "
                                                    "SVG) into its directory.")

#: torch.manual_seed and torch.Generator.manual_seed take seeds up to 2**64 - 1; a negative
#: seed wraps around to a large one, so it is refused rather than silently aliased.
MAX_SEED = 2**64 - 1
#: Models take up to ~350 ms a call here: longer rounds and a larger time budget.
MODELS_PROTOCOL = Protocol(warmup_runs=3, round_time_s=0.25, max_time_s=10.0)


def _check_protocol_options(warmup: int | None, round_time: float | None,
                            min_rounds: int | None, max_rounds: int | None,
                            max_time: float | None, target_ci: float | None) -> None:
    """Each protocol option on its own, named as the user typed it, with its unit."""
    if warmup is not None and warmup < 0:
        raise UsageError(f"--warmup {warmup} must be at least 0 calls")
    for option, seconds in (("--round-time", round_time), ("--max-time", max_time)):
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise UsageError(f"{option} {seconds:g} must be a finite number of seconds, at "
                             "least 0")
    if max_time is not None and max_time == 0:
        raise UsageError("--max-time 0 leaves no time for rounds: give a positive number of "
                         "seconds, e.g. --max-time 5")
    if min_rounds is not None and min_rounds < 2:
        raise UsageError(f"--min-rounds {min_rounds} must be at least 2 (an interval needs two "
                         "rounds)")
    if max_rounds is not None and max_rounds < 2:
        raise UsageError(f"--max-rounds {max_rounds} must be at least 2 rounds")
    if target_ci is not None and not (math.isfinite(target_ci) and 0 < target_ci < 100):
        raise UsageError(f"--target-ci {target_ci:g} must lie between 0 and 100 percent "
                         "(exclusive), e.g. --target-ci 3")


def _protocol(quick: bool, warmup: int | None, round_time: float | None,
              min_rounds: int | None, max_rounds: int | None, max_time: float | None,
              target_ci: float | None, default: Protocol = Protocol()) -> Protocol:
    _check_protocol_options(warmup, round_time, min_rounds, max_rounds, max_time, target_ci)
    base = Protocol.quick() if quick else default
    protocol = with_changes(base, warmup_runs=warmup, round_time_s=round_time,
                            min_rounds=min_rounds, max_rounds=max_rounds, max_time_s=max_time,
                            target_rel_ci=None if target_ci is None else target_ci / 100)
    if protocol.max_rounds < protocol.min_rounds:
        raise UsageError(f"--max-rounds {protocol.max_rounds} must be at least --min-rounds "
                         f"{protocol.min_rounds}: raise --max-rounds or lower --min-rounds")
    try:
        protocol.validate()
    except ValueError as error:
        raise UsageError(f"bad protocol options: {error} (see --warmup, --round-time, "
                         "--min-rounds, --max-rounds, --max-time, --target-ci)") from None
    return protocol


def _settings(mode: str, batch: int | None, seed: int, protocol: Protocol, processes: int = 1,
              no_reference: bool = False, no_history: bool = False,
              target_ci: float | None = None) -> RunSettings:
    from fnbench.slowdown import slowdowns

    slowdowns()  # a malformed test hook is a usage error before any workload is built
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed {seed} must lie between 0 and {MAX_SEED} (torch seeds are "
                         "64-bit unsigned)")
    if mode not in MODE_CHOICES:
        raise UsageError(f"unknown mode {mode!r}: choose latency, throughput or both (--mode)")
    modes = ("latency", "throughput") if mode == "both" else (mode,)
    if batch is not None:
        if batch < 1:
            raise UsageError(f"--batch {batch} must be at least 1")
        if modes == ("latency",) and batch != 1:
            raise UsageError(f"latency mode is batch 1 by definition: use --mode throughput "
                             f"--batch {batch}, or drop --batch")
    if not 1 <= processes <= 64:
        raise UsageError(f"--processes {processes} must lie between 1 and 64")
    return RunSettings(modes=modes, throughput_batch=batch or DEFAULT_THROUGHPUT_BATCH,
                       seed=seed, protocol=protocol, processes=processes,
                       reference=not no_reference, history=not no_history,
                       target_given=target_ci is not None)


def _say(console: Console, text: str) -> None:
    """One line of plain text, never wrapped."""
    console.print(text, soft_wrap=True, highlight=False)


def _run(jobs: Sequence[Any], device: Any, settings: RunSettings,
         writer: Any) -> RunInterrupted | None:
    """Measure every job into ``writer`` in interleaved rounds with a progress bar; the
    interruption, if any."""
    from fnbench.runner import run_jobs

    progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=stderr,
                        transient=True, disable=not stderr.is_terminal)
    suite = writer.run.suite
    try:
        with progress:
            task = progress.add_task(suite, total=len(writer.run.planned))

            def on_pass(pass_index: int, active: int) -> None:
                progress.update(task, description=f"{suite} round {pass_index + 1}: "
                                                  f"{active} workload(s) left")

            def on_record(record: Any) -> None:
                writer.add(record.with_roofline(writer.run.roofline))
                progress.advance(task)

            reference = run_jobs(jobs, _executor(device, settings), settings, on_record,
                                 on_pass)
            writer.set_reference(reference.with_roofline(writer.run.roofline) if reference
                                 else None)
    except RunInterrupted as interrupt:
        return interrupt
    except KeyboardInterrupt:
        return RunInterrupted(signal.SIGINT)
    return None


def _plan(workloads: Sequence[Workload], device: Any, settings: RunSettings) -> list[Any]:
    """Jobs with their accounting counted, with a progress bar (models take a while)."""
    from fnbench.runner import plan_jobs

    progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=stderr,
                        transient=True, disable=not stderr.is_terminal)
    with progress:
        task = progress.add_task("counting", total=len(workloads))
        return plan_jobs(workloads, device, settings,
                         lambda w: progress.update(task, advance=1,
                                                   description=f"counting {w.name}"))

def _executor(device: Any, settings: RunSettings) -> Any:
    """Where rounds are taken: on a board, in worker processes or in this process."""
    from fnbench.runner import InProcessExecutor

    if getattr(device, "host", None):
        from fnbench.devices.remote import RemoteExecutor

        return RemoteExecutor(device, settings.seed, settings.protocol)
    if settings.processes > 1:
        from fnbench.worker import WorkerExecutor

        return WorkerExecutor(device, settings)
    return InProcessExecutor(device, settings.seed, settings.protocol)


def _lookup_roofline(device, refresh: bool = False, announce: bool = True):
    """The device's ceilings from the cache, or measured now with a progress line."""
    from fnbench.roofline.lookup import ceilings_for, identity, quick_sizes
    from fnbench.roofline.store import load

    if announce and (refresh or load(identity(device, quick_sizes())) is None):
        stderr.print(f"measuring the roofline of {device.name} ({device.runtime}, "
                     f"{device.threads} thread(s)); it is cached for later runs",
                     highlight=False, soft_wrap=True)
    with stderr.status("roofline") as status:
        lookup = ceilings_for(device, refresh,
                              lambda text: status.update(f"roofline: {text}"))
    if lookup.warning:
        stderr.print(f"warning: {lookup.warning}", markup=False, highlight=False,
                     soft_wrap=True)
    return lookup


def _attached_roofline(device):
    """The ceilings a run carries; a failure to measure them is a warning, not a lost run."""
    try:
        # a run's stderr carries one line per problem: the note is for terminals only
        return _lookup_roofline(device, announce=stderr.is_terminal).ceilings
    except (KeyboardInterrupt, UsageError):
        raise
    except Exception as error:  # noqa: BLE001 - the run goes on without a roofline
        raise_if_interrupted()
        stderr.print(f"warning: no roofline ({type(error).__name__}: {error}); the run goes "
                     "on without one (--no-roofline skips it)", markup=False, highlight=False,
                     soft_wrap=True)
        return None


def _write_failed(writer: Any, error: Any) -> None:
    """One line, the run marked ``failed`` where run.json can still be written, exit 1."""
    if writer is not None:
        writer.fail(f"cannot write {error.path.name}: {error.reason}")
    _say(stderr, f"error: {error}")
    raise typer.Exit(1)


def _check_slowdown_hook(workloads: Sequence[Workload], host: str | None) -> None:
    """The test hook FNBENCH_TEST_SLOWDOWN (fnbench.slowdown): a malformed value is a usage
    error before anything runs; a name this run does not measure, or a board, is a warning."""
    from fnbench.slowdown import VARIABLE, slowdowns

    slow = slowdowns()
    if not slow:
        return
    unknown = sorted(set(slow) - {w.name for w in workloads})
    if host:
        _say(stderr, f"warning: {VARIABLE} (a test hook) does not apply to boards over --host")
    elif unknown:
        _say(stderr, f"warning: {VARIABLE} (a test hook) names workloads this run does not "
                     f"measure: {', '.join(unknown)}")


def _measure_and_save(suite: str, workloads: Sequence[Workload], device_name: str,
                      runtime: str | None, threads: int, host: str | None,
                      settings: RunSettings, out: Path, ssh_options: Sequence[str] | None = None,
                      remote_python: str = "python3", no_roofline: bool = False,
                      dtype: str = "fp32", compile_mode: str | None = None,
                      no_plots: bool = False) -> None:
    """Open the device, run, write the run and its figures, print the table; exit 1 on a failed
    record."""
    from fnbench.devices import open_device
    from fnbench.report.runs import run_table
    from fnbench.report.status import run_state
    from fnbench.report.table import render_rich

    _check_slowdown_hook(workloads, host)
    device = open_device(device_name, runtime, threads, host, tuple(ssh_options or ()),
                         remote_python, dtype, compile_mode)
    if host and settings.processes > 1:
        raise UsageError("--processes applies to this machine, not to a board over --host: "
                         "drop --processes")
    run_dir, run, interrupt = _measure_into(suite, workloads, device, settings, out,
                                            no_roofline, no_plots)
    with interrupts_held() as held:  # the table and the status line are printed whole
        if interrupt is None:
            stdout.print(render_rich(run_table(run), stdout.width))
        state = run_state(run.to_dict())
        _say(stderr, f"{state.status}: {state.counts()} in {run_dir}")
    interrupt = interrupt or held.interrupt
    if interrupt is not None:
        raise typer.Exit(interrupt.exit_code)
    if any(r.status != "ok" for r in run.records):
        raise typer.Exit(1)


def _measure_into(suite: str, workloads: Sequence[Workload], device: Any,
                  settings: RunSettings, out: Path, no_roofline: bool = False,
                  no_plots: bool = False) -> tuple[Path, Any, RunInterrupted | None]:
    """Measure ``workloads`` on the opened ``device`` into a new run directory under ``out``
    (``ops``, ``models`` and ``paper`` share it): the directory, the finished Run and the
    interruption that ended it, if any. A signal before the run directory exists (while the
    roofline is measured or the workloads are counted) propagates as RunInterrupted."""
    from fnbench.report.runs import run_table
    from fnbench.report.table import render_markdown
    from fnbench.results import RunFileError, RunWriter, create_run_dir
    from fnbench.runner import new_run

    roofline = None if no_roofline else _attached_roofline(device)
    history = history_identity(device, settings) if settings.history else None
    if history is not None:
        settings = replace(settings, spread=load_spread(history))
    jobs = _plan(workloads, device, settings)
    variant = device.runtime + ("" if device.dtype == "fp32" else f"-{device.dtype}")
    run_dir = create_run_dir(out, suite, device.name, variant)
    writer = None
    interrupt = None
    try:
        writer = RunWriter(run_dir, replace(new_run(suite, device, settings, sys.argv, jobs),
                                            roofline=roofline))
        interrupt = _run(jobs, device, settings, writer)
        with interrupts_held() as held:  # a signal now (or a second one) waits for every file
            board = getattr(device, "fingerprint", None)
            if board:  # a remote run records the board's machine, the controller's beside it
                writer.update(environment={**board, "device": device.describe(),
                                           "controller": dict(writer.run.environment)})
            details = {"interrupted_by": interrupt.signal_name} if interrupt else {}
            writer.finish("interrupted" if interrupt else "complete",
                          lambda run: render_markdown(run_table(run)), **details)
            if history is not None:
                _add_to_history(history, writer.run)
        interrupt = interrupt or held.interrupt  # after the last record: the run stays complete
        if interrupt is None and not no_plots:
            try:
                _write_figures(writer.run, run_dir)
            except RunInterrupted as late:  # the figures not yet drawn are skipped
                interrupt = late
    except RunFileError as error:
        if writer is None and not any(run_dir.iterdir()):
            run_dir.rmdir()
        _write_failed(writer, error)
    return run_dir, writer.run, interrupt


def _add_to_history(identity: Any, run: Any) -> None:
    """This run's estimates join the machine's history; a failure is a warning."""
    from fnbench.history import append, entry_of

    entry = entry_of([*run.records, run.reference])
    if entry is None:
        return
    try:
        append(identity, entry)
    except OSError as error:
        stderr.print(f"warning: the run history was not updated ({error}); the run is saved",
                     markup=False, highlight=False, soft_wrap=True)


def _write_figures(run: Any, run_dir: Path) -> None:
    """The run's figures into its directory; a figure that fails is a warning line, never a lost
    run or another exit code."""
    import logging

    # matplotlib's own notices (building its font cache on first use) are not the run's
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    try:
        from fnbench.figures import FiguresError, write_run_figures
    except Exception as error:  # noqa: BLE001 - no matplotlib, or a half-imported one
        raise_if_interrupted()
        _say(stderr, f"warning: figures not written ({error_text(error)}); the run is saved")
        return
    try:
        write_run_figures(run, run_dir)
    except FiguresError as error:
        raise_if_interrupted()
        for stem, failure in error.failures:
            _say(stderr, f"warning: figure {stem} not written ({error_text(failure)}); the run "
                         "is saved")
    except Exception as error:  # noqa: BLE001 - e.g. matplotlib missing or a full disk
        raise_if_interrupted()
        _say(stderr, f"warning: figures not written ({error_text(error)}); the run is saved")


def _measure(*args: Any, **options: Any) -> None:
    """A measuring command, with SIGINT and SIGTERM saving the run (exit 130 and 143)."""
    with interrupts_raise():
        try:
            _measure_and_save(*args, **options)
        except RunInterrupted as interrupt:  # before the run began, or while it was saved
            raise typer.Exit(interrupt.exit_code) from None


def _one_host(hosts: Sequence[str] | None) -> str | None:
    """The single --host of this process; several run as one process each, in parallel."""
    hosts = list(dict.fromkeys(hosts or ()))
    if len(hosts) > 1:
        from fnbench.devices.remote import Host

        for host in hosts:
            Host.parse(host)  # every name is checked before anything starts
        raise typer.Exit(_each_host(hosts))
    return hosts[0] if hosts else None


def _each_host(hosts: Sequence[str]) -> int:
    """Run this very command once per host, at the same time, one run directory each; the
    worst exit code (each board's records name their host)."""
    import subprocess

    argv, rest, skip = [], sys.argv[1:], False
    for i, arg in enumerate(rest):
        if skip:
            skip = False
        elif arg == "--host":
            skip = True
        elif not arg.startswith("--host="):
            argv.append(arg)
    children = [subprocess.Popen([sys.executable, "-m", "fnbench", *argv, "--host", host])
                for host in hosts]
    codes = [child.wait() for child in children]
    _say(stderr, "boards: " + ", ".join(f"{h} exit {c}" for h, c in zip(hosts, codes)))
    return max(codes, key=lambda c: (c != 0, c))


@app.command()
def ops(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, mode: str = ModeOpt,
    batch: Optional[int] = BatchOpt, threads: int = ThreadsOpt, out: Path = OutOpt,
    quick: bool = QuickOpt, host: Optional[list[str]] = HostOpt, seed: int = SeedOpt,
    warmup: Optional[int] = WarmupOpt, round_time: Optional[float] = RoundTimeOpt,
    min_rounds: Optional[int] = MinRoundsOpt, max_rounds: Optional[int] = MaxRoundsOpt,
    max_time: Optional[float] = MaxTimeOpt, target_ci: Optional[float] = TargetCiOpt,
    processes: int = ProcessesOpt, no_reference: bool = NoReferenceOpt,
    no_history: bool = NoHistoryOpt, ssh_option: Optional[list[str]] = SshOptionOpt,
    remote_python: str = RemotePythonOpt, no_roofline: bool = NoRooflineOpt,
    no_plots: bool = NoPlotsOpt,
    dtype: str = DtypeOpt, compile_mode: Optional[str] = CompileModeOpt,
    op_names: str = typer.Option("conv,gconv,dwconv,pconv", "--ops",
                                 help="Operators, comma-separated: conv, gconv, dwconv, pwconv, "
                                      "pconv, pconv_pwconv."),
    sizes: str = typer.Option("96x56x56,192x28x28,384x14x14,768x7x7", "--sizes",
                              help="Feature maps as CxHxW, comma-separated."),
    layers: int = typer.Option(10, "--layers", help="Stacked layers per case."),
    ratio: str = typer.Option("1/4", "--ratio", help="PConv partial ratio in (0, 1]."),
    groups: int = typer.Option(16, "--groups", help="GConv groups."),
    impl: str = typer.Option("split_cat", "--impl",
                             help="PConv forward form: split_cat, slicing, or both "
                                  "comma-separated."),
) -> None:
    """Operators of the paper's Table 1 (the default grid) on a device."""
    from fnbench.operators.grid import (operator_grid, parse_impls, parse_operators,
                                        parse_ratio, parse_sizes)

    settings = _settings(mode, batch, seed, _protocol(quick, warmup, round_time, min_rounds,
                                                      max_rounds, max_time, target_ci),
                         processes, no_reference, no_history, target_ci)
    workloads = operator_grid(parse_operators(op_names), parse_sizes(sizes), layers,
                              parse_ratio(ratio), groups, parse_impls(impl))
    _measure("ops", workloads, device, runtime, threads, _one_host(host), settings, out,
             ssh_option, remote_python, no_roofline, dtype, compile_mode, no_plots=no_plots)


@app.command()
def models(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, mode: str = ModeOpt,
    batch: Optional[int] = BatchOpt, threads: int = ThreadsOpt, out: Path = OutOpt,
    quick: bool = QuickOpt, host: Optional[list[str]] = HostOpt, seed: int = SeedOpt,
    warmup: Optional[int] = WarmupOpt, round_time: Optional[float] = RoundTimeOpt,
    min_rounds: Optional[int] = MinRoundsOpt, max_rounds: Optional[int] = MaxRoundsOpt,
    max_time: Optional[float] = MaxTimeOpt, target_ci: Optional[float] = TargetCiOpt,
    processes: int = ProcessesOpt, no_reference: bool = NoReferenceOpt,
    no_history: bool = NoHistoryOpt, ssh_option: Optional[list[str]] = SshOptionOpt,
    remote_python: str = RemotePythonOpt, no_roofline: bool = NoRooflineOpt,
    no_plots: bool = NoPlotsOpt,
    dtype: str = DtypeOpt, compile_mode: Optional[str] = CompileModeOpt,
    model_set: str = typer.Option("paper", "--set", "-s",
                                  help="paper (Table 3's rows), fasternet, ablation (Table 5), "
                                       "extended (paper + newer and MLP baselines) or all."),
    model_names: Optional[str] = typer.Option(None, "--models",
                                              help="Models, comma-separated (overrides --set); "
                                                   "timm:NAME adds any timm model."),
    weights: Optional[Path] = typer.Option(None, "--weights",
                                           help="A local FasterNet checkpoint (.pth or "
                                                ".safetensors, official or timm naming) for "
                                                "the one model in --models."),
) -> None:
    """FasterNet and the paper's baselines (Table 3 by default) on a device."""
    from fnbench.models.workloads import model_workloads, select_models

    protocol = _protocol(quick, warmup, round_time, min_rounds, max_rounds, max_time,
                         target_ci, MODELS_PROTOCOL)
    settings = _settings(mode, batch, seed, protocol, processes, no_reference, no_history,
                         target_ci)
    workloads = model_workloads(select_models(model_set, model_names), weights)
    _measure("models", workloads, device, runtime, threads, _one_host(host), settings, out,
             ssh_option, remote_python, no_roofline, dtype, compile_mode, no_plots=no_plots)


@app.command()
def paper(
    device: str = typer.Option(..., "--device", "-d", help="cpu, cuda or arm: the device the "
                                                          "paper's tables are measured on."),
    runtime: Optional[str] = typer.Option(None, "--runtime", "-r",
                                          help="torch (default), onnxruntime, torch-compile, "
                                               "or both (torch and onnxruntime; cpu and arm)."),
    out: Path = typer.Option(..., "--out", "-o", parser=_out_folder, metavar="DIR",
                             help="Folder of the report: index.md, index.html, runs/ (the runs "
                                  "measured), figures/."),
    quick: bool = QuickOpt,
    reuse: bool = typer.Option(False, "--from", help="Reuse the saved runs given as arguments "
                                                     "(run directories or run.json files); "
                                                     "what they lack is measured. --from "
                                                     "DIR/runs/* resumes an interrupted "
                                                     "report."),
    runs: Optional[list[Path]] = typer.Argument(None, metavar="RUN", show_default=False,
                                                help="Saved runs, with --from."),
    approx_weights: Optional[Path] = typer.Option(None, "--approx-weights",
                                                  help="Table 2: a local ResNet-50 "
                                                       "checkpoint."),
    approx_images: Optional[Path] = typer.Option(None, "--approx-images",
                                                 help="Table 2: a folder of local images."),
    no_roofline: bool = NoRooflineOpt, no_history: bool = NoHistoryOpt,
    tables: str = typer.Option("1,3,5", "--tables", help="Which of Tables 1, 3 and 5, "
                                                        "comma-separated."),
    op_names: str = typer.Option("conv,gconv,dwconv,pconv", "--ops",
                                 help="Table 1's operators (a subset, for tests and quick "
                                      "looks)."),
    sizes: str = typer.Option("96x56x56,192x28x28,384x14x14,768x7x7", "--sizes",
                              help="Table 1's feature maps, CxHxW comma-separated."),
    layers: int = typer.Option(10, "--layers", help="Table 1's stacked layers per case."),
    model_names: Optional[str] = typer.Option(None, "--models",
                                              help="Only these models of Tables 3 and 5, "
                                                   "comma-separated."),
) -> None:
    """The paper's Tables 1, 3 and 5 on a device, measured (or reused with --from) beside the
    published numbers, its claims checked, as DIR/index.md and DIR/index.html."""
    from fnbench.operators.grid import parse_operators, parse_sizes, split_list
    from fnbench.reproduce import (PaperOptions, Selection, paper_mode, parse_runtimes,
                                   parse_tables, run_paper, summary)

    runtimes = parse_runtimes(device, runtime)
    if runs and not reuse:
        raise UsageError(f"{runs[0]}: saved runs go after --from, e.g. --from "
                         f"{out}/runs/* (see fnbench paper --help)")
    if reuse and not runs:
        raise UsageError("--from names no run: give run directories or run.json files, e.g. "
                         f"--from {out}/runs/*")
    models = tuple(split_list(model_names)) if model_names is not None else None
    if models is not None and not models:
        raise UsageError("--models is empty: name at least one model of Table 3 or 5")
    selection = Selection(device, runtimes, parse_tables(tables),
                          tuple(parse_operators(op_names)), tuple(parse_sizes(sizes)), layers,
                          models)
    if layers < 1:
        raise UsageError(f"--layers {layers} must be at least 1")
    mode, batch = paper_mode(device)
    given = [("--tables", tables, "1,3,5"), ("--ops", op_names, "conv,gconv,dwconv,pconv"),
             ("--sizes", sizes, "96x56x56,192x28x28,384x14x14,768x7x7"),
             ("--layers", str(layers), "10"), ("--models", model_names, None)]
    settings = {
        "ops": _settings(mode, batch if mode == "throughput" else None, 0,
                         _protocol(quick, None, None, None, None, None, None),
                         no_history=no_history),
        "models": _settings(mode, batch if mode == "throughput" else None, 0,
                            _protocol(quick, None, None, None, None, None, None,
                                      MODELS_PROTOCOL), no_history=no_history)}
    options = PaperOptions(selection, out, list(runs or ()), quick, settings, no_roofline,
                           approx_weights, approx_images,
                           [a for option, value, default in given if value != default
                            for a in (option, value)])
    with interrupts_raise():
        try:
            code, report = run_paper(options, _measure_into, lambda text: _say(stderr, text))
        except RunInterrupted as interrupt:  # before or after the measurements
            raise typer.Exit(interrupt.exit_code) from None
    for line in summary(report):
        _say(stdout, line)
    _say(stderr, f"paper: wrote {out / 'index.md'} and {out / 'index.html'}")
    raise typer.Exit(code)


@app.command()
def roofline(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, threads: int = ThreadsOpt,
    host: Optional[str] = BoardHostOpt, ssh_option: Optional[list[str]] = SshOptionOpt,
    remote_python: str = RemotePythonOpt,
    refresh: bool = typer.Option(False, "--refresh", help="Measure again even when the cache "
                                                          "has this device's ceilings."),
    as_json: bool = typer.Option(False, "--json", help="Print the ceilings as JSON."),
) -> None:
    """The device's ceilings: peak MAC/s (best of several kernels) and copy bandwidth per
    cache level, with the runtime and threads the benchmarks use; cached per fingerprint."""
    from fnbench.devices import open_device
    from fnbench.report.roofline import ceilings_table
    from fnbench.report.table import render_rich

    opened = open_device(device, runtime, threads, host, tuple(ssh_option or ()),
                         remote_python)
    lookup = _lookup_roofline(opened, refresh)
    if as_json:
        print(json.dumps({**lookup.ceilings, "cached": lookup.cached,
                          "cache_path": str(lookup.path)}, indent=1))
        return
    stdout.print(render_rich(ceilings_table(lookup.ceilings, lookup.cached, lookup.path)))


@app.command()
def devices(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a "
                                                               "table."),
            host: Optional[str] = typer.Option(None, "--host", help="Print the fingerprint of "
                                                                    "this board instead "
                                                                    "([user@]HOST[:PORT])."),
            ssh_option: Optional[list[str]] = SshOptionOpt,
            remote_python: str = RemotePythonOpt) -> None:
    """What this machine offers, with its fingerprint (or a board's, with --host)."""
    from fnbench.devices import DEVICES
    from fnbench.devices.fingerprint import environment

    if host is not None:
        _board_devices(host, tuple(ssh_option or ()), remote_python, as_json)
        return

    listing = []
    for name, cls in DEVICES.items():
        reason = cls.unavailable_reason()
        entry = {"device": name, "available": reason is None, "runtimes": list(cls.runtimes),
                 "reason": reason}
        if reason is None:
            entry["details"] = cls(cls.runtimes[0], 1).describe()
        listing.append(entry)
    env = environment(threads=1)
    if as_json:
        stdout.print_json(json.dumps({"devices": listing, "environment": env}))
        return
    from rich.table import Table

    table = Table(title="fnbench devices")
    for column in ("device", "available", "runtimes", "details"):
        table.add_column(column, overflow="fold")
    for entry in listing:
        details = entry["reason"] or ", ".join(f"{k}={v}" for k, v in
                                               entry.get("details", {}).items())
        table.add_row(entry["device"], "yes" if entry["available"] else "no",
                      ", ".join(entry["runtimes"]), details or "this machine's CPU")
    stdout.print(table)
    cpu = env["cpu"]
    stdout.print(f"cpu: {cpu['model']} ({cpu['arch']}), {cpu['physical_cores']} physical / "
                 f"{cpu['logical_cores']} logical cores, affinity {cpu['affinity']}, governor "
                 f"{cpu['governor'] or 'unreadable'}, frequency {cpu['frequency_mhz']} MHz")
    stdout.print(f"memory: {env['memory']['total_bytes'] / 2**30:.1f} GiB, load "
                 f"{env['load_average']}, os {env['os']}, python {env['python']}")
    stdout.print("packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v))


def _board_devices(host: str, ssh_options: tuple[str, ...], python: str,
                   as_json: bool) -> None:
    from fnbench.devices.remote import SSH, Host, RemoteDevice, board_fingerprint, probe

    parsed = Host.parse(host)
    board = probe(SSH(parsed, ssh_options), python, device="any")
    device_name = "arm" if board["machine"].lower() in ("aarch64", "arm64") else "cpu"
    device = RemoteDevice(device_name, 1, parsed, ssh_options, python)
    fingerprint = board_fingerprint(device)
    if as_json:
        stdout.print_json(json.dumps({"host": host, "device": device_name,
                                      "fingerprint": fingerprint}))
        return
    cpu = fingerprint["cpu"]
    stdout.print(f"{host}: --device {device_name} --host {host}", markup=False)
    stdout.print(f"cpu: {cpu['model']} ({cpu['arch']}), {cpu['logical_cores']} logical cores, "
                 f"affinity {cpu['affinity']}", markup=False)
    stdout.print(f"os {fingerprint['os']}, python {fingerprint['python']}, load "
                 f"{fingerprint['load_average']}", markup=False)
    stdout.print("packages: " + ", ".join(f"{k} {v}" for k, v in
                                          fingerprint["packages"].items()), markup=False)


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., metavar="RUN",
                                      help="Run directories or their run.json files."),
    format: str = typer.Option("table", "--format", "-f",
                               help="table (the terminal's), md, csv or html."),
    plots: bool = typer.Option(False, "--plots",
                               help="Also write each run's figures: into its directory, or "
                                    "under --out."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", parser=_out_folder, metavar="PATH",
                                       help="Folder that receives one RUNNAME.md/.csv/.html "
                                            "per run (and, with --plots, RUNNAME/ figures); "
                                            "default: stdout."),
) -> None:
    """Print the tables of saved runs, or write them (no torch needed)."""
    from fnbench.report import files
    from fnbench.results import RunFileError

    files.check_format(format)
    if out is not None and format == "table" and not plots:
        raise UsageError("--out writes md, csv or html files (or --plots figures): add "
                         "--format md, csv or html, or drop --out")
    saved = files.saved_runs(runs)
    write_figures = _figure_writer() if plots else None
    if out is not None:
        files.check_out(saved, out)
        files.make_folder(out)
    complete = True
    try:
        for index, run in enumerate(saved):
            _report_one(run, format, out, index)
            if write_figures is not None:
                complete &= _figures(write_figures, run, run.figures_dir(out))
    except RunFileError as error:
        _say(stderr, f"error: {error}")
        raise typer.Exit(1)
    if not complete:
        raise typer.Exit(1)


def _figure_writer() -> tuple[Any, type]:
    """fnbench.figures' write_run_figures and FiguresError, or a UsageError when this build
    cannot draw (no fnbench.figures, no matplotlib)."""
    import logging

    try:
        from fnbench.figures import FiguresError, write_run_figures
    except ImportError as error:
        raise UsageError(f"figures are not available in this build ({error}): drop --plots"
                         ) from None
    # matplotlib's own notices (building its font cache on first use) are not the report's
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    return write_run_figures, FiguresError


def _report_one(run: Any, format: str, out: Path | None, index: int) -> None:
    """One run's report: the terminal table, or text on stdout, or a file under ``out``."""
    from fnbench.report.files import render
    from fnbench.report.runs import run_table
    from fnbench.report.table import render_rich
    from fnbench.results import write_atomic

    if format == "table":  # on the terminal even with --out (the figures' folder then)
        table = run_table(run.data)
        if index:
            stdout.print()
        for line in table.status:
            stdout.print(Text(line, style="" if run.data["status"] == "complete" else "bold"))
        stdout.print(render_rich(table, stdout.width))
        return
    text = render(run, format)
    if format == "csv":  # a CSV holds the rows only: the run's status goes to stderr
        for line in run_table(run.data).status:
            _say(stderr, f"{run.path}: {line}")
    if out is None:
        sys.stdout.write(("\n" if index else "") + text)
        sys.stdout.flush()
        return
    path = run.report_file(out, format)
    write_atomic(path, text)
    _say(stderr, f"wrote {path}")


def _figures(figures: tuple[Any, type], run: Any, directory: Path) -> bool:
    """The run's figures into ``directory``, named on stderr; False when some could not be
    written (each an error line)."""
    write_figures, figures_error = figures
    try:
        written, complete = write_figures(run.data, directory), True
    except figures_error as error:
        for stem, failure in error.failures:
            _say(stderr, f"error: figure {stem} of {run.name} not written "
                         f"({error_text(failure)})")
        written, complete = error.written, False
    except OSError as error:
        _say(stderr, f"error: cannot write figures to {directory} ({error.strerror or error}): "
                     "check that folder, or choose another with --out")
        return False
    _say(stderr, f"figures of {run.name}: " + (", ".join(str(p) for p in written)
                                               or "none apply (no successful record)"))
    return complete


@app.command()
def approx(
    weights: Optional[Path] = typer.Option(None, "--weights", metavar="RESNET50.pth",
                                           help="A local torchvision (or timm) ResNet-50 state "
                                                "dict (.pth/.pt or .safetensors); ImageNet "
                                                "pre-trained for the paper's setting."),
    images: Optional[Path] = typer.Option(None, "--images", metavar="DIR",
                                          help="A folder of .jpg/.png images (searched "
                                               "recursively), e.g. ImageNet validation images."),
    train: int = typer.Option(128, "--train", help="Images the approximations are fitted on."),
    test: int = typer.Option(32, "--test", help="Held-out images their test MSE is taken on."),
    epochs: int = typer.Option(20, "--epochs", help="Passes over the training images."),
    batch: int = typer.Option(8, "--batch", "-b", help="Images per Adam step."),
    lr: float = typer.Option(3e-3, "--lr", help="Adam's learning rate (decayed to 0 along a "
                                                "cosine)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/test draw, the initial "
                                               "weights and the batch order (0 to 2**64 - 1)."),
    size: int = typer.Option(224, "--size", help="Image side after resize and centre crop "
                                                 "(224: ImageNet's usual evaluation size; "
                                                 "smaller is faster)."),
    block: int = typer.Option(0, "--block", help="Which block's 3x3 conv in each stage, 0-2 "
                                                 "(0: the first, stride 2 in stages 2-4)."),
    groups: int = typer.Option(16, "--groups", help="GConv groups (16: the paper's Table 1 "
                                                    "GConv, as many FLOPs as PConv r=1/4)."),
    ratio: str = typer.Option("1/4", "--ratio", help="PConv partial ratio in (0, 1] (1/4: the "
                                                     "paper's PConv)."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t",
                                          help="CPU threads (default: torch's, all the CPUs "
                                               "this process may use)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", parser=_out_folder, metavar="DIR",
                                       help="Folder that receives table2.json and table2.md "
                                            "(replaced if there)."),
) -> None:
    """The paper's Table 2: DWConv, GConv and PConv, each + PWConv, fitted to a pre-trained
    ResNet-50's 3x3 conv in each stage; their test MSE beside the published one."""
    from fnbench.report.approx import table2_note, table2_table
    from fnbench.report.table import render_rich

    note = table2_note(weights, images)
    if note is not None:
        raise UsageError(f"{note} (e.g. fnbench approx --weights resnet50.pth --images val/)")
    from fnbench.approx import (ApproxSettings, check_inputs, check_out, parse_ratio,
                                write_table2)
    from fnbench.results import RunFileError

    settings = ApproxSettings(train=train, test=test, epochs=epochs, batch=batch, lr=lr,
                              seed=seed, size=size, block=block, groups=groups,
                              ratio=parse_ratio(ratio), threads=threads)
    check_out(out)
    inputs = check_inputs(weights, images, settings)  # before torch: bad input fails at once
    from fnbench.approx.fit import table2_result

    with stderr.status("Table 2") as status:
        result = table2_result(inputs, settings, lambda text: status.update(f"Table 2: {text}"))
    written = "table2.md and table2.json in --out have" if out else "--out DIR saves"
    stdout.print(render_rich(table2_table(result), stdout.width, complete_in=written))
    if out is not None:
        try:
            paths = write_table2(result, out)
        except RunFileError as error:
            _say(stderr, f"error: {error}")
            raise typer.Exit(1)
        _say(stderr, f"wrote {paths[0]} and {paths[1]}")


@app.command()
def dashboard(
    folder: Path = typer.Argument(..., metavar="DIR", help="Folder holding run directories, "
                                                          "searched recursively for run.json "
                                                          "files."),
    out: Optional[str] = typer.Option(None, "--out", "-o", metavar="FILE",
                                      help="The HTML page to write (default: DIR/"
                                           "dashboard.html); links to the runs are relative "
                                           "to it."),
    title: str = typer.Option("fnbench dashboard", "--title", help="The page's title."),
    threshold: float = typer.Option(5.0, "--threshold",
                                    help="Percent change below which a record is not called "
                                         "faster or slower."),
) -> None:
    """One static, offline HTML page of every run under DIR: the latest commit's verdicts
    against the previous commit's runs on the same machine, each workload's latency over time,
    filters and links to each run (no torch needed)."""
    from fnbench.compare import check_threshold
    from fnbench.report.dashboard import build
    from fnbench.results import RunFileError

    if out is not None and not out.strip():
        raise UsageError("--out is empty: name the page, e.g. --out dashboard.html")
    if out is not None and out.endswith(("/", os.sep)):
        raise UsageError(f"--out {out} names a folder: give the page's file name, e.g. "
                         f"{out}dashboard.html")
    target = Path(out) if out is not None else folder / "dashboard.html"
    check_threshold(threshold, "--threshold")
    try:
        built = build(folder, target, title, threshold / 100)
    except RunFileError as error:
        _say(stderr, f"error: {printable(error)}")
        raise typer.Exit(1) from None
    for line in built.skipped:
        _say(stderr, f"warning: {printable(line)}")
    _say(stderr, f"dashboard: {built.runs} run(s) on {built.machines} machine(s), "
                 f"{built.workloads} workload(s), {built.points} point(s) in "
                 f"{built.series} series, {built.bytes / 1e6:.2f} MB in {built.out}")


COMPARE_FORMATS = ("table", "md", "json")


@app.command()
def compare(
    base_path: Optional[str] = typer.Argument(None, metavar="BASE",
                                              help="The BASE run: a run directory, its run.json "
                                                   "or a folder of run directories (or use "
                                                   "--base)."),
    new_path: Optional[str] = typer.Argument(None, metavar="NEW",
                                             help="The NEW run, as BASE (or use --new)."),
    base: Optional[list[str]] = typer.Option(None, "--base", metavar="PATH",
                                              help="A BASE run: its directory, its run.json, "
                                                   "or a folder of run directories (every "
                                                   "one); repeat for several."),
    new: Optional[list[str]] = typer.Option(None, "--new", metavar="PATH",
                                             help="A NEW run, as --base; repeat for several."),
    relative: bool = typer.Option(False, "--relative",
                                  help="Compare latency relative to each run's reference "
                                       "workload (cancels a machine that is faster or slower "
                                       "as a whole)."),
    threshold: float = typer.Option(5.0, "--threshold",
                                    help="Smallest change in percent that counts as slower "
                                         "or faster."),
    thresholds: Optional[Path] = typer.Option(None, "--thresholds", metavar="FILE",
                                              help="TOML file of per-workload thresholds: a "
                                                   "[thresholds] table of \"NAME-OR-KEY-GLOB\" "
                                                   "= PERCENT (first match wins)."),
    output_format: str = typer.Option("table", "--format",
                                      help="table (terminal), md (a pull-request comment: "
                                           "the summary line first) or json."),
    strict: bool = typer.Option(False, "--strict",
                                help="Refuse (exit 2) runs whose fingerprints differ: CPU, "
                                     "threads, runtime, package versions, fnbench, dtype."),
) -> None:
    """Compare saved runs, NEW against BASE, record by record (no torch needed): exit 1 when a
    record is slower or errored, 2 on bad input."""
    from fnbench.compare import compare as compare_runs, load_side, load_thresholds
    from fnbench.report.compare import render_json, render_markdown, render_rich

    runs = [path for path in (base_path, new_path) if path is not None]
    if runs:
        if base or new:
            raise UsageError(f"{runs[0]!r} is given beside --base/--new: name every run with "
                             "--base PATH or --new PATH, or give just BASE NEW")
        if len(runs) != 2:
            raise UsageError(f"fnbench compare takes two paths, BASE and NEW ({len(runs)} "
                             "given): for several runs a side give a folder of runs as each, "
                             "or --base PATH and --new PATH, each repeated")
        base, new = [runs[0]], [runs[1]]
    if output_format not in COMPARE_FORMATS:
        raise UsageError(f"unknown --format {output_format!r}: choose table, md or json")
    limits = load_thresholds(thresholds, threshold)
    sides = [load_side(label, paths or []) for label, paths in (("BASE", base), ("NEW", new))]
    try:
        result = compare_runs(*sides, thresholds=limits, relative=relative, strict=strict)
        result.check_matched()
        if output_format == "json":
            text = render_json(result)
        elif output_format == "md":
            text = render_markdown(result)
        else:
            lines, table = render_rich(result, stdout.width)
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as error:
        # exit 1 means a regression: a run that trips the comparison must not look like one
        raise UsageError(f"cannot compare these runs: a run file holds values no fnbench "
                         f"writes ({type(error).__name__}: {error}); check the runs given"
                         ) from None
    if output_format == "table":
        for line in lines:
            _say(stdout, line)
        stdout.print(table)
    else:
        sys.stdout.write(text)
    raise typer.Exit(result.exit_code)


def _version(value: bool) -> None:
    if value:
        print(f"fnbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """fnbench: operator and model benchmarks after the FasterNet paper."""


def _usage_error_message(error: Exception) -> str | None:
    """The message of a click-style usage error (typer may vendor its own click), else None."""
    format_message = getattr(error, "format_message", None)
    if not callable(format_message) or not isinstance(getattr(error, "exit_code", None), int):
        return None
    ctx = getattr(error, "ctx", None)
    path = getattr(ctx, "command_path", None) or "fnbench"
    return f"{format_message()} (see {path} --help)"


def _tolerant_streams() -> None:
    """Characters the output encoding lacks (±, – in tables) print as '?' instead of raising
    after the run is saved (PYTHONIOENCODING=ascii, a C locale)."""
    for stream in (sys.stdout, sys.stderr):
        if callable(getattr(stream, "reconfigure", None)):  # not when replaced by a non-file
            stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: bad usage is one line on stderr and exit code 2, never a traceback."""
    _tolerant_streams()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=list(argv) if argv is not None else None,
                            prog_name="fnbench", standalone_mode=False)
    except UsageError as error:
        stderr.print(f"error: {printable(error)}", markup=False, highlight=False,
                     soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt as interrupt:
        sys.exit(getattr(interrupt, "exit_code", 130))
    except Exception as error:
        if type(error).__name__ == "Abort":  # Ctrl-C as older click reports it
            sys.exit(130)
        if type(error).__name__ == "NoArgsIsHelpError":
            print(error.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
            sys.exit(2)
        message = _usage_error_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
