"""The built-in recipes: NNCF post-training quantization (plain and accuracy-aware), NNCF weight
compression, OpenVINO FP16, ONNX Runtime dynamic and static quantization."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import EdgeQAError
from ..runtimes import first_line
from .base import Context, Option, RecipeError, recipe

_SCOPE = Option(
    dict, None, lambda v: set(v) <= {"names", "patterns", "types", "subgraphs"}, "a dict with names/patterns/types"
)
_SAMPLES = Option(int, 300)
_PRESET = Option(("performance", "mixed"), "performance")
_MODEL_TYPE = Option((None, "transformer"), None)
# NNCF's own options that a recipe has no option for: keyword arguments of the NNCF call, or fields of its
# advanced-parameters dataclass (e.g. {"group_size_fallback_mode": "adjust"}); enum values by name.
_ADVANCED = Option(
    dict,
    None,
    lambda v: all(isinstance(k, str) for k in v),
    "a mapping of NNCF parameter names to values, e.g. {'group_size_fallback_mode': 'adjust'}",
)


def _read(ctx: Context) -> Any:
    from ..runtimes.openvino import read_model

    return read_model(ctx.original.path)


def _save(model: Any, ctx: Context, compress_to_fp16: bool = False) -> Path:
    import openvino as ov

    out = ctx.out_dir / "model.xml"
    ov.save_model(model, str(out), compress_to_fp16=compress_to_fp16)
    return out


def _nncf_common(ctx: Context) -> dict[str, Any]:
    import nncf

    scope = ctx.options.get("ignored_scope")
    return {
        "preset": nncf.QuantizationPreset[ctx.options["preset"].upper()],
        "model_type": nncf.ModelType.TRANSFORMER if ctx.options.get("model_type") == "transformer" else None,
        "ignored_scope": nncf.IgnoredScope(**scope) if scope else None,
        "subset_size": min(ctx.options["samples"], len(ctx.samples) if ctx.samples else ctx.options["samples"]),
    }


def _guard(
    ctx: Context, what: str, advanced: set[str] | frozenset[str] = frozenset(), advice: Callable[[], str] | None = None
) -> Any:
    """Turn a library's exception into a RecipeError that names the recipe and the model. Where the
    library suggests one of its own options (``advanced``: those the recipe's ``advanced=`` takes), say
    how to pass it; ``advice``: what the library logged before it failed (its hints), kept in the message."""

    class Guard:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
            if exc is not None and not isinstance(exc, EdgeQAError) and isinstance(exc, Exception):
                message = f"{what} failed on {ctx.original.name}: {type(exc).__name__}: {first_line(exc)}"
                if advice is not None and advice():
                    message += f"\n{advice()}"
                named = [n for n in dict.fromkeys(re.findall(r"`(\w+)`", str(exc))) if n in advanced]
                if named:
                    message += (
                        f"\n(the recipe passes NNCF options through its advanced= mapping: "
                        f"advanced={{{', '.join(f'{n!r}: ...' for n in named)}}})"
                    )
                raise RecipeError(message) from None
            return False

    return Guard()


def _convert(kind: Any, value: Any, where: str) -> Any:
    """``value`` as NNCF expects it for a parameter of type ``kind``: an enum member from its name or
    value (case-insensitive), a dataclass from a mapping of its fields; anything else as given."""
    import dataclasses
    import enum
    import types
    import typing

    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None:
            return None
        enums = [k for k in options if isinstance(k, type) and issubclass(k, enum.Enum)]
        for k in enums + [k for k in options if k not in enums]:
            try:
                return _convert(k, value, where)
            except RecipeError:
                continue
        return value
    if isinstance(kind, type) and issubclass(kind, enum.Enum) and not isinstance(value, kind):
        for member in kind:
            if str(value).lower() in (member.name.lower(), str(member.value).lower()):
                return member
        choices = ", ".join(repr(str(m.value).lower()) for m in kind)
        raise RecipeError(f"{where}={value!r}; expected one of {choices}")
    if dataclasses.is_dataclass(kind) and isinstance(kind, type) and isinstance(value, Mapping):
        hints = typing.get_type_hints(kind)
        names = {f.name for f in dataclasses.fields(kind)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise RecipeError(f"{where}: {kind.__name__} has no field {', '.join(map(repr, unknown))}")
        return kind(**{k: _convert(hints.get(k), v, f"{where}.{k}") for k, v in value.items()})
    return value


def _advanced_names(fn: Callable[..., Any], classes: Mapping[str, type]) -> set[str]:
    """What ``advanced=`` may name for ``fn``: its keyword-only parameters and its advanced dataclasses' fields."""
    import dataclasses
    import inspect

    names = {n for n, p in inspect.signature(fn).parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    for cls in classes.values():
        names |= {f.name for f in dataclasses.fields(cls)}
    return names - set(classes)


def _with_advanced(
    ctx: Context, recipe_name: str, fn: Callable[..., Any], classes: Mapping[str, type], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``kwargs`` for ``fn`` plus what the recipe's ``advanced`` mapping asks: keyword arguments of ``fn``
    that the recipe does not set itself, and fields of NNCF's advanced-parameters dataclasses
    (``classes``: argument name -> dataclass), converted to NNCF's types."""
    import dataclasses
    import inspect
    import typing

    given = dict(ctx.options.get("advanced") or {})
    if not given:
        return kwargs
    where = f"recipe {recipe_name!r}: advanced"
    params = inspect.signature(fn).parameters
    hints = typing.get_type_hints(fn)
    fields: dict[str, dict[str, Any]] = {arg: {} for arg in classes}
    out = dict(kwargs)
    for key, value in given.items():
        if key in kwargs or key in classes:
            raise RecipeError(f"{where}: {key!r} is set by the recipe itself (from its own options); use those instead")
        if key in params and params[key].kind is inspect.Parameter.KEYWORD_ONLY:
            out[key] = _convert(hints.get(key), value, f"{where}: {key}")
            continue
        owner = next((arg for arg, cls in classes.items() if key in {f.name for f in dataclasses.fields(cls)}), None)
        if owner is None:
            known = ", ".join(sorted(_advanced_names(fn, classes) - set(kwargs)))
            raise RecipeError(
                f"{where}: {fn.__module__.split('.')[0]}.{fn.__name__} has no parameter {key!r} (it takes: {known})"
            )
        fields[owner][key] = _convert(typing.get_type_hints(classes[owner]).get(key), value, f"{where}: {key}")
    for arg, values in fields.items():
        if values:
            out[arg] = classes[arg](**values)
    return out


@recipe("fp16")
def fp16(ctx: Context) -> Path:
    """OpenVINO IR with FP16 weights (OpenVINO's compress_to_fp16)."""
    return _save(_read(ctx), ctx, compress_to_fp16=True)


@recipe(
    "nncf-int8",
    options={
        "samples": _SAMPLES,
        "preset": _PRESET,
        "model_type": _MODEL_TYPE,
        "ignored_scope": _SCOPE,
        "fast_bias_correction": Option(bool, True),
        "advanced": _ADVANCED,
    },
    calibration=True,
)
def nncf_int8(ctx: Context) -> Path:
    """NNCF post-training INT8 quantization (nncf.quantize) calibrated on ``samples`` samples."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    classes = {"advanced_parameters": AdvancedQuantizationParameters}
    kwargs = _with_advanced(
        ctx,
        "nncf-int8",
        nncf.quantize,
        classes,
        {"fast_bias_correction": ctx.options["fast_bias_correction"], **_nncf_common(ctx)},
    )
    with _guard(ctx, "nncf.quantize", _advanced_names(nncf.quantize, classes)):
        quantized = nncf.quantize(_read(ctx), nncf.Dataset(ctx.calibration_inputs(ctx.options["samples"])), **kwargs)
    return _save(quantized, ctx)


@recipe(
    "nncf-int8-accuracy",
    options={
        "samples": _SAMPLES,
        "max_drop": Option(float, 0.01, lambda v: v >= 0, "a number at least 0"),
        "drop": Option(("absolute", "relative"), "absolute"),
        "preset": _PRESET,
        "model_type": _MODEL_TYPE,
        "ignored_scope": _SCOPE,
        "advanced": _ADVANCED,
    },
    validation=True,
)
def nncf_int8_accuracy(ctx: Context) -> Path:
    """nncf.quantize_with_accuracy_control: INT8 that keeps layers in floating point until the metric
    drops by at most ``max_drop`` (the accuracy marker's metric and budget, when there is one)."""
    import nncf
    import numpy as np

    if ctx.samples is None or ctx.samples.labels is None or ctx.metric is None:
        raise RecipeError(f"nncf-int8-accuracy on {ctx.original.name} needs labelled calibration data and a metric")
    stat, labels = ctx.metric, np.asarray(ctx.samples.labels)
    items = [(x, labels[i]) for i, x in enumerate(ctx.calibration_inputs())]
    sign = 1.0 if stat.higher_is_better else -1.0  # NNCF expects higher-is-better

    def validate(compiled: Any, data: Any) -> tuple[float, None]:
        rows = list(data)
        outputs = np.concatenate([compiled(x)[0] for x, _ in rows])
        refs = np.asarray([y for _, y in rows])
        preds = stat.predictions(outputs)
        return sign * float(stat.value(stat.stats(preds, refs).sum(0))), None

    from nncf.quantization.advanced_parameters import (
        AdvancedAccuracyRestorerParameters,
        AdvancedQuantizationParameters,
    )

    fn = nncf.quantize_with_accuracy_control
    classes = {
        "advanced_quantization_parameters": AdvancedQuantizationParameters,
        "advanced_accuracy_restorer_parameters": AdvancedAccuracyRestorerParameters,
    }
    kwargs = _with_advanced(
        ctx,
        "nncf-int8-accuracy",
        fn,
        classes,
        {
            "max_drop": ctx.options["max_drop"],
            "drop_type": nncf.DropType[ctx.options["drop"].upper()],
            **_nncf_common(ctx),
        },
    )
    with _guard(ctx, "nncf.quantize_with_accuracy_control", _advanced_names(fn, classes)):
        quantized = fn(_read(ctx), nncf.Dataset(items, lambda item: item[0]), nncf.Dataset(items), validate, **kwargs)
    return _save(quantized, ctx)


def _require_matmul(ctx: Context, model: Any, what: str) -> None:
    if not any(op.get_type_name() in ("MatMul", "Gather") for op in model.get_ops()):
        raise RecipeError(
            f"{what} cannot apply to {ctx.original.name}: it compresses MatMul (and embedding) weights, and this model has "
            f"none (use nncf-int8 for convolutional models)"
        )


def _compress(ctx: Context, mode: str, **kwargs: Any) -> Path:
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedCompressionParameters

    name = f"nncf-weights-{mode[:4]}"
    model = _read(ctx)
    _require_matmul(ctx, model, name)
    classes = {"advanced_parameters": AdvancedCompressionParameters}
    scope = ctx.options.get("ignored_scope")
    kwargs = _with_advanced(
        ctx,
        name,
        nncf.compress_weights,
        classes,
        {
            "mode": nncf.CompressWeightsMode[mode.upper()],
            "ignored_scope": nncf.IgnoredScope(**scope) if scope else None,
            **kwargs,
        },
    )
    with _guard(ctx, "nncf.compress_weights", _advanced_names(nncf.compress_weights, classes)):
        compressed = nncf.compress_weights(model, **kwargs)
    return _save(compressed, ctx)


@recipe(
    "nncf-weights-int8",
    options={"mode": Option(("asym", "sym"), "asym"), "ignored_scope": _SCOPE, "advanced": _ADVANCED},
)
def nncf_weights_int8(ctx: Context) -> Path:
    """NNCF INT8 weight compression (nncf.compress_weights), for MatMul-heavy and transformer models."""
    return _compress(ctx, f"int8_{ctx.options['mode']}")


@recipe(
    "nncf-weights-int4",
    options={
        "mode": Option(("sym", "asym"), "sym"),
        "group_size": Option(int, 128),
        "ratio": Option(float, 1.0, lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
        "all_layers": Option(bool, False),
        "ignored_scope": _SCOPE,
        "advanced": _ADVANCED,
    },
)
def nncf_weights_int4(ctx: Context) -> Path:
    """NNCF INT4 weight compression: ``ratio`` of the layers in INT4 (groups of ``group_size``), the rest INT8."""
    o = ctx.options
    return _compress(ctx, f"int4_{o['mode']}", group_size=o["group_size"], ratio=o["ratio"], all_layers=o["all_layers"])


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
            with _guard(
                ctx, "onnxruntime.quantization.shape_inference.quant_pre_process", advice=lambda: advice.text(True)
            ):
                quant_pre_process(ctx.original.path, source, skip_symbolic_shape=True)
        with _guard(ctx, f"onnxruntime.quantization.{fn.__name__}", advice=lambda: advice.text(o["preprocess"])):
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
        "samples": _SAMPLES,
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
