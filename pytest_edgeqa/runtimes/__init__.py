"""The small protocol every engine adapter implements, and what the adapters share."""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from ..devices import DeviceSpec, Runtime
from ..errors import EdgeQAError, InputError, RunError

if TYPE_CHECKING:
    from ..models import ModelFile

Dim = int | str  # a str is a dynamic dimension: its symbolic name, or "?"

HINTS = ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT")
PRECISIONS = ("f32", "f16", "bf16")
REFERENCE = "reference"  # run at the model's declared precision

_PRECISION_OF = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.float64): "f64"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[Dim, ...]
    dtype: np.dtype[Any]

    @property
    def dynamic(self) -> bool:
        return any(isinstance(d, str) for d in self.shape)

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype.name}[{','.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class CompileConfig:
    """How to compile: hashable, so compiled models can be memoized on it."""

    hint: str = "LATENCY"
    precision: str | None = None  # None: the device's default; "reference": the model's declared precision
    threads: int | None = None
    streams: int | None = None
    properties: tuple[tuple[str, str], ...] = ()  # engine-specific extras, as strings
    strict_device: bool = False  # forbid the engine's own fallback (ONNX Runtime's CPU EP)
    batch: int | None = None  # OpenVINO: reshape a dynamic batch dimension (dim 0) to this static size
    empty_outputs: tuple[str, ...] = ()  # outputs that may legitimately come out empty (no detections)
    # OpenVINO: reshape these inputs (by declared name) to these static shapes before compiling, as
    # benchmark_app -shape does: a model compiled with dynamic dims runs slower than its static form.
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def with_(self, **changes: Any) -> CompileConfig:
        return CompileConfig(**{**asdict(self), **changes})


@dataclass
class RunInfo:
    """What a compiled model actually is: recorded with every result."""

    runtime: Runtime
    runtime_version: str
    device: str  # the requested spec's id
    device_full_name: str
    execution_devices: tuple[str, ...]
    precision: str  # the inference precision in force
    declared_precision: str  # what the model's float tensors declare
    hint: str
    model: str
    model_sha256: str
    compile_s: float
    loaded_from_cache: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Compile settings asked for (precision, hint, streams, threads, explicit properties) and what the
    # compiled model reads back for them, as canonical strings ("f32", "LATENCY", "2", "true"); a key
    # the runtime does not report is absent from ``granted``.
    asked: dict[str, str] = field(default_factory=dict)
    granted: dict[str, str] = field(default_factory=dict)
    capabilities: dict[str, list[str]] = field(default_factory=dict)  # device -> what it says it can do

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["execution_devices"] = list(self.execution_devices)
        return d

    def not_honoured(self) -> list[tuple[str, str, str]]:
        """(setting, asked, in force) for each compile setting that reads back different from the one asked."""
        return [
            (key, value, self.granted[key])
            for key, value in self.asked.items()
            if key in self.granted and canonical(value).casefold() != canonical(self.granted[key]).casefold()
        ]

    def describe_not_honoured(self, reference: bool = False) -> str:
        """The settings not honoured, in words: what was asked, what the device runs, and (for a
        precision) what the device says it can do. ``reference``: the precision asked was the model's
        declared one."""
        where = self.device if self.runtime == "onnxruntime" else ", ".join(self.execution_devices) or self.device
        parts = []
        for key, asked, got in self.not_honoured():
            shown = asked if asked.isdigit() else repr(asked)
            note = " (the model's declared precision)" if reference and key == "precision" else ""
            text = f"{key}={shown} asked{note}, but {where} runs {got}"
            if key in ("precision", "INFERENCE_PRECISION_HINT"):
                text += f" ({self._precision_capabilities(canonical(asked))})"
            parts.append(text)
        return "; ".join(parts)

    def _precision_capabilities(self, asked: str) -> str:
        if self.runtime == "onnxruntime":
            return "ONNX Runtime computes in the model's own types"
        if not self.capabilities:
            return "the device reports no capabilities"
        wanted = {"f32": "FP32", "f16": "FP16", "bf16": "BF16"}.get(asked.lower(), asked.upper())
        text = "; ".join(f"{dev} capabilities: {', '.join(caps)}" for dev, caps in self.capabilities.items())
        return text if any(wanted in caps for caps in self.capabilities.values()) else f"{text}; no {wanted}"

    def summary(self) -> str:
        return (
            f"{self.device} [{self.runtime} {self.runtime_version}] on {', '.join(self.execution_devices)} "
            f"at {self.precision} (declared {self.declared_precision})"
        )


_ALIASES = {
    "fp32": "f32",
    "float32": "f32",
    "fp16": "f16",
    "float16": "f16",
    "bfloat16": "bf16",
    "yes": "true",
    "no": "false",
}


def canonical(value: Any) -> str:
    """One spelling for a setting's value, whatever type or spelling a runtime or a user gives it:
    OpenVINO's Type -> "f32"/"bf16", enums -> their name, booleans and YES/NO -> "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    name = getattr(value, "get_type_name", None)  # openvino.Type
    if callable(name):
        return str(name())
    if not isinstance(value, (str, int, float)) and isinstance(getattr(value, "name", None), str):
        value = value.name  # pybind11 enums (PerformanceMode.LATENCY -> "LATENCY")
    text = str(value).strip()
    return _ALIASES.get(text.lower(), text)


def declared_precision(specs: tuple[TensorSpec, ...]) -> str:
    """The precision a model declares: that of its first floating-point output (or input)."""
    for spec in specs:
        if spec.dtype in _PRECISION_OF:
            return _PRECISION_OF[spec.dtype]
    return "f32"


class CompiledModel(ABC):
    """A model compiled for one device. ``infer`` checks inputs against the specs before running."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    info: RunInfo

    def infer(self, inputs: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
        __tracebackhide__ = True
        return self._run(self.prepare(inputs))

    def prepare(self, inputs: Mapping[str, Any] | np.ndarray, *, any_batch: bool = False) -> dict[str, np.ndarray]:
        """Check names, ranks, static dims and dtype kinds; cast within a kind (float64 -> float32).
        ``any_batch``: dimension 0 may differ (the data is about to be batched to the model's size)."""
        __tracebackhide__ = True
        expected = "; the model's inputs are " + ", ".join(str(s) for s in self.inputs)
        if not isinstance(inputs, Mapping):
            if len(self.inputs) != 1:
                raise InputError(f"infer() needs a dict of arrays keyed by input name{expected}")
            inputs = {self.inputs[0].name: inputs}
        names = {s.name for s in self.inputs}
        unknown = sorted(set(inputs) - names)
        missing = sorted(names - set(inputs))
        if unknown or missing:
            parts = []
            if unknown:
                parts.append("unknown input " + ", ".join(repr(n) for n in unknown))
            if missing:
                parts.append("missing input " + ", ".join(repr(n) for n in missing))
            raise InputError(f"infer(): {'; '.join(parts)}{expected}")
        prepared: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            arr = np.asarray(inputs[spec.name])
            shape_ok = arr.ndim == len(spec.shape) and all(
                isinstance(d, str) or d == n or (any_batch and axis == 0)
                for axis, (d, n) in enumerate(zip(spec.shape, arr.shape, strict=False))
            )
            if not shape_ok:
                raise InputError(
                    f"infer(): input {spec.name!r} expects shape [{','.join(str(d) for d in spec.shape)}] "
                    f"({spec.dtype.name}), got {tuple(arr.shape)}"
                )
            if arr.dtype != spec.dtype:
                if arr.dtype.kind != spec.dtype.kind and not (arr.dtype.kind in "iu" and spec.dtype.kind in "iu"):
                    raise InputError(f"infer(): input {spec.name!r} expects {spec.dtype.name}, got {arr.dtype.name}")
                arr = arr.astype(spec.dtype)
            prepared[spec.name] = contiguous(arr)
        return prepared

    def infer_batched(
        self, inputs: dict[str, np.ndarray], batch_size: int, progress: Any = None
    ) -> dict[str, np.ndarray]:
        """Run prepared ``inputs`` (every sample) in batches through the engine's throughput path;
        outputs concatenated in sample order. ``progress(batches_done, batches_total)`` is called along."""
        __tracebackhide__ = True
        n = batch_of(inputs)
        starts = range(0, n, batch_size)
        parts: dict[str, list[np.ndarray]] = {}
        for done, i in enumerate(starts, 1):
            chunk = {k: v[i : i + batch_size] if v.ndim else v for k, v in inputs.items()}  # 0-d: given whole
            for name, value in self._run(chunk).items():
                parts.setdefault(name, []).append(value)
            if progress is not None:
                progress(done, len(starts))
        return {name: np.concatenate(chunks) for name, chunks in parts.items()}

    @abstractmethod
    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def timer(self, inputs: dict[str, np.ndarray]) -> Any:
        """A function that runs one inference on inputs bound once, and returns its latency in ms,
        from the engine's own per-request timer where it has one."""

    def throughput(self, inputs: dict[str, np.ndarray], seconds: float) -> tuple[float, list[float]]:
        """Samples per second over ``seconds`` of back-to-back inferences, and their latencies (ms)."""
        __tracebackhide__ = True
        once = self.timer(inputs)
        batch = batch_of(inputs)
        latencies: list[float] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            latencies.append(once())
        return batch * len(latencies) / (time.perf_counter() - start), latencies


def contiguous(value: Any) -> np.ndarray:
    """``value`` as a C-contiguous array, a 0-d one kept 0-d (an int64 scalar such as a sample rate):
    np.ascontiguousarray returns at least 1-d, and OpenVINO refuses [1] for an input declared []."""
    arr = np.asarray(value)
    return arr if arr.flags.c_contiguous else np.array(arr, order="C")


def batch_of(inputs: Mapping[str, np.ndarray]) -> int:
    """The number of samples in prepared inputs: dimension 0 of the first input that has one (0-d
    inputs, such as a scalar sample rate, are given whole with every batch); 1 when all are 0-d."""
    return next((len(v) for v in inputs.values() if np.ndim(v)), 1)


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    """Inputs as a message shows them: ``x: float32[2, 5], sr: int64[]``."""
    return ", ".join(f"{k}: {np.asarray(v).dtype.name}{list(np.shape(v))}" for k, v in inputs.items())


class running:
    """Around a runtime's call that runs ``info``'s model on ``inputs``: whatever the runtime raises
    becomes one RunError naming model, device and inputs, with the runtime's own words and none of its
    frames (a class, not @contextmanager, so its __exit__ frame can be hidden)."""

    def __init__(self, info: RunInfo, inputs: Mapping[str, Any]) -> None:
        self.info = info
        self.inputs = inputs

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        __tracebackhide__ = True
        if exc is None or isinstance(exc, EdgeQAError) or not isinstance(exc, Exception):
            return False
        runtime = "OpenVINO" if self.info.runtime == "openvino" else "ONNX Runtime"
        raise RunError(
            f"{Path(self.info.model).name} on {self.info.device} failed to run, for inputs "
            f"{describe_inputs(self.inputs)}. {runtime}: {first_line(exc)}"
        ) from None


def empty_outputs(
    specs: tuple[TensorSpec, ...], inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
) -> list[str]:
    """The outputs with a zero-size dimension the model does not declare as 0, from inputs that have no
    zero-size dimension (empty inputs ask for empty outputs)."""
    if any(0 in np.shape(v) for v in inputs.values()):
        return []
    found = []
    for spec in specs:
        shape = tuple(np.shape(outputs[spec.name])) if spec.name in outputs else ()
        declared = spec.shape if len(spec.shape) == len(shape) else ("?",) * len(shape)
        if any(n == 0 and d != 0 for d, n in zip(declared, shape, strict=False)):
            found.append(spec.name)
    return found


def empty_output(
    info: RunInfo,
    specs: tuple[TensorSpec, ...],
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    allowed: tuple[str, ...] = (),
) -> str | None:
    """Why ``outputs`` cannot be trusted, or None: an output that came out empty (see ``empty_outputs``)
    and is not one of the ``allowed`` (``edge_model(empty_outputs=...)``). Both runtimes return such an
    output with no error when an input is too small for the model; with OpenVINO, running another
    request of that compiled model afterwards can kill the process, so it is not run again."""
    for name in empty_outputs(specs, inputs, outputs):
        if name in allowed:
            continue
        spec = next(s for s in specs if s.name == name)
        text = (
            f"{Path(info.model).name} on {info.device} returned an empty output {name!r} of shape "
            f"{list(np.shape(outputs[name]))} (declared [{','.join(str(d) for d in spec.shape)}]) with no error, "
            f"for inputs {describe_inputs(inputs)}: an input is probably too small for the model (a dimension "
            f"came out 0); give larger input shapes, or, if {name!r} may be empty (a detector that found "
            f"nothing), name it in edge_model(..., empty_outputs=[{name!r}])"
        )
        if info.runtime == "openvino":
            text += ". The model is not run again (another inference of it after this can crash OpenVINO)"
        return text
    return None


class Engine(Protocol):
    """One inference engine: what it has, and how it compiles a model for a device."""

    name: ClassVar[Runtime]

    def version(self) -> str: ...

    def compile(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> CompiledModel: ...

    def compile_times(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> dict[str, float | None]: ...


def engine_for(runtime: Runtime, cache_dir: str | None = None) -> Engine:
    """Import and create the adapter for ``runtime`` (the import is the expensive part, so it is here)."""
    if runtime == "openvino":
        from .openvino import OpenVINOEngine

        return OpenVINOEngine(cache_dir=cache_dir)
    from .onnxruntime import ORTEngine

    return ORTEngine()


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def first_line(exc: BaseException) -> str:
    """The meaningful part of a runtime's error: OpenVINO prefixes its own source locations."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("Exception from src/")]
    # "Check 'is_valid_weights_range(...)' failed at src/core/...cpp:900: Incorrect weights" -> "Incorrect weights"
    text = re.sub(r"Check '.*?' failed at src/\S+:\d+:\s*", "", " ".join(lines))
    # ONNX Runtime: "... Status Message: /onnxruntime_src/...h:91 ns::f(args) text" -> "... Status Message: text";
    # its io_binding runs add "Error in execution: " before the same words
    text = re.sub(r"^Error in execution: ", "", text)
    text = re.sub(r"/onnxruntime_src/\S+:\d+\s+[^(]*\([^)]*\)\s*", "", text) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."
