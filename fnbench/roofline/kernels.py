"""The kernels whose best MAC/s is a device's peak: a large matmul, 3x3 and 1x1 convolutions.

One kernel does not give the peak (ONNX Runtime's 3x3 convolution beats torch's matmul on the
same core), so every runtime times all of them and keeps the best. For ONNX Runtime each kernel
is a one-node ONNX graph with constant weights, as in an exported model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Kernel:
    """``matmul``: (size x size) @ (size x size); ``conv``: size -> size channels, k x k,
    stride 1, same padding, on a batch x size x height x width input."""

    name: str
    op: str
    size: int
    height: int = 0
    width: int = 0
    k: int = 1
    batch: int = 1

    @property
    def macs(self) -> float:
        if self.op == "matmul":
            return float(self.size) ** 3
        return float(self.batch * self.height * self.width * self.k ** 2 * self.size ** 2)

    @property
    def input_shape(self) -> list[int]:
        if self.op == "matmul":
            return [self.size, self.size]
        return [self.batch, self.size, self.height, self.width]

    @property
    def weight_shape(self) -> list[int]:
        if self.op == "matmul":
            return [self.size, self.size]
        return [self.size, self.size, self.k, self.k]

    def to_dict(self) -> dict:
        return {**asdict(self), "macs": self.macs, "input_shape": self.input_shape}


def _conv(size: int, hw: int, k: int, batch: int = 1) -> Kernel:
    suffix = f"_b{batch}" if batch > 1 else ""
    return Kernel(f"conv{k}x{k}_{size}x{hw}x{hw}{suffix}", "conv", size, hw, hw, k, batch)


#: CPU kernels (batch 1, as the benchmarks' latency mode).
CPU_KERNELS = (Kernel("matmul_2048", "matmul", 2048), _conv(128, 56, 3), _conv(256, 28, 3),
               _conv(256, 56, 1))
#: GPU kernels: large enough to fill a GPU.
CUDA_KERNELS = (Kernel("matmul_8192", "matmul", 8192), _conv(256, 56, 3, 32),
                _conv(512, 28, 3, 32), _conv(512, 56, 1, 32))
#: Quick mode (tests): the same shapes, small.
QUICK_KERNELS = (Kernel("matmul_256", "matmul", 256), _conv(32, 14, 3), _conv(64, 14, 1))


def kernel_set(device: str, quick: bool = False) -> tuple[Kernel, ...]:
    """The kernels timed on ``device`` (cpu and arm share the CPU set)."""
    if quick:
        return QUICK_KERNELS
    return CUDA_KERNELS if device == "cuda" else CPU_KERNELS


def write_onnx(kernel: Kernel, path: Path) -> None:
    """``kernel`` as a one-node ONNX graph (opset 17, IR 8) with a constant random weight."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = (rng.standard_normal(kernel.weight_shape, dtype=np.float32)
              / np.sqrt(kernel.weight_shape[0] * kernel.k ** 2)).astype(np.float32)
    if kernel.op == "matmul":
        node = helper.make_node("MatMul", ["input", "weight"], ["output"])
        out_shape = [kernel.size, kernel.size]
    else:
        pad = kernel.k // 2
        node = helper.make_node("Conv", ["input", "weight"], ["output"],
                                kernel_shape=[kernel.k, kernel.k], pads=[pad] * 4,
                                strides=[1, 1])
        out_shape = kernel.input_shape
    graph = helper.make_graph(
        [node], kernel.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, kernel.input_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(weight, "weight")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="fnbench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def onnx_spec(kernels: tuple[Kernel, ...], folder: Path, threads: int, quick: bool) -> dict:
    """Write each kernel's graph into ``folder``; the spec ``devices/ceilings.py`` reads."""
    entries = []
    for kernel in kernels:
        file = f"{kernel.name}.onnx"
        write_onnx(kernel, folder / file)
        entries.append({**kernel.to_dict(), "file": file})
    return {"threads": threads, "quick": quick, "kernels": entries}
