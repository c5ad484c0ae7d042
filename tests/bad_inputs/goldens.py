"""Broken, foreign and hostile golden files, and a test file outside the rootdir: each read ends in one
message that names the golden, says what is wrong with it and how to fix it; nothing is loaded before its
header was checked against the manifest."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto, helper

from . import Case

# A tiny model with two outputs (y = relu(x), z = -x) whose values numpy computes exactly.
X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
OUTPUTS = {"y": np.maximum(X, 0), "z": -X}


def _two_outputs() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["z"])], "two", [x], [y, z]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


MODEL = _two_outputs()
TEST = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="two.onnx")

def test_g(golden_check):
    result = golden_check({"x": np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)})
    print("GOLDEN AT", result.golden)
"""
FILES = {"two.onnx": MODEL, "test_g.py": TEST}
GOLDEN = "golden/test_g/test_g.npz"
READABLE = "golden/test_g/test_g.json"


def _record(root: Path, outputs: dict[str, np.ndarray] | None = None) -> Path:
    """The golden a recording run writes for test_g (both files), from ``outputs``."""
    from pytest_edgeqa import golden as store

    path = root / GOLDEN
    manifest = {
        "test": {"owner": "test_g.py::test_g", "device": "CPU"},
        "inputs": {"sha256": store.arrays_sha256({"x": X}), "source": "arrays"},
    }
    store.write(path, OUTPUTS if outputs is None else outputs, manifest, root=root / "golden")
    return path


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.with_suffix(".json").read_text())


def _with_manifest(path: Path, manifest: Any, readable: bool = True) -> None:
    """Replace the embedded manifest (and the readable copy, so only the intended problem shows)."""
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    members = _members(path)
    members["__manifest__.npy"] = _npy(np.frombuffer(text.encode(), dtype=np.uint8))
    _rewrite(path, members)
    if readable:
        path.with_suffix(".json").write_text(text)


def _set(what: str):
    def setup(root: Path) -> None:
        path = _record(root)
        SETUPS[what](path)

    return setup


def _huge_header(path: Path) -> None:
    members = _members(path)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    members["output/y.npy"] = buf.getvalue() + b"\0" * 64
    _rewrite(path, members)


def _transposed(path: Path) -> None:
    members = _members(path)
    members["output/y.npy"] = _npy(np.ascontiguousarray(OUTPUTS["y"].reshape(4, 2)))
    _rewrite(path, members)


def _object_member(path: Path) -> None:
    members = _members(path)
    members["output/y.npy"] = _npy(np.array([{"a": 1}, None], dtype=object))
    _rewrite(path, members)


def _extra_member(path: Path) -> None:
    members = _members(path)
    members["conftest.py"] = b"import os\n"
    _rewrite(path, members)


def _without(*keys: str):
    def change(path: Path) -> None:
        manifest = _manifest(path)
        for key in keys:
            del manifest[key]
        _with_manifest(path, manifest)

    return change


def _schema(path: Path) -> None:
    manifest = _manifest(path)
    manifest["schema"] = 99
    _with_manifest(path, manifest)


def _only_y(root: Path) -> None:
    _record(root, {"y": OUTPUTS["y"]})


def _y_reshaped(root: Path) -> None:
    _record(root, {"y": OUTPUTS["y"].reshape(4, 2), "z": OUTPUTS["z"]})


def _a_directory(root: Path) -> None:
    (root / GOLDEN).mkdir(parents=True)


SETUPS = {
    "embedded-list": lambda p: _with_manifest(p, [1, 2, 3], readable=False),
    "embedded-string": lambda p: _with_manifest(p, "a golden", readable=False),
    "readable-list": lambda p: p.with_suffix(".json").write_text("[]\n"),
    "readable-string": lambda p: p.with_suffix(".json").write_text('"a golden"\n'),
    "readable-nested": lambda p: p.with_suffix(".json").write_text("[" * 100_000 + "]" * 100_000),
    "huge-header": _huge_header,
    "transposed": _transposed,
    "object": _object_member,
    "extra": _extra_member,
    "no-outputs": _without("outputs", "inputs"),
    "schema": _schema,
}

CASES: list[Case] = [
    Case(
        id="goldens-random-bytes",
        files={**FILES, GOLDEN: bytes(range(256)) * 8},
        expect=(
            f"{GOLDEN} is not an .npz archive: it starts with b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07', not a zip "
            "signature; it was not written by pytest-edgeqa or is damaged; re-record it with --update-golden",
        ),
        absent=("pickled",),
        outcomes={"failed": 1},
        note="was 'contains pickled objects'",
    ),
    Case(
        id="goldens-empty-file",
        files={**FILES, GOLDEN: b""},
        expect=(
            f"{GOLDEN} is empty (0 bytes): its write was cut short or it was truncated; re-record it with --update-golden",
        ),
        outcomes={"failed": 1},
        note="was 'contains pickled objects' (np.load of an empty file)",
    ),
    Case(
        id="goldens-embedded-manifest-list",
        files=FILES,
        setup=_set("embedded-list"),
        expect=(
            f"{GOLDEN}: its embedded manifest is a JSON list, not a JSON object; re-record it with --update-golden",
        ),
        outcomes={"failed": 1},
        note="was AttributeError: 'list' object has no attribute 'get'",
    ),
    Case(
        id="goldens-embedded-manifest-string",
        files=FILES,
        setup=_set("embedded-string"),
        expect=(f"{GOLDEN}: its embedded manifest is a JSON string, not a JSON object",),
        outcomes={"failed": 1},
        note="was AttributeError: 'str' object has no attribute 'get'",
    ),
    Case(
        id="goldens-readable-manifest-list",
        files=FILES,
        setup=_set("readable-list"),
        expect=(
            f"{GOLDEN} is stale:",
            "its readable manifest /",
            f"{READABLE} is a JSON list, not a JSON object; restore it from git",
        ),
        outcomes={"failed": 1},
        note="was 'disagrees with the manifest embedded'",
    ),
    Case(
        id="goldens-readable-manifest-string",
        files=FILES,
        setup=_set("readable-string"),
        expect=(f"{READABLE} is a JSON string, not a JSON object; restore it from git",),
        outcomes={"failed": 1},
    ),
    Case(
        id="goldens-readable-manifest-nested",
        files=FILES,
        setup=_set("readable-nested"),
        expect=(f"{READABLE} cannot be read (RecursionError: maximum recursion depth exceeded",),
        outcomes={"failed": 1},
        subprocess=True,
        timeout=60,
        note="was a RecursionError traceback",
    ),
    Case(
        id="goldens-huge-npy-header",
        files=FILES,
        setup=_set("huge-header"),
        expect=(
            f"{GOLDEN}: member 'output/y.npy' declares shape [1000000, 1000000] float64 (8000000000128 bytes with its "
            "header), but the archive says it holds 192 bytes",
            "and is not loaded; re-record it with --update-golden",
        ),
        outcomes={"failed": 1},
        subprocess=True,
        timeout=60,
        note="was a MemoryError before any check",
    ),
    Case(
        id="goldens-header-disagrees-with-manifest",
        files=FILES,
        setup=_set("transposed"),
        expect=(
            f"{GOLDEN}: output 'y' is [4, 2] float32 in the archive, but its manifest says [2, 4] float32; it is "
            "corrupt or edited, and is not loaded",
        ),
        outcomes={"failed": 1},
    ),
    Case(
        id="goldens-object-dtype",
        files=FILES,
        setup=_set("object"),
        expect=(
            f"{GOLDEN} contains pickled objects; goldens hold plain arrays only, so it is not loaded "
            "(allow_pickle=False): member 'output/y.npy' has dtype object",
        ),
        outcomes={"failed": 1},
    ),
    Case(
        id="goldens-extra-member",
        files=FILES,
        setup=_set("extra"),
        expect=(
            f"{GOLDEN} holds 'conftest.py', which pytest-edgeqa never writes (a golden holds __manifest__.npy and "
            "output/<name>.npy only); it is not read",
        ),
        outcomes={"failed": 1},
        note="was accepted silently",
    ),
    Case(
        id="goldens-manifest-missing-keys",
        files=FILES,
        setup=_set("no-outputs"),
        expect=(
            f"{GOLDEN}: its embedded manifest lacks 'inputs', 'outputs' (a golden's manifest holds schema, test, "
            "inputs, outputs)",
        ),
        outcomes={"failed": 1},
        note="was 'does not match the checksum in its manifest'",
    ),
    Case(
        id="goldens-newer-schema",
        files=FILES,
        setup=_set("schema"),
        expect=(
            f"{GOLDEN} was written by a newer pytest-edgeqa (manifest schema 99; this version reads schema 1): "
            "upgrade pytest-edgeqa, or re-record it with this version (--update-golden)",
        ),
        outcomes={"failed": 1},
        note="was accepted silently",
    ),
    Case(
        id="goldens-missing-an-output",
        files=FILES,
        setup=_only_y,
        expect=(
            f"{GOLDEN} is stale:",
            "the golden has no output 'z' ([2, 4] float32), which the original gives",
            "If the change was intended, re-record the golden:",
        ),
        absent=("no longer reproduces",),
        outcomes={"failed": 1},
        note="was 'the original model no longer reproduces the golden'",
    ),
    Case(
        id="goldens-output-of-another-shape",
        files=FILES,
        setup=_y_reshaped,
        expect=("output 'y' is [4, 2] float32 in the golden, [2, 4] float32 from the original",),
        absent=("no longer reproduces",),
        outcomes={"failed": 1},
        note="was 'the original model no longer reproduces the golden'",
    ),
    Case(
        id="goldens-path-is-a-directory",
        files=FILES,
        setup=_a_directory,
        expect=(f"{GOLDEN} is a directory, not a golden file; move it aside",),
        outcomes={"failed": 1},
    ),
    Case(
        id="goldens-test-outside-rootdir",
        files={"inner/pytest.ini": "[pytest]\n", "outside/two.onnx": MODEL, "outside/test_x.py": TEST},
        args=("--rootdir=inner", "outside/test_x.py", "--update-golden", "-s"),
        expect=("GOLDEN AT _outside_rootdir/outside/test_x/test_g-",),
        outcomes={"passed": 1},
        note="was a ValueError from path handling",
    ),
]
