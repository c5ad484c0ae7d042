"""OpenVINO adapter: read ONNX or IR, compile for a device with pinned precision, report what is in force.
The compiled model that runs inference: runtimes/openvino_model.py."""

from __future__ import annotations

from typing import Any, ClassVar

import openvino as ov

from ..errors import ModelError
from ..types import OPENVINO, REFERENCE, CompileConfig, DeviceSpec, ModelFile, RunInfo, Runtime, canonical
from . import (
    Stopwatch,
    declared_precision,
    first_line,
)
from .openvino_model import OpenVINOModel
from .openvino_reading import declared_names, port_name, read_model, tensor_specs

_PRECISION_TYPES = {"f32": ov.Type.f32, "f16": ov.Type.f16, "bf16": ov.Type.bf16}


def available_devices() -> tuple[str, ...]:
    return tuple(ov.Core().available_devices)


def _int_or_str(value: Any) -> int | str:
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _plain(value: Any) -> Any:
    """A property value as JSON-friendly data: OpenVINO Types and enums as their names ("f32")."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return canonical(value)


def _read_back(compiled: ov.CompiledModel, supported: Any, key: str) -> str | None:
    """What the compiled model reports for ``key``: its own property, else (AUTO, HETERO) the value of
    each device it compiled for ("CPU:f32, GPU:f16" when they differ); None when nobody reports it."""

    def scalar(value: Any) -> str | None:
        if isinstance(value, (dict, list, tuple, set)):
            return None  # a structured value: not a setting to compare
        return canonical(value)

    if key in supported:
        return scalar(compiled.get_property(key))
    if "DEVICE_PROPERTIES" in supported:
        found = {
            d: v for d, p in compiled.get_property("DEVICE_PROPERTIES").items() if key in p and (v := scalar(p[key]))
        }
        if len(set(found.values())) == 1:
            return next(iter(found.values()))
        if found:
            return ", ".join(f"{d}:{v}" for d, v in sorted(found.items()))
    return None


class OpenVINOEngine:
    name: ClassVar[Runtime] = OPENVINO

    def __init__(self, cache_dir: str | None = None) -> None:
        self.core = ov.Core()
        self.cache_dir = cache_dir
        if cache_dir:
            self.core.set_property({"CACHE_DIR": cache_dir})
        self._compile_times: dict[tuple[str, str, CompileConfig], dict[str, float | None]] = {}

    def version(self) -> str:
        return ov.get_version()

    def _supports(self, device: str, prop: str) -> bool:
        try:
            return prop in self.core.get_property(device, "SUPPORTED_PROPERTIES")
        except RuntimeError:
            return False

    def _device_properties(self, device: str, precision: str | None, config: CompileConfig) -> dict[str, Any]:
        props: dict[str, Any] = {}
        if precision is not None and precision in _PRECISION_TYPES:  # f64 and the like: nothing to ask
            if self._supports(device, "INFERENCE_PRECISION_HINT"):
                props["INFERENCE_PRECISION_HINT"] = _PRECISION_TYPES[precision]
            elif precision == "f32" and self._supports(device, "EXECUTION_MODE_HINT"):
                props["EXECUTION_MODE_HINT"] = "ACCURACY"
        if config.threads and self._supports(device, "INFERENCE_NUM_THREADS"):
            props["INFERENCE_NUM_THREADS"] = config.threads
        if config.streams and self._supports(device, "NUM_STREAMS"):
            props["NUM_STREAMS"] = config.streams
        return props

    def properties(self, device: DeviceSpec, config: CompileConfig, declared: str) -> dict[str, Any]:
        precision = declared if config.precision == REFERENCE else config.precision
        props: dict[str, Any] = {"PERFORMANCE_HINT": config.hint}
        if device.virtual:
            targets = device.candidates or tuple(self.core.available_devices)
            per_device = {t: p for t in targets if (p := self._device_properties(t, precision, config))}
            if per_device:
                props["DEVICE_PROPERTIES"] = per_device
            if device.virtual == "AUTO":
                # AUTO starts on CPU while the target compiles; without this, EXECUTION_DEVICES says CPU.
                props["ENABLE_STARTUP_FALLBACK"] = False
        else:
            props.update(self._device_properties(device.name, precision, config))
        props.update(dict(config.properties))
        return props

    def _precision_in_force(self, compiled: ov.CompiledModel) -> str:
        found = _read_back(compiled, compiled.get_property("SUPPORTED_PROPERTIES"), "INFERENCE_PRECISION_HINT")
        return found if found and found != "dynamic" else "unknown"

    def _settings(
        self, compiled: ov.CompiledModel, config: CompileConfig, precision: str | None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The compile settings asked for, and what the compiled model reads back for each."""
        asked: dict[str, str] = {"hint": config.hint}
        if precision is not None:
            asked["precision"] = precision
        if config.streams:
            asked["streams"] = str(config.streams)
        if config.threads:
            asked["threads"] = str(config.threads)
        asked.update({key: canonical(value) for key, value in config.properties})
        supported = compiled.get_property("SUPPORTED_PROPERTIES")
        names = {"hint": "PERFORMANCE_HINT", "streams": "NUM_STREAMS", "threads": "INFERENCE_NUM_THREADS"}
        granted: dict[str, str] = {}
        for key in asked:
            if key == "precision":
                value = self._precision_in_force(compiled)
                found = None if value == "unknown" else value
            else:
                found = _read_back(compiled, supported, names.get(key, key))
            if found is not None:
                granted[key] = found
        return asked, granted

    def _capabilities(self, devices: tuple[str, ...]) -> dict[str, list[str]]:
        found = {}
        for d in devices:
            try:
                found[d] = [str(c) for c in self.core.get_property(d, "OPTIMIZATION_CAPABILITIES")]
            except RuntimeError:
                pass
        return found

    def _full_name(self, devices: tuple[str, ...]) -> str:
        names = []
        for d in devices:
            try:
                names.append(str(self.core.get_property(d, "FULL_DEVICE_NAME")))
            except RuntimeError:
                names.append(d)
        return " + ".join(names)

    def _read(self, model: ModelFile, config: CompileConfig, device: str) -> tuple[ov.Model, str]:
        """The model as read for ``device`` (and reshaped to ``config.batch``), with its declared precision."""
        ov_model = read_model(model.path, self.core, device)
        declared = declared_precision(tensor_specs(ov_model.outputs) + tensor_specs(ov_model.inputs))
        shapes = {}
        if config.batch is not None:
            for port in ov_model.inputs:
                shape = port.get_partial_shape()
                if shape.rank.is_static and shape.rank.get_length() > 0 and shape[0].is_dynamic:
                    shape[0] = config.batch
                    shapes[port] = shape
        if config.shapes:
            static = dict(config.shapes)
            names = declared_names(model.path)[0]
            for index, port in enumerate(ov_model.inputs):
                name = port_name(port, index, names)
                if name in static and port.get_partial_shape().is_dynamic:
                    shapes[port] = ov.PartialShape(list(static[name]))
        if shapes:
            try:
                ov_model.reshape(shapes)
            except Exception as exc:  # the shapes fed do not fit the model (a Reshape to a fixed size)
                names = declared_names(model.path)[0]
                fed = ", ".join(f"{port_name(p, i, names)}: {s}" for i, (p, s) in enumerate(shapes.items()))
                raise ModelError(
                    f"OpenVINO could not reshape {model.path.name} for {device} to the input shapes {fed}: "
                    f"{first_line(exc)}"
                ) from None
        return ov_model, declared

    def compile_times(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> dict[str, float | None]:
        """Compile time cold (a core without a model cache) and from OpenVINO's cache (None without one),
        measured once per model, device and config in a session: each costs a full compile (seconds for a
        large model), and every latency check of that model would repeat them."""
        key = (model.sha256, device.id, config)
        if key not in self._compile_times:
            ov_model, declared = self._read(model, config, device.id)
            props = self.properties(device, config, declared)
            with Stopwatch() as cold:
                ov.Core().compile_model(ov_model, device.name, props)
            cached = None
            if self.cache_dir:
                self.core.compile_model(ov_model, device.name, props)  # make sure the blob is there
                with Stopwatch() as warm:
                    self.core.compile_model(ov_model, device.name, props)
                cached = warm.seconds
            self._compile_times[key] = {"compile_cold_s": cold.seconds, "compile_cached_s": cached}
        return dict(self._compile_times[key])

    def compile(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> OpenVINOModel:
        ov_model, declared = self._read(model, config, device.id)
        props = self.properties(device, config, declared)
        with Stopwatch() as sw:
            try:
                compiled = self.core.compile_model(ov_model, device.name, props)
            except Exception as exc:
                raise ModelError(
                    f"OpenVINO could not compile {model.path.name} for {device.id}: {first_line(exc)}"
                ) from None
        execution = tuple(compiled.get_property("EXECUTION_DEVICES"))
        supported = compiled.get_property("SUPPORTED_PROPERTIES")
        asked, granted = self._settings(
            compiled, config, declared if config.precision == REFERENCE else config.precision
        )
        info = RunInfo(
            runtime=OPENVINO,
            runtime_version=self.version(),
            device=device.id,
            device_full_name=self._full_name(execution),
            execution_devices=execution,
            precision=self._precision_in_force(compiled),
            declared_precision=declared,
            hint=config.hint,
            model=str(model.path),
            model_sha256=model.sha256,
            compile_s=sw.seconds,
            loaded_from_cache=bool(compiled.get_property("LOADED_FROM_CACHE"))
            if "LOADED_FROM_CACHE" in supported
            else None,
            asked=asked,
            granted=granted,
            capabilities=self._capabilities(execution),
            extra={
                "properties": {k: _plain(v) for k, v in props.items()},
                **{
                    key: _int_or_str(compiled.get_property(prop))
                    for key, prop in (("streams", "NUM_STREAMS"), ("threads", "INFERENCE_NUM_THREADS"))
                    if prop in supported
                },
            },
        )
        return OpenVINOModel(compiled, info, declared_names(model.path), config.empty_outputs)
