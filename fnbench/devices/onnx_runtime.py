"""ONNX Runtime on the CPU: export once per workload and batch, check parity, then time."""

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
from fnbench.devices.torch_eager import build_for_inference, make_input, output_errors
from fnbench.workload import Workload

PARITY_RTOL = 1e-3  # max |ort - torch| relative to max |torch|, FP32


class ParityError(RuntimeError):
    """ONNX Runtime's output does not match PyTorch's on the same input; ``notes`` say by how
    much."""

    def __init__(self, message: str, notes: dict[str, Any]) -> None:
        super().__init__(message)
        self.notes = notes


def export_onnx(module: nn.Module, x: torch.Tensor, path: Path) -> str:
    """Export ``module`` for input ``x`` to ``path``; returns the exporter that worked.

    The dynamo exporter is tried first (torch's supported path); the TorchScript exporter is the
    fallback for modules torch.export cannot capture. The record names the one used.
    """
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (x,), str(path), dynamo=True, external_data=False,
                              input_names=["input"], output_names=["output"], verbose=False)
            return "dynamo"
        except Exception as dynamo_error:  # noqa: BLE001 - the fallback is recorded
            try:
                torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["input"],
                                  output_names=["output"], opset_version=17)
            except Exception as script_error:
                raise RuntimeError(f"ONNX export failed (dynamo: {dynamo_error}; "
                                   f"torchscript: {script_error})") from script_error
            return "torchscript"


def session(model_path: Path, threads: int):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads, all graph optimisations."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def parity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Max absolute and relative error of ``candidate`` against ``reference``."""
    if reference.shape != candidate.shape:
        return {"parity_ok": False, "parity_max_abs_err": None, "parity_rel_err": None,
                "parity_shapes": [list(reference.shape), list(candidate.shape)]}
    abs_err, rel_err = output_errors(reference, candidate)
    ok = bool(np.isfinite(rel_err) and rel_err <= PARITY_RTOL)
    return {"parity_ok": ok, "parity_max_abs_err": abs_err, "parity_rel_err": rel_err}


def prepare_onnxruntime(workload: Workload, batch: int, seed: int, threads: int) -> Prepared:
    """Export (BN already folded), open a session, check parity with PyTorch, return the timer."""
    import onnxruntime as ort

    module, notes = build_for_inference(workload, seed)
    x = make_input(workload, batch, seed)
    with tempfile.TemporaryDirectory(prefix="fnbench-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        started = time.perf_counter()
        notes["onnx_exporter"] = export_onnx(module, x, path)
        notes["export_s"] = round(time.perf_counter() - started, 3)
        sess = session(path, threads)
    feed = {sess.get_inputs()[0].name: x.numpy()}
    with torch.inference_mode():
        reference = module(x).numpy()
    notes.update(parity(reference, sess.run(None, feed)[0]))
    notes["ort_threads"] = threads
    notes["ort_version"] = ort.__version__
    if not notes["parity_ok"]:
        raise ParityError(f"ONNX Runtime output differs from PyTorch: relative error "
                          f"{notes['parity_rel_err']} above {PARITY_RTOL} "
                          f"(shapes {notes.get('parity_shapes', 'equal')})", notes)

    def time_block(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            sess.run(None, feed)
        return time.perf_counter() - start

    return Prepared(time_block, notes)
