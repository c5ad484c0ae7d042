"""Golden store: reading, atomic writing, provenance manifests, and detection of unused goldens."""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .devices import cpu_features
from .errors import EdgeQAError

SCHEMA = 1
MANIFEST_KEY = "__manifest__"  # the manifest travels inside the .npz too: one atomic rename carries both
LFS_SIGNATURE = b"version https://git-lfs.github.com/spec/"
UPDATE_MODES = ("failing", "new", "all")


class GoldenError(EdgeQAError):
    """A golden file that cannot be trusted: named, with what is wrong and how to fix it."""


def array_sha256(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode() + b"\0" + array_sha256(arrays[name]).encode())
    return h.hexdigest()


def summary(arr: np.ndarray) -> dict[str, Any]:
    entry: dict[str, Any] = {"shape": list(arr.shape), "dtype": arr.dtype.name, "sha256": array_sha256(arr)}
    if arr.size and arr.dtype.kind in "fiub":
        a = arr.astype(np.float64)
        finite = a[np.isfinite(a)]
        if finite.size:
            entry["stats"] = {
                k: round(float(v), 6)
                for k, v in (
                    ("min", finite.min()),
                    ("max", finite.max()),
                    ("mean", finite.mean()),
                    ("std", finite.std()),
                )
            }
        nonfinite = int(a.size - finite.size)
        if nonfinite:
            entry["nonfinite"] = nonfinite
    return entry


@dataclass
class Golden:
    path: Path  # the .npz
    outputs: dict[str, np.ndarray]
    manifest: dict[str, Any]

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


def manifest_path(npz: Path) -> Path:
    return npz.with_suffix(".json")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_write(path: Path, data: bytes) -> None:
    """Temporary file in the same directory, fsync, rename: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; goldens are shared files, committed to git
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _manifest_text(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"


def write(path: Path, outputs: Mapping[str, np.ndarray], manifest: dict[str, Any]) -> Golden:
    """Write the .npz (arrays plus the embedded manifest) atomically, then the readable manifest beside it."""
    manifest = {**manifest, "schema": SCHEMA, "outputs": {n: summary(np.asarray(a)) for n, a in outputs.items()}}
    text = _manifest_text(manifest)
    buf = io.BytesIO()
    arrays: dict[str, Any] = {f"output/{n}": np.asarray(a) for n, a in outputs.items()}
    arrays[MANIFEST_KEY] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez_compressed(buf, **arrays)
    _atomic_write(path, buf.getvalue())
    # If a run dies between the two renames, read() notices the stale .json and rewrites it.
    _atomic_write(manifest_path(path), text.encode())
    return Golden(path, {n: np.asarray(a) for n, a in outputs.items()}, manifest)


def read(path: Path) -> Golden:
    """Load a golden; every way it can be broken is a ``GoldenError`` that names the file."""
    try:
        head = path.read_bytes()[:200]
    except OSError as exc:
        raise GoldenError(f"golden {path} cannot be read: {exc.strerror}") from None
    if head.startswith(LFS_SIGNATURE):
        raise GoldenError(
            f"golden {path} is a Git LFS pointer, not the data: fetch it with `git lfs pull` (or install git-lfs before cloning)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            entries = {n: npz[n] for n in npz.files}  # every entry, so a pickled one is refused here
        if MANIFEST_KEY not in entries:
            raise GoldenError(
                f"golden {path} has no embedded manifest: it was not written by pytest-edgeqa; re-record it with --update-golden"
            )
        manifest = json.loads(bytes(entries[MANIFEST_KEY]).decode())
        outputs = {n.split("/", 1)[1]: a for n, a in entries.items() if n.startswith("output/")}
    except GoldenError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise GoldenError(
                f"golden {path} contains pickled objects; goldens hold plain arrays only, so it is not loaded (allow_pickle=False)"
            ) from None
        raise GoldenError(f"golden {path} is corrupt ({exc}); re-record it with --update-golden") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GoldenError(
            f"golden {path} is truncated or corrupt ({type(exc).__name__}: {exc}); re-record it with --update-golden"
        ) from None
    for name, arr in outputs.items():
        recorded = manifest.get("outputs", {}).get(name, {}).get("sha256")
        if recorded != array_sha256(arr):
            raise GoldenError(
                f"golden {path}: output {name!r} does not match the checksum in its manifest; re-record it with --update-golden"
            )
    golden = Golden(path, outputs, manifest)
    mpath = manifest_path(path)
    text = _manifest_text(manifest)
    try:
        stale = mpath.read_text(encoding="utf-8") != text
    except OSError:
        stale = True
    if stale:  # the readable copy is derived from the embedded one; heal it (e.g. after an interrupted update)
        _atomic_write(mpath, text.encode())
    return golden


def golden_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.npz") if not p.name.startswith(".")) if root.is_dir() else []


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    manifest_path(path).unlink(missing_ok=True)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]+")


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "golden"


# --------------------------------------------------------------------------------------- unused goldens


@dataclass
class Usage:
    """What a session did with goldens, merged from every worker's reports on the controller."""

    touched: set[str] = field(default_factory=set)  # golden paths, relative to the golden dir
    passed_owners: set[str] = field(default_factory=set)  # owners with an item that ran and passed
    seen_owners: set[str] = field(default_factory=set)  # owners of every selected item, skipped ones too


def unused(root: Path, usage: Usage, full_run: bool) -> list[Path]:
    """Goldens that no selected test touched. A golden is unused when its test passed without using it,
    or, in a run that selected everything, when its test no longer exists. Skipped, failed and
    deselected tests never make a golden unused (a failure may have stopped before the golden)."""
    found = []
    for path in golden_files(root):
        if path.relative_to(root).as_posix() in usage.touched:
            continue
        try:
            owner = read_owner(path)
        except GoldenError:
            continue  # a broken file is reported by the test that reads it
        if owner in usage.passed_owners or (full_run and owner not in usage.seen_owners):
            found.append(path)
    return found


def read_owner(path: Path) -> str:
    try:
        return str(json.loads(manifest_path(path).read_text(encoding="utf-8"))["test"]["owner"])
    except (OSError, KeyError, ValueError, TypeError):
        return str(read(path).manifest["test"]["owner"])


def update_allowed(mode: str | None, exists: bool, failing: bool) -> bool:
    if mode is None:
        return False
    if mode == "all":
        return True
    if mode == "new":
        return not exists
    return not exists or failing


def provenance(extra: Iterable[tuple[str, Any]] = ()) -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for dist in ("pytest-edgeqa", "numpy", "openvino", "onnxruntime", "nncf"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return {"versions": versions, "cpu": {"features": cpu_features(), "machine": platform.machine()}, **dict(extra)}
