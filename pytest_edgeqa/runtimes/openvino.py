"""OpenVINO adapter: read ONNX or IR, compile for a device with pinned precision, infer, report."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import openvino as ov

from ..devices import OPENVINO, DeviceSpec, Runtime
from ..errors import ModelError
from ..models import ModelFile
from . import (
    REFERENCE,
    CompileConfig,
    CompiledModel,
    RunInfo,
    Stopwatch,
    TensorSpec,
    declared_precision,
    first_line,
)

_PRECISION_TYPES = {"f32": ov.Type.f32, "f16": ov.Type.f16, "bf16": ov.Type.bf16}


def available_devices() -> tuple[str, ...]:
    return tuple(ov.Core().available_devices)


_INT8_TYPES = {"i8", "u8"}
_INT4_TYPES = {"i4", "u4", "nf4", "f4e2m1"}


def weight_format(path: str) -> str | None:
    """'int4', 'int8', 'f16' or None: what the model's weights or fake-quantize nodes say about its
    compression. ONNX QDQ models read through OpenVINO show as int8/uint8 constants, so one look serves
    both formats."""
    model = ov.Core().read_model(path)
    found: set[str] = set()
    for op in model.get_ops():
        kind = op.get_type_name()
        if kind == "FakeQuantize":
            levels = int(op.get_attributes().get("levels", 256))
            found.add("int4" if levels <= 16 else "int8")
        elif kind == "Constant":
            name = op.get_output_element_type(0).get_type_name()
            if name in _INT4_TYPES:
                found.add("int4")
            elif op.get_output_partial_shape(0).rank.get_length() >= 2:  # a weight, not an index or shape
                if name in _INT8_TYPES:
                    found.add("int8")
                elif name in ("f16", "bf16"):
                    found.add("f16")
    return next((k for k in ("int4", "int8", "f16") if k in found), None)


def _specs(ports: Any) -> tuple[TensorSpec, ...]:
    specs = []
    for i, port in enumerate(ports):
        try:
            name = port.get_any_name()
        except RuntimeError:  # IR results may carry no tensor name
            name = f"output{i}"
        shape = tuple(d.get_length() if d.is_static else "?" for d in port.get_partial_shape())
        specs.append(TensorSpec(name, shape, np.dtype(port.get_element_type().to_dtype())))
    return tuple(specs)


def _type_name(value: Any) -> str:
    return value.get_type_name() if isinstance(value, ov.Type) else str(value)


class OpenVINOModel(CompiledModel):
    def __init__(self, compiled: ov.CompiledModel, info: RunInfo) -> None:
        self.compiled = compiled
        self.inputs = _specs(compiled.inputs)
        self.outputs = _specs(compiled.outputs)
        self.info = info
        self._request = compiled.create_infer_request()

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = self._request.infer(inputs, share_inputs=False, share_outputs=False)
        return {spec.name: np.asarray(result[i]) for i, spec in enumerate(self.outputs)}

    def infer_batched(
        self, inputs: dict[str, np.ndarray], batch_size: int, progress: Any = None
    ) -> dict[str, np.ndarray]:
        """Throughput path: asynchronous requests in round robin, two per stream the compiled model
        asks for, each writing straight into its slice of the preallocated outputs (no Python callback,
        no copies), the way benchmark_app's throughput mode keeps the device busy."""
        n = len(next(iter(inputs.values())))
        first = self._run({k: v[:batch_size] for k, v in inputs.items()})
        if any(v.shape[:1] != (min(batch_size, n),) for v in first.values()):
            return super().infer_batched(inputs, batch_size, progress)  # outputs not batched along axis 0
        outputs = {k: np.empty((n, *v.shape[1:]), v.dtype) for k, v in first.items()}
        for k, v in first.items():
            outputs[k][: len(v)] = v
        names = [spec.name for spec in self.outputs]
        slots = 2 * int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        requests = [self.compiled.create_infer_request() for _ in range(slots)]
        starts = range(batch_size, n, batch_size)
        for step, i in enumerate(starts):
            req = requests[step % slots]
            if step >= slots:
                req.wait()
            for name, value in inputs.items():
                req.set_tensor(name, ov.Tensor(value[i : i + batch_size], shared_memory=True))
            for index, name in enumerate(names):
                req.set_output_tensor(index, ov.Tensor(outputs[name][i : i + batch_size], shared_memory=True))
            req.start_async()
            if progress is not None and step % 64 == 0:
                progress(step + 1, len(starts) + 1)
        for req in requests:
            req.wait()
        if progress is not None:
            progress(len(starts) + 1, len(starts) + 1)
        return outputs


class OpenVINOEngine:
    name: ClassVar[Runtime] = OPENVINO

    def __init__(self, cache_dir: str | None = None) -> None:
        self.core = ov.Core()
        self.cache_dir = cache_dir
        if cache_dir:
            self.core.set_property({"CACHE_DIR": cache_dir})

    def version(self) -> str:
        return ov.get_version()

    def _supports(self, device: str, prop: str) -> bool:
        try:
            return prop in self.core.get_property(device, "SUPPORTED_PROPERTIES")
        except RuntimeError:
            return False

    def _device_properties(self, device: str, precision: str | None, config: CompileConfig) -> dict[str, Any]:
        props: dict[str, Any] = {}
        if precision is not None:
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

    def _precision_in_force(self, compiled: ov.CompiledModel, device: DeviceSpec) -> str:
        supported = compiled.get_property("SUPPORTED_PROPERTIES")
        if "INFERENCE_PRECISION_HINT" in supported:
            return _type_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
        if "DEVICE_PROPERTIES" in supported:
            per = compiled.get_property("DEVICE_PROPERTIES")
            found = {
                d: _type_name(p["INFERENCE_PRECISION_HINT"]) for d, p in per.items() if "INFERENCE_PRECISION_HINT" in p
            }
            if len(set(found.values())) == 1:
                return next(iter(found.values()))
            if found:
                return ", ".join(f"{d}:{p}" for d, p in sorted(found.items()))
        return "unknown"

    def _full_name(self, devices: tuple[str, ...]) -> str:
        names = []
        for d in devices:
            try:
                names.append(str(self.core.get_property(d, "FULL_DEVICE_NAME")))
            except RuntimeError:
                names.append(d)
        return " + ".join(names)

    def compile(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> OpenVINOModel:
        try:
            ov_model = self.core.read_model(str(model.path))
        except Exception as exc:
            raise ModelError(f"{model.path} is not a model OpenVINO can read: {first_line(exc)}") from None
        declared = declared_precision(_specs(ov_model.outputs) + _specs(ov_model.inputs))
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
        info = RunInfo(
            runtime=OPENVINO,
            runtime_version=self.version(),
            device=device.id,
            device_full_name=self._full_name(execution),
            execution_devices=execution,
            precision=self._precision_in_force(compiled, device),
            declared_precision=declared,
            hint=config.hint,
            model=str(model.path),
            model_sha256=model.sha256,
            compile_s=sw.seconds,
            loaded_from_cache=bool(compiled.get_property("LOADED_FROM_CACHE"))
            if "LOADED_FROM_CACHE" in supported
            else None,
            extra={"properties": {k: str(v) for k, v in props.items()}},
        )
        return OpenVINOModel(compiled, info)
