"""What a model file's weights say about its compression ('int4', 'int8', 'f16' or None), which picks the
default parity criteria. ONNX files are read with the onnx package, so a model OpenVINO cannot convert
(a dynamic-rank Conv inside an If) is still told; only OpenVINO IR goes through OpenVINO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ModelError

_ORDER = ("int4", "int8", "f16")


def weight_format(path: str | Path) -> str | None:
    """The model's weight format; a ModelError when its file cannot be read."""
    if Path(path).suffix.lower() == ".onnx":
        return onnx_weight_format(path)
    from .runtimes.openvino_reading import weight_format as ov_weight_format

    return ov_weight_format(str(path))


def onnx_weight_format(path: str | Path) -> str | None:
    """Looks at initializers, Constant nodes and If/Loop/Scan subgraphs; tensor dims are in the file, so
    external weight data is never loaded."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path}: the onnx package cannot read its weights: {exc}") from None
    found: set[str] = set()
    for graph in subgraphs(model.graph):
        found.update(filter(None, (_tensor_format(t) for t in _tensors(graph))))
        found.update(filter(None, (_node_format(n) for n in graph.node)))
    return next((k for k in _ORDER if k in found), None)


def subgraphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph in its nodes' attributes (If branches, Loop and Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from subgraphs(attr.g)
            for sub in attr.graphs:
                yield from subgraphs(sub)


def _tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    yield attr.t
                elif attr.name == "sparse_value" and attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values


def _tensor_format(tensor: Any) -> str | None:
    from onnx import TensorProto as T

    if tensor.data_type in (T.INT4, T.UINT4, T.FLOAT4E2M1):
        return "int4"
    if len(tensor.dims) < 2:  # an index, shape, scale or zero point, not a weight
        return None
    if tensor.data_type in (T.INT8, T.UINT8):
        return "int8"
    if tensor.data_type in (T.FLOAT16, T.BFLOAT16):
        return "f16"
    return None


def _node_format(node: Any) -> str | None:
    """ONNX Runtime's packed low-bit MatMul (its int4 weight format) stores the weight as uint8."""
    if node.op_type == "MatMulNBits":
        bits = next((a.i for a in node.attribute if a.name == "bits"), 4)
        return "int4" if bits <= 4 else "int8"
    return None
