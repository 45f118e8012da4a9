"""The ``fnbench`` command line: parses options and calls the library, nothing more."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fnbench import __version__
from fnbench.errors import UsageError
from fnbench.measure import Protocol, with_changes
from fnbench.runner import DEFAULT_THROUGHPUT_BATCH, RunSettings, run_workloads
from fnbench.workload import Workload

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="fnbench: is this network actually fast on my hardware? Measures FLOPs, "
                       "memory access, latency, throughput and achieved FLOPS the way the "
                       "FasterNet paper does.")
stdout = Console() if Console().is_terminal else Console(width=200)
stderr = Console(stderr=True)

MODE_CHOICES = ("latency", "throughput", "both")

# Options shared by every measuring command (DESIGN.md: common options).
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
                          help="CPU intra-op threads (the paper uses 1 on CPU and ARM).")
OutOpt = typer.Option(Path("results"), "--out", "-o",
                      help="Folder that receives the new run directory.")
QuickOpt = typer.Option(False, "--quick", help="A short protocol for smoke tests "
                                              "(rough numbers).")
HostOpt = typer.Option(None, "--host", help="[user@]HOST[:PORT] of a board to measure over SSH "
                                            "(--device cpu or arm; ONNX Runtime on the board).")
SshOptionOpt = typer.Option(None, "--ssh-option", help="Passed to ssh as is (repeat for more), "
                                                      "e.g. --ssh-option=-J --ssh-option=jump.")
RemotePythonOpt = typer.Option("python3", "--remote-python",
                               help="The board's Python with numpy and onnxruntime.")
SeedOpt = typer.Option(0, "--seed", help="Seed for weights and inputs.")
WarmupOpt = typer.Option(None, "--warmup", help="Warm-up calls when a workload is first "
                                                "prepared (default 10; 2 with --quick).")
RoundTimeOpt = typer.Option(None, "--round-time", help="Sampling seconds per round (default "
                                                       "0.15 for ops, 0.25 for models).")
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

#: Models take up to ~350 ms a call here: longer rounds and a larger time budget.
MODELS_PROTOCOL = Protocol(warmup_runs=3, round_time_s=0.25, max_time_s=10.0)


def _protocol(quick: bool, warmup: int | None, round_time: float | None,
              min_rounds: int | None, max_rounds: int | None, max_time: float | None,
              target_ci: float | None, default: Protocol = Protocol()) -> Protocol:
    base = Protocol.quick() if quick else default
    protocol = with_changes(base, warmup_runs=warmup, round_time_s=round_time,
                            min_rounds=min_rounds, max_rounds=max_rounds, max_time_s=max_time,
                            target_rel_ci=None if target_ci is None else target_ci / 100)
    try:
        protocol.validate()
    except ValueError as error:
        raise UsageError(f"bad protocol options: {error} (see --warmup, --round-time, "
                         "--min-rounds, --max-rounds, --max-time, --target-ci)") from None
    return protocol


def _settings(mode: str, batch: int | None, seed: int, protocol: Protocol, processes: int = 1,
              no_reference: bool = False) -> RunSettings:
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
                       reference=not no_reference)


def _measure(suite: str, workloads: Sequence[Workload], device_name: str, runtime: str | None,
             threads: int, host: str | None, settings: RunSettings, out: Path,
             ssh_options: Sequence[str] | None = None, remote_python: str = "python3",
             dtype: str = "fp32", compile_mode: str | None = None) -> None:
    """Everything after option parsing: open the device, run, write the run, print the table."""
    from fnbench.devices import open_device
    from fnbench.report.table import render_markdown, render_rich, run_table
    from fnbench.results import RunWriter, create_run_dir
    from fnbench.runner import new_run, plan_jobs, run_jobs

    device = open_device(device_name, runtime, threads, host, tuple(ssh_options or ()),
                         remote_python, dtype, compile_mode)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=stderr, transient=True)
    status = "interrupted"
    writer = None
    try:
        with progress:
            task = progress.add_task(f"{suite}: counting", total=len(workloads))
            jobs = plan_jobs(workloads, device, settings,
                             lambda w: progress.update(task, advance=1,
                                                       description=f"counting {w.name}"))
            variant = device.runtime + ("" if device.dtype == "fp32" else f"-{device.dtype}")
            run_dir = create_run_dir(out, suite, device.name, variant)
            writer = RunWriter(run_dir, new_run(suite, device, settings, sys.argv, jobs))
            planned = len(writer.run.planned)
            progress.reset(task, total=planned, description=f"{suite}: measuring")

            def on_pass(pass_index: int, active: int) -> None:
                progress.update(task, description=f"{suite} round {pass_index + 1}: "
                                                  f"{active} workload(s) left")

            def on_record(record) -> None:
                writer.add(record)
                progress.advance(task)

            writer.set_reference(run_jobs(jobs, _executor(device, settings), settings,
                                          on_record, on_pass))
        status = "complete"
    finally:
        if writer is not None:
            board = getattr(device, "fingerprint", None)
            if board:  # a remote run records the board's machine; the controller's beside it
                writer.run = replace(writer.run, environment={
                    **board, "device": device.describe(),
                    "controller": dict(writer.run.environment)})
            table = run_table(writer.run)
            writer.finish(status, render_markdown(table))
            if status == "complete":
                stdout.print(render_rich(table))
            stderr.print(f"{status}: {len(writer.run.records)} record(s) in {writer.path}")
    if any(r.status != "ok" for r in writer.run.records):
        raise typer.Exit(1)


def _executor(device, settings: RunSettings):
    """Where rounds are taken: on a board, in worker processes or in this process."""
    from fnbench.runner import InProcessExecutor

    if getattr(device, "host", None):
        from fnbench.devices.remote import RemoteExecutor

        if settings.processes > 1:
            raise UsageError("--processes applies to this machine, not to a board over --host: "
                             "drop --processes")
        return RemoteExecutor(device, settings.seed, settings.protocol)
    if settings.processes > 1:
        from fnbench.worker import WorkerExecutor

        return WorkerExecutor(device, settings)
    return InProcessExecutor(device, settings.seed, settings.protocol)


@app.command()
def ops(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, mode: str = ModeOpt,
    batch: Optional[int] = BatchOpt, threads: int = ThreadsOpt, out: Path = OutOpt,
    quick: bool = QuickOpt, host: Optional[str] = HostOpt, seed: int = SeedOpt,
    warmup: Optional[int] = WarmupOpt, round_time: Optional[float] = RoundTimeOpt,
    min_rounds: Optional[int] = MinRoundsOpt, max_rounds: Optional[int] = MaxRoundsOpt,
    max_time: Optional[float] = MaxTimeOpt, target_ci: Optional[float] = TargetCiOpt,
    processes: int = ProcessesOpt, no_reference: bool = NoReferenceOpt,
    ssh_option: Optional[list[str]] = SshOptionOpt, remote_python: str = RemotePythonOpt,
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
                         processes, no_reference)
    workloads = operator_grid(parse_operators(op_names), parse_sizes(sizes), layers,
                              parse_ratio(ratio), groups, parse_impls(impl))
    _measure("ops", workloads, device, runtime, threads, host, settings, out, ssh_option,
             remote_python, dtype, compile_mode)


@app.command()
def models(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, mode: str = ModeOpt,
    batch: Optional[int] = BatchOpt, threads: int = ThreadsOpt, out: Path = OutOpt,
    quick: bool = QuickOpt, host: Optional[str] = HostOpt, seed: int = SeedOpt,
    warmup: Optional[int] = WarmupOpt, round_time: Optional[float] = RoundTimeOpt,
    min_rounds: Optional[int] = MinRoundsOpt, max_rounds: Optional[int] = MaxRoundsOpt,
    max_time: Optional[float] = MaxTimeOpt, target_ci: Optional[float] = TargetCiOpt,
    processes: int = ProcessesOpt, no_reference: bool = NoReferenceOpt,
    ssh_option: Optional[list[str]] = SshOptionOpt, remote_python: str = RemotePythonOpt,
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
    settings = _settings(mode, batch, seed, protocol, processes, no_reference)
    workloads = model_workloads(select_models(model_set, model_names), weights)
    _measure("models", workloads, device, runtime, threads, host, settings, out, ssh_option,
             remote_python, dtype, compile_mode)


@app.command()
def devices(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a "
                                                               "table.")) -> None:
    """What this machine offers, with its fingerprint."""
    from fnbench.devices import DEVICES
    from fnbench.devices.fingerprint import environment

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


@app.command()
def report(run: Path = typer.Argument(..., help="A run directory or its run.json.")) -> None:
    """Print the table of a saved run (no torch needed)."""
    from fnbench.report.table import render_rich, run_table
    from fnbench.results import read_run

    stdout.print(render_rich(run_table(read_run(run))))


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


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: bad usage is one line on stderr and exit code 2, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=list(argv) if argv is not None else None,
                            prog_name="fnbench", standalone_mode=False)
    except UsageError as error:
        stderr.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
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
