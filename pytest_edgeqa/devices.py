"""Device specs: parsing ``[runtime:]DEVICE``, availability as the runtimes report it, fallback detection."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import ConfigError
from .types import ONNXRUNTIME, OPENVINO, ORT_PROVIDERS, VIRTUAL, DeviceSpec, Runtime

RUNTIME_PREFIXES: Mapping[str, Runtime] = {
    "ov": OPENVINO,
    "openvino": OPENVINO,
    "ort": ONNXRUNTIME,
    "onnxruntime": ONNXRUNTIME,
}

_OV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*(\.\d+)?$")

DEVICE_SYNTAX = (
    "expected [runtime:]DEVICE such as CPU, GPU, GPU.1, NPU, AUTO, AUTO:GPU,CPU, "
    "HETERO:NPU,CPU (OpenVINO) or ort:cpu, ort:cuda, ort:tensorrt, ort:openvino (ONNX Runtime)"
)


def _parse_ov_name(name: str, token: str) -> str:
    if not _OV_NAME.match(name):
        raise ConfigError(f"{token!r} is not a device: {name!r} is not an OpenVINO device name; {DEVICE_SYNTAX}")
    return name


def parse_device(token: str) -> DeviceSpec:
    """Parse one device token; ``ConfigError`` names the token and the expected syntax."""
    raw = token.strip()
    if not raw:
        raise ConfigError(f"empty device name; {DEVICE_SYNTAX}")
    runtime: Runtime = OPENVINO
    rest = raw
    head, sep, tail = raw.partition(":")
    if sep and head.lower() in RUNTIME_PREFIXES:
        runtime, rest = RUNTIME_PREFIXES[head.lower()], tail
    elif sep and head.upper() not in VIRTUAL:
        raise ConfigError(
            f"{raw!r} is not a device: unknown runtime {head!r} "
            f"(runtimes: ov, ort; OpenVINO virtual devices: {', '.join(VIRTUAL)}); {DEVICE_SYNTAX}"
        )
    if not rest:
        raise ConfigError(f"{raw!r} is not a device: nothing after {head + ':'!r}; {DEVICE_SYNTAX}")

    if runtime == ONNXRUNTIME:
        if rest.lower() in ORT_PROVIDERS:
            return DeviceSpec(ONNXRUNTIME, ORT_PROVIDERS[rest.lower()])
        if rest.endswith("ExecutionProvider"):
            return DeviceSpec(ONNXRUNTIME, rest)
        raise ConfigError(
            f"{raw!r} is not a device: unknown ONNX Runtime execution provider {rest!r} "
            f"(known: {', '.join(ORT_PROVIDERS)}, or a full name ending in 'ExecutionProvider')"
        )

    vhead, vsep, vtail = rest.upper().partition(":")
    if vhead in VIRTUAL:
        if not vsep:
            if vhead != "AUTO":
                raise ConfigError(f"{raw!r} is not a device: {vhead} needs candidate devices, e.g. {vhead}:GPU,CPU")
            return DeviceSpec(OPENVINO, "AUTO")
        cands = [c.strip() for c in vtail.split(",")]
        if not all(cands):
            raise ConfigError(f"{raw!r} is not a device: empty candidate in {vhead}'s list; {DEVICE_SYNTAX}")
        for c in cands:
            if c.startswith("-") and vhead != "AUTO":
                raise ConfigError(f"{raw!r} is not a device: only AUTO excludes devices with '-'")
            _parse_ov_name(c.lstrip("-"), raw)
            if c.lstrip("-") in VIRTUAL:
                raise ConfigError(f"{raw!r} is not a device: a virtual device cannot be a candidate of {vhead}")
        return DeviceSpec(OPENVINO, f"{vhead}:{','.join(cands)}")
    return DeviceSpec(OPENVINO, _parse_ov_name(rest.upper(), raw))


def parse_devices(text: str) -> list[DeviceSpec]:
    """Parse a comma/space separated list. A virtual device's candidate list takes the plain names
    that follow it (``AUTO:GPU,CPU,ort:cpu`` is AUTO over GPU and CPU, then ort:cpu); repeat the
    option to list a plain device after a virtual one."""
    specs: list[DeviceSpec] = []
    for chunk in text.split():
        parts = chunk.split(",")
        i = 0
        while i < len(parts):
            token = parts[i]
            i += 1
            head, sep, _ = token.rpartition(":")
            is_virtual = sep and head.split(":")[-1].upper() in VIRTUAL
            while is_virtual and i < len(parts) and parts[i] and ":" not in parts[i]:
                token += "," + parts[i]
                i += 1
            specs.append(parse_device(token))
    seen: set[str] = set()
    return [s for s in specs if not (s.id in seen or seen.add(s.id))]  # type: ignore[func-returns-value]


@dataclass(frozen=True)
class Inventory:
    """What each runtime reports as present. ``None`` means the runtime itself is not usable."""

    openvino: tuple[str, ...] | None = None
    onnxruntime: tuple[str, ...] | None = None
    problems: tuple[tuple[Runtime, str], ...] = ()

    def listed(self, runtime: Runtime) -> tuple[str, ...]:
        found = self.openvino if runtime == OPENVINO else self.onnxruntime
        return found or ()

    def describe(self, runtime: Runtime) -> str:
        found = self.openvino if runtime == OPENVINO else self.onnxruntime
        label = "OpenVINO" if runtime == OPENVINO else "ONNX Runtime"
        if found is None:
            why = dict(self.problems).get(runtime, "not installed")
            return f"{label} is not usable: {why}"
        if runtime == ONNXRUNTIME:
            return f"{label} has: " + ", ".join(DeviceSpec(ONNXRUNTIME, p).id for p in found)
        return f"{label} has: " + (", ".join(found) or "no devices")

    def _ov_has(self, name: str) -> bool:
        found = self.listed(OPENVINO)
        if name in found:
            return True
        family, _, index = name.partition(".")
        if not index:  # "GPU" asks for any GPU: OpenVINO lists GPU.0, GPU.1 when there are several
            return any(d.split(".", 1)[0] == family for d in found)
        # A single GPU is listed as plain "GPU"; it is GPU.0.
        return index == "0" and family in found

    def missing(self, spec: DeviceSpec) -> str | None:
        """Why ``spec`` cannot run here, naming it and listing what is available; ``None`` if it can."""
        runtime_ok = (self.openvino if spec.runtime == OPENVINO else self.onnxruntime) is not None
        if not runtime_ok:
            return f"{spec.id} is not available: {self.describe(spec.runtime)}"
        if spec.runtime == ONNXRUNTIME:
            ok = spec.name in self.listed(ONNXRUNTIME)
        elif spec.virtual == "AUTO":
            # AUTO over a list falls back to later candidates silently; the first one is the one meant.
            ok = self._ov_has(spec.candidates[0]) if spec.candidates else bool(self.listed(OPENVINO))
        elif spec.virtual:
            ok = all(self._ov_has(c) for c in spec.candidates)
        else:
            ok = self._ov_has(spec.name)
        if ok:
            return None
        wanted = spec.id
        if spec.virtual and spec.candidates:
            absent = [c for c in spec.candidates if not self._ov_has(c)]
            wanted = f"{spec.id} ({', '.join(absent)} missing)"
        return f"{wanted} is not available: {self.describe(spec.runtime)}"


def discover(runtimes: Iterable[Runtime]) -> Inventory:
    """Ask each runtime in ``runtimes`` what it has. Imports only those runtimes."""
    ov: tuple[str, ...] | None = None
    ort: tuple[str, ...] | None = None
    problems: list[tuple[Runtime, str]] = []
    for rt in set(runtimes):
        try:
            if rt == OPENVINO:
                from .runtimes.openvino import available_devices as ov_devices

                ov = ov_devices()
            else:
                from .runtimes.onnxruntime import available_devices as ort_devices

                ort = ort_devices()
        except Exception as exc:  # an absent or broken runtime is a fact about this machine, reported as such
            problems.append((rt, f"{type(exc).__name__}: {exc}"))
    return Inventory(openvino=ov, onnxruntime=ort, problems=tuple(problems))


def fallback(spec: DeviceSpec, execution: Iterable[str], inventory: Inventory) -> str | None:
    """Compare what a compiled model runs on with what was asked; a message if it fell back."""
    ran = tuple(execution)
    ran_families = {d.split(".", 1)[0] for d in ran}
    if spec.runtime == ONNXRUNTIME:
        if spec.name in ran:
            return None
        return (
            f"fell back: asked for {spec.id} ({spec.name}) but ONNX Runtime's session runs on "
            f"{', '.join(ran) or 'nothing'}; {inventory.describe(ONNXRUNTIME)}"
        )
    if spec.virtual == "AUTO" and not spec.candidates:
        gpus = [d for d in inventory.listed(OPENVINO) if d.startswith("GPU")]
        if gpus and "GPU" not in ran_families:
            return f"fell back: AUTO ran on {', '.join(ran)} although {', '.join(gpus)} is available"
        return None
    if spec.virtual in ("AUTO", "HETERO"):
        first = spec.candidates[0]
        if first in ran or (first.split(".", 1)[0] in ran_families and "." not in first):
            return None
        return f"fell back: {spec.id} was meant to run on {first} but runs on {', '.join(ran) or 'nothing'}"
    if spec.virtual:  # MULTI, BATCH: every candidate takes part
        absent = [c for c in spec.candidates if c not in ran and c not in ran_families]
        if not absent:
            return None
        return f"fell back: {spec.id} runs on {', '.join(ran)}, without {', '.join(absent)}"
    if ran and all(d == spec.name or (d.split(".", 1)[0] == spec.name) for d in ran):
        return None
    return f"fell back: asked for {spec.id} but OpenVINO runs it on {', '.join(ran) or 'nothing'}"
