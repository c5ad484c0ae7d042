"""Model references: resolving paths, hashing model files, and the per-session compile memo."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelError, Unsupported
from .files import sha256_of
from .types import ONNXRUNTIME, DeviceSpec, ModelFile, Runtime

if TYPE_CHECKING:
    from .runtimes import CompiledModel
    from .runtimes.engines import Engine
    from .types import CompileConfig

FORMATS = {".onnx": "onnx", ".xml": "ir"}
LFS_POINTER = b"version https://git-lfs.github.com/spec/"

_EXPECTED = "expected an ONNX model (.onnx) or OpenVINO IR (.xml with its .bin beside it)"
_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_a_file(path: Path, st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        inside = (
            sorted(p.name for p in path.iterdir() if p.suffix.lower() in FORMATS)[:5]
            if os.access(path, os.R_OK)
            else []
        )
        held = f" (it holds {', '.join(inside)})" if inside else ""
        return f"{path} is a directory{held}; {_EXPECTED}: give the model file's path"
    kind = next((text for test, text in _KINDS if test(st.st_mode)), "not a regular file")
    return f"{path} is {kind}, not a model file; {_EXPECTED}"


def _missing(path: Path, ref: str | os.PathLike[str], base_dir: Path) -> str:
    hint = "" if Path(ref).is_absolute() else f" (relative paths resolve against {base_dir})"
    if path.is_symlink():
        return f"model file not found: {path} is a symbolic link to {os.readlink(path)}, which does not exist"
    folder = path.parent
    if not folder.is_dir():
        return f"model file not found: {path}{hint}; the folder {folder} does not exist"
    try:
        near = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in FORMATS)
    except OSError:
        near = []
    there = f"; {folder} holds {', '.join(near[:8])}{' ...' if len(near) > 8 else ''}" if near else ""
    return f"model file not found: {path}{hint}{there}"


def _check_readable(path: Path, fmt: str, what: str) -> None:
    """What can be told of a model file before a runtime reads it: that it can be opened, is not empty,
    and is not a Git LFS pointer (the runtime's own message would not say so)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise ModelError(f"{what}: model file {path} cannot be read: {exc.strerror or exc}") from None
    if not head:
        kind = "an ONNX model" if fmt == "onnx" else "OpenVINO IR XML"
        raise ModelError(f"{what}: model file {path} is empty (0 bytes); expected {kind}")
    if head.startswith(LFS_POINTER):
        raise ModelError(
            f"{what}: model file {path} is a Git LFS pointer, not the model: fetch it with `git lfs pull` (or install git-lfs before cloning)"
        )


def resolve_model(ref: str | os.PathLike[str], base_dir: Path, what: str) -> tuple[Path, str, tuple[Path, ...]]:
    """Check that ``ref`` names a model file (relative paths against ``base_dir``); ``what`` says where
    the reference came from, for the error message."""
    path = Path(ref)
    if not path.is_absolute():
        path = base_dir / path
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError(f"{what}: {_missing(path, ref, base_dir)}") from None
    except OSError as exc:  # a loop of links, a name too long, a folder on the way that is a file
        raise ModelError(f"{what}: model file {path} cannot be used: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{what}: {_not_a_file(path, st)}")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        found = f"'{path.suffix}'" if path.suffix else "no extension"
        note = "; a .bin is the weights of OpenVINO IR: give its .xml" if path.suffix.lower() == ".bin" else ""
        raise ModelError(f"{what}: {path} is not a model file this plugin loads ({found}): {_EXPECTED}{note}")
    _check_readable(path, fmt, what)
    files: tuple[Path, ...] = (path,)
    if fmt == "ir":
        weights = path.with_suffix(".bin")
        if not weights.is_file():
            state = "is not a file" if weights.exists() else "is missing"
            raise ModelError(f"{what}: OpenVINO IR {path} has no weights file beside it: {weights} {state}")
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
        try:
            key = (path.resolve(), *_identity(files))
            digest = self._hashes.get(key)
            if digest is None:
                digest = self._hashes[key] = sha256_of(*files)
        except OSError as exc:  # removed or made unreadable since it was looked at
            raise ModelError(
                f"{what}: model file {exc.filename or path} cannot be read: {exc.strerror or exc}"
            ) from None
        return ModelFile(path=path, format=fmt, files=files, sha256=digest)

    def engine(self, runtime: Runtime) -> Engine:
        if runtime not in self._engines:
            from .runtimes.engines import engine_for

            self._engines[runtime] = engine_for(runtime, cache_dir=self.cache_dir)
        return self._engines[runtime]

    def compile(self, model: ModelFile, device: DeviceSpec, config: CompileConfig) -> CompiledModel:
        if device.runtime == ONNXRUNTIME and model.format != "onnx":
            raise Unsupported(
                f"ONNX Runtime runs ONNX models only; {model.name} is OpenVINO IR (use an OpenVINO device)"
            )
        if device.runtime == ONNXRUNTIME and (config.batch is not None or config.shapes):
            config = config.with_(batch=None, shapes=())  # ONNX Runtime runs dynamic shapes as they are
        key = (model.sha256, device.id, config)
        if key not in self._compiled:
            self._compiled[key] = self.engine(device.runtime).compile(model, device, config)
        return self._compiled[key]


def _identity(files: tuple[Path, ...]) -> tuple[int, int]:
    stats = [f.stat() for f in files]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)
