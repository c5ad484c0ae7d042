"""Which adapter runs a runtime: the protocol every engine implements, and the (expensive) import of one."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from ..types import CompileConfig, DeviceSpec, ModelFile, Runtime
    from . import CompiledModel


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
