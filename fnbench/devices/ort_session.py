"""ONNX Runtime sessions and output checks, with numpy and onnxruntime alone.

Shipped to remote boards beside ``measure.py``: nothing here may import torch or fnbench.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PARITY_RTOL = 1e-3  # max |ort - reference| relative to max |reference|, FP32


def session(model_path: str, threads: int, gpu: bool = False):
    """An ONNX Runtime session with ``threads`` intra-op threads and all graph optimisations, on
    the CPU provider, or the CUDA provider (GPU 0) with the CPU one for ops it lacks."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu \
        else ["CPUExecutionProvider"]
    sess = ort.InferenceSession(str(model_path), options, providers=providers)
    if sess.get_providers()[0] != providers[0]:
        raise RuntimeError(f"ONNX Runtime did not start {providers[0]} (it runs on "
                           f"{', '.join(sess.get_providers())}): check that onnxruntime-gpu "
                           "matches this machine's CUDA and cuDNN versions")
    return sess


def output_errors(reference: Any, candidate: Any) -> tuple[float, float]:
    """Max absolute error of ``candidate`` against a same-shape ``reference``, and that error
    relative to max |reference| (absolute when the reference is all zeros)."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if not reference.size:
        return 0.0, 0.0
    abs_err = float(np.max(np.abs(reference - candidate)))
    scale = float(np.max(np.abs(reference)))
    return abs_err, abs_err / scale if scale > 0 else abs_err


def parity(reference: np.ndarray, candidate: np.ndarray, rtol: float = PARITY_RTOL
           ) -> dict[str, Any]:
    """Max absolute and relative error of ``candidate`` against ``reference``, and whether the
    relative one is within ``rtol``."""
    if reference.shape != candidate.shape:
        return {"parity_ok": False, "parity_max_abs_err": None, "parity_rel_err": None,
                "parity_shapes": [list(reference.shape), list(candidate.shape)]}
    abs_err, rel_err = output_errors(reference, candidate)
    ok = bool(np.isfinite(rel_err) and rel_err <= rtol)
    return {"parity_ok": ok, "parity_max_abs_err": abs_err, "parity_rel_err": rel_err}
