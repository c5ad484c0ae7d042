"""A damaged recipe cache: truncated or changed models, a corrupt, incomplete or hostile build.json, an
entry replaced by a file, the cache removed during the run. Each entry is checked against the checksums
its build.json records and rebuilt under its lock (with a RecipeCacheWarning that says why); the cache
path never ends in a runtime's error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from . import MODELS, Case

CACHE = "cache"  # --edge-cache-dir, relative to the rootdir
ARGS = (f"--edge-cache-dir={CACHE}",)

FP16 = """
import pytest

@pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="fp16")
def test_q(optimized_model):
    info = optimized_model.info.extra["optimization"]
    print("CACHE", "hit" if info["cache_hit"] else "built")
"""
ORT = FP16.replace('"fp16"', '"ort-dynamic-int8"').replace("digits_cnn.onnx", "diabetes_mlp.onnx")


def _entry(root: Path, recipe: str = "fp16", model: str = "digits_cnn.onnx") -> Path:
    """Build the cache entry a session would reuse (the build that an earlier run made)."""
    from pytest_edgeqa import optimize
    from pytest_edgeqa.models import ModelStore

    original = ModelStore().model(f"models/{model}", root, "original")
    spec = optimize.parse_spec(recipe, "setup")
    return optimize.build(spec, original, cache_dir=root / CACHE).path.parent


def _damage(
    change: Callable[[Path], None], recipe: str = "fp16", model: str = "digits_cnn.onnx"
) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        change(_entry(root, recipe, model))

    return setup


def _truncate(name: str) -> Callable[[Path], None]:
    def change(entry: Path) -> None:
        f = entry / name
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])

    return change


def _flip_bytes(entry: Path) -> None:
    f = entry / "model.bin"
    data = bytearray(f.read_bytes())
    data[100:200] = bytes(100)  # same size, other weights
    f.write_bytes(bytes(data))


def _meta(entry: Path) -> dict:
    return json.loads((entry / "build.json").read_text())


def _incomplete(entry: Path) -> None:
    meta = _meta(entry)
    del meta["model"], meta["files"]
    (entry / "build.json").write_text(json.dumps(meta))


def _escaping(entry: Path) -> None:
    """A build.json that points the model outside its entry (at a model of the user's choosing)."""
    meta = _meta(entry)
    meta["model"] = "../../models/digits_cnn_int8.xml"
    meta["files"] = {meta["model"]: "0" * 64}
    (entry / "build.json").write_text(json.dumps(meta))


def _replace_by_file(entry: Path) -> None:
    import shutil

    shutil.rmtree(entry)
    entry.write_text("not an entry\n")


def _warned(why: str) -> tuple[str, ...]:
    return ("RecipeCacheWarning: recipe cache entry ", f"could not be reused ({why}); rebuilding it", "CACHE built")


REMOVE_MID_RUN = """
import shutil
import pytest

pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="fp16")

def test_first(optimized_model):
    shutil.rmtree("cache")  # as a cleanup job (or another run's `rm -rf`) would

def test_second(optimized_model):
    assert optimized_model.infer({"image": __import__("numpy").zeros((1, 8, 8), "float32")})["logits"].shape == (1, 10)
"""

CASES: list[Case] = [
    Case(
        id="cache-truncated-ir-weights",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(_truncate("model.bin")),
        args=("-s", *ARGS),
        expect=_warned("model.bin does not match its checksum in build.json (truncated or changed)"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was reused as it was: OpenVINO's error on the cache path",
    ),
    Case(
        id="cache-corrupted-ir-weights",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(_flip_bytes),
        args=("-s", *ARGS),
        expect=_warned("model.bin does not match its checksum in build.json (truncated or changed)"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was reused silently: other weights than the recipe built",
    ),
    Case(
        id="cache-truncated-onnx",
        files={"models": MODELS, "test_q.py": ORT},
        setup=_damage(_truncate("model.onnx"), "ort-dynamic-int8", "diabetes_mlp.onnx"),
        args=("-s", *ARGS),
        expect=_warned("model.onnx does not match its checksum in build.json (truncated or changed)"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was reused as it was: a runtime's protobuf error",
    ),
    Case(
        id="cache-model-file-missing",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(lambda entry: (entry / "model.bin").unlink()),
        args=("-s", *ARGS),
        expect=_warned("model.bin is missing"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was 'OpenVINO IR ... has no weights file beside it'",
    ),
    Case(
        id="cache-build-json-corrupt",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(lambda entry: (entry / "build.json").write_text('{"key": "abc", "model": ')),
        args=("-s", *ARGS),
        expect=_warned("its build.json cannot be read (JSONDecodeError: Expecting value: line 1 column 25 (char 24))"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was a JSONDecodeError traceback",
    ),
    Case(
        id="cache-build-json-incomplete",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(_incomplete),
        args=("-s", *ARGS),
        expect=_warned("its build.json is incomplete (no checksums of the built files, or another entry's)"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was KeyError: 'model'",
    ),
    Case(
        id="cache-build-json-list",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(lambda entry: (entry / "build.json").write_text("[]\n")),
        args=("-s", *ARGS),
        expect=_warned("its build.json is not a JSON object"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was TypeError: list indices must be integers",
    ),
    Case(
        id="cache-build-json-points-outside",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(_escaping),
        args=("-s", *ARGS),
        expect=_warned("its build.json is incomplete (no checksums of the built files, or another entry's)"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was the INT8 model outside the cache, taken as the fp16 build",
    ),
    Case(
        id="cache-entry-replaced-by-a-file",
        files={"models": MODELS, "test_q.py": FP16},
        setup=_damage(_replace_by_file),
        args=("-s", *ARGS),
        expect=_warned("it is not a directory"),
        outcomes={"passed": 1},
        subprocess=True,
        note="was NotADirectoryError from shutil.rmtree",
    ),
    Case(
        id="cache-removed-during-the-run",
        files={"models": MODELS, "test_cleared.py": REMOVE_MID_RUN},
        args=ARGS,
        outcomes={"passed": 2},
        subprocess=True,
        note="was 'model file not found' for the second test",
    ),
]
