"""Devices: where and with which runtime a workload runs."""

from __future__ import annotations

from fnbench.devices.arm import ArmDevice
from fnbench.devices.base import Device, Prepared
from fnbench.devices.cpu import CpuDevice
from fnbench.devices.cuda import CudaDevice
from fnbench.devices.fingerprint import usable_cpus
from fnbench.errors import UsageError

DEVICES: dict[str, type[Device]] = {cls.name: cls for cls in (CpuDevice, CudaDevice, ArmDevice)}


def open_device(name: str, runtime: str | None = None, threads: int = 1,
                host: str | None = None, ssh_options: tuple[str, ...] = (),
                remote_python: str = "python3") -> Device:
    """The device ``name`` with ``runtime`` (its default if None); UsageError if it can't run.

    With ``host`` the device is a board reached over SSH (cpu or arm, ONNX Runtime)."""
    if name not in DEVICES:
        raise UsageError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)} (--device)")
    if host is not None:
        return _remote(name, runtime, threads, host, ssh_options, remote_python)
    cls = DEVICES[name]
    runtime = runtime or cls.runtimes[0]
    if runtime not in cls.runtimes:
        raise UsageError(f"--device {name} does not offer --runtime {runtime}: choose "
                         f"{' or '.join(cls.runtimes)}")
    if threads < 1:
        raise UsageError(f"--threads {threads} must be at least 1")
    limit = usable_cpus()
    if threads > limit:
        raise UsageError(f"--threads {threads} is more than the {limit} CPU(s) this process may "
                         f"run on: use --threads {limit} or fewer")
    reason = cls.unavailable_reason()
    if reason:
        raise UsageError(f"--device {name}: {reason}")
    return cls(runtime, threads)


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


__all__ = ["DEVICES", "Device", "Prepared", "open_device"]
