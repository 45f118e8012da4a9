"""Devices: where and with which runtime a workload runs."""

from __future__ import annotations

from fnbench.devices.arm import ArmDevice
from fnbench.devices.base import Device, Prepared
from fnbench.devices.cpu import CpuDevice
from fnbench.devices.cuda import CudaDevice
from fnbench.devices.fingerprint import usable_cpus
from fnbench.errors import UsageError

DEVICES: dict[str, type[Device]] = {cls.name: cls for cls in (CpuDevice, CudaDevice, ArmDevice)}
DTYPES = ("fp32", "fp16", "bf16")


def open_device(name: str, runtime: str | None = None, threads: int = 1,
                host: str | None = None, ssh_options: tuple[str, ...] = (),
                remote_python: str = "python3", dtype: str = "fp32",
                compile_mode: str | None = None) -> Device:
    """The device ``name`` with ``runtime`` (its default if None) measuring in ``dtype``;
    UsageError if it can't run. ``compile_mode`` is torch.compile's mode (torch-compile only).

    With ``host`` the device is a board reached over SSH (cpu or arm, ONNX Runtime, fp32)."""
    if name not in DEVICES:
        raise UsageError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)} (--device)")
    _check_options(runtime, dtype, compile_mode)
    if host is not None:
        if dtype != "fp32" or compile_mode is not None:
            raise UsageError("a board over --host runs ONNX Runtime in fp32: drop --dtype and "
                             "--compile-mode")
        return _remote(name, runtime, threads, host, ssh_options, remote_python)
    cls = DEVICES[name]
    runtime = runtime or cls.runtimes[0]
    if runtime not in cls.runtimes:
        raise UsageError(f"--device {name} does not offer --runtime {runtime}: choose "
                         f"{' or '.join(cls.runtimes)}")
    if threads < 1:
        raise UsageError(f"--threads {threads} must be at least 1")
    problem = cls.runtime_problem(runtime)
    if problem:
        raise UsageError(problem)
    limit = usable_cpus()
    if threads > limit:
        raise UsageError(f"--threads {threads} is more than the {limit} CPU(s) this process may "
                         f"run on: use --threads {limit} or fewer")
    reason = cls.unavailable_reason()
    if reason:
        raise UsageError(f"--device {name}: {reason}")
    problem = cls.dtype_problem(dtype, runtime)
    if problem:
        raise UsageError(problem)
    if runtime == "torch-compile":
        compile_mode = compile_mode or "default"
    return cls(runtime, threads, dtype, compile_mode)


def _check_options(runtime: str | None, dtype: str, compile_mode: str | None) -> None:
    """--dtype and --compile-mode name known values, and --compile-mode comes with
    torch-compile."""
    from fnbench.devices.torch_compile import COMPILE_MODES

    if dtype not in DTYPES:
        raise UsageError(f"unknown --dtype {dtype!r}: choose {', '.join(DTYPES)}")
    if compile_mode is None:
        return
    if compile_mode not in COMPILE_MODES:
        raise UsageError(f"unknown --compile-mode {compile_mode!r}: choose "
                         f"{', '.join(COMPILE_MODES)}")
    if runtime != "torch-compile":
        raise UsageError(f"--compile-mode applies to --runtime torch-compile, not "
                         f"{runtime or 'the default runtime'}: add --runtime torch-compile or "
                         "drop --compile-mode")


def _remote(name: str, runtime: str | None, threads: int, host: str,
            ssh_options: tuple[str, ...], remote_python: str) -> Device:
    from fnbench.devices.remote import Host, RemoteDevice

    if name not in ("cpu", "arm"):
        raise UsageError(f"--host works with --device cpu or arm, not {name}: run fnbench on "
                         "the GPU machine itself")
    if runtime not in (None, "onnxruntime"):
        raise UsageError(f"a board over --host runs ONNX Runtime, not {runtime}: drop "
                         "--runtime or use --runtime onnxruntime")
    if threads < 1:
        raise UsageError(f"--threads {threads} must be at least 1")
    return RemoteDevice(name, threads, Host.parse(host), ssh_options, remote_python)


__all__ = ["DEVICES", "DTYPES", "Device", "Prepared", "open_device"]
