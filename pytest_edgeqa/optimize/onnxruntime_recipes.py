"""The built-in recipes for ONNX Runtime: dynamic and static INT8 quantization of an ONNX model
(onnxruntime.quantization), with ONNX Runtime's pre-processing on request and its logged advice kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import SAMPLES, Context, Option, RecipeError, guard, recipe


def _onnx_only(ctx: Context, what: str) -> None:
    if ctx.original.format != "onnx":
        raise RecipeError(f"{what} quantizes ONNX models; {ctx.original.name} is OpenVINO IR")


_QTYPE = {"int8": "QInt8", "uint8": "QUInt8"}


def _names(what: str, example: str) -> Option:
    return Option(
        list, None, lambda v: bool(v) and all(isinstance(x, str) and x for x in v), f"a list of {what}, e.g. {example}"
    )


# Options of both ONNX Runtime recipes: ONNX Runtime's pre-processing, and which ops it quantizes.
_ORT_OPTIONS = {
    "preprocess": Option(bool, False),
    "op_types_to_quantize": _names("ONNX op types", "['Conv', 'MatMul']"),
    "nodes_to_exclude": _names("node names of the model", "['/head/MatMul']"),
}


class _Advice(logging.Filter):
    """ONNX Runtime's quantization tools give their advice (``Please consider to run pre-processing``) as
    root-logger warnings: kept here for the failure message instead of printed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.lines.append(record.getMessage().strip())
        return False

    def text(self, preprocess: bool) -> str:
        said = " ".join(dict.fromkeys(self.lines))
        if not said:
            return ""
        hint = (
            "" if preprocess or "pre-process" not in said else " (the recipe runs it with the option preprocess=True)"
        )
        return f"ONNX Runtime: {said}{hint}"


def _ort_quantize(ctx: Context, recipe_name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Path:
    """Run an onnxruntime.quantization call on the original (after ONNX Runtime's pre-processing when the
    recipe's ``preprocess`` option asks), with the recipe's op-type and node choices checked against the
    model; its logged advice is kept for the failure message."""
    o = ctx.options
    _onnx_only(ctx, recipe_name)
    _check_ort_choices(ctx, recipe_name)
    out = ctx.out_dir / "model.onnx"
    source = ctx.original.path
    advice = _Advice()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    root.addFilter(advice)
    try:
        if o["preprocess"]:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            source = ctx.out_dir / "preprocessed.onnx"
            # sympy (for ONNX Runtime's symbolic shape inference) is no dependency: ONNX's shape inference
            # and ONNX Runtime's graph optimization (which makes Constant weights initializers) remain.
            with guard(
                ctx, "onnxruntime.quantization.shape_inference.quant_pre_process", advice=lambda: advice.text(True)
            ):
                quant_pre_process(ctx.original.path, source, skip_symbolic_shape=True)
        with guard(ctx, f"onnxruntime.quantization.{fn.__name__}", advice=lambda: advice.text(o["preprocess"])):
            fn(
                source,
                out,
                *args,
                op_types_to_quantize=o["op_types_to_quantize"],
                nodes_to_exclude=o["nodes_to_exclude"],
                **kwargs,
            )
    finally:
        root.removeFilter(advice)
        root.setLevel(level)
        if source != ctx.original.path:
            Path(source).unlink(missing_ok=True)
    return out


def _check_ort_choices(ctx: Context, recipe_name: str) -> None:
    """op_types_to_quantize and nodes_to_exclude name what the model has (ONNX Runtime ignores the rest)."""
    import onnx

    from ..weights import subgraphs

    given_types, given_nodes = ctx.options["op_types_to_quantize"], ctx.options["nodes_to_exclude"]
    if not given_types and not given_nodes:
        return
    graphs = list(subgraphs(onnx.load(str(ctx.original.path), load_external_data=False).graph))
    types = sorted({n.op_type for g in graphs for n in g.node})
    names = {n.name for g in graphs for n in g.node}
    unknown = [t for t in given_types or () if t not in types]
    if unknown:
        raise RecipeError(
            f"recipe {recipe_name!r}: op_types_to_quantize names {', '.join(map(repr, unknown))}, not an op type of "
            f"{ctx.original.name}; expected some of: {', '.join(types)}"
        )
    missing = [n for n in given_nodes or () if n not in names]
    if missing:
        sample = ", ".join(repr(n) for n in sorted(names)[:5] if n)
        raise RecipeError(
            f"recipe {recipe_name!r}: nodes_to_exclude names {', '.join(map(repr, missing))}, not a node of "
            f"{ctx.original.name}; expected node names such as {sample or '(its nodes have no names)'}"
        )


@recipe(
    "ort-dynamic-int8",
    options={"per_channel": Option(bool, False), "weight_type": Option(("int8", "uint8"), "int8"), **_ORT_OPTIONS},
)
def ort_dynamic_int8(ctx: Context) -> Path:
    """ONNX Runtime dynamic quantization: INT8 weights, activations quantized on the fly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    return _ort_quantize(
        ctx,
        "ort-dynamic-int8",
        quantize_dynamic,
        per_channel=ctx.options["per_channel"],
        weight_type=getattr(QuantType, _QTYPE[ctx.options["weight_type"]]),
    )


@recipe(
    "ort-static-int8",
    options={
        "samples": SAMPLES,
        "per_channel": Option(bool, False),
        "format": Option(("qdq", "qoperator"), "qdq"),
        "activation_type": Option(("int8", "uint8"), "int8"),
        "weight_type": Option(("int8", "uint8"), "int8"),
        **_ORT_OPTIONS,
    },
    calibration=True,
)
def ort_static_int8(ctx: Context) -> Path:
    """ONNX Runtime static quantization (QDQ by default), calibrated through a data reader over the data."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    batches = iter(ctx.calibration_inputs(ctx.options["samples"]))

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, Any] | None:
            return next(batches, None)

    o = ctx.options
    return _ort_quantize(
        ctx,
        "ort-static-int8",
        quantize_static,
        Reader(),
        quant_format=QuantFormat.QDQ if o["format"] == "qdq" else QuantFormat.QOperator,
        per_channel=o["per_channel"],
        activation_type=getattr(QuantType, _QTYPE[o["activation_type"]]),
        weight_type=getattr(QuantType, _QTYPE[o["weight_type"]]),
    )
