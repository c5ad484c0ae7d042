"""The built-in recipes for OpenVINO: FP16 IR, NNCF post-training quantization (plain and accuracy-aware)
and NNCF weight compression. A recipe's NNCF options beyond its own pass through its ``advanced=`` mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .base import SAMPLES, Context, Option, RecipeError, guard, recipe

_SCOPE = Option(
    dict, None, lambda v: set(v) <= {"names", "patterns", "types", "subgraphs"}, "a dict with names/patterns/types"
)
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
    from ..runtimes.openvino_reading import read_model

    return read_model(ctx.original.path)


def _save(model: Any, ctx: Context, compress_to_fp16: bool = False) -> Path:
    """The built model in the output folder; a language model's folder keeps its layout (openvino_model.xml
    with the tokenizer, detokenizer and JSON configs of the original copied beside it)."""
    import shutil

    import openvino as ov

    from ..runtimes.openvino_llm import MODEL_XML, companions

    extra = companions(ctx.original.path.parent) if ctx.original.path.name == MODEL_XML else []
    out = ctx.out_dir / (MODEL_XML if extra else "model.xml")
    ov.save_model(model, str(out), compress_to_fp16=compress_to_fp16)
    for f in extra:
        shutil.copy2(f, ctx.out_dir / f.name)
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
        "samples": SAMPLES,
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
    with guard(ctx, "nncf.quantize", _advanced_names(nncf.quantize, classes)):
        quantized = nncf.quantize(_read(ctx), nncf.Dataset(ctx.calibration_inputs(ctx.options["samples"])), **kwargs)
    return _save(quantized, ctx)


@recipe(
    "nncf-int8-accuracy",
    options={
        "samples": SAMPLES,
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
    with guard(ctx, "nncf.quantize_with_accuracy_control", _advanced_names(fn, classes)):
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
    with guard(ctx, "nncf.compress_weights", _advanced_names(nncf.compress_weights, classes)):
        compressed = nncf.compress_weights(model, **kwargs)
    return _save(compressed, ctx)


def _data_aware(ctx: Context, name: str) -> dict[str, Any]:
    """NNCF's data-aware weight compression options (AWQ, scale estimation), with the calibration samples
    (for a language model: windows of its calibration text) as NNCF's dataset when there are any."""
    import nncf

    o = ctx.options
    wanted = [k for k in ("awq", "scale_estimation") if o.get(k)]
    if ctx.samples is None:
        if wanted:
            raise RecipeError(
                f"recipe {name!r}: {' and '.join(f'{k}=True' for k in wanted)} needs calibration data "
                "(calibration=<fixture name, text file or dataset>)"
            )
        return {}
    return {
        "dataset": nncf.Dataset(ctx.calibration_inputs(o.get("samples"))),
        "awq": bool(o.get("awq")),
        "scale_estimation": bool(o.get("scale_estimation")),
        "subset_size": min(o.get("samples") or len(ctx.samples), len(ctx.samples)),
    }


@recipe(
    "nncf-weights-int8",
    options={"mode": Option(("asym", "sym"), "asym"), "ignored_scope": _SCOPE, "advanced": _ADVANCED},
)
def nncf_weights_int8(ctx: Context) -> Path:
    """NNCF INT8 weight compression (nncf.compress_weights), for MatMul-heavy and transformer models and
    language-model folders."""
    return _compress(ctx, f"int8_{ctx.options['mode']}")


@recipe(
    "nncf-weights-int4",
    options={
        "mode": Option(("sym", "asym"), "sym"),
        "group_size": Option(int, 128),
        "ratio": Option(float, 1.0, lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
        "all_layers": Option(bool, False),
        "awq": Option(bool, False),
        "scale_estimation": Option(bool, False),
        "samples": Option(int, 32),
        "ignored_scope": _SCOPE,
        "advanced": _ADVANCED,
    },
)
def nncf_weights_int4(ctx: Context) -> Path:
    """NNCF INT4 weight compression: ``ratio`` of the layers in INT4 (groups of ``group_size``), the rest INT8.
    With calibration data it is data-aware: the INT4 layers are picked by their activations' sensitivity, and
    ``awq`` (activation-aware scaling) and ``scale_estimation`` can be turned on; ``samples`` caps the
    calibration samples (for a language model: windows of 128 tokens of its calibration text)."""
    o = ctx.options
    return _compress(
        ctx,
        f"int4_{o['mode']}",
        group_size=o["group_size"],
        ratio=o["ratio"],
        all_layers=o["all_layers"],
        **_data_aware(ctx, "nncf-weights-int4"),
    )
