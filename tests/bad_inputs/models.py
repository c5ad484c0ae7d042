"""Model paths that do not lead to a model: a directory, an empty or text file, IR without (or with
truncated) weights, an unknown extension, a broken link, a device file, an LFS pointer. Each is one
message naming the file and what was expected (with the runtime's own words where they help), never a
runtime's traceback."""

from __future__ import annotations

import os
from pathlib import Path

from . import MODELS, Case

TEST = """
import pytest

@pytest.mark.edge_model(original={model!r})
def test_m(original_model):
    pass
"""


def _test(model: str) -> dict[str, str]:
    return {"test_m.py": TEST.format(model=model)}


def _ir(root: Path, weights: bytes | None) -> None:
    """models/net.xml (the digits FP16 IR) with ``weights`` as its .bin (None: no .bin)."""
    src = root / "models"
    (root / "net.xml").write_bytes((src / "digits_cnn_fp16.xml").read_bytes())
    if weights is not None:
        (root / "net.bin").write_bytes(weights)


def _truncated_bin(root: Path) -> None:
    _ir(root, (root / "models" / "digits_cnn_fp16.bin").read_bytes()[:1000])


def _broken_link(root: Path) -> None:
    os.symlink("gone.onnx", root / "net.onnx")


CASES: list[Case] = [
    Case(
        id="models-directory",
        files={"models": MODELS, **_test("models")},
        expect=(
            "edge_model marker original='models': ",
            "/models is a directory (it holds charlm.onnx, diabetes_mlp.onnx, digits_cnn.onnx, digits_cnn_fp16.xml, "
            "digits_cnn_int8.xml); expected an ONNX model (.onnx) or OpenVINO IR (.xml with its .bin beside it): "
            "give the model file's path",
        ),
        absent=("not found",),
        outcomes={"errors": 1},
        note="was 'model file not found'",
    ),
    Case(
        id="models-empty-onnx",
        files={"net.onnx": b"", **_test("net.onnx")},
        expect=("/net.onnx is empty (0 bytes); expected an ONNX model",),
        outcomes={"errors": 1},
        note="was OpenVINO's 'Unable to read the model' with its frontend list",
    ),
    Case(
        id="models-text-file-named-onnx",
        files={"net.onnx": "this is not a model\n", **_test("net.onnx")},
        expect=(
            "/net.onnx is not a model OpenVINO can read; expected an ONNX model (a serialized ONNX ModelProto). OpenVINO: ",
        ),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-text-file-named-onnx-on-onnxruntime",
        files={"net.onnx": "this is not a model\n", **_test("net.onnx")},
        args=("--edge-device=ort:cpu",),
        expect=(
            "/net.onnx is not a model ONNX Runtime can load; expected an ONNX model (a serialized ONNX ModelProto). "
            "ONNX Runtime: ",
        ),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-ir-without-bin",
        files={"models": MODELS, **_test("net.xml")},
        setup=lambda root: _ir(root, None),
        expect=("OpenVINO IR ", "/net.xml has no weights file beside it: ", "/net.bin is missing"),
        outcomes={"errors": 1},
        note="already right before: documents the message",
    ),
    Case(
        id="models-ir-with-truncated-bin",
        files={"models": MODELS, **_test("net.xml")},
        setup=_truncated_bin,
        expect=(
            "/net.xml is not a model OpenVINO can read; expected OpenVINO IR (an IR .xml with its weights in net.bin, "
            "1000 bytes). OpenVINO: Incorrect weights in bin file!",
        ),
        outcomes={"errors": 1},
        subprocess=True,
        timeout=60,
    ),
    Case(
        id="models-text-file-named-xml",
        files={"net.xml": "<html>404 Not Found</html>\n", "net.bin": b"\0" * 16, **_test("net.xml")},
        expect=(
            "/net.xml is not a model OpenVINO can read; expected OpenVINO IR (an IR .xml with its weights in net.bin, "
            "16 bytes). OpenVINO: Unable to read the model",
        ),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-unknown-extension",
        files={"net.pb": b"\x08\x07", **_test("net.pb")},
        expect=(
            "/net.pb is not a model file this plugin loads ('.pb'): expected an ONNX model (.onnx) or OpenVINO IR "
            "(.xml with its .bin beside it)",
        ),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-weights-file-given",
        files={"models": MODELS, **_test("models/digits_cnn_fp16.bin")},
        expect=("a .bin is the weights of OpenVINO IR: give its .xml",),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-broken-symlink",
        files=_test("net.onnx"),
        setup=_broken_link,
        expect=("model file not found: ", "/net.onnx is a symbolic link to gone.onnx, which does not exist"),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-device-file",
        files=_test("/dev/zero"),
        expect=("edge_model marker original='/dev/zero': /dev/zero is a character device, not a model file",),
        absent=("not found",),
        outcomes={"errors": 1},
        subprocess=True,
        timeout=60,
        note="was 'model file not found: /dev/zero'",
    ),
    Case(
        id="models-typo-names-what-is-there",
        files={"models": MODELS, **_test("models/digits_cnn.onx")},
        expect=(
            "model file not found: ",
            "/models/digits_cnn.onx (relative paths resolve against ",
            "/models holds charlm.onnx, diabetes_mlp.onnx, digits_cnn.onnx, digits_cnn_fp16.xml, digits_cnn_int8.xml",
        ),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-folder-missing",
        files=_test("nets/net.onnx"),
        expect=("model file not found: ", "/nets/net.onnx (relative paths resolve against ", "/nets does not exist"),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-git-lfs-pointer",
        files={
            "net.onnx": "version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 155157\n",
            **_test("net.onnx"),
        },
        expect=("/net.onnx is a Git LFS pointer, not the model: fetch it with `git lfs pull`",),
        outcomes={"errors": 1},
    ),
    Case(
        id="models-unreadable-original-for-a-recipe",
        files={
            "net.onnx": "this is not a model\n",
            "test_r.py": TEST.format(model="net.onnx")
            .replace("original='net.onnx')", "original='net.onnx', optimized='fp16')")
            .replace("original_model", "optimized_model"),
        },
        expect=("/net.onnx is not a model OpenVINO can read; expected an ONNX model (a serialized ONNX ModelProto)",),
        outcomes={"errors": 1},
        subprocess=True,
        timeout=60,
        note="was a RuntimeError traceback from OpenVINO inside the fp16 recipe",
    ),
]
