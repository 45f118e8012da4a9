"""Ceilings of a board over SSH (``--host``): the kernels are written here as ONNX files and
``devices/ceilings.py`` times them there, with ``measure.py`` and ``ort_session.py`` beside it.

The board needs python3, numpy and onnxruntime, as for ``fnbench ops --host``; the same SSH
helpers copy the files to a temporary folder, run the script and remove the folder.
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from fnbench.roofline.kernels import kernel_set, onnx_spec

if TYPE_CHECKING:
    from fnbench.devices.remote import RemoteDevice

_SCRIPT = Path(__file__).parent.parent / "devices" / "ceilings.py"


def stage(folder: Path, device_name: str, threads: int, quick: bool) -> None:
    """Write the kernel graphs, their spec and the ceilings script into ``folder``
    (``upload`` adds ``measure.py`` and ``ort_session.py``)."""
    spec = onnx_spec(kernel_set(device_name, quick), folder, threads, quick)
    (folder / "spec.json").write_text(json.dumps(spec))
    (folder / "ceilings.py").write_bytes(_SCRIPT.read_bytes())


def run_script(device: "RemoteDevice", folder: str,
               step: Callable[[str], None]) -> dict[str, Any]:
    """Run the shipped script on the board; relay its steps; return its ``ceilings`` event."""
    proc = device.ssh.popen(device.python, "-u", f"{folder}/ceilings.py", f"{folder}/spec.json")
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.extend(line.rstrip() for line in proc.stderr),
                             daemon=True)
    drain.start()
    result = None
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "step":
            step(f"{device.host}: {event.get('text')}")
        elif event.get("event") == "ceilings":
            result = event
    proc.wait()
    drain.join(timeout=5)
    if result is None:
        detail = next((e for e in reversed(errors) if e.strip()), "no message")
        raise RuntimeError(f"measuring the roofline on --host {device.host} failed (exit "
                           f"{proc.returncode}: {detail[:300]})")
    return result


def measure_remote(device: "RemoteDevice", quick: bool,
                   step: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """The board's ceilings under ONNX Runtime with the device's threads."""
    from fnbench.devices.remote import clean, upload

    step(f"copying the roofline kernels to {device.host}")
    with tempfile.TemporaryDirectory(prefix="fnbench-roofline-") as tmp:
        stage(Path(tmp), device.name, device.threads, quick)
        folder = upload(device, Path(tmp))
    try:
        event = run_script(device, folder, step)
    finally:
        clean(device, folder)
    ceilings = dict(event["ceilings"])
    ceilings["board_imports"] = {"torch": bool(event.get("torch_loaded")),
                                 "fnbench": bool(event.get("fnbench_loaded"))}
    return ceilings
