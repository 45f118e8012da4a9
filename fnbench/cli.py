"""The ``fnbench`` command line: parses options and calls the library, nothing more."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fnbench import __version__
from fnbench.errors import UsageError
from fnbench.measure import Protocol
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


def _out_folder(value: str | Path) -> Path:
    """--out as a Path; an empty name would silently mean the current folder."""
    if not str(value).strip():
        raise typer.BadParameter("is empty: name a folder, e.g. --out results (or --out . for "
                                 "this one)")
    return Path(value)


# Options shared by every measuring command (ops and models).
DeviceOpt = typer.Option("cpu", "--device", "-d", help="cpu, cuda or arm.")
RuntimeOpt = typer.Option(None, "--runtime", "-r",
                          help="torch or onnxruntime (default: the device's own: torch on cpu "
                               "and cuda, onnxruntime on arm).")
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
HostOpt = typer.Option(None, "--host", help="user@board for a remote device (not built yet).")
SeedOpt = typer.Option(0, "--seed", help="Seed for weights and inputs (0 to 2**64 - 1).")
WarmupOpt = typer.Option(None, "--warmup", help="Warm-up calls (default 10; 2 with --quick).")
MinTimeOpt = typer.Option(None, "--min-time", help="Least sampling seconds per case "
                                                   "(default 0.5).")
MaxTimeOpt = typer.Option(None, "--max-time", help="Most sampling seconds per case before it "
                                                   "is recorded as not converged (default 5 "
                                                   "for ops, 15 for models).")
TargetCiOpt = typer.Option(None, "--target-ci", help="Stop when the 95% CI of the median lies "
                                                     "within this many percent of it "
                                                     "(default 1).")


#: torch.manual_seed and torch.Generator.manual_seed take seeds up to 2**64 - 1; a negative
#: seed wraps around to a large one, so it is refused rather than silently aliased.
MAX_SEED = 2**64 - 1
#: Models take up to ~350 ms a call here: give them more time to reach the CI target.
MODELS_MAX_TIME_S = 15.0


def _check_protocol_options(warmup: int | None, min_time: float | None,
                            max_time: float | None, target_ci: float | None) -> None:
    """Each protocol option on its own, named as the user typed it, with its unit."""
    if warmup is not None and warmup < 0:
        raise UsageError(f"--warmup {warmup} must be at least 0 calls")
    for option, seconds in (("--min-time", min_time), ("--max-time", max_time)):
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise UsageError(f"{option} {seconds:g} must be a finite number of seconds, at "
                             "least 0")
    if target_ci is not None and not (math.isfinite(target_ci) and 0 < target_ci < 100):
        raise UsageError(f"--target-ci {target_ci:g} must lie between 0 and 100 percent "
                         "(exclusive), e.g. --target-ci 1")


def _protocol(quick: bool, warmup: int | None, min_time: float | None,
              max_time: float | None, target_ci: float | None,
              default: Protocol = Protocol()) -> Protocol:
    _check_protocol_options(warmup, min_time, max_time, target_ci)
    base = Protocol.quick() if quick else default
    changes: dict[str, Any] = {}
    if warmup is not None:
        changes["warmup_runs"] = warmup
    if min_time is not None:
        changes["min_time_s"] = min_time
    if max_time is not None:
        changes["max_time_s"] = max_time
    if target_ci is not None:
        changes["target_rel_ci"] = target_ci / 100
    protocol = Protocol(**{**base.__dict__, **changes})
    if protocol.max_time_s < protocol.min_time_s:
        raise UsageError(f"--max-time {protocol.max_time_s:g} s must be at least --min-time "
                         f"{protocol.min_time_s:g} s: raise --max-time or lower --min-time")
    try:
        protocol.validate()
    except ValueError as error:
        raise UsageError(f"bad protocol options: {error} (see --warmup, --min-time, "
                         "--max-time, --target-ci)") from None
    return protocol


def _settings(mode: str, batch: int | None, seed: int, protocol: Protocol) -> RunSettings:
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
    return RunSettings(modes=modes, throughput_batch=batch or DEFAULT_THROUGHPUT_BATCH,
                       seed=seed, protocol=protocol)


def _measure(suite: str, workloads: Sequence[Workload], device_name: str, runtime: str | None,
             threads: int, host: str | None, settings: RunSettings, out: Path) -> None:
    """Everything after option parsing: open the device, run, write the run, print the table."""
    from fnbench.devices import open_device
    from fnbench.devices.fingerprint import environment
    from fnbench.report.table import render_markdown, render_rich, run_table
    from fnbench.results import RunWriter, create_run_dir

    device = open_device(device_name, runtime, threads, host)
    run_dir = create_run_dir(out, suite, device.name, device.runtime)
    env = environment(threads)
    env["device"] = device.describe()
    header = {"suite": suite, "fnbench_version": __version__, "command": sys.argv,
              "device": device.name, "runtime": device.runtime, "threads": threads,
              "settings": settings.to_dict(), "environment": env}
    writer = RunWriter(run_dir, header)
    status = "interrupted"
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=stderr, transient=True)
    try:
        with progress:
            task = progress.add_task(suite, total=len(workloads) * len(settings.modes))

            def on_start(workload: Workload, mode: str) -> None:
                progress.update(task, description=f"{workload.name} ({mode})")

            def on_record(record: dict[str, Any]) -> None:
                writer.add(record)
                progress.advance(task)

            run_workloads(workloads, device, settings, on_record, on_start)
        status = "complete"
    finally:
        table = run_table(writer.run)
        writer.finish(status, render_markdown(table))
        if status == "complete":
            stdout.print(render_rich(table))
        stderr.print(f"{status}: {len(writer.run['records'])} record(s) in {run_dir}")
    if any(r["status"] != "ok" for r in writer.run["records"]):
        raise typer.Exit(1)


@app.command()
def ops(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, mode: str = ModeOpt,
    batch: Optional[int] = BatchOpt, threads: int = ThreadsOpt, out: Path = OutOpt,
    quick: bool = QuickOpt, host: Optional[str] = HostOpt, seed: int = SeedOpt,
    warmup: Optional[int] = WarmupOpt, min_time: Optional[float] = MinTimeOpt,
    max_time: Optional[float] = MaxTimeOpt, target_ci: Optional[float] = TargetCiOpt,
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

    settings = _settings(mode, batch, seed, _protocol(quick, warmup, min_time, max_time,
                                                      target_ci))
    workloads = operator_grid(parse_operators(op_names), parse_sizes(sizes), layers,
                              parse_ratio(ratio), groups, parse_impls(impl))
    _measure("ops", workloads, device, runtime, threads, host, settings, out)


@app.command()
def models(
    device: str = DeviceOpt, runtime: Optional[str] = RuntimeOpt, mode: str = ModeOpt,
    batch: Optional[int] = BatchOpt, threads: int = ThreadsOpt, out: Path = OutOpt,
    quick: bool = QuickOpt, host: Optional[str] = HostOpt, seed: int = SeedOpt,
    warmup: Optional[int] = WarmupOpt, min_time: Optional[float] = MinTimeOpt,
    max_time: Optional[float] = MaxTimeOpt, target_ci: Optional[float] = TargetCiOpt,
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

    protocol = _protocol(quick, warmup, min_time, max_time, target_ci,
                         Protocol(max_time_s=MODELS_MAX_TIME_S))
    settings = _settings(mode, batch, seed, protocol)
    workloads = model_workloads(select_models(model_set, model_names), weights)
    _measure("models", workloads, device, runtime, threads, host, settings, out)


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
    from fnbench.results import load_run

    stdout.print(render_rich(run_table(load_run(run))))


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
