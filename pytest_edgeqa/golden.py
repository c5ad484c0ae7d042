"""Golden store: reading and atomic writing of goldens, provenance manifests, and detection of unused goldens."""

from __future__ import annotations

import hashlib
import io
import json
import platform
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .files import write_atomic
from .golden_file import MANIFEST_KEY, SCHEMA, Archive, GoldenError, first_words, fix_advice, kind_of_json
from .runtimes import contiguous
from .runtimes.host import cpu_features
from .usage import Usage

UPDATE_MODES = ("failing", "new", "all")


def array_sha256(arr: np.ndarray) -> str:
    a = contiguous(arr)  # not np.ascontiguousarray: it makes a 0-d array [1], which would hash as one
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
    problems: list[str] = field(default_factory=list)  # what is wrong around sound data (the readable manifest)

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


def manifest_path(npz: Path) -> Path:
    return npz.with_suffix(".json")


TMP_DIR = ".edgeqa-tmp"  # under the golden dir: temporary files of atomic writes; git ignores it


def _tmp_dir(root: Path) -> Path:
    """The folder for temporary files: inside the golden dir (so the final rename stays on one file
    system) and ignored by git with its own .gitignore, as pytest's cache dir is: a file left by a
    killed write is never picked up by `git add golden/`."""
    folder = root / TMP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# temporary files of pytest-edgeqa's atomic golden writes\n*\n", encoding="utf-8")
    return folder


def _atomic_write(path: Path, data: bytes, root: Path | None = None) -> None:
    """An atomic write whose temporary file lives in the golden dir's self-ignoring temporary folder."""
    write_atomic(path, data, _tmp_dir(root if root is not None else path.parent))


def _manifest_text(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"


def nonfinite_problem(name: str, arr: np.ndarray) -> str | None:
    """Why an output cannot be a golden: a float output without a single finite value judges nothing."""
    a = np.asarray(arr)
    if not a.size or a.dtype.kind not in "fc" or np.isfinite(a).any():
        return None
    nan = int(np.isnan(a).sum())
    if nan == a.size:
        return f"output {name!r} is all NaN ({a.size} elements)"
    return f"output {name!r} has no finite value ({nan} NaN, {int(np.isposinf(a).sum())} +inf, {int(np.isneginf(a).sum())} -inf of {a.size} elements)"


def write(path: Path, outputs: Mapping[str, np.ndarray], manifest: dict[str, Any], root: Path | None = None) -> Golden:
    """Write the .npz (arrays plus the embedded manifest) atomically, then the readable manifest beside it.
    ``root`` is the golden dir (its temporary folder is used); by default the file's own folder.
    An output with no finite value is refused: such a golden would pass or fail anything."""
    for name, arr in outputs.items():
        problem = nonfinite_problem(name, arr)
        if problem:
            raise GoldenError(
                f"refusing to record golden {path}: {problem}; a golden without a finite value judges nothing. "
                "Check the inputs (seed, data, columns=) and the model on them"
            )
    manifest = {**manifest, "schema": SCHEMA, "outputs": {n: summary(np.asarray(a)) for n, a in outputs.items()}}
    text = _manifest_text(manifest)
    buf = io.BytesIO()
    arrays: dict[str, Any] = {f"output/{n}": np.asarray(a) for n, a in outputs.items()}
    arrays[MANIFEST_KEY] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez_compressed(buf, **arrays)
    _atomic_write(path, buf.getvalue(), root)
    # If a run dies between the two renames, read() reports the stale .json (a plain run never writes).
    _atomic_write(manifest_path(path), text.encode(), root)
    return Golden(path, {n: np.asarray(a) for n, a in outputs.items()}, manifest)


def read(path: Path) -> Golden:
    """Load a golden; every way it can be broken is a ``GoldenError`` that names the file. Headers are
    checked against the manifest before any array is read, so a declared size can never exhaust memory."""
    with Archive(path) as archive:
        manifest = archive.manifest()
        members = {}
        for name, entry in manifest["outputs"].items():
            member = archive.headers[f"output/{name}"]
            if list(member.shape) != entry["shape"] or member.dtype.name != entry["dtype"]:
                raise GoldenError(
                    f"golden {path}: output {name!r} is {list(member.shape)} {member.dtype.name} in the archive, but its "
                    f"manifest says {entry['shape']} {entry['dtype']}; it is corrupt or edited, and is not loaded; {fix_advice(path)}"
                )
            members[name] = member
        outputs = {name: archive.data(member) for name, member in members.items()}
    for name, arr in outputs.items():
        if manifest["outputs"][name]["sha256"] != array_sha256(arr):
            raise GoldenError(
                f"golden {path}: output {name!r} does not match the checksum in its manifest; re-record it with --update-golden"
            )
    return Golden(path, outputs, manifest, _readable_problems(path, manifest))


def _readable_problems(path: Path, manifest: dict[str, Any]) -> list[str]:
    """The readable .json is what a reviewer sees in a diff; it must say what the embedded manifest says.
    Compared as JSON, so line endings (git's autocrlf) and formatting do not matter. Reported, never
    rewritten here: a plain run does not write, and the golden dir may be read-only."""
    mpath = manifest_path(path)
    fix = (
        f"restore it from git (`git checkout -- {mpath}`) if {path.name} is the golden you want, "
        "or re-record the golden (which writes both)"
    )
    try:
        readable = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"its readable manifest {mpath} is missing; {fix}"]
    except (OSError, ValueError, RecursionError) as exc:
        return [f"its readable manifest {mpath} cannot be read ({type(exc).__name__}: {first_words(exc)}); {fix}"]
    if not isinstance(readable, dict):
        return [f"its readable manifest {mpath} is {kind_of_json(readable)}, not a JSON object; {fix}"]
    if readable != json.loads(_manifest_text(manifest)):
        return [
            f"its readable manifest {mpath} disagrees with the manifest embedded in {path} (edited by hand, merged, "
            f"or an update was killed between its two renames); {fix}"
        ]
    return []


def read_manifest(path: Path) -> dict[str, Any]:
    """Only the manifest embedded in a golden, checked (the arrays are not decompressed)."""
    with Archive(path) as archive:
        return archive.manifest()


def owner_of(path: Path) -> dict[str, Any]:
    """Whom a golden belongs to: ``{"owner": ..., "device"?: ..., "name"?: ...}`` from its embedded manifest."""
    test = read_manifest(path).get("test")
    if not isinstance(test, dict) or not isinstance(test.get("owner"), str):
        raise GoldenError(f"golden {path}: its manifest names no owner test")
    return test


def golden_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.npz") if not any(part.startswith(".") for part in p.relative_to(root).parts))


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    manifest_path(path).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------- unused goldens


def unused(root: Path, usage: Usage, module_gone: Callable[[str], bool] | None) -> list[Path]:
    """Goldens no test of this (finished) session used. A golden is unused when its test passed, on the
    golden's device, without touching it; or when its test is gone: its module was collected and no item
    of that test was (before deselection), or ``module_gone`` says so of a module that was not collected
    (None: a run that cannot tell, e.g. one narrowed by node ids). Out of scope, so never unused: goldens
    of devices not in this run, of parameters not in this run, of modules left out of it."""
    found = []
    for path in golden_files(root):
        if path.relative_to(root).as_posix() in usage.touched:
            continue
        try:
            test = owner_of(path)
        except GoldenError:
            continue  # a broken file is reported by the test that reads it
        owner, device = str(test["owner"]), test.get("device")
        if device is not None and device not in usage.devices:
            continue
        if device is not None:
            passed = (owner, device) in usage.passed
        else:  # recorded before manifests named the device: any of the test's items
            passed = any(o == owner for o, _ in usage.passed)
        if passed or (module_gone is not None and _gone(owner, usage, module_gone)):
            found.append(path)
    return found


def _gone(owner: str, usage: Usage, module_gone: Callable[[str], bool]) -> bool:
    module = owner.split("::", 1)[0]
    if module in usage.modules:
        return owner.partition("[")[0] not in usage.tests
    return module_gone(module)


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
