"""Small synthetic ONNX models of a chosen cost, for timing tests and benchmarks (needs the onnx package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def matmul_chain(path: str | Path, layers: int, width: int = 256, seed: int = 0) -> Path:
    """x: float32[batch, width] through ``layers`` MatMul + Relu layers of width x width weights.
    The cost grows linearly with ``layers``, so ``layers=3k`` is about 1.5x slower than ``layers=2k``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current = "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"m{i}"]))
        out = "y" if i == layers - 1 else f"r{i}"
        nodes.append(helper.make_node("Relu", [f"m{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        f"matmul_chain_{layers}x{width}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    path = Path(path)
    onnx.save(model, path)
    return path
