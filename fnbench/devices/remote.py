"""Remote boards over SSH (``--host [user@]HOST[:PORT]``).

fnbench prepares everything on the controller — model build, BN folding, ONNX export, input and
reference output — copies the ONNX files and the self-contained runner (``board_runner.py`` with
``measure.py`` and ``ort_session.py`` beside it) to a temporary folder on the board, runs it
there with the board's ``python3`` and relays the rounds it streams back to the scheduler. The
board needs python3, numpy and onnxruntime; never torch or fnbench. The system's OpenSSH client
does the connecting, so ``~/.ssh/config`` aliases, keys and jump hosts work; every argument is
passed as a list and quoted for the remote shell.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from fnbench.devices.base import Device, Prepared
from fnbench.errors import UsageError, raise_if_interrupted
from fnbench.measure import Protocol, Round, Warmup

if TYPE_CHECKING:
    from fnbench.runner import Job, Sink
    from fnbench.workload import Workload

ARM_MACHINES = ("aarch64", "arm64")
_HOST = re.compile(r"^(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?"
                   r"(?P<host>[A-Za-z0-9_][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])"
                   r"(?::(?P<port>\d{1,5}))?$")
_SHIPPED = {"board_runner.py": Path(__file__).with_name("board_runner.py"),
            "ort_session.py": Path(__file__).with_name("ort_session.py"),
            "measure.py": Path(__file__).parent.parent / "measure.py"}
PROBE = ("import json, os, platform, sys\n"
         "out = {'machine': platform.machine(), 'python': sys.version.split()[0],\n"
         "       'cpus': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')\n"
         "       else os.cpu_count(), 'cores': os.cpu_count(), 'cpu': None}\n"
         "try:\n"
         "    for line in open('/proc/cpuinfo'):\n"
         "        key, _, value = line.partition(':')\n"
         "        if key.strip() in ('model name', 'Model', 'Hardware', 'cpu model'):\n"
         "            out['cpu'] = value.strip()\n"
         "            break\n"
         "except OSError:\n"
         "    pass\n"
         "for name in ('numpy', 'onnxruntime'):\n"
         "    try:\n"
         "        out[name] = __import__(name).__version__\n"
         "    except Exception as error:\n"
         "        out[name] = None\n"
         "print(json.dumps(out))\n")
UNPACK = ("import sys, tarfile, tempfile\n"
          "folder = tempfile.mkdtemp(prefix='fnbench-')\n"
          "tarfile.open(fileobj=sys.stdin.buffer, mode='r|').extractall(folder)\n"
          "print(folder)\n")
CLEAN = "import shutil, sys\nshutil.rmtree(sys.argv[1], ignore_errors=True)\n"


@dataclass(frozen=True)
class Host:
    """``[user@]HOST[:PORT]`` as given on the command line (HOST may be an ssh_config alias)."""

    text: str
    user: str | None
    name: str
    port: int | None

    @classmethod
    def parse(cls, text: str) -> "Host":
        match = _HOST.match(text or "")
        if not match:
            raise UsageError(f"--host {text!r} is not [user@]HOST[:PORT]: use letters, digits, "
                             "'.', '_' and '-' in names, e.g. --host pi@raspberrypi:22")
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 1 <= port <= 65535:
            raise UsageError(f"--host {text}: port {port} must lie between 1 and 65535")
        return cls(text, match["user"], match["host"], port)

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.name}" if self.user else self.name


class SSH:
    """The system's ssh client pointed at one host; commands go as argument lists."""

    def __init__(self, host: Host, options: Sequence[str] = (), timeout: float = 60) -> None:
        self.host, self.options, self.timeout = host, list(options), timeout

    def argv(self, *remote: str) -> list[str]:
        port = ["-p", str(self.host.port)] if self.host.port else []
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", *self.options,
                *port, "--", self.host.destination, " ".join(shlex.quote(a) for a in remote)]

    def run(self, *remote: str, data: bytes | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self.argv(*remote), input=data, capture_output=True,
                                  timeout=timeout or self.timeout)
        except FileNotFoundError:
            raise UsageError("no ssh client found: install OpenSSH (e.g. apt-get install "
                             "openssh-client) to use --host") from None
        except subprocess.TimeoutExpired:
            raise UsageError(f"--host {self.host.text} did not answer within "
                             f"{timeout or self.timeout:.0f} s: check that it is up") from None

    def popen(self, *remote: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*remote), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                bufsize=1)


def _last_line(data: bytes | str) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def probe(ssh: SSH, python: str, device: str) -> dict[str, Any]:
    """The board's machine, python and packages; UsageError naming the fix when it cannot run
    fnbench's runner."""
    done = ssh.run(python, "-c", PROBE)
    text = ssh.host.text
    if done.returncode == 255:
        raise UsageError(f"cannot connect to --host {text}: {_last_line(done.stderr)}; check "
                         f"the name, port and that `ssh {ssh.host.destination}` logs in "
                         "without a password")
    if done.returncode != 0:
        raise UsageError(f"--host {text} cannot run {python} ({_last_line(done.stderr)}): "
                         "install python3 there or pass --remote-python PATH")
    try:
        info = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise UsageError(f"--host {text}: {python} printed no answer: pass a working "
                         "--remote-python") from None
    missing = [name for name in ("numpy", "onnxruntime") if not info.get(name)]
    if missing:
        raise UsageError(f"--host {text}: {python} lacks {' and '.join(missing)}: run "
                         f"`{python} -m pip install numpy onnxruntime` on the board, or pass "
                         "--remote-python with one that has them")
    machine = str(info.get("machine", "")).lower()
    if device == "arm" and machine not in ARM_MACHINES:
        raise UsageError(f"--host {text} is {info.get('machine')}, not an ARM board: use "
                         f"--device cpu --host {text}")
    if device == "cpu" and machine in ARM_MACHINES:
        raise UsageError(f"--host {text} is an ARM board ({info.get('machine')}): use "
                         f"--device arm --host {text}")
    return info


class RemoteDevice(Device):
    """A CPU (``cpu``) or ARM board (``arm``) reached over SSH; ONNX Runtime on the board."""

    runtimes = ("onnxruntime",)

    def __init__(self, name: str, threads: int, host: Host, ssh_options: Sequence[str] = (),
                 python: str = "python3") -> None:
        super().__init__("onnxruntime", threads)
        self.name = name
        self.host = host.text
        self.ssh = SSH(host, ssh_options)
        self.python = python
        self.board = probe(self.ssh, python, name)
        cpus = self.board.get("cpus")
        if cpus and threads > cpus:
            raise UsageError(f"--threads {threads} is more than the {cpus} CPU(s) of --host "
                             f"{host.text}: use --threads {cpus} or fewer")
        self.fingerprint: dict[str, Any] | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def prepare(self, workload: "Workload", batch: int, seed: int) -> Prepared:
        raise NotImplementedError("a remote device is measured through RemoteExecutor")

    def describe(self) -> dict[str, Any]:
        return {"host": self.host, "remote_python": self.python, "board": self.board}


def export_job(workload: "Workload", batch: int, seed: int, folder: Path, index: int
               ) -> tuple[dict[str, str], dict[str, Any]]:
    """On the controller: the BN-folded module exported to ONNX, its input and PyTorch's
    reference output, written into ``folder``; returns the task entry and the notes."""
    import numpy as np
    import torch

    from fnbench.devices.onnx_runtime import export_onnx, exporter_order
    from fnbench.devices.torch_eager import build_for_inference, make_input

    module, notes = build_for_inference(workload, seed)
    x = make_input(workload, batch, seed)
    names = {"model": f"job{index}.onnx", "input": f"job{index}.in.npy",
             "reference": f"job{index}.ref.npy"}
    notes["onnx_exporter"] = export_onnx(module, x, folder / names["model"],
                                         exporter_order(workload))
    with torch.inference_mode():
        reference = module(x).numpy()
    np.save(folder / names["input"], x.numpy())
    np.save(folder / names["reference"], reference)
    return names, notes


def _pack(folder: Path) -> bytes:
    """``folder`` with the shipped runner files added, as an uncompressed tar stream."""
    for name, source in _SHIPPED.items():
        (folder / name).write_bytes(source.read_bytes())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def upload(device: RemoteDevice, folder: Path) -> str:
    """Copy ``folder`` and the runner to a new temporary folder on the board; its path."""
    done = device.ssh.run(device.python, "-c", UNPACK, data=_pack(folder), timeout=600)
    if done.returncode != 0:
        raise UsageError(f"cannot copy the runner to --host {device.host}: "
                         f"{_last_line(done.stderr)}")
    return done.stdout.decode().strip().splitlines()[-1]


def clean(device: RemoteDevice, remote_folder: str) -> None:
    """Remove the board's temporary folder (quietly: the board may be gone)."""
    try:
        device.ssh.run(device.python, "-c", CLEAN, remote_folder, timeout=30)
    except UsageError:
        pass


def board_fingerprint(device: RemoteDevice) -> dict[str, Any]:
    """The board's fingerprint, by the runner fnbench ships there."""
    with tempfile.TemporaryDirectory(prefix="fnbench-remote-") as tmp:
        remote = upload(device, Path(tmp))
    try:
        done = device.ssh.run(device.python, f"{remote}/board_runner.py", "--fingerprint")
    finally:
        clean(device, remote)
    if done.returncode != 0:
        raise UsageError(f"the runner on --host {device.host} failed: "
                         f"{_last_line(done.stderr)}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])["fingerprint"]


class RemoteExecutor:
    """Runs passes on a board through one long-lived ssh session to its runner."""

    def __init__(self, device: RemoteDevice, seed: int, protocol: Protocol) -> None:
        self.device, self.seed, self.protocol = device, seed, protocol
        self.proc: subprocess.Popen | None = None
        self.folder: str | None = None
        self.notes: dict[int, dict] = {}
        self.lost: str | None = None
        self._stderr: list[str] = []

    def _start(self, jobs: Sequence["Job"], sink: "Sink") -> None:
        task: dict[str, Any] = {"threads": self.device.threads,
                                "protocol": self.protocol.__dict__, "jobs": {}}
        with tempfile.TemporaryDirectory(prefix="fnbench-remote-") as tmp:
            for job in jobs:
                try:
                    names, notes = export_job(job.workload, job.batch, self.seed, Path(tmp),
                                              job.index)
                except KeyboardInterrupt:
                    raise
                except Exception as error:  # noqa: BLE001 - that job's error record
                    raise_if_interrupted()
                    sink.failed(job.index, f"{type(error).__name__}: {error}", None,
                                dict(getattr(error, "notes", {})))
                    continue
                self.notes[job.index] = notes
                task["jobs"][str(job.index)] = {**names, "mode": job.mode}
            (Path(tmp) / "task.json").write_text(json.dumps(task))
            self.folder = upload(self.device, Path(tmp))
        self.proc = self.device.ssh.popen(self.device.python, "-u",
                                          f"{self.folder}/board_runner.py",
                                          f"{self.folder}/task.json")
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        hello = self._event()
        if not hello or hello.get("event") != "hello":
            raise UsageError(f"the runner on --host {self.device.host} did not start: "
                             f"{self._stderr[-1] if self._stderr else 'no message'}")
        self.device.fingerprint = hello["fingerprint"]
        self.hello = hello

    def _read_bye(self) -> None:
        """The runner's last word: which modules it had loaded (never torch, never fnbench)."""
        while (event := self._event()) is not None:
            if event.get("event") == "bye" and self.device.fingerprint is not None:
                self.device.fingerprint["runner_modules"] = {
                    "torch": bool(event.get("torch_loaded")),
                    "fnbench": bool(event.get("fnbench_loaded"))}

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip())

    def _event(self) -> dict | None:
        line = self.proc.stdout.readline()
        if not line:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {}

    def _send(self, **command: Any) -> bool:
        try:
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def run_pass(self, jobs: Sequence["Job"], pass_index: int, rounds_each: int,
                 sink: "Sink") -> None:
        if self.proc is None and self.lost is None:
            self._start(jobs, sink)
        live = [job.index for job in jobs if job.error is None and job.index in self.notes]
        if self.lost is None and not self._send(cmd="pass", **{"pass": pass_index},
                                                rounds=rounds_each, jobs=live):
            self.lost = self._lost_message()
        current = None
        while self.lost is None:
            event = self._event()
            if event is None:
                self.lost = self._lost_message()
                break
            kind, job = event.get("event"), event.get("job")
            if kind == "start":
                current = job
            elif kind == "prepared":
                sink.prepared(job, {**self.notes.get(job, {}), **event["notes"],
                                    "host": self.device.host},
                              Warmup(**event["warmup"]), event["calls"], event["process"])
            elif kind == "round":
                sink.round(job, Round.from_dict(event["round"]), event["seconds"])
                current = None
            elif kind == "failed":
                sink.failed(job, event["error"], event.get("traceback"),
                            {**self.notes.get(job, {}), **event.get("notes", {})})
            elif kind == "pass_done":
                return
        for index in live:
            sink.failed(index, self.lost, None, {"in_progress": index == current})

    def _lost_message(self) -> str:
        try:
            code = self.proc.wait(timeout=10) if self.proc else None
        except subprocess.TimeoutExpired:
            code = None
        detail = self._stderr[-1] if self._stderr else "no message"
        return (f"lost the connection to --host {self.device.host} (ssh exit code {code}: "
                f"{detail})")

    def release(self, job: "Job") -> None:
        if self.proc is not None and self.lost is None:
            self._send(cmd="release", job=job.index)

    def close(self) -> None:
        if self.proc is not None:
            if self.lost is None and self._send(cmd="exit"):
                self._read_bye()
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        if self.folder:
            clean(self.device, self.folder)
            self.folder = None
