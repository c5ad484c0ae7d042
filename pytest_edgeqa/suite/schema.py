"""A suite's schema: the ``Suite`` a file describes, validated key by key with the same code as the markers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import MAX_BATCH
from ..devices import parse_devices
from ..errors import ConfigError
from ..markers import COMPILE_OPTIONS, compile_config
from ..types import DeviceSpec
from .fields import (
    SHOWN,
    SuiteError,
    capped,
    code_name,
    expect,
    mapping,
    positive_int,
    reword,
    sizes,
)
from .llm import generation_options, kld_options, llm_latency_options, text_file
from .reading import parse, read_text

CHECKS = ("accuracy", "latency", "parity", "kld", "generation", "llm_latency")
# a language model's checks: no data:, a recipe calibrated by a text file
LLM_CHECKS = ("kld", "generation", "llm_latency")
TOP_KEYS = ("name", "model", "data", "devices", "checks")
MODEL_KEYS = ("original", "optimized", *COMPILE_OPTIONS)
DATA_KEYS = ("path", "split", "inputs", "label", "samples", "preprocess")
CALIBRATION_KEYS = ("split", "samples", "path", "inputs", "label")
SIZE_KEYS = ("shapes", "dims")  # generated inputs' sizes, as golden_check's and latency_check's keywords
PARITY_OWN_KEYS = ("samples", "seed", *SIZE_KEYS)
LATENCY_OWN_KEYS = ("inputs", *SIZE_KEYS)
MAX_NAME = 100  # a suite's name is part of node ids and golden file names


@dataclass
class Suite:
    path: Path
    name: str
    model: dict[str, Any]
    data: dict[str, Any] | None
    devices: tuple[DeviceSpec, ...] | None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def load(path: Path) -> Suite:
    """Read and validate a suite file. Budgets are checked with the same code as the markers."""
    top = mapping(parse(read_text(path), path), path, "(top level)", TOP_KEYS)
    for key in ("name", "model", "checks"):
        if key not in top:
            raise SuiteError(f"{path.name}: {key}: missing; a suite needs name, model and checks")
    name = _name(top["name"], path)
    model = _model(top["model"], path)
    data = _data(top["data"], path) if "data" in top else None
    devices = _devices(top["devices"], path) if "devices" in top else None
    checks = _checks(top["checks"], path, data, model.get("optimized"))
    return Suite(path=path, name=name, model=model, data=data, devices=devices, checks=checks)


def _name(name: Any, path: Path) -> str:
    expect(
        isinstance(name, str) and name.strip() != "" and not any(c in name for c in "[]:/"),
        path,
        "name",
        "a non-empty string without [ ] : /",
        name,
    )
    if len(name) > MAX_NAME:
        raise SuiteError(f"{path.name}: name: expected at most {MAX_NAME} characters, got {len(name)}")
    expect(name.isprintable(), path, "name", "no control characters (newline, tab)", name)
    return name


def _model(value: Any, path: Path) -> dict[str, Any]:
    """``model:``: the original's path, the optimized model (a path or a recipe) and compile options."""
    model = mapping(value, path, "model", MODEL_KEYS)
    if "original" not in model:
        raise SuiteError(f"{path.name}: model.original: missing; expected the path of the original model")
    expect(
        isinstance(model["original"], str) and model["original"] != "",
        path,
        "model.original",
        "a model path (string)",
        model["original"],
    )
    optimized = model.get("optimized")
    expect(
        optimized is None or isinstance(optimized, (str, dict)),
        path,
        "model.optimized",
        "a model path, a recipe name or {recipe: ..., options}",
        optimized,
    )
    from .. import optimize

    if isinstance(optimized, dict) or optimize.is_recipe(optimized):
        _recipe(optimized if isinstance(optimized, dict) else {"recipe": optimized}, path)
    try:
        compile_config({k: v for k, v in model.items() if k in COMPILE_OPTIONS}, "model")
    except ConfigError as exc:
        raise SuiteError(f"{path.name}: {capped(str(exc), model.values())}") from None
    return model


def _recipe(value: dict[str, Any], path: Path) -> None:
    """``model.optimized`` naming a recipe: its options as the recipe checks them, and its calibration data."""
    from .. import optimize

    spec = mapping(value, path, "model.optimized", None)
    if "recipe" not in spec:
        raise SuiteError(f"{path.name}: model.optimized.recipe: missing; expected a recipe name such as nncf-int8")
    expect(isinstance(spec["recipe"], str), path, "model.optimized.recipe", "a recipe name", spec["recipe"])
    try:
        optimize.parse_spec({**spec, "calibration": spec.get("calibration", {})}, "model.optimized")
    except ConfigError as exc:
        raise SuiteError(f"{path.name}: {capped(str(exc), spec.values())}") from None
    cal = spec.get("calibration")
    if isinstance(cal, str):  # a language model's recipe: calibrated by a text
        text_file(cal, path, "model.optimized.calibration", "the calibration text of a language model's recipe")
    elif cal is not None:
        cal = mapping(cal, path, "model.optimized.calibration", CALIBRATION_KEYS)
        for key in ("path", "split", "label"):
            value = cal.get(key, "")
            expect(isinstance(value, str), path, f"model.optimized.calibration.{key}", "a string", value)
        positive_int(cal.get("samples", 1), path, "model.optimized.calibration.samples")


def _data(value: Any, path: Path) -> dict[str, Any]:
    """``data:``: the dataset the accuracy check evaluates on (and parity and latency may take rows from)."""
    data = mapping(value, path, "data", DATA_KEYS)
    expect(isinstance(data.get("path"), str), path, "data.path", "a dataset path or hub id (string)", data.get("path"))
    expect(isinstance(data.get("split", "test"), str), path, "data.split", "a split name (string)", data.get("split"))
    inputs = data.get("inputs")
    expect(
        inputs is None or (isinstance(inputs, dict) and all(isinstance(v, str) for v in inputs.values())),
        path,
        "data.inputs",
        "a mapping of model input to column name",
        inputs,
    )
    expect(isinstance(data.get("label", "label"), str), path, "data.label", "a column name (string)", data.get("label"))
    samples = data.get("samples")
    expect(
        samples is None or (isinstance(samples, int) and not isinstance(samples, bool) and samples > 0),
        path,
        "data.samples",
        "a positive integer",
        samples,
    )
    if data.get("preprocess") is not None:
        code_name(data["preprocess"], path, "data.preprocess", "preprocess function")
    return data


def _devices(value: Any, path: Path) -> tuple[DeviceSpec, ...]:
    if isinstance(value, str) and len(value) <= SHOWN:
        raise SuiteError(
            f"{path.name}: devices: expected a non-empty list of device names, got {value!r}; write devices: [{value}]"
        )
    expect(
        isinstance(value, list) and bool(value) and all(isinstance(d, str) for d in value),
        path,
        "devices",
        "a non-empty list of device names",
        value,
    )
    try:
        return tuple(d for text in value for d in parse_devices(text))
    except ConfigError as exc:
        raise SuiteError(f"{path.name}: devices: {capped(str(exc), value)}") from None


def _checks(value: Any, path: Path, data: dict[str, Any] | None, optimized: Any) -> dict[str, dict[str, Any]]:
    """``checks:``: each check's options validated as its marker's are, and what the check needs besides."""
    checks = mapping(value, path, "checks", CHECKS)
    expect(bool(checks), path, "checks", f"at least one of {', '.join(CHECKS)}", checks)
    validated: dict[str, dict[str, Any]] = {}
    for check, options in checks.items():
        opts = mapping(options if options is not None else {}, path, f"checks.{check}", None)
        try:
            CHECKERS[check](opts, path, data)
        except ConfigError as exc:
            raise reword(exc, path, f"checks.{check}", opts.values()) from None
        _needs(check, opts, path, data, optimized)
        validated[check] = opts
    return validated


def _accuracy(opts: dict[str, Any], path: Path, data: dict[str, Any] | None) -> None:
    from ..accuracy import budget_from_marker

    code_name(opts.get("metric", "accuracy"), path, "checks.accuracy.metric", "metric")
    budget_from_marker((), opts)


def _latency(opts: dict[str, Any], path: Path, data: dict[str, Any] | None) -> None:
    from ..latency_budget import Schedule, budget_from_marker

    budget_from_marker((), {k: v for k, v in opts.items() if k not in LATENCY_OWN_KEYS}, Schedule())
    sizes(opts, path, "checks.latency")
    inputs = opts.get("inputs", "generated")
    expect(inputs in ("data", "generated"), path, "checks.latency.inputs", "data or generated", inputs)
    if inputs == "data" and not (data or {}).get("path"):
        raise SuiteError(f"{path.name}: checks.latency.inputs: data, but the suite has no data.path to take rows from")


def _parity(opts: dict[str, Any], path: Path, data: dict[str, Any] | None) -> None:
    from ..parity_criteria import spec_from_marker

    spec_from_marker((), {k: v for k, v in opts.items() if k not in PARITY_OWN_KEYS})
    sizes(opts, path, "checks.parity")
    n = opts.get("samples", 32)
    positive_int(n, path, "checks.parity.samples")
    expect(n <= MAX_BATCH, path, "checks.parity.samples", f"at most {MAX_BATCH} (the batch compared)", n)
    seed = opts.get("seed", 0)
    expect(
        isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0,
        path,
        "checks.parity.seed",
        "an integer of at least 0",
        seed,
    )


CHECKERS: dict[str, Callable[[dict[str, Any], Path, dict[str, Any] | None], None]] = {
    "accuracy": _accuracy,
    "latency": _latency,
    "parity": _parity,
    "kld": kld_options,
    "generation": generation_options,
    "llm_latency": llm_latency_options,
}


def _needs(check: str, opts: dict[str, Any], path: Path, data: dict[str, Any] | None, optimized: Any) -> None:
    """What a check needs beyond its own options: data to evaluate on, an optimized model to compare."""
    if check == "accuracy" and data is None:
        raise SuiteError(f"{path.name}: data: missing; the accuracy check needs data: {{path, split, inputs, label}}")
    if check == "accuracy" and optimized is None:
        raise SuiteError(
            f"{path.name}: model.optimized: missing; the {check} check compares the optimized model with the original"
        )
    if check in LLM_CHECKS and optimized is None and (check != "llm_latency" or opts.get("max_ratio") is not None):
        raise SuiteError(
            f"{path.name}: model.optimized: missing; the {check} check compares the optimized language model with"
            " the original (a model folder, or a recipe such as nncf-weights-int8)"
            + ("; its max_ratio compares their speed" if check == "llm_latency" else "")
        )
    text_calibrated = isinstance(optimized, dict) and isinstance(optimized.get("calibration"), str)
    if text_calibrated and check not in LLM_CHECKS:
        raise SuiteError(
            f"{path.name}: model.optimized.calibration: a text file calibrates a language model's recipe, for the"
            f" kld, generation and llm_latency checks; the {check} check's recipe takes calibration data {{path, split, inputs}}"
        )
    relative = [k for k in ("max_ratio", "min_speedup") if check == "latency" and opts.get(k) is not None]
    if relative and optimized is None:
        raise SuiteError(
            f"{path.name}: model.optimized: missing; the latency check's {relative[0]} compares the optimized"
            " model with the original"
        )
