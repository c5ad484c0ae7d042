"""OpenVINO adapter: read ONNX or IR, compile for a device with pinned precision, infer, report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import openvino as ov

from ..errors import InputError, ModelError
from ..types import OPENVINO, REFERENCE, CompileConfig, DeviceSpec, ModelFile, RunInfo, Runtime, TensorSpec, canonical
from . import (
    CompiledModel,
    Stopwatch,
    batch_of,
    declared_precision,
    describe_inputs,
    empty_output,
    empty_outputs,
    first_line,
    running,
)

_PRECISION_TYPES = {"f32": ov.Type.f32, "f16": ov.Type.f16, "bf16": ov.Type.bf16}


def available_devices() -> tuple[str, ...]:
    return tuple(ov.Core().available_devices)


def read_model(path: str | Path, core: ov.Core | None = None, device: str | None = None) -> ov.Model:
    """Read an ONNX model or OpenVINO IR; a file OpenVINO cannot read is a ModelError that names it, says
    what was expected and gives OpenVINO's own words (and the device it was read for, if any)."""
    path = Path(path)
    try:
        return (core or ov.Core()).read_model(str(path))
    except Exception as exc:
        if path.suffix.lower() == ".xml":
            weights = path.with_suffix(".bin")
            size = f", {weights.stat().st_size} bytes" if weights.is_file() else ""
            expected = f"OpenVINO IR (an IR .xml with its weights in {weights.name}{size})"
        else:
            expected = "an ONNX model (a serialized ONNX ModelProto)"
        raise ModelError(
            f"{path} is not a model OpenVINO can read; expected {expected}. OpenVINO: {first_line(exc)}"
            + (f" (device {device})" if device else "")
        ) from None


_INT8_TYPES = {"i8", "u8"}
_INT4_TYPES = {"i4", "u4", "nf4", "f4e2m1"}


def weight_format(path: str) -> str | None:
    """'int4', 'int8', 'f16' or None: what an OpenVINO IR's weights or fake-quantize nodes say about its
    compression (ONNX files are read by weights.onnx_weight_format, with the same rules)."""
    model = read_model(path)
    found: set[str] = set()
    for op in _all_ops(model):
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


def _all_ops(model: Any) -> Iterator[Any]:
    """The model's ops and those of the bodies of its If, Loop and TensorIterator ops: get_ops() stays at
    the top level, and a model's weights may all sit inside an If (silero-vad's)."""
    for op in model.get_ops():
        yield op
        kind = op.get_type_name()
        if kind == "If":
            bodies = (op.get_then_body(), op.get_else_body())
        elif kind in ("Loop", "TensorIterator") and hasattr(op, "get_function"):
            bodies = (op.get_function(0),)
        else:
            continue
        for body in bodies:
            if body is not None:
                yield from _all_ops(body)


def declared_names(path: str | Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The input and output names an ONNX file declares (inputs that are initializers left out); empty
    for IR or a file the onnx package cannot parse. OpenVINO may report another of a port's tensor names
    (an Identity or Cast before an output, a branch inlined from an If), so ports are named by these."""
    if Path(path).suffix.lower() != ".onnx":
        return (), ()
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return (), ()
    weights = {init.name for init in graph.initializer}
    return tuple(v.name for v in graph.input if v.name not in weights), tuple(v.name for v in graph.output)


def _port_name(port: Any, index: int, declared: tuple[str, ...] = ()) -> str:
    """The port's name as the model file declares it (one of its tensor names), else OpenVINO's pick."""
    try:
        names = port.get_names()
        return next((d for d in declared if d in names), None) or port.get_any_name()
    except RuntimeError:  # IR results may carry no tensor name
        return f"output{index}"


def _specs(ports: Any, declared: tuple[str, ...] = ()) -> tuple[TensorSpec, ...]:
    specs = []
    for i, port in enumerate(ports):
        name = _port_name(port, i, declared)
        shape = tuple(d.get_length() if d.is_static else "?" for d in port.get_partial_shape())
        specs.append(TensorSpec(name, shape, np.dtype(port.get_element_type().to_dtype())))
    return tuple(specs)


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


def _shapes(inputs: dict[str, np.ndarray]) -> tuple[Any, ...]:
    return tuple((name, np.shape(value)) for name, value in inputs.items())


class OpenVINOModel(CompiledModel):
    def __init__(
        self,
        compiled: ov.CompiledModel,
        info: RunInfo,
        names: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
        empty_allowed: tuple[str, ...] = (),
    ) -> None:
        self.compiled = compiled
        self.empty_allowed = empty_allowed
        self.inputs = _specs(compiled.inputs, names[0])
        self.outputs = _specs(compiled.outputs, names[1])
        self.info = info
        self._index = {spec.name: i for i, spec in enumerate(self.inputs)}  # inputs fed by port index
        self._request = compiled.create_infer_request()
        self._checked: set[tuple[Any, ...]] = set()  # input shapes whose outputs were found not empty
        self._failure: str | None = None
        self._emptied: str | None = None  # an allowed empty output came out: other requests are not run

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        __tracebackhide__ = True
        if self._failure:
            raise InputError(self._failure)
        fed = {self._index.get(name, name): value for name, value in inputs.items()}
        with running(self.info, inputs):
            result = self._request.infer(fed, share_inputs=False, share_outputs=False)
        outputs = {spec.name: np.asarray(result[i]) for i, spec in enumerate(self.outputs)}
        # Checked before any other request runs: after an empty output, inferring on a second request of
        # the same compiled model killed the process (OpenVINO 2026.4, "pure virtual method called").
        self._failure = empty_output(self.info, self.outputs, inputs, outputs, self.empty_allowed)
        if self._failure:
            raise InputError(self._failure)
        empty = empty_outputs(self.outputs, inputs, outputs)  # all of them allowed (empty_outputs=)
        if empty and not self._emptied:
            self._emptied = (
                f"{Path(self.info.model).name} on {self.info.device} returned an empty {', '.join(map(repr, empty))} "
                f"(allowed by empty_outputs=) for inputs {describe_inputs(inputs)}, so OpenVINO runs this compiled "
                f"model on its first request only (after an empty output, another request of it can crash "
                f"the process): its throughput and asynchronous batched paths are not run; give inputs for which "
                f"every output is non-empty, or use an ONNX Runtime device (ort:cpu)"
            )
        self._checked.add(_shapes(inputs))
        return outputs

    def _check_first(self, inputs: dict[str, np.ndarray]) -> None:
        """Before other requests run inputs of these shapes: one inference of them on the model's first
        request, its outputs checked (once per set of input shapes)."""
        __tracebackhide__ = True
        if self._failure:
            raise InputError(self._failure)
        if _shapes(inputs) not in self._checked:
            self._run(inputs)

    def _other_requests(self, inputs: dict[str, np.ndarray]) -> None:
        """Before requests other than the first run: inputs checked (``_check_first``), and none of them
        after an empty output."""
        __tracebackhide__ = True
        self._check_first(inputs)
        if self._emptied:
            raise InputError(self._emptied)

    def _bind(self, request: Any, inputs: dict[str, np.ndarray]) -> None:
        for name, value in inputs.items():
            # A copy: zero-copy input tensors may be computed on in place. np.array keeps a 0-d input 0-d.
            request.set_input_tensor(self._index[name], ov.Tensor(np.array(value, copy=True, order="C")))

    def timer(self, inputs: dict[str, np.ndarray]) -> Any:
        __tracebackhide__ = True
        self._check_first(inputs)
        # After an allowed empty output, the first request times it: another request could crash.
        request = self._request if self._emptied else self.compiled.create_infer_request()
        with running(self.info, inputs):
            self._bind(request, inputs)

        def once() -> float:
            __tracebackhide__ = True
            with running(self.info, inputs):
                request.infer()
            return float(request.latency)  # OpenVINO's own timer around the inference, in ms

        return once

    def throughput(self, inputs: dict[str, np.ndarray], seconds: float) -> tuple[float, list[float]]:
        """FPS with asynchronous requests, as many as the compiled model asks for (one per stream with
        the THROUGHPUT hint), inputs bound once, in round robin: benchmark_app's throughput mode."""
        __tracebackhide__ = True
        self._other_requests(inputs)
        batch = batch_of(inputs)
        slots = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        with running(self.info, inputs):
            return self._throughput(inputs, seconds, slots, batch)

    def _throughput(
        self, inputs: dict[str, np.ndarray], seconds: float, slots: int, batch: int
    ) -> tuple[float, list[float]]:
        import time

        __tracebackhide__ = True
        requests = [self.compiled.create_infer_request() for _ in range(slots)]
        for req in requests:
            self._bind(req, inputs)
        latencies: list[float] = []
        started = [False] * slots
        start = time.perf_counter()
        step = 0
        while time.perf_counter() - start < seconds:
            slot = step % slots
            if started[slot]:
                requests[slot].wait()
                latencies.append(float(requests[slot].latency))
            requests[slot].start_async()
            started[slot] = True
            step += 1
        for slot, req in enumerate(requests):
            if started[slot]:
                req.wait()
                latencies.append(float(req.latency))
        return batch * len(latencies) / (time.perf_counter() - start), latencies

    def infer_batched(
        self, inputs: dict[str, np.ndarray], batch_size: int, progress: Any = None
    ) -> dict[str, np.ndarray]:
        """Throughput path for a model compiled with a static batch (``CompileConfig.batch``):
        asynchronous requests in round robin, two per stream the compiled model asks for, no Python
        callbacks, the last batch padded. This keeps the device as busy as benchmark_app does.

        Models with a dynamic batch take the sequential path: with OpenVINO 2026.4's CPU plugin,
        concurrent requests on a dynamic-shape THROUGHPUT model returned another request's outputs for
        one batch in a few percent of runs (seen here on the digits CNN); static shapes never did."""
        __tracebackhide__ = True
        batched = [s for s in self.inputs if s.shape]  # 0-d inputs (a scalar sample rate) go whole with each batch
        batch = batched[0].shape[0] if batched else None
        if not isinstance(batch, int) or any(s.shape[0] != batch for s in batched):
            return super().infer_batched(inputs, batch_size, progress)
        n = batch_of(inputs)
        first = self._chunk(inputs, 0, batch)
        self._other_requests(first)
        with running(self.info, first):  # every batch has the first one's shapes (the last one is padded)
            return self._batched_async(inputs, n, batch, progress)

    def _batched_async(
        self, inputs: dict[str, np.ndarray], n: int, batch: int, progress: Any
    ) -> dict[str, np.ndarray]:
        __tracebackhide__ = True
        names = [spec.name for spec in self.outputs]
        outputs: dict[str, np.ndarray] = {}
        slots = 2 * int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        requests = [self.compiled.create_infer_request() for _ in range(slots)]
        busy: dict[int, int] = {}  # slot -> first sample of the batch it runs

        def collect(slot: int) -> None:
            req = requests[slot]
            req.wait()
            start = busy.pop(slot)
            for index, name in enumerate(names):
                data = req.get_output_tensor(index).data
                if name not in outputs:
                    outputs[name] = np.empty((n, *data.shape[1:]), data.dtype)
                outputs[name][start : start + batch] = data[: min(batch, n - start)]

        starts = range(0, n, batch)
        for step, i in enumerate(starts):
            slot = step % slots
            if slot in busy:
                collect(slot)
            req = requests[slot]
            self._bind(req, self._chunk(inputs, i, batch))
            req.start_async()
            busy[slot] = i
            if progress is not None and step % 64 == 0:
                progress(step + 1, len(starts))
        for slot in list(busy):
            collect(slot)
        if progress is not None:
            progress(len(starts), len(starts))
        return outputs

    @staticmethod
    def _chunk(inputs: dict[str, np.ndarray], i: int, batch: int) -> dict[str, np.ndarray]:
        """Samples i..i+batch of each input, the last batch padded (the padding's outputs are dropped);
        a 0-d input as it is."""
        chunks = {}
        for name, value in inputs.items():
            chunk = value[i : i + batch] if value.ndim else value
            if value.ndim and len(chunk) < batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), axis=0)])
            chunks[name] = chunk
        return chunks


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
        declared = declared_precision(_specs(ov_model.outputs) + _specs(ov_model.inputs))
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
                name = _port_name(port, index, names)
                if name in static and port.get_partial_shape().is_dynamic:
                    shapes[port] = ov.PartialShape(list(static[name]))
        if shapes:
            try:
                ov_model.reshape(shapes)
            except Exception as exc:  # the shapes fed do not fit the model (a Reshape to a fixed size)
                names = declared_names(model.path)[0]
                fed = ", ".join(f"{_port_name(p, i, names)}: {s}" for i, (p, s) in enumerate(shapes.items()))
                raise ModelError(
                    f"OpenVINO could not reshape {model.path.name} for {device} to the input shapes {fed}: "
                    f"{first_line(exc)}"
                ) from None
        return ov_model, declared

    def compile_times(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> dict[str, float | None]:
        """Compile time cold (a core without a model cache) and from OpenVINO's cache (None without one)."""
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
        return {"compile_cold_s": cold.seconds, "compile_cached_s": cached}

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
