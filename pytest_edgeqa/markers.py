"""Markers and fixture-call arguments: the markers' signatures, and their arguments validated where they are given,
errors naming the marker or the call."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import MAX_BATCH, MAX_THREADS, number, short
from .devices import parse_device, parse_devices
from .errors import ConfigError
from .types import DeviceSpec

if TYPE_CHECKING:
    import pytest

    from .types import CompileConfig

# Marker signatures: registered verbatim so --strict-markers knows them and `pytest --markers` shows them.
MARKERS = {
    "edge_model": (
        "edge_model(original, optimized=None, **options): the models under test. Paths resolve against "
        "the test file's directory. options: hint=LATENCY|THROUGHPUT|CUMULATIVE_THROUGHPUT, "
        "precision=f32|f16|bf16 (optimized side; the original always runs at its declared precision), "
        "threads=N, streams=N, properties={engine-specific key: value}, empty_outputs=(names of outputs that "
        "may legitimately come out empty, such as a detector's boxes), engine=auto|openvino|llama.cpp (a GGUF "
        "language model: OpenVINO GenAI's GGUF reader, llama.cpp through the extra pytest-edgeqa[gguf], or "
        "auto: OpenVINO where its reader loads the file, else llama.cpp)"
    ),
    "accuracy": (
        "accuracy(metric='accuracy', max_drop=None, drop='absolute', higher_is_better=None, min_value=None, "
        "max_value=None, min_improvement=None, preset=None, gate='point', confidence=0.95, resamples=2000, "
        "output=None, batch_size=None): accuracy budget for accuracy_check; presets mlperf-99, mlperf-99.9; "
        "gate='confident' judges the bound of the paired bootstrap interval instead of the point drop"
    ),
    "latency": (
        "latency(p50_ms=None, p90_ms=None, p95_ms=None, p99_ms=None, mean_ms=None, percentiles={p: ms}, "
        "max_ratio=None, min_speedup=None, min_fps=None, batch=1, hint='LATENCY', warmup_iters=10, warmup_s=0.5, "
        "iterations=300, seconds=1.0, block=10, confidence=0.95): latency budgets for latency_check; relative "
        "budgets use the interval of the interleaved ratio optimized/original"
    ),
    "kld": (
        "kld(mean=None, p90=None, p95=None, p99=None, max=None, same_top=None, ppl_ratio=None, gate='point', "
        "confidence=0.95, block=32, top_k=64): KL-divergence budget of a language model for kld_check (llama.cpp's "
        "definitions; the base distribution is a compact golden of the original's top-k log-probs); gate='confident' "
        "judges the block-bootstrap interval's worse end"
    ),
    "generation": (
        "generation(max_new_tokens=32, min_exact=None, min_first_divergence=None, max_divergent=None): greedy "
        "generation parity of a language model for generation_check: the rate of prompts generated token for token "
        "alike, the earliest divergent token, the fraction of divergent tokens"
    ),
    "llm_latency": (
        "llm_latency(ttft_ms=None, tpot_ms=None, min_tokens_per_s=None, max_ratio=None, max_memory_mb=None, "
        "max_size_mb=None, ratio_of='tpot', percentile=50, prompt_tokens=128, new_tokens=64, warmup=1, generations=10, "
        "block=1, confidence=0.95): speed and memory budgets of a language model for llm_latency_check: time to first "
        "token and time per output token (OpenVINO GenAI's own timers, EOS ignored) at the nearest-rank percentile of "
        "the generations, tokens/s = 1000/TPOT, max_ratio = optimized/original of ratio_of by the interval of "
        "interleaved generations, peak RSS of loading and generating (a child process), size on disk"
    ),
    "parity": (
        "parity(atol=None, rtol=None, max_mismatch=0.0, max_abs_error=None, mean_abs_error=None, "
        "median_abs_error=None, quantile=0.99, quantile_abs_error=None, cosine=None, snr_db=None, psnr_db=None, "
        "top_k=None, top_k_agreement=1.0, class_axis=-1, nan='match', rel_floor=None, outputs={name: {...}}): "
        "numerical agreement criteria for golden_check; every criterion given must hold; without numbers, "
        "defaults by the model's precision/quantization apply"
    ),
    "edge_device": (
        "edge_device(*devices): the test applies only to these devices (e.g. 'CPU', 'GPU', 'ort:cuda'); "
        "items for other --edge-device values are skipped"
    ),
}


COMPILE_OPTIONS = ("hint", "precision", "threads", "streams", "properties", "empty_outputs")
LLM_ENGINES = ("auto", "openvino", "llama.cpp")  # the edge_model marker's engine=: which runtime runs a GGUF LLM


def compile_config(options: Mapping[str, Any], where: str) -> CompileConfig:
    """Validate compile options from a marker or a fixture call; ``where`` names that source."""
    from .types import HINTS, PRECISIONS, CompileConfig

    unknown = sorted(set(options) - set(COMPILE_OPTIONS) - {"engine"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown option {', '.join(map(repr, unknown))} (expected: {', '.join(COMPILE_OPTIONS)})"
        )
    hint = str(options.get("hint", "LATENCY")).upper()
    if hint not in HINTS:
        raise ConfigError(f"{where}: hint={options['hint']!r}; expected one of {', '.join(HINTS)}")
    precision = options.get("precision")
    if precision is not None and precision not in PRECISIONS:
        raise ConfigError(f"{where}: precision={precision!r}; expected one of {', '.join(PRECISIONS)}")
    engine = options.get("engine", "auto")
    if engine not in LLM_ENGINES:
        raise ConfigError(
            f"{where}: engine={engine!r}; expected one of {', '.join(LLM_ENGINES)} (which runtime runs a GGUF language model)"
        )
    ints: dict[str, int | None] = {}
    for key in ("threads", "streams"):
        value = options.get(key)
        ints[key] = None if value is None else number(value, where, key, integer=True, low=1, high=MAX_THREADS)
    props = options.get("properties") or {}
    if not isinstance(props, Mapping):
        raise ConfigError(f"{where}: properties={props!r}; expected a dict of engine property names to values")
    return CompileConfig(
        hint=hint,
        precision=precision,
        threads=ints["threads"],
        streams=ints["streams"],
        properties=tuple(sorted((str(k), str(v)) for k, v in props.items())),
        empty_outputs=output_names(options.get("empty_outputs"), where, "empty_outputs"),
    )


def output_names(value: Any, where: str, key: str) -> tuple[str, ...]:
    """An option naming outputs: one name or a list/tuple of names (whether the model has them is
    checked once it is compiled)."""
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(
            f"{where}: {key}={short(value)}; expected an output name or a list of output names, e.g. {key}=('boxes',)"
        )
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class ModelMarker:
    original: Any
    optimized: Any
    options: Mapping[str, Any]

    def config(self) -> CompileConfig:
        return compile_config(self.options, "edge_model marker")


def parse_model_marker(mark: pytest.Mark) -> ModelMarker:
    args, kwargs = list(mark.args), dict(mark.kwargs)
    names = ("original", "optimized")
    if len(args) > len(names):
        raise ConfigError(
            f"edge_model marker: takes at most 2 positional arguments (original, optimized), got {len(args)}"
        )
    for name, value in zip(names, args, strict=False):
        if name in kwargs:
            raise ConfigError(f"edge_model marker: {name!r} given both positionally and by keyword")
        kwargs[name] = value
    original = kwargs.pop("original", None)
    optimized = kwargs.pop("optimized", None)
    if original is None:
        raise ConfigError("edge_model marker: argument 'original' is required (a model path such as 'models/net.onnx')")
    if not isinstance(original, (str, os.PathLike)) or not os.fspath(original).strip():
        raise ConfigError(
            f"edge_model marker: original={short(original)}; expected a model path such as 'models/net.onnx'"
        )
    if optimized is not None and (
        not isinstance(optimized, (str, os.PathLike, Mapping))
        or (not isinstance(optimized, Mapping) and not os.fspath(optimized).strip())
    ):
        raise ConfigError(
            f"edge_model marker: optimized={short(optimized)}; expected a model path such as 'models/net_int8.xml', "
            "a recipe name such as 'fp16', or {'recipe': name, ...options}"
        )
    marker = ModelMarker(original=original, optimized=optimized, options=kwargs)
    marker.config()  # validate options now, so the error names the marker
    return marker


def parse_device_marker(mark: pytest.Mark) -> tuple[DeviceSpec, ...]:
    if mark.kwargs:
        raise ConfigError(f"edge_device marker: takes device names only, got keyword {', '.join(mark.kwargs)}")
    if not mark.args:
        raise ConfigError("edge_device marker: give at least one device, e.g. @pytest.mark.edge_device('CPU')")
    specs = []
    for arg in mark.args:
        if not isinstance(arg, str):
            raise ConfigError(f"edge_device marker: {arg!r} is not a device name (expected a string like 'CPU')")
        try:
            specs.extend(parse_devices(arg))
        except ConfigError as exc:
            raise ConfigError(f"edge_device marker: {exc}") from None
    return tuple(specs)


# ----------------------------------------------------------------------------------- fixture arguments


def _names(value: Any, where: str, key: str, what: str) -> None:
    """None or a dict of non-empty strings to non-empty strings."""
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ConfigError(f"{where}: {key}={short(value)}; expected {what}")


def _text(value: Any, where: str, key: str, what: str, optional: bool = False) -> None:
    if (value is None and optional) or (isinstance(value, str) and value.strip()):
        return
    raise ConfigError(f"{where}: {key}={short(value)}; expected {what}")


def golden_arguments(*, name: Any, model: Any, seed: Any, batch: Any, columns: Any) -> None:
    """The keyword arguments of a ``golden_check(...)`` call, checked before any model runs."""
    where = "golden_check"
    _text(name, where, "name", "a non-empty string naming this golden within the test", optional=True)
    if model is not None and not callable(getattr(model, "infer", None)):
        raise ConfigError(
            f"{where}: model={short(model)}; expected a compiled model from the edge_model fixture (or leave it out "
            "for the marker's optimized model)"
        )
    number(seed, where, "seed", integer=True, low=0)
    number(batch, where, "batch", integer=True, low=1, high=MAX_BATCH, why="(the batch of generated inputs)")
    _names(columns, where, "columns", "{model input name: dataset column name}")


def accuracy_arguments(*, inputs: Any, label: Any, samples: Any, split: Any) -> None:
    """The keyword arguments of an ``accuracy_check(...)`` call, checked before any model runs."""
    where = "accuracy_check"
    _names(inputs, where, "inputs", "{model input name: dataset column name}")
    _text(label, where, "label", "the name of the dataset's label column")
    if samples is not None:
        number(
            samples, where, "samples", integer=True, low=1, why="(the number of rows to evaluate; leave it out for all)"
        )
    _text(split, where, "split", "a dataset split name such as 'test'")


def device_allowed(spec: DeviceSpec, allowed: tuple[DeviceSpec, ...]) -> bool:
    """``GPU`` in a marker admits GPU.0 and GPU.1; otherwise ids must match."""
    return any(
        a.id == spec.id or (a.runtime == spec.runtime and "." not in a.name and a.name == spec.family) for a in allowed
    )


def parse_device_arg(text: str, where: str) -> DeviceSpec:
    try:
        return parse_device(text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
