"""The plain data types that runtimes, devices and models share: which runtime and device, a model's files,
a tensor's name, shape and dtype, how to compile, and what a compiled model is. A leaf: it imports nothing of
pytest_edgeqa and nothing heavy, so the runtime adapters sit below devices and models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Runtime = Literal["openvino", "onnxruntime"]

OPENVINO: Runtime = "openvino"
ONNXRUNTIME: Runtime = "onnxruntime"

# OpenVINO's virtual devices: they schedule onto the candidate devices after the colon.
VIRTUAL = ("AUTO", "HETERO", "MULTI", "BATCH")

# Short names for ONNX Runtime execution providers, as users type them after ``ort:``.
ORT_PROVIDERS: Mapping[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
    "nnapi": "NnapiExecutionProvider",
    "cann": "CANNExecutionProvider",
    "acl": "ACLExecutionProvider",
    "armnn": "ArmNNExecutionProvider",
    "vitisai": "VitisAIExecutionProvider",
    "webgpu": "WebGpuExecutionProvider",
    "azure": "AzureExecutionProvider",
}
_ORT_SHORT = {full: short for short, full in ORT_PROVIDERS.items()}


@dataclass(frozen=True)
class DeviceSpec:
    """One target: a runtime plus the device (OpenVINO) or execution provider (ONNX Runtime)."""

    runtime: Runtime
    name: str  # OpenVINO device string ("GPU.1", "AUTO:GPU,CPU") or full ORT provider name

    @property
    def id(self) -> str:
        """The spelling used in test ids, skip reasons and reports."""
        if self.runtime == ONNXRUNTIME:
            return "ort:" + _ORT_SHORT.get(self.name, self.name)
        return self.name

    @property
    def virtual(self) -> str | None:
        head = self.name.split(":", 1)[0]
        return head if self.runtime == OPENVINO and head in VIRTUAL else None

    @property
    def candidates(self) -> tuple[str, ...]:
        """Devices a virtual device schedules onto, in priority order (AUTO's ``-X`` exclusions left out)."""
        if not self.virtual or ":" not in self.name:
            return ()
        return tuple(c for c in self.name.split(":", 1)[1].split(",") if not c.startswith("-"))

    @property
    def family(self) -> str:
        """``GPU`` for ``GPU.1``; the provider for ONNX Runtime."""
        return self.name.split(".", 1)[0] if self.runtime == OPENVINO else self.name

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class ModelFile:
    """A model on disk: its main file, every file it consists of, and their joint sha256."""

    path: Path
    format: str  # "onnx" | "ir"
    files: tuple[Path, ...]
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


Dim = int | str  # a str is a dynamic dimension: its symbolic name, or "?"

HINTS = ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT")
PRECISIONS = ("f32", "f16", "bf16")
REFERENCE = "reference"  # run at the model's declared precision


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
