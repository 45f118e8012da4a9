"""Real SSH "boards" for the remote tests: pytest fixtures ``x86_board`` and ``arm_board``.

``x86_board`` runs this machine's OpenSSH server on 127.0.0.1 with generated keys; its board
python is a venv holding numpy and onnxruntime only (no torch, no fnbench). ``arm_board`` is a
Debian arm64 root file system run under qemu-user emulation (binfmt_misc), with its own sshd
started inside the chroot. What takes long to build (the venvs, the root file system) is built
once and cached under ``$FNBENCH_TEST_CACHE`` (default ``~/.cache/fnbench-tests``).

Where a board cannot be made (no sshd, no qemu, no root) its tests skip with the reason; with
``FNBENCH_REQUIRE_BOARDS=1`` (set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("FNBENCH_TEST_CACHE")
             or Path.home() / ".cache" / "fnbench-tests").resolve()
SSHD = "/usr/sbin/sshd"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def _unavailable(reason: str):
    """Skip, or fail where the boards are required (CI)."""
    if os.environ.get("FNBENCH_REQUIRE_BOARDS"):
        pytest.fail(f"board required but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def _check(argv: list, **kwargs) -> str:
    """Run ``argv``; its stdout, or RuntimeError with the output's tail."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if r.returncode:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {r.returncode}:\n"
                           f"{(r.stdout + r.stderr)[-3000:]}")
    return r.stdout


@contextlib.contextmanager
def _cache_lock():
    """One build at a time, across test sessions sharing the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _keygen(path: Path) -> None:
    _check(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fnbench-test", "-f", path])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """All processes below ``pid``, children first."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def _kill(pids: list[int], sig=signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def sshd_config(host_key: str, authorized_keys: str, *extra: str) -> str:
    """sshd_config for key-only logins (root included) on 127.0.0.1; the port comes with -p."""
    return "\n".join([
        "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"AuthorizedKeysFile {authorized_keys}",
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "UsePAM no", "PermitRootLogin prohibit-password", "StrictModes no", "PidFile none",
        "MaxStartups 100", "MaxSessions 100", "Subsystem sftp internal-sftp", *extra, ""])


@dataclass
class Board:
    """A running sshd that fnbench reaches as ``host`` (its ``[user@]HOST[:PORT]`` form).

    ``python`` has numpy and onnxruntime (and neither torch nor fnbench); ``bare_python`` has
    neither numpy nor onnxruntime. ``ssh_options`` (no port) log in with the generated key;
    ``ssh_config`` names the board ``alias`` for ``ssh -F``. ``kill_connections()`` cuts every
    session (a lost link); ``stop()`` then ``start()`` is a reboot on the same port.
    """

    user: str
    key: Path
    python: str
    bare_python: str
    alias: str
    sshd_argv: list[str]
    workdir: Path
    port: int = 0
    ssh_config: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    @property
    def destination(self) -> str:
        return f"{self.user}@127.0.0.1"

    @property
    def ssh_options(self) -> list[str]:
        """Client options (without the port): key, no host-key checks, never prompt."""
        return ["-i", str(self.key), "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "LogLevel=ERROR"]

    @property
    def sshd_pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def ssh_argv(self, command: str) -> list[str]:
        """``ssh`` argv running the remote shell command ``command`` on the board."""
        return ["ssh", "-p", str(self.port), *self.ssh_options, self.destination, command]

    def run(self, command: str, input: str | None = None, timeout: float = 120):
        """Run ``command`` on the board through the system ssh client."""
        return subprocess.run(self.ssh_argv(command), input=input, capture_output=True,
                              text=True, timeout=timeout)

    def scp(self, local: Path, remote: str, timeout: float = 120) -> None:
        """Copy a local file to ``remote`` on the board."""
        _check(["scp", "-q", "-P", self.port, *self.ssh_options, local,
                f"{self.destination}:{remote}"], timeout=timeout)

    def start(self, timeout: float = 60) -> None:
        """Start sshd (on a free port the first time, on the same port again after ``stop()``)."""
        for _ in range(3):
            port = self.port or _free_port()
            log = open(self.workdir / "sshd.log", "ab")
            self.proc = subprocess.Popen([*self.sshd_argv, "-p", str(port)], env=CLEAN_ENV,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    self.port = port
                    self._write_ssh_config()
                    return
                except OSError:
                    time.sleep(0.2)
            self.stop()
        raise RuntimeError(f"sshd did not start: {(self.workdir / 'sshd.log').read_text()[-2000:]}")

    def kill_connections(self) -> None:
        """Kill every process below sshd (its per-connection children and their commands), as a
        lost connection or a rebooting board would; sshd keeps accepting new connections."""
        if self.proc:
            _kill(_descendants(self.proc.pid))

    def stop(self) -> None:
        """Stop sshd and everything below it."""
        if self.proc and self.proc.poll() is None:
            self.kill_connections()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _write_ssh_config(self) -> None:
        self.ssh_config = self.workdir / "ssh_config"
        self.ssh_config.write_text(
            f"Host {self.alias}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {self.user}\n"
            f"  IdentityFile {self.key}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n")


# --- x86 board: this machine's sshd --------------------------------------------------------

def _base_python() -> str:
    """The system python3, else the interpreter this venv was made from."""
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys._base_executable


def _x86_pythons() -> tuple[str, str]:
    """(python with numpy and onnxruntime, bare python): venvs cached per python version."""
    base = _base_python()
    version = _check([base, "-c", "import platform; print(platform.python_version())"]).strip()
    board, bare = CACHE / f"x86-board-py{version}", CACHE / f"x86-bare-py{version}"
    with _cache_lock():
        if not (board / ".complete").exists():
            shutil.rmtree(board, ignore_errors=True)
            _check([base, "-m", "venv", board])
            _check([board / "bin/python3", "-m", "pip", "install", "-q", "numpy", "onnxruntime"])
            (board / ".complete").touch()
        if not (bare / "bin/python3").exists():
            _check([base, "-m", "venv", "--without-pip", bare])
    return str(board / "bin/python3"), str(bare / "bin/python3")


@pytest.fixture(scope="session")
def x86_board(tmp_path_factory):
    """This machine as a board: the system sshd on 127.0.0.1 with generated keys."""
    missing = [p for p in (SSHD, "ssh", "scp", "ssh-keygen") if not shutil.which(p)]
    if missing:
        _unavailable(f"no {', '.join(missing)} (apt-get install openssh-server openssh-client)")
    python, bare = _x86_pythons()
    tmp = tmp_path_factory.mktemp("x86-board")
    _keygen(tmp / "host_key")
    _keygen(tmp / "client_key")
    config = tmp / "sshd_config"
    keys = tmp / "host_key", tmp / "client_key.pub"
    config.write_text(sshd_config(*keys, "PerSourcePenalties no"))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)
    if subprocess.run([SSHD, "-t", "-f", config], capture_output=True).returncode:
        config.write_text(sshd_config(*keys))  # OpenSSH < 9.8
    board = Board(getpass.getuser(), tmp / "client_key", python, bare, "fnbench-test-board",
                  [SSHD, "-D", "-e", "-f", str(config)], tmp)
    board.start()
    yield board
    board.stop()


# --- arm board: an emulated Debian arm64 root file system ----------------------------------

def _debian_mirror() -> str:
    """The Debian mirror apt uses here (the one known to be reachable)."""
    text = ""
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        text += path.read_text(errors="replace") if path.is_file() else ""
    for uri in re.findall(r"^\s*(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(\S+)", text, re.M):
        if uri.rstrip("/").endswith("/debian"):
            return uri
    return "http://deb.debian.org/debian"


def _register_qemu() -> str | None:
    """Have aarch64 binaries run by qemu-user-static with the F flag; None, or why it failed."""
    entry = BINFMT / "qemu-aarch64"
    if not (BINFMT / "status").exists():
        r = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
                           capture_output=True, text=True)
        if r.returncode:
            return f"cannot mount binfmt_misc: {r.stderr.strip()}"
    usable = entry.exists() and entry.read_text().startswith("enabled")
    if not usable and shutil.which("update-binfmts"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not entry.exists():
        return "qemu-aarch64 is not registered in binfmt_misc (apt-get install qemu-user-static)"
    text = entry.read_text()
    flags = re.search(r"^flags: *(\S*)", text, re.M)
    if not text.startswith("enabled") or not flags or "F" not in flags.group(1):
        return f"qemu-aarch64's binfmt_misc entry is disabled or lacks the F flag:\n{text}"
    return None


def _chroot(root: Path, *argv, timeout: float = 1800) -> str:
    return _check(["chroot", root, *argv], env=CLEAN_ENV, timeout=timeout)


def _umount_all(path: Path) -> None:
    """Unmount everything mounted at or below ``path`` (before deleting it, or at the end)."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if Path(m).is_relative_to(path)), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _arm_root() -> Path:
    """The arm64 root file system with /opt/board (numpy, onnxruntime), built once (~5 min)."""
    root = CACHE / "arm64-bookworm"
    with _cache_lock():
        if not (root / ".complete").exists():
            _build_arm_root(root)
    return root


def _build_arm_root(root: Path) -> None:
    """debootstrap, then a venv with numpy and onnxruntime from aarch64 wheels; built aside."""
    part = CACHE / "arm64-bookworm.partial"
    for stale in (root, part):
        _umount_all(stale)
        shutil.rmtree(stale, ignore_errors=True)
    part.parent.mkdir(parents=True, exist_ok=True)
    _check(["debootstrap", "--arch=arm64", "--variant=minbase",
            "--include=python3,python3-venv,openssh-server", "bookworm", part, _debian_mirror()],
           timeout=1800)
    version = _chroot(part, "/usr/bin/python3", "-c",
                      "import sys; print('%d.%d' % sys.version_info[:2])")
    _check([sys.executable, "-m", "pip", "download", "-q", "--platform", "manylinux_2_28_aarch64",
            "--only-binary=:all:", "--implementation", "cp", "--python-version", version.strip(),
            "-d", part / "tmp/wheels", "numpy", "onnxruntime"], timeout=1800)
    _chroot(part, "/usr/bin/python3", "-m", "venv", "/opt/board")
    _chroot(part, "/opt/board/bin/python3", "-m", "pip", "install", "-q", "--no-compile",
            "--no-index", "--find-links", "/tmp/wheels", "numpy", "onnxruntime")
    shutil.rmtree(part / "tmp/wheels")
    (part / ".complete").touch()
    part.rename(root)


@pytest.fixture(scope="session")
def arm_board(tmp_path_factory):
    """An emulated aarch64 Debian board: sshd inside an arm64 chroot, run under qemu-user."""
    if os.geteuid() != 0:
        _unavailable("the emulated arm board needs root (chroot, mount, binfmt_misc)")
    tools = ("debootstrap", "qemu-aarch64-static", "chroot", "unshare", "ssh", "scp", "ssh-keygen")
    missing = [p for p in tools if not shutil.which(p)]
    if missing:
        _unavailable(f"no {', '.join(missing)} (apt-get install debootstrap qemu-user-static "
                     "binfmt-support openssh-client)")
    reason = _register_qemu()
    if reason:
        _unavailable(reason)
    root = _arm_root()
    tmp = tmp_path_factory.mktemp("arm-board")
    _keygen(tmp / "client_key")
    _keygen(tmp / "host_key")
    own = f"etc/ssh/fnbench-{os.getpid()}"  # this session's keys and sshd_config, in the board
    (root / own).mkdir(exist_ok=True)
    shutil.copy(tmp / "host_key", root / own / "host_key")
    shutil.copy(tmp / "client_key.pub", root / own / "authorized_keys")
    (root / own / "sshd_config").write_text(
        sshd_config(f"/{own}/host_key", f"/{own}/authorized_keys"))
    (root / "run/sshd").mkdir(parents=True, exist_ok=True)
    # sshd runs in its own mount namespace holding a fresh /proc, and no /sys (with the host's
    # /sys, ONNX Runtime's cpuinfo crashes under qemu); the mount goes with sshd's last process.
    sshd = ["unshare", f"--mount-proc={root / 'proc'}", "chroot", str(root),
            "/usr/sbin/sshd", "-D", "-e", "-f", f"/{own}/sshd_config"]
    board = Board("root", tmp / "client_key", "/opt/board/bin/python3", "/usr/bin/python3",
                  "fnbench-test-arm-board", sshd, tmp)
    try:
        board.start(timeout=120)
        yield board
    finally:
        board.stop()
        shutil.rmtree(root / own, ignore_errors=True)
