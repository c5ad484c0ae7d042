"""The golden workflow in real pytest sessions: record, compare, explain, update, refuse, prune, survive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import assert_clean
from onnx import TensorProto, helper

from pytest_edgeqa import golden as store


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI runs these tests with CI=true; the refusal under CI is tested on purpose below.
    monkeypatch.delenv("CI", raising=False)


DIGITS = """
import pytest

pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/{optimized}")

{marker}
def test_digits(golden_check):
    golden_check(seed={seed}, batch=16)
"""


def digits_test(
    pytester: pytest.Pytester, optimized: str = "digits_cnn_fp16.xml", marker: str = "", seed: int = 0
) -> None:
    pytester.makepyfile(test_digits=DIGITS.format(optimized=optimized, marker=marker, seed=seed))


def test_missing_golden_fails_and_says_how_to_create_it(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"golden {pytester.path}/golden/test_digits/test_digits.npz does not exist; record it from the original model (CPU, f32) with:",
            "    pytest --update-golden=new 'test_digits.py::test_digits[[]CPU[]]'",
        ]
    )
    assert_clean(result)


def test_record_then_compare_on_every_device(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester)
    result = pytester.runpytest("--update-golden", "--edge-device=CPU,AUTO")
    result.assert_outcomes(passed=2)
    npz = pytester.path / "golden" / "test_digits" / "test_digits.npz"
    manifest = json.loads(npz.with_suffix(".json").read_text())
    # One golden serves every device: it is recorded from the original on the reference device.
    assert manifest["test"] == {"owner": "test_digits.py::test_digits"}
    assert manifest["recorded_with"]["device"] == "CPU" and manifest["recorded_with"]["precision"] == "f32"
    assert manifest["outputs"]["logits"]["shape"] == [16, 10] and manifest["outputs"]["logits"]["dtype"] == "float32"
    assert set(manifest["outputs"]["logits"]["stats"]) == {"min", "max", "mean", "std"}
    assert (
        manifest["inputs"]["source"] == "generated"
        and manifest["inputs"]["seed"] == 0
        and len(manifest["inputs"]["sha256"]) == 64
    )
    assert len(manifest["model"]["sha256"]) == 64 and manifest["model"]["path"] == "digits_cnn.onnx"
    assert {"openvino", "onnxruntime", "numpy"} <= set(manifest["versions"]) and manifest["plugin_version"]
    assert "avx2" in manifest["cpu"]["features"] or manifest["cpu"]["features"]
    assert manifest["tolerances"]["default"]["for"] == "f16"  # FP16 weights: the f16 defaults applied
    assert oct(npz.stat().st_mode & 0o777) == oct(0o666 & ~store._UMASK)
    again = pytester.runpytest("--edge-device=CPU,AUTO")
    again.assert_outcomes(passed=2)


def test_failure_report_as_a_user_reads_it(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester, marker="@pytest.mark.parity(atol=1e-5, cosine=0.999999, top_k=1)")
    pytester.runpytest("--update-golden=new")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"parity failed against golden {pytester.path}/golden/test_digits/test_digits.npz (16 samples; optimized model is f16)",
            "optimized (CPU, f32) vs golden: FAILED",
            "  output 'logits' [[]16, 10[]] float32: FAILED  [[]criteria: marker[]]",
            "    mismatches: */160 (*%)",
            "    max abs error * at [[]*, *[]] (reference *, actual *); max rel error *",
            "    mean abs error *, median *, p99 *",
            "    cosine *, SNR dB *, PSNR dB *, top1 agreement 1",
            "    failed: |a - r| <= atol + rtol*|r| (atol=1e-05, rtol=0): * elements (*%) outside, 0 allowed (max_mismatch=0)",
            "    would pass with: atol >= * (rtol=0) or rtol >= * (atol=1e-05)",
            "    index                  reference        actual     abs err     rel err",
            "If the change was intended, re-record the golden:",
            "    pytest --update-golden 'test_digits.py::test_digits[[]CPU[]]'",
        ]
    )
    listed = [ln for ln in text.splitlines() if ln.startswith("    [")]
    assert 1 <= len(listed) <= 20
    assert_clean(result)


def test_update_modes_and_stale_goldens(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester, seed=0)
    pytester.runpytest("--update-golden=new").assert_outcomes(passed=1)
    npz = pytester.path / "golden" / "test_digits" / "test_digits.npz"
    first = npz.read_bytes()

    # Different inputs: the golden is stale; without the flag that is a failure that says why.
    digits_test(pytester, seed=1)
    stale = pytester.runpytest()
    stale.assert_outcomes(failed=1)
    stale.stdout.fnmatch_lines(
        [f"golden {npz} is stale:", "  the inputs differ from those the golden was recorded with*"]
    )
    # =new writes only missing goldens: a stale one stays stale and untouched.
    pytester.runpytest("--update-golden=new").assert_outcomes(failed=1)
    assert npz.read_bytes() == first
    # bare --update-golden (=failing) rewrites it.
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    second = npz.read_bytes()
    assert second != first
    # A passing golden is left alone by =failing, and rewritten by =all.
    mtime = npz.stat().st_mtime_ns
    time.sleep(0.01)
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    assert npz.stat().st_mtime_ns == mtime
    pytester.runpytest("--update-golden=all").assert_outcomes(passed=1)
    assert npz.stat().st_mtime_ns != mtime


def test_a_changed_original_makes_the_golden_stale(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester)
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    # Swap the original for the INT8 model: the reference no longer reproduces its golden.
    pytester.makepyfile(
        test_digits=DIGITS.format(optimized="digits_cnn_fp16.xml", marker="", seed=0).replace(
            "digits_cnn.onnx", "digits_cnn_int8.xml"
        )
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the original model no longer reproduces the golden (the model, runtime or machine changed):",
            "original at reference precision (CPU) vs golden: FAILED",
            "If the change was intended, re-record the golden:",
        ]
    )


def test_update_refused_under_ci_unless_forced(pytester: pytest.Pytester, models, monkeypatch) -> None:
    digits_test(pytester)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("--update-golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*refusing to write goldens because the CI environment variable is set*--golden-force*"]
    )
    assert not (pytester.path / "golden").exists()
    pytester.runpytest("--update-golden", "--golden-force").assert_outcomes(passed=1)


def test_recording_from_a_non_reference_precision_is_refused(pytester: pytest.Pytester, tmp_path) -> None:
    # A model that declares f16 outputs: the CPU plugin here computes in f32, so the recorded
    # precision would not be the declared one.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["n", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10),
        pytester.path / "half.onnx",
    )
    pytester.makepyfile(
        test_half="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="half.onnx")

        def test_half(golden_check, original_model):
            print("precision", original_model.info.precision, original_model.info.declared_precision)
            golden_check()
        """
    )
    result = pytester.runpytest("--update-golden", "-s")
    if "precision f16 f16" in result.stdout.str():
        pytest.skip("this CPU computes f16 natively, so f16 is the reference precision here")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*refusing to record from CPU at f32: goldens are recorded at the model's declared precision (f16)*--golden-force"
        ]
    )
    pytester.runpytest("--update-golden", "--golden-force").assert_outcomes(passed=1)


def special_model(path: Path, op: str) -> None:
    """x: float32[n, 5] -> y: NaN for x < 0 and -inf for x = 0 (Log), plus argmax (int64) and an fp16 copy."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 5])
    outs = [
        helper.make_tensor_value_info("log", TensorProto.FLOAT, ["n", 5]),
        helper.make_tensor_value_info("best", TensorProto.INT64, ["n"]),
        helper.make_tensor_value_info("half", TensorProto.FLOAT16, ["n", 5]),
    ]
    nodes = [
        helper.make_node("Log", ["x"], ["log"]),
        helper.make_node(op, ["x"], ["best"], axis=1, keepdims=0),
        helper.make_node("Cast", ["x"], ["half"], to=TensorProto.FLOAT16),
    ]
    graph = helper.make_graph(nodes, "special", [x], outs)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


def test_nan_inf_integer_and_fp16_outputs(pytester: pytest.Pytester) -> None:
    special_model(pytester.path / "special.onnx", "ArgMax")
    special_model(pytester.path / "special_min.onnx", "ArgMin")
    pytester.makepyfile(
        test_special="""
        import numpy as np
        import pytest

        X = {"x": np.array([[1, -1, 0, 2, 3], [0.5, 4, -2, 1, 0]], np.float32)}

        @pytest.mark.edge_model(original="special.onnx", optimized="special.onnx")
        def test_same(golden_check):
            golden_check(X)

        @pytest.mark.edge_model(original="special.onnx", optimized="special_min.onnx")
        @pytest.mark.parity(atol=1e-3)
        def test_argmin(golden_check):
            golden_check(X)
        """
    )
    pytester.runpytest("--update-golden=new", "--edge-device=CPU,ort:cpu")
    result = pytester.runpytest("--edge-device=CPU,ort:cpu")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "  output 'log' [[]2, 5[]] float32: ok  [[]criteria: marker[]]",
            "  output 'best' [[]2[]] int64: FAILED  [[]criteria: marker[]]",
            "    mismatches: 2/2",
            "    failed: exact equality (int64): 2/2 elements differ",
            "  output 'half' [[]2, 5[]] float16: ok  [[]criteria: marker[]]",
        ]
    )
    data = np.load(pytester.path / "golden" / "test_special" / "test_same.npz", allow_pickle=False)
    assert np.isnan(data["output/log"][0, 1]) and np.isneginf(data["output/log"][0, 2])
    assert data["output/best"].dtype == np.int64 and data["output/half"].dtype == np.float16


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
            "is a Git LFS pointer, not the data: fetch it with `git lfs pull`",
        ),
        ("truncate", "is truncated or corrupt"),
        (
            "pickle",
            "contains pickled objects; goldens hold plain arrays only, so it is not loaded (allow_pickle=False)",
        ),
        ("plain", "has no embedded manifest: it was not written by pytest-edgeqa"),
    ],
)
def test_bad_golden_files_name_the_path(pytester: pytest.Pytester, models, content, message) -> None:
    digits_test(pytester)
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    npz = pytester.path / "golden" / "test_digits" / "test_digits.npz"
    if content == "truncate":
        npz.write_bytes(npz.read_bytes()[:300])
    elif content == "pickle":
        np.savez(
            npz, **{"output/logits": np.array([{"a": 1}], dtype=object), store.MANIFEST_KEY: np.zeros(1, np.uint8)}
        )
    elif content == "plain":
        np.savez(npz, logits=np.zeros((16, 10), np.float32))
    else:
        npz.write_bytes(content)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"golden {npz} {message}*"])
    assert_clean(result)


def test_an_update_killed_mid_write_leaves_the_old_golden(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    old = {"y": np.arange(10, dtype=np.float32)}
    store.write(path, old, {"test": {"owner": "t"}, "inputs": {}})
    script = textwrap.dedent(
        f"""
        import os, time
        import numpy as np
        from pathlib import Path
        from pytest_edgeqa import golden
        # Hold the writer inside its write (at the fsync) so the kill lands mid-write every time.
        os.fsync = lambda fd: time.sleep(600)
        new = {{"y": np.random.default_rng(0).random(1_000_000).astype(np.float32)}}
        print("writing", flush=True)
        golden.write(Path({str(path)!r}), new, {{"test": {{"owner": "t"}}, "inputs": {{}}}})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".g.npz.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".g.npz.*.tmp")), "the writer was killed before it started writing"
    kept = store.read(path)
    np.testing.assert_array_equal(kept.outputs["y"], old["y"])
    assert store.golden_files(tmp_path) == [path]  # the leftover temporary file is never taken for a golden


def test_manifest_heals_after_a_kill_between_the_two_renames(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    store.write(path, {"y": np.zeros(3, np.float32)}, {"test": {"owner": "t"}, "inputs": {}})
    old_json = path.with_suffix(".json").read_text()
    store.write(path, {"y": np.ones(3, np.float32)}, {"test": {"owner": "t"}, "inputs": {}})
    path.with_suffix(".json").write_text(old_json)  # as if killed after the .npz rename
    golden = store.read(path)
    assert golden.outputs["y"].tolist() == [1, 1, 1]
    assert json.loads(path.with_suffix(".json").read_text())["outputs"]["y"]["sha256"] == store.array_sha256(
        np.ones(3, np.float32)
    )


def test_update_under_xdist_loses_nothing(pytester: pytest.Pytester, models) -> None:
    pytester.makepyfile(
        test_many="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_fp16.xml")

        @pytest.mark.parametrize("seed", range(8))
        def test_seed(golden_check, seed):
            golden_check(seed=seed, batch=8)
        """
    )
    # 16 items over 2 workers; the CPU and AUTO items of one seed share (and both write) one golden.
    result = pytester.runpytest("-n", "2", "--update-golden=all", "--edge-device=CPU,AUTO")
    result.assert_outcomes(passed=16)
    files = store.golden_files(pytester.path / "golden")
    assert len(files) == 8
    for f in files:
        store.read(f)
    assert not list((pytester.path / "golden").rglob("*.tmp"))
    pytester.runpytest("-n", "2", "--edge-device=CPU,AUTO").assert_outcomes(passed=16)


def test_unused_goldens_are_listed_and_pruned(pytester: pytest.Pytester, models) -> None:
    body = """
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

        def test_kept(golden_check):
            golden_check(batch=2)

        @pytest.mark.edge_device("NPU")
        def test_npu_only(golden_check):
            golden_check(batch=2)
        """
    pytester.makepyfile(test_use=body + "\n        def test_gone(golden_check):\n            golden_check(batch=2)\n")
    pytester.runpytest("--update-golden").assert_outcomes(passed=2, skipped=1)
    # A golden for the NPU-only test, recorded where an NPU was present (the reference is CPU anyway).
    npu_golden = pytester.path / "golden" / "test_use" / "test_npu_only.npz"
    store.write(
        npu_golden,
        {"logits": np.zeros((2, 10), np.float32)},
        {"test": {"owner": "test_use.py::test_npu_only"}, "inputs": {}},
    )
    pytester.makepyfile(test_use=body)  # test_gone is deleted

    partial = pytester.runpytest("-k", "kept")
    partial.assert_outcomes(passed=1, deselected=1)
    assert "unused golden" not in partial.stdout.str()

    full = pytester.runpytest()
    full.assert_outcomes(passed=1, skipped=1)
    full.stdout.fnmatch_lines(
        [
            "*edgeqa: 1 unused golden(s)*",
            "  golden/test_use/test_gone.npz",
            "no selected test used these goldens; delete them with --golden-prune",
        ]
    )
    unused_section = full.stdout.str().split("unused golden(s)")[1]
    assert "test_npu_only" not in unused_section and "test_kept.npz" not in unused_section

    pruned = pytester.runpytest("--golden-prune")
    pruned.stdout.fnmatch_lines(["*edgeqa: 1 removed golden(s)*"])
    assert not (pytester.path / "golden" / "test_use" / "test_gone.npz").exists()
    assert not (pytester.path / "golden" / "test_use" / "test_gone.json").exists()
    assert npu_golden.exists() and (pytester.path / "golden" / "test_use" / "test_kept.npz").exists()
