"""Model references: resolving paths, hashing model files, and the per-session compile memo."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .devices import ONNXRUNTIME, DeviceSpec, Runtime
from .errors import ModelError, Unsupported

if TYPE_CHECKING:
    from .runtimes import CompileConfig, CompiledModel, Engine

FORMATS = {".onnx": "onnx", ".xml": "ir"}


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


def _sha256(files: tuple[Path, ...]) -> str:
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def resolve_model(ref: str | os.PathLike[str], base_dir: Path, what: str) -> tuple[Path, str, tuple[Path, ...]]:
    """Check that ``ref`` names a model file (relative paths against ``base_dir``); ``what`` says where
    the reference came from, for the error message."""
    path = Path(ref)
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        hint = "" if Path(ref).is_absolute() else f" (relative paths resolve against {base_dir})"
        raise ModelError(f"{what}: model file not found: {path}{hint}")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ModelError(
            f"{what}: {path} is not a model file this plugin loads: expected an ONNX model (.onnx) "
            f"or OpenVINO IR (.xml with its .bin beside it)"
        )
    files: tuple[Path, ...] = (path,)
    if fmt == "ir":
        weights = path.with_suffix(".bin")
        if not weights.is_file():
            raise ModelError(f"{what}: OpenVINO IR {path} has no weights file beside it: {weights} is missing")
        files = (path, weights)
    return path, fmt, files


@dataclass
class ModelStore:
    """Per-session memo: model hashes by file identity, compiled models by (hash, device, config)."""

    cache_dir: str | None = None
    _hashes: dict[tuple[Path, int, int], str] = field(default_factory=dict)
    _compiled: dict[tuple[str, str, CompileConfig], CompiledModel] = field(default_factory=dict)
    _engines: dict[Runtime, Engine] = field(default_factory=dict)

    def model(self, ref: str | os.PathLike[str], base_dir: Path, what: str) -> ModelFile:
        path, fmt, files = resolve_model(ref, base_dir, what)
        key = (path.resolve(), *_identity(files))
        digest = self._hashes.get(key)
        if digest is None:
            digest = self._hashes[key] = _sha256(files)
        return ModelFile(path=path, format=fmt, files=files, sha256=digest)

    def engine(self, runtime: Runtime) -> Engine:
        if runtime not in self._engines:
            from .runtimes import engine_for

            self._engines[runtime] = engine_for(runtime, cache_dir=self.cache_dir)
        return self._engines[runtime]

    def compile(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> CompiledModel:
        if device.runtime == ONNXRUNTIME and model.format != "onnx":
            raise Unsupported(
                f"ONNX Runtime runs ONNX models only; {model.name} is OpenVINO IR (use an OpenVINO device)"
            )
        if device.runtime == ONNXRUNTIME and config.batch is not None:
            config = config.with_(batch=None)  # ONNX Runtime runs dynamic batches as they are
        key = (model.sha256, device.id, config)
        if key not in self._compiled:
            self._compiled[key] = self.engine(device.runtime).compile(model, device, config)
        return self._compiled[key]


def _identity(files: tuple[Path, ...]) -> tuple[int, int]:
    stats = [f.stat() for f in files]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)
