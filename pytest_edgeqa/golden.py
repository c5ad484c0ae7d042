"""Golden store: file names, reading, atomic writing, provenance manifests, and detection of unused goldens."""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EdgeQAError
from .files import write_atomic
from .runtimes import contiguous
from .runtimes.host import cpu_features
from .usage import Usage

SCHEMA = 1
MANIFEST_KEY = "__manifest__"  # the manifest travels inside the .npz too: one atomic rename carries both
LFS_SIGNATURE = b"version https://git-lfs.github.com/spec/"
UPDATE_MODES = ("failing", "new", "all")


class GoldenError(EdgeQAError):
    """A golden file that cannot be trusted: named, with what is wrong and how to fix it."""


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


def _fix(path: Path) -> str:
    return f"re-record it with --update-golden (or restore {path.name} from git)"


def _kind_of_json(value: Any) -> str:
    return {
        list: "a JSON list",
        str: "a JSON string",
        int: "a JSON number",
        float: "a JSON number",
        bool: "a JSON boolean",
        type(None): "JSON null",
    }.get(type(value), type(value).__name__)


REQUIRED_KEYS = ("schema", "test", "inputs", "outputs")  # what a golden's manifest must hold to be judged
MAX_MANIFEST_BYTES = 16 << 20
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand beyond ~1032:1: a member declaring more is corrupt or hostile
_NUMERIC_KINDS = "biufc"


@dataclass(frozen=True)
class _Member:
    """One .npy member of a golden, as its header declares it (checked before any data is read)."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool
    offset: int  # where the data starts in the member

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class _Archive:
    """A golden .npz opened for reading: every structural check runs before any array is decompressed,
    so a damaged or hostile file is a ``GoldenError`` naming the file, never a MemoryError, a hang or
    an unpickled object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _check_file(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise GoldenError(
                f"golden {path} is truncated or corrupt ({type(exc).__name__}: {exc}); {_fix(path)}"
            ) from None
        try:
            self.members = self._members()
            # Every header first: an object array is refused as such, whatever else is wrong.
            self.headers = {key: self._header(key) for key in self.members}
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def _members(self) -> dict[str, zipfile.ZipInfo]:
        infos = self.zip.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise GoldenError(f"golden {self.path} holds a member twice; it is corrupt or edited; {_fix(self.path)}")
        if f"{MANIFEST_KEY}.npy" not in names:
            raise GoldenError(
                f"golden {self.path} has no embedded manifest: it was not written by pytest-edgeqa; re-record it with --update-golden"
            )
        extra = [
            n for n in names if not n.endswith(".npy") or (n != f"{MANIFEST_KEY}.npy" and not n.startswith("output/"))
        ]
        if extra:
            shown = ", ".join(repr(n) for n in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
            raise GoldenError(
                f"golden {self.path} holds {shown}, which pytest-edgeqa never writes (a golden holds "
                f"{MANIFEST_KEY}.npy and output/<name>.npy only); it is not read; {_fix(self.path)}"
            )
        return {i.filename.removesuffix(".npy"): i for i in infos}

    def _header(self, key: str) -> _Member:
        """Parse a member's .npy header and check it against the member's size, without reading data."""
        info = self.members[key]
        where = f"golden {self.path}: member {info.filename!r}"
        try:
            with self.zip.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f".npy format version {version[0]}.{version[1]}, not 1.0 or 2.0")
                offset = fh.tell()
        except (ValueError, SyntaxError, TypeError) as exc:
            raise GoldenError(f"{where} is not a valid .npy array ({first_words(exc)}); {_fix(self.path)}") from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise GoldenError(
                f"golden {self.path} is truncated or corrupt ({type(exc).__name__}: {first_words(exc)}); {_fix(self.path)}"
            ) from None
        member = _Member(info, tuple(int(d) for d in shape), dtype, bool(fortran), offset)
        if dtype.hasobject:
            raise GoldenError(
                f"golden {self.path} contains pickled objects; goldens hold plain arrays only, so it is not loaded "
                f"(allow_pickle=False): member {info.filename!r} has dtype object"
            )
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise GoldenError(
                f"{where} has dtype {dtype.str!r}; goldens hold numeric arrays (bool, integer, float, complex) only; {_fix(self.path)}"
            )
        declared = offset + member.nbytes
        if info.file_size != declared or info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO + 4096:
            raise GoldenError(
                f"{where} declares shape {list(member.shape)} {dtype.name} ({declared} bytes with its header), but the "
                f"archive says it holds {info.file_size} bytes ({info.compress_size} compressed): it is corrupt or edited, "
                f"and is not loaded; {_fix(self.path)}"
            )
        return member

    def data(self, member: _Member) -> np.ndarray:
        """The array of a member whose header was checked: read into one buffer of the declared size."""
        buf = bytearray(member.nbytes)
        view = memoryview(buf)
        try:
            with self.zip.open(member.info) as fh:
                fh.read(member.offset)
                got = 0
                while got < len(buf):
                    chunk = fh.read(min(1 << 20, len(buf) - got))
                    if not chunk:
                        break
                    view[got : got + len(chunk)] = chunk
                    got += len(chunk)
                fh.read(1)  # reach the end: zipfile checks the CRC there
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise GoldenError(
                f"golden {self.path} is truncated or corrupt ({type(exc).__name__}: {first_words(exc)}); {_fix(self.path)}"
            ) from None
        if got != len(buf):
            raise GoldenError(
                f"golden {self.path}: member {member.info.filename!r} is truncated ({got} of {len(buf)} bytes); {_fix(self.path)}"
            )
        arr = np.frombuffer(buf, dtype=member.dtype)
        if member.fortran:
            return arr.reshape(member.shape[::-1]).transpose()
        return arr.reshape(member.shape)

    def manifest(self) -> dict[str, Any]:
        """The embedded manifest, checked: a JSON object with the keys a golden needs, of a schema this
        version reads, whose outputs are the archive's outputs."""
        path = self.path
        member = self.headers[MANIFEST_KEY]
        if member.dtype != np.uint8 or len(member.shape) != 1 or member.nbytes > MAX_MANIFEST_BYTES:
            raise GoldenError(
                f"golden {path}: its embedded manifest is {list(member.shape)} {member.dtype.name}, not UTF-8 JSON bytes "
                f"(uint8, at most {MAX_MANIFEST_BYTES} bytes); {_fix(path)}"
            )
        try:
            manifest = json.loads(bytes(self.data(member)).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise GoldenError(
                f"golden {path}: its embedded manifest is not JSON ({type(exc).__name__}: {first_words(exc)}); {_fix(path)}"
            ) from None
        check_manifest(manifest, f"golden {path}: its embedded manifest", path)
        listed = set(manifest["outputs"])
        held = {k.split("/", 1)[1] for k in self.members if k.startswith("output/")}
        if listed != held:
            parts = [f"lists output {n!r}, which the archive does not hold" for n in sorted(listed - held)]
            parts += [f"does not list output {n!r}, which the archive holds" for n in sorted(held - listed)]
            raise GoldenError(f"golden {path}: its manifest {'; '.join(parts)}; it is corrupt or edited; {_fix(path)}")
        return manifest


def first_words(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_file(path: Path) -> None:
    """The file before it is opened as an archive: a readable, non-empty zip, not a Git LFS pointer."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(200)
    except IsADirectoryError:
        raise GoldenError(f"golden {path} is a directory, not a golden file; move it aside") from None
    except OSError as exc:
        raise GoldenError(f"golden {path} cannot be read: {exc.strerror or exc}") from None
    if not head:
        raise GoldenError(
            f"golden {path} is empty (0 bytes): its write was cut short or it was truncated; {_fix(path)}"
        )
    if head.startswith(LFS_SIGNATURE):
        raise GoldenError(
            f"golden {path} is a Git LFS pointer, not the data: fetch it with `git lfs pull` (or install git-lfs before cloning)"
        )
    if not head.startswith(b"PK"):
        raise GoldenError(
            f"golden {path} is not an .npz archive: it starts with {head[:8]!r}, not a zip signature; it was not "
            f"written by pytest-edgeqa or is damaged; {_fix(path)}"
        )


def check_manifest(manifest: Any, what: str, path: Path) -> None:
    """A manifest a golden can be judged by: an object with the required keys, of a schema this version reads."""
    if not isinstance(manifest, dict):
        raise GoldenError(f"{what} is {_kind_of_json(manifest)}, not a JSON object; {_fix(path)}")
    schema = manifest.get("schema")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA:
        raise GoldenError(
            f"golden {path} was written by a newer pytest-edgeqa (manifest schema {schema}; this version reads "
            f"schema {SCHEMA}): upgrade pytest-edgeqa, or re-record it with this version (--update-golden)"
        )
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise GoldenError(
            f"{what} lacks {', '.join(map(repr, missing))} (a golden's manifest holds {', '.join(REQUIRED_KEYS)}); {_fix(path)}"
        )
    wrong = []
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        wrong.append(f"'schema' is {schema!r}, not a schema number")
    test = manifest["test"]
    if not isinstance(test, dict) or not isinstance(test.get("owner"), str):
        wrong.append("'test' is not an object naming its owner test")
    if not isinstance(manifest["inputs"], dict):
        wrong.append("'inputs' is not an object")
    outputs = manifest["outputs"]
    if not isinstance(outputs, dict):
        wrong.append("'outputs' is not an object")
    else:
        for name, entry in outputs.items():
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("shape"), list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in entry["shape"])
                and isinstance(entry.get("dtype"), str)
                and isinstance(entry.get("sha256"), str)
            ):
                wrong.append(f"'outputs' entry {name!r} does not give its shape, dtype and sha256")
    if wrong:
        raise GoldenError(f"{what} is malformed: {'; '.join(wrong[:5])}; {_fix(path)}")


def read(path: Path) -> Golden:
    """Load a golden; every way it can be broken is a ``GoldenError`` that names the file. Headers are
    checked against the manifest before any array is read, so a declared size can never exhaust memory."""
    with _Archive(path) as archive:
        manifest = archive.manifest()
        members = {}
        for name, entry in manifest["outputs"].items():
            member = archive.headers[f"output/{name}"]
            if list(member.shape) != entry["shape"] or member.dtype.name != entry["dtype"]:
                raise GoldenError(
                    f"golden {path}: output {name!r} is {list(member.shape)} {member.dtype.name} in the archive, but its "
                    f"manifest says {entry['shape']} {entry['dtype']}; it is corrupt or edited, and is not loaded; {_fix(path)}"
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
        return [f"its readable manifest {mpath} is {_kind_of_json(readable)}, not a JSON object; {fix}"]
    if readable != json.loads(_manifest_text(manifest)):
        return [
            f"its readable manifest {mpath} disagrees with the manifest embedded in {path} (edited by hand, merged, "
            f"or an update was killed between its two renames); {fix}"
        ]
    return []


def read_manifest(path: Path) -> dict[str, Any]:
    """Only the manifest embedded in a golden, checked (the arrays are not decompressed)."""
    with _Archive(path) as archive:
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


_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]+")
_HASHED = re.compile(r"-[0-9a-f]{8}$")


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "golden"


def _legacy_stem(test: str, name: str | None) -> str:
    return safe_name(test.replace("::", ".")) + (f"__{safe_name(name)}" if name else "")


def _readable(test: str, name: str | None, stem: str) -> bool:
    """Whether ``stem`` spells (test, name) so that no other pair can spell it: only safe characters,
    nothing dropped, one way to split test from name, and not the shape of a hashed stem."""
    if "." in test or "__" in test or safe_name(test.replace("::", ".")) != test.replace("::", "."):
        return False
    if name is not None and (name == "" or "__" in name or safe_name(name) != name):
        return False
    return _HASHED.search(stem) is None


OUTSIDE = "_outside_rootdir"  # goldens of test files outside the rootdir: a folder inside the golden dir


def _module_dir(module: str) -> tuple[str, bool]:
    """The folder of a module's goldens, relative to the golden dir, and whether it spells the module
    exactly. A module outside the rootdir (a path with '..', absolute, or empty) gets a folder under
    OUTSIDE made of its safe parts, so no golden path can leave the golden dir."""
    posix = module.replace("\\", "/")
    parts = posix.split("/")
    if (
        posix
        and not posix.startswith("/")
        and not re.match(r"^[A-Za-z]:", posix)
        and all(p not in ("", ".", "..") for p in parts)
    ):
        return Path(posix).with_suffix("").as_posix(), True
    kept = [
        safe_name(Path(p).stem if i == len(parts) - 1 else p) for i, p in enumerate(parts) if p not in ("", ".", "..")
    ]
    return "/".join([OUTSIDE, *(k for k in kept if k)]), False


def golden_rel(owner: str, name: str | None = None) -> str:
    """Where a golden lives, relative to the golden dir: ``<module path>/<test>[__<name>].npz``. Injective:
    when the readable stem lost information (a parametrized id's brackets, a character a file name cannot
    hold, a module outside the rootdir), a short hash of the exact owner and name is added, so two tests
    or names never share a file."""
    module, _, test = owner.partition("::")
    folder, exact = _module_dir(module)
    stem = _legacy_stem(test, name)
    if not exact or not _readable(test, name, stem):
        digest = hashlib.sha256(f"{owner}\0{name if name is not None else ''}".encode()).hexdigest()[:8]
        stem = f"{stem}-{digest}"
    return f"{folder}/{stem}.npz"


def legacy_rel(owner: str, name: str | None = None) -> str:
    """Where versions before injective names put this golden (read until it is re-recorded)."""
    module, _, test = owner.partition("::")
    return f"{_module_dir(module)[0]}/{_legacy_stem(test, name)}.npz"


def inside(root: Path, rel: str) -> bool:
    """Whether ``root/rel`` stays in ``root`` once '..' is resolved (links a user put in the golden dir
    are theirs to follow)."""
    import os

    base = os.path.normpath(root)
    return os.path.commonpath([base, os.path.normpath(os.path.join(base, rel))]) == base


def belongs_to(test: Mapping[str, Any], owner: str, name: str | None) -> bool:
    """Whether a golden's manifest ``test`` entry is this owner's (and this name's, where it was recorded)."""
    if test.get("owner") != owner:
        return False
    return "name" not in test or test.get("name") == name


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
