"""ONNX Runtime adapter: one execution provider per device spec, fallback made visible."""

from __future__ import annotations

import time
import warnings
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort

from ..errors import FallbackError, InputError, ModelError
from ..types import ONNXRUNTIME, REFERENCE, CompileConfig, DeviceSpec, ModelFile, RunInfo, Runtime, TensorSpec
from . import CompiledModel, Stopwatch, contiguous, declared_precision, empty_output, first_line, running
from .host import cpu_name

CPU_EP = "CPUExecutionProvider"
_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
}
# The message ONNX Runtime gives when session.disable_cpu_ep_fallback stops a session.
_FALLBACK_REFUSED = "fallback to CPU EP has been explicitly disabled"


def available_devices() -> tuple[str, ...]:
    return tuple(ort.get_available_providers())


def _specs(args: Any, model: Any = None) -> tuple[TensorSpec, ...]:
    specs = []
    for arg in args:
        if arg.type not in _ORT_DTYPES:
            where = f"{model}: " if model is not None else ""
            raise ModelError(
                f"{where}tensor {arg.name!r} has type {arg.type}, which this plugin does not handle "
                f"(numeric and bool tensors only)"
            )
        shape = tuple(d if isinstance(d, int) else (d or "?") for d in arg.shape)
        specs.append(TensorSpec(arg.name, shape, np.dtype(_ORT_DTYPES[arg.type])))
    return tuple(specs)


class ORTModel(CompiledModel):
    def __init__(self, session: ort.InferenceSession, info: RunInfo, empty_allowed: tuple[str, ...] = ()) -> None:
        self.session = session
        self.empty_allowed = empty_allowed
        self.inputs = _specs(session.get_inputs())
        self.outputs = _specs(session.get_outputs())
        self.info = info
        self._names = [o.name for o in self.outputs]
        # A run's errors are raised (as RunError), not also logged to stderr by ONNX Runtime.
        self._options = ort.RunOptions()
        self._options.log_severity_level = 4

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        __tracebackhide__ = True
        with running(self.info, inputs):
            outputs = dict(zip(self._names, self.session.run(self._names, inputs, self._options), strict=False))
        failure = empty_output(self.info, self.outputs, inputs, outputs, self.empty_allowed)
        if failure:  # as OpenVINO's adapter judges it, so both runtimes say the same
            raise InputError(failure)
        return outputs

    def timer(self, inputs: dict[str, np.ndarray]) -> Any:
        __tracebackhide__ = True
        self._run(inputs)  # outputs judged once (an empty output fails here, as on OpenVINO)
        binding = self.session.io_binding()
        with running(self.info, inputs):
            for name, value in inputs.items():
                binding.bind_cpu_input(name, contiguous(value))
            for name in self._names:
                binding.bind_output(name)
        run, options = self.session.run_with_iobinding, self._options

        def once() -> float:
            __tracebackhide__ = True
            with running(self.info, inputs):
                start = time.perf_counter_ns()
                run(binding, options)
                return (time.perf_counter_ns() - start) / 1e6

        return once


def _provider_precision(session: ort.InferenceSession, provider: str, declared: str) -> str:
    """The precision the session computes at: the model's own, except where the OpenVINO provider
    was given one (FP32, FP16, or ACCURACY: the model's own)."""
    if provider != "OpenVINOExecutionProvider":
        return declared
    asked = str(session.get_provider_options().get(provider, {}).get("precision", "")).upper()
    return {"FP32": "f32", "FP16": "f16", "BF16": "bf16"}.get(asked, declared)


class ORTEngine:
    name: ClassVar[Runtime] = ONNXRUNTIME

    def version(self) -> str:
        return str(ort.__version__)

    def compile_times(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> dict[str, float | None]:
        """Session creation time; ONNX Runtime keeps no compiled-model cache of its own."""
        with Stopwatch() as cold:
            self._session(model, device, config)
        return {"compile_cold_s": cold.seconds, "compile_cached_s": None}

    def _session(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # provider warnings become our own FallbackError instead
        if config.threads:
            options.intra_op_num_threads = config.threads
        providers: list[Any] = [device.name]
        if config.strict_device:
            options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        elif device.name != CPU_EP:
            providers.append(CPU_EP)  # nodes the EP cannot take run on CPU, as ONNX Runtime is used in practice
        for key, value in config.properties:
            options.add_session_config_entry(key, value)
        if device.name == "OpenVINOExecutionProvider" and config.precision:
            precision = "ACCURACY" if config.precision == REFERENCE else config.precision.upper().replace("F", "FP")
            providers[0] = (device.name, {"precision": precision})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                return ort.InferenceSession(str(model.path), options, providers=providers)
            except Exception as exc:
                if _FALLBACK_REFUSED in str(exc):
                    raise FallbackError(
                        f"fell back: {device.id} cannot run {model.path.name} by itself and "
                        f"--edge-require-devices forbids ONNX Runtime's CPU fallback ({first_line(exc)})"
                    ) from None
                raise ModelError(
                    f"{model.path} is not a model ONNX Runtime can load; expected an ONNX model (a serialized ONNX "
                    f"ModelProto). ONNX Runtime: {first_line(exc)} (device {device.id})"
                ) from None

    def compile(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> ORTModel:
        with Stopwatch() as sw:
            session = self._session(model, device, config)
        execution = tuple(session.get_providers())
        specs = _specs(session.get_outputs(), model.path) + _specs(session.get_inputs(), model.path)
        declared = declared_precision(specs)
        threads = session.get_session_options().intra_op_num_threads
        precision = _provider_precision(session, execution[0], declared)
        # What was asked, and what the session reads back: ONNX Runtime has no performance hint to ask
        # for, runs one stream per session, and computes in the model's own types (only its OpenVINO
        # provider takes a precision).
        asked: dict[str, str] = {}
        granted: dict[str, str] = {"precision": precision, "streams": "1"}
        if config.precision is not None:
            asked["precision"] = declared if config.precision == REFERENCE else config.precision
        if config.streams:
            asked["streams"] = str(config.streams)
        if config.threads:
            asked["threads"] = str(config.threads)
            granted["threads"] = str(threads)
        info = RunInfo(
            runtime=ONNXRUNTIME,
            runtime_version=self.version(),
            device=device.id,
            device_full_name=cpu_name() if execution[:1] == (CPU_EP,) else execution[0],
            execution_devices=execution,
            precision=precision,
            declared_precision=declared,
            hint=config.hint,
            model=str(model.path),
            model_sha256=model.sha256,
            compile_s=sw.seconds,
            asked=asked,
            granted=granted,
            extra={"threads": threads or "default", "streams": 1},
        )
        return ORTModel(session, info, config.empty_outputs)
