"""ONNX Runtime on the CPU or the GPU (CUDA provider): export once per workload and batch, check
parity, then time.

On the CPU each timed call is ``session.run`` with the input as a numpy array. On the GPU the
input and output stay on the GPU through IO binding (``run_with_iobinding``): no host copies are
timed, as with PyTorch on CUDA. ONNX Runtime synchronises its CUDA stream before ``run`` returns
(its default), so a wall clock around the calls times finished GPU work — in throughput mode
too, where each call still ends with that synchronisation.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from fnbench.devices.base import Prepared
from fnbench.devices.ort_session import PARITY_RTOL, parity, session  # noqa: F401
from fnbench.devices.torch_eager import build_for_inference, make_input
from fnbench.errors import raise_if_interrupted
from fnbench.workload import Workload

#: On the GPU ONNX Runtime's CUDA provider convolves in TF32 by default (as PyTorch's cuDNN
#: convolutions do): a 10-bit mantissa, compared with PyTorch's fp32 output on the CPU.
GPU_PARITY_RTOL = 1e-2


class ParityError(RuntimeError):
    """ONNX Runtime's output does not match PyTorch's on the same input; ``notes`` say by how
    much."""

    def __init__(self, message: str, notes: dict[str, Any]) -> None:
        super().__init__(message)
        self.notes = notes


#: Which exporter is tried first, per suite. Operators are plain Conv/Slice/Concat graphs that
#: both exporters write alike (parity is checked either way); TorchScript writes them in about
#: 0.15 s against dynamo's 1-5 s, which dominated an ONNX Runtime ops run. Models go through
#: dynamo first, torch's supported path.
EXPORTER_ORDER = {"ops": ("torchscript", "dynamo")}
DEFAULT_ORDER = ("dynamo", "torchscript")


def exporter_order(workload: Workload) -> tuple[str, ...]:
    return EXPORTER_ORDER.get(workload.suite, DEFAULT_ORDER)


def _export(module: nn.Module, x: torch.Tensor, path: Path, exporter: str) -> None:
    if exporter == "dynamo":
        torch.onnx.export(module, (x,), str(path), dynamo=True, external_data=False,
                          input_names=["input"], output_names=["output"], verbose=False)
    else:
        torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=17)


def export_onnx(module: nn.Module, x: torch.Tensor, path: Path,
                order: tuple[str, ...] = DEFAULT_ORDER) -> str:
    """Export ``module`` for input ``x`` to ``path`` with the first exporter of ``order`` that
    works (dynamo, torch's supported path, then TorchScript for modules torch.export cannot
    capture, unless ``order`` says otherwise); returns its name, which the record keeps."""
    sink = io.StringIO()
    errors = []
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        for exporter in order:
            try:
                _export(module, x, path, exporter)
                return exporter
            except Exception as error:  # noqa: BLE001 - the next exporter is tried
                raise_if_interrupted()
                errors.append(f"{exporter}: {error}")
    raise RuntimeError(f"ONNX export failed ({'; '.join(errors)})")


def bound_call(sess, x: np.ndarray, device_type: str):
    """Runs ``sess`` on ``x`` with input and output bound to ``device_type`` memory ("cpu" or
    "cuda", GPU 0): returns ``call()`` and ``output()`` (one more call, its output as numpy)."""
    import onnxruntime as ort

    binding = sess.io_binding()
    binding.bind_ortvalue_input(sess.get_inputs()[0].name,
                                ort.OrtValue.ortvalue_from_numpy(x, device_type, 0))
    binding.bind_output(sess.get_outputs()[0].name, device_type, 0)

    def call() -> None:
        sess.run_with_iobinding(binding)

    def output() -> np.ndarray:
        call()
        return binding.copy_outputs_to_cpu()[0]

    return call, output


def prepare_onnxruntime(workload: Workload, batch: int, seed: int, threads: int,
                        gpu: bool = False) -> Prepared:
    """Export (BN already folded), open a session (CUDA provider with ``gpu``), check parity with
    PyTorch, return the timer."""
    import onnxruntime as ort

    module, notes = build_for_inference(workload, seed)
    x = make_input(workload, batch, seed)
    with tempfile.TemporaryDirectory(prefix="fnbench-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        started = time.perf_counter()
        notes["onnx_exporter"] = export_onnx(module, x, path, exporter_order(workload))
        notes["export_s"] = round(time.perf_counter() - started, 3)
        sess = session(path, threads, gpu)
    call, output = _caller(sess, x.numpy(), gpu)
    with torch.inference_mode():
        reference = module(x).numpy()
    rtol = GPU_PARITY_RTOL if gpu else PARITY_RTOL
    notes.update(parity(reference, output(), rtol))
    notes["ort_threads"] = threads
    notes["ort_providers"] = sess.get_providers()
    notes["ort_version"] = ort.__version__
    if not notes["parity_ok"]:
        raise ParityError(f"ONNX Runtime output differs from PyTorch: relative error "
                          f"{notes['parity_rel_err']} above {rtol} "
                          f"(shapes {notes.get('parity_shapes', 'equal')})", notes)

    if not gpu:  # the test hook of fnbench.slowdown (local CPU only)
        from fnbench.slowdown import slowdown_for, slowed

        slowdown = slowdown_for(workload.name)
        if slowdown != 1.0:
            notes["test_slowdown"] = slowdown
            call = slowed(call, slowdown)

    def time_block(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - start

    return Prepared(time_block, notes)


def _caller(sess, x: np.ndarray, gpu: bool):
    """``call()`` and ``output()`` of ``sess`` on ``x``: IO binding on the GPU, plain ``run``
    with a numpy feed on the CPU."""
    if gpu:
        return bound_call(sess, x, "cuda")
    feed = {sess.get_inputs()[0].name: x}
    return lambda: sess.run(None, feed), lambda: sess.run(None, feed)[0]
