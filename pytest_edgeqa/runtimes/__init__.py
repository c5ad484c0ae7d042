"""What the engine adapters share: the compiled model's interface (checked inputs, runs, empty outputs), timing,
and a runtime error in one line. Which adapter runs a runtime: runtimes/engines.py."""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EdgeQAError, InputError, RunError

if TYPE_CHECKING:
    from ..types import RunInfo, TensorSpec

_PRECISION_OF = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.float64): "f64"}


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
