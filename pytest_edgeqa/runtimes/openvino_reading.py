"""Reading a model file with OpenVINO: the model (a file it cannot read is one ModelError), what its weights
say about its compression, the input and output names an ONNX file declares, and its ports as TensorSpecs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from ..errors import ModelError
from ..types import TensorSpec
from . import first_line


def read_model(path: str | Path, core: ov.Core | None = None, device: str | None = None) -> ov.Model:
    """Read an ONNX model or OpenVINO IR; a file OpenVINO cannot read is a ModelError that names it, says
    what was expected and gives OpenVINO's own words (and the device it was read for, if any)."""
    path = Path(path)
    try:
        return (core or ov.Core()).read_model(str(path))
    except Exception as exc:
        if path.suffix.lower() == ".xml":
            weights = path.with_suffix(".bin")
            size = f", {weights.stat().st_size} bytes" if weights.is_file() else ""
            expected = f"OpenVINO IR (an IR .xml with its weights in {weights.name}{size})"
        else:
            expected = "an ONNX model (a serialized ONNX ModelProto)"
        raise ModelError(
            f"{path} is not a model OpenVINO can read; expected {expected}. OpenVINO: {first_line(exc)}"
            + (f" (device {device})" if device else "")
        ) from None


_INT8_TYPES = {"i8", "u8"}
_INT4_TYPES = {"i4", "u4", "nf4", "f4e2m1"}


def weight_format(path: str) -> str | None:
    """'int4', 'int8', 'f16' or None: what an OpenVINO IR's weights or fake-quantize nodes say about its
    compression (ONNX files are read by weights.onnx_weight_format, with the same rules)."""
    model = read_model(path)
    found: set[str] = set()
    for op in _all_ops(model):
        kind = op.get_type_name()
        if kind == "FakeQuantize":
            levels = int(op.get_attributes().get("levels", 256))
            found.add("int4" if levels <= 16 else "int8")
        elif kind == "Constant":
            name = op.get_output_element_type(0).get_type_name()
            if name in _INT4_TYPES:
                found.add("int4")
            elif op.get_output_partial_shape(0).rank.get_length() >= 2:  # a weight, not an index or shape
                if name in _INT8_TYPES:
                    found.add("int8")
                elif name in ("f16", "bf16"):
                    found.add("f16")
    return next((k for k in ("int4", "int8", "f16") if k in found), None)


def _all_ops(model: Any) -> Iterator[Any]:
    """The model's ops and those of the bodies of its If, Loop and TensorIterator ops: get_ops() stays at
    the top level, and a model's weights may all sit inside an If (silero-vad's)."""
    for op in model.get_ops():
        yield op
        kind = op.get_type_name()
        if kind == "If":
            bodies = (op.get_then_body(), op.get_else_body())
        elif kind in ("Loop", "TensorIterator") and hasattr(op, "get_function"):
            bodies = (op.get_function(0),)
        else:
            continue
        for body in bodies:
            if body is not None:
                yield from _all_ops(body)


def declared_names(path: str | Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The input and output names an ONNX file declares (inputs that are initializers left out); empty
    for IR or a file the onnx package cannot parse. OpenVINO may report another of a port's tensor names
    (an Identity or Cast before an output, a branch inlined from an If), so ports are named by these."""
    if Path(path).suffix.lower() != ".onnx":
        return (), ()
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return (), ()
    weights = {init.name for init in graph.initializer}
    return tuple(v.name for v in graph.input if v.name not in weights), tuple(v.name for v in graph.output)


def port_name(port: Any, index: int, declared: tuple[str, ...] = ()) -> str:
    """The port's name as the model file declares it (one of its tensor names), else OpenVINO's pick."""
    try:
        names = port.get_names()
        return next((d for d in declared if d in names), None) or port.get_any_name()
    except RuntimeError:  # IR results may carry no tensor name
        return f"output{index}"


def tensor_specs(ports: Any, declared: tuple[str, ...] = ()) -> tuple[TensorSpec, ...]:
    specs = []
    for i, port in enumerate(ports):
        name = port_name(port, i, declared)
        shape = tuple(d.get_length() if d.is_static else "?" for d in port.get_partial_shape())
        specs.append(TensorSpec(name, shape, np.dtype(port.get_element_type().to_dtype())))
    return tuple(specs)
