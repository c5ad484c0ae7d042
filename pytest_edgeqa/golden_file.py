"""The golden file format: an .npz of output arrays with its manifest embedded, and reading one safely
(every structural check before any array is decompressed)."""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EdgeQAError

SCHEMA = 1
MANIFEST_KEY = "__manifest__"  # the manifest travels inside the .npz too: one atomic rename carries both
LFS_SIGNATURE = b"version https://git-lfs.github.com/spec/"


class GoldenError(EdgeQAError):
    """A golden file that cannot be trusted: named, with what is wrong and how to fix it."""


def fix_advice(path: Path) -> str:
    """What to do about a broken golden."""
    return f"re-record it with --update-golden (or restore {path.name} from git)"


def kind_of_json(value: Any) -> str:
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


class Archive:
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
                f"golden {path} is truncated or corrupt ({type(exc).__name__}: {exc}); {fix_advice(path)}"
            ) from None
        try:
            self.members = self._members()
            # Every header first: an object array is refused as such, whatever else is wrong.
            self.headers = {key: self._header(key) for key in self.members}
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def _members(self) -> dict[str, zipfile.ZipInfo]:
        infos = self.zip.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise GoldenError(
                f"golden {self.path} holds a member twice; it is corrupt or edited; {fix_advice(self.path)}"
            )
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
                f"{MANIFEST_KEY}.npy and output/<name>.npy only); it is not read; {fix_advice(self.path)}"
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
            raise GoldenError(
                f"{where} is not a valid .npy array ({first_words(exc)}); {fix_advice(self.path)}"
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise GoldenError(
                f"golden {self.path} is truncated or corrupt ({type(exc).__name__}: {first_words(exc)}); {fix_advice(self.path)}"
            ) from None
        member = _Member(info, tuple(int(d) for d in shape), dtype, bool(fortran), offset)
        if dtype.hasobject:
            raise GoldenError(
                f"golden {self.path} contains pickled objects; goldens hold plain arrays only, so it is not loaded "
                f"(allow_pickle=False): member {info.filename!r} has dtype object"
            )
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise GoldenError(
                f"{where} has dtype {dtype.str!r}; goldens hold numeric arrays (bool, integer, float, complex) only; {fix_advice(self.path)}"
            )
        declared = offset + member.nbytes
        if info.file_size != declared or info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO + 4096:
            raise GoldenError(
                f"{where} declares shape {list(member.shape)} {dtype.name} ({declared} bytes with its header), but the "
                f"archive says it holds {info.file_size} bytes ({info.compress_size} compressed): it is corrupt or edited, "
                f"and is not loaded; {fix_advice(self.path)}"
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
                f"golden {self.path} is truncated or corrupt ({type(exc).__name__}: {first_words(exc)}); {fix_advice(self.path)}"
            ) from None
        if got != len(buf):
            raise GoldenError(
                f"golden {self.path}: member {member.info.filename!r} is truncated ({got} of {len(buf)} bytes); {fix_advice(self.path)}"
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
                f"(uint8, at most {MAX_MANIFEST_BYTES} bytes); {fix_advice(path)}"
            )
        try:
            manifest = json.loads(bytes(self.data(member)).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise GoldenError(
                f"golden {path}: its embedded manifest is not JSON ({type(exc).__name__}: {first_words(exc)}); {fix_advice(path)}"
            ) from None
        check_manifest(manifest, f"golden {path}: its embedded manifest", path)
        listed = set(manifest["outputs"])
        held = {k.split("/", 1)[1] for k in self.members if k.startswith("output/")}
        if listed != held:
            parts = [f"lists output {n!r}, which the archive does not hold" for n in sorted(listed - held)]
            parts += [f"does not list output {n!r}, which the archive holds" for n in sorted(held - listed)]
            raise GoldenError(
                f"golden {path}: its manifest {'; '.join(parts)}; it is corrupt or edited; {fix_advice(path)}"
            )
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
            f"golden {path} is empty (0 bytes): its write was cut short or it was truncated; {fix_advice(path)}"
        )
    if head.startswith(LFS_SIGNATURE):
        raise GoldenError(
            f"golden {path} is a Git LFS pointer, not the data: fetch it with `git lfs pull` (or install git-lfs before cloning)"
        )
    if not head.startswith(b"PK"):
        raise GoldenError(
            f"golden {path} is not an .npz archive: it starts with {head[:8]!r}, not a zip signature; it was not "
            f"written by pytest-edgeqa or is damaged; {fix_advice(path)}"
        )


def check_manifest(manifest: Any, what: str, path: Path) -> None:
    """A manifest a golden can be judged by: an object with the required keys, of a schema this version reads."""
    if not isinstance(manifest, dict):
        raise GoldenError(f"{what} is {kind_of_json(manifest)}, not a JSON object; {fix_advice(path)}")
    schema = manifest.get("schema")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA:
        raise GoldenError(
            f"golden {path} was written by a newer pytest-edgeqa (manifest schema {schema}; this version reads "
            f"schema {SCHEMA}): upgrade pytest-edgeqa, or re-record it with this version (--update-golden)"
        )
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise GoldenError(
            f"{what} lacks {', '.join(map(repr, missing))} (a golden's manifest holds {', '.join(REQUIRED_KEYS)}); {fix_advice(path)}"
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
        raise GoldenError(f"{what} is malformed: {'; '.join(wrong[:5])}; {fix_advice(path)}")
