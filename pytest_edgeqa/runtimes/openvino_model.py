"""A model compiled by OpenVINO: inputs checked against its ports, one inference or many (asynchronous,
batched), and a runtime error while running as one message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from ..errors import InputError
from ..types import RunInfo
from . import CompiledModel, batch_of, describe_inputs, empty_output, empty_outputs, running
from .openvino_reading import tensor_specs


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
        self.inputs = tensor_specs(compiled.inputs, names[0])
        self.outputs = tensor_specs(compiled.outputs, names[1])
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

    def _batched_async(self, inputs: dict[str, np.ndarray], n: int, batch: int, progress: Any) -> dict[str, np.ndarray]:
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
