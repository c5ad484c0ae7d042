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
from pytest_edgeqa import golden_file
from pytest_edgeqa.files import UMASK


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
            "    pytest 'test_digits.py::test_digits[[]CPU[]]' --update-golden=new",
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
    # The item that recorded it (the CPU one; the AUTO one found it fresh) is named, for --golden-prune.
    assert manifest["test"] == {"owner": "test_digits.py::test_digits", "device": "CPU"}
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
    assert oct(npz.stat().st_mode & 0o777) == oct(0o666 & ~UMASK)
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
    from conftest import cpu_runs

    if cpu_runs("f16"):
        pytest.skip("this CPU computes f16 natively, so f16 is the reference precision here")
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

        def test_half(golden_check):
            golden_check()
        """
    )
    result = pytester.runpytest("--update-golden", "-rs")
    result.assert_outcomes(skipped=1)  # a precision the device does not run is a skip, never a golden
    result.stdout.fnmatch_lines(
        ["*precision='f16' asked (the model's declared precision), but CPU runs f32*--golden-force*"]
    )
    assert not (pytester.path / "golden").exists()
    pytester.runpytest("--update-golden", "--golden-force").assert_outcomes(passed=1)
    manifest = json.loads((pytester.path / "golden" / "test_half" / "test_half.json").read_text())
    assert manifest["recorded_with"]["precision"] == "f32"


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
            npz, **{"output/logits": np.array([{"a": 1}], dtype=object), golden_file.MANIFEST_KEY: np.zeros(1, np.uint8)}
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
    path = tmp_path / "golden" / "g.npz"
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
    while not list(tmp_path.rglob("*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.rglob("*.tmp")), "the writer was killed before it started writing"
    kept = store.read(path)
    np.testing.assert_array_equal(kept.outputs["y"], old["y"])
    assert kept.problems == []
    assert store.golden_files(tmp_path) == [path]  # the leftover temporary file is never taken for a golden
    # `git add golden/` does not pick the leftover up...
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "golden"], check=True)
    staged = subprocess.run(
        ["git", "-C", str(tmp_path), "diff", "--cached", "--name-only"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert sorted(staged) == ["golden/g.json", "golden/g.npz"], staged
    # ... and the next write removes it (its writer is dead); a live writer's temporary file is left alone.
    store.write(path.with_name("h.npz"), old, {"test": {"owner": "u"}, "inputs": {}})
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_kill_between_the_two_renames_is_reported_not_healed(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    store.write(path, {"y": np.zeros(3, np.float32)}, {"test": {"owner": "t"}, "inputs": {}})
    old_json = path.with_suffix(".json").read_text()
    store.write(path, {"y": np.ones(3, np.float32)}, {"test": {"owner": "t"}, "inputs": {}})
    path.with_suffix(".json").write_text(old_json)  # as if killed after the .npz rename
    golden = store.read(path)
    assert golden.outputs["y"].tolist() == [1, 1, 1]
    assert path.with_suffix(".json").read_text() == old_json  # reading never writes
    (problem,) = golden.problems
    assert problem.startswith(f"its readable manifest {path.with_suffix('.json')} disagrees with the manifest embedded")


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

    # Deselected tests still exist (the decision is made before deselection): only test_gone is unused.
    partial = pytester.runpytest("-k", "kept")
    partial.assert_outcomes(passed=1, deselected=1)
    partial.stdout.fnmatch_lines(["*edgeqa: 1 unused golden(s)*", "  golden/test_use/test_gone.npz"])
    assert "test_npu_only" not in partial.stdout.str().split("unused golden(s)")[1]

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


# ------------------------------------------------------------------------ goldens are never lost (issue 11)


def fake_golden(root: Path, rel: str, owner: str, **test: str) -> Path:
    """A golden file for ``owner`` written straight through the store: the unused-golden logic only reads
    its manifest, so no model has to run."""
    path = root / rel
    store.write(path, {"y": np.arange(2, dtype=np.float32)}, {"test": {"owner": owner, **test}, "inputs": {}})
    return path


BAD_SUITE = """
name: bad
model: {original: models/digits_cnn.onnx}
checks:
  parity: {samples: 4, cosinus: 0.99}
"""


@pytest.mark.parametrize(
    ("first", "args", "reason"),
    [
        (
            "def test_first():\n    assert False\n",
            ["--maxfail=1"],
            "the session stopped early (stopping after 1 failures)",
        ),
        ("def test_first():\n    assert False\n", ["-x"], "the session stopped early (stopping after 1 failures)"),
        ("def test_first():\n    raise KeyboardInterrupt\n", [], "the session was interrupted*"),
        ("import not_a_module_anywhere\n", [], "a collection error in test_a_first.py"),
        (
            "import not_a_module_anywhere\n",
            ["--continue-on-collection-errors"],
            "a collection error in test_a_first.py",
        ),
        ("", ["--collect-only"], "--collect-only ran no tests"),
        ("", ["--fixtures"], "--fixtures ran no tests"),
        ("", ["--fixtures-per-test"], "--fixtures-per-test ran no tests"),
        ("", ["--markers"], None),
        ("suite", [], "invalid suite bad.edgeqa.yaml*"),
        ("import os\n\ndef test_first():\n    os._exit(1)\n", ["-n", "2"], "pytest-xdist worker gw* crashed*"),
        ("def test_first():\n    assert False\n", ["-n", "2", "--maxfail=1"], "*"),
    ],
    ids=[
        "maxfail",
        "x",
        "keyboard-interrupt",
        "collection-error",
        "continue-on-collection-errors",
        "collect-only",
        "fixtures",
        "fixtures-per-test",
        "markers",
        "invalid-suite",
        "xdist-worker-crash",
        "xdist-maxfail",
    ],
)
def test_prune_decides_nothing_from_a_session_that_did_not_run_to_its_end(
    pytester: pytest.Pytester, first: str, args: list[str], reason: str | None
) -> None:
    # Seen: `--maxfail=1 --golden-prune` removed 5 of 6 goldens of tests that never ran; so did
    # --collect-only, an ImportError elsewhere and a typo in a YAML suite.
    root = pytester.path / "golden"
    goldens = [
        fake_golden(root, "test_g/test_a.npz", "test_g.py::test_a"),
        fake_golden(root, "test_g/test_gone.npz", "test_g.py::test_gone"),  # its test was deleted
    ]
    if first == "suite":
        pytester.makefile(".edgeqa.yaml", bad=BAD_SUITE)
        goldens.append(fake_golden(root, "bad.edgeqa/bad.parity.npz", "bad.edgeqa.yaml::bad::parity"))
    elif first:
        pytester.makepyfile(test_a_first=first)
    pytester.makepyfile(test_g="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess(*args, "--golden-prune")
    text = result.stdout.str()
    assert all(g.exists() and g.with_suffix(".json").exists() for g in goldens), text
    assert "removed golden" not in text and "unused golden" not in text, text
    if reason is not None:
        result.stdout.fnmatch_lines([f"edgeqa: --golden-prune skipped: {reason}; goldens are judged unused only*"])
        assert len([ln for ln in text.splitlines() if ln.startswith("edgeqa") and "golden" in ln]) == 1, text


def test_collect_only_and_fixtures_say_nothing_about_unused_goldens(pytester: pytest.Pytester) -> None:
    fake_golden(pytester.path / "golden", "test_g/test_gone.npz", "test_g.py::test_gone")
    pytester.makepyfile(test_g="def test_a():\n    pass\n")
    for option in ("--collect-only", "--fixtures"):
        result = pytester.runpytest(option)
        assert not [ln for ln in result.stdout.lines if "golden(s)" in ln or "--golden-prune" in ln], (
            result.stdout.str()
        )


def test_goldens_of_devices_not_in_this_run_are_out_of_scope(pytester: pytest.Pytester, models) -> None:
    # Seen: --golden-prune on a run with fewer --edge-device's than the goldens were recorded for
    # deleted the other device's golden.
    pytester.makepyfile(
        test_dev="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

        def test_per_device(golden_check, edge_device):
            golden_check(name=f"x-{edge_device.id}", batch=2)
        """
    )
    pytester.runpytest("--update-golden", "--edge-device=CPU,AUTO").assert_outcomes(passed=2)
    folder = pytester.path / "golden" / "test_dev"
    cpu, auto = folder / "test_per_device__x-CPU.npz", folder / "test_per_device__x-AUTO.npz"
    assert json.loads(auto.with_suffix(".json").read_text())["test"]["device"] == "AUTO"
    # A golden of a device that is asked for but missing here: its item is skipped, so it judges nothing.
    npu = fake_golden(
        folder.parent, "test_dev/test_per_device__x-NPU.npz", "test_dev.py::test_per_device", device="NPU"
    )
    result = pytester.runpytest("--edge-device=CPU", "--golden-prune")
    result.assert_outcomes(passed=1)
    assert "golden(s)" not in result.stdout.str()
    result = pytester.runpytest("--edge-device=CPU,NPU", "--golden-prune")
    result.assert_outcomes(passed=1, skipped=1)
    assert "golden(s)" not in result.stdout.str()
    assert cpu.exists() and auto.exists() and npu.exists()


def test_a_golden_is_gone_only_when_no_collected_item_owns_it(pytester: pytest.Pytester) -> None:
    root = pytester.path / "golden"
    kept = fake_golden(root, "test_p/test_kept.npz", "test_p.py::test_kept")
    deselected = fake_golden(root, "test_p/test_other.npz", "test_p.py::test_other")
    other_param = fake_golden(root, "test_p/test_seed_9.npz", "test_p.py::test_seed[9]")  # a parameter not in this run
    gone = fake_golden(root, "test_p/test_gone.npz", "test_p.py::test_gone")
    gone_module = fake_golden(root, "test_deleted/test_x.npz", "test_deleted.py::test_x")
    ignored = fake_golden(root, "sub/test_ignored/test_y.npz", "sub/test_ignored.py::test_y")
    pytester.makepyfile(
        test_p="""
        import pytest

        def test_kept():
            pass

        def test_other():
            pass

        @pytest.mark.parametrize("seed", range(2))
        def test_seed(seed):
            pass
        """
    )
    (pytester.path / "sub").mkdir()
    (pytester.path / "sub" / "test_ignored.py").write_text("def test_y():\n    pass\n")
    # -k deselects test_other (its golden is not gone: the test exists); --ignore keeps a module out of
    # the run (its goldens are out of scope); test_gone and test_deleted.py are gone.
    result = pytester.runpytest("-k", "seed", "--ignore=sub", "--golden-prune")
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(["*edgeqa: 2 removed golden(s)*"])
    assert not gone.exists() and not gone_module.exists()
    assert kept.exists() and deselected.exists() and other_param.exists() and ignored.exists()


def test_unused_goldens_under_xdist(pytester: pytest.Pytester) -> None:
    # The controller does not collect: the workers' collections decide what is gone.
    root = pytester.path / "golden"
    kept = fake_golden(root, "test_p/test_kept.npz", "test_p.py::test_kept")
    gone = fake_golden(root, "test_p/test_gone.npz", "test_p.py::test_gone")
    pytester.makepyfile(
        test_p="import pytest\n\n@pytest.mark.skip\ndef test_kept():\n    pass\n\ndef test_b():\n    pass\n"
    )
    result = pytester.runpytest("-n", "2", "--golden-prune")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*edgeqa: 1 removed golden(s)*", "  golden/test_p/test_gone.npz"])
    assert kept.exists() and not gone.exists()


def test_golden_file_names_are_injective(pytester: pytest.Pytester, models) -> None:
    # Seen: ids "a b" / "a_b" and name="in/a" / name="in a" mapped to one file: the second overwrote the first.
    pytester.makepyfile(
        test_ids="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

        @pytest.mark.parametrize("seed", [0, 1], ids=["a b", "a_b"])
        def test_ids(golden_check, seed):
            golden_check(seed=seed, batch=2)

        @pytest.mark.parametrize("name", ["in/a", "in a"])
        def test_names(golden_check, name):
            golden_check(name=name, seed=3 if "/" in name else 4, batch=2)

        def test_plain(golden_check):
            golden_check(name="all", batch=2)
        """
    )
    pytester.runpytest("--update-golden").assert_outcomes(passed=5)
    files = store.golden_files(pytester.path / "golden")
    assert len(files) == 5, files
    tests = {
        (m["test"]["owner"], m["test"].get("name"))
        for m in (json.loads(f.with_suffix(".json").read_text()) for f in files)
    }
    assert len(tests) == 5
    # A safe id keeps today's file name, so committed goldens stay valid.
    assert pytester.path / "golden" / "test_ids" / "test_plain__all.npz" in files
    pytester.runpytest().assert_outcomes(passed=5)


def test_a_write_onto_another_tests_golden_is_refused(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester)
    npz = pytester.path / "golden" / "test_digits" / "test_digits.npz"
    fake_golden(pytester.path / "golden", "test_digits/test_digits.npz", "test_other.py::test_digits")
    before = npz.read_bytes()
    for args in (["--update-golden=all"], []):
        result = pytester.runpytest(*args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [f"golden {npz} belongs to test 'test_other.py::test_digits', not to 'test_digits.py::test_digits'*"]
        )
        assert npz.read_bytes() == before
        assert_clean(result)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


def test_a_plain_run_never_writes(pytester: pytest.Pytester, models) -> None:
    digits_test(pytester)
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    root = pytester.path / "golden"
    npz = root / "test_digits" / "test_digits.npz"
    readable = npz.with_suffix(".json")
    # A checkout with CRLF line endings (git's autocrlf) says the same thing: it is not stale.
    readable.write_bytes(readable.read_bytes().replace(b"\n", b"\r\n"))
    before = _snapshot(root)
    modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
    try:
        for p in modes:
            p.chmod(p.stat().st_mode & ~0o222)  # a read-only golden dir (root ignores this: the snapshot checks)
        result = pytester.runpytest()
        result.assert_outcomes(passed=1)
        assert _snapshot(root) == before
        # A readable manifest that disagrees with the embedded one is reported, not rewritten.
        manifest = json.loads(readable.read_text())
        manifest["outputs"]["logits"]["stats"]["max"] = 1e9
        readable.chmod(0o644)
        readable.write_text(json.dumps(manifest))
        readable.chmod(modes[readable] & ~0o222)
        before = _snapshot(root)
        result = pytester.runpytest()
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [
                f"golden {npz} is stale:",
                f"  its readable manifest {readable} disagrees with the manifest embedded in {npz}*"
                f"restore it from git (`git checkout -- {readable}`)*",
            ]
        )
        assert _snapshot(root) == before
        assert_clean(result)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def _printed_command(result: pytest.RunResult) -> list[str]:
    import shlex

    lines = result.stdout.lines
    at = next(i for i, ln in enumerate(lines) if ln.rstrip().endswith(("with:", "re-record the golden:")))
    words = shlex.split(lines[at + 1])
    assert words[0] == "pytest", lines[at + 1]
    return words[1:]


def test_the_printed_re_record_command_runs_as_pasted(pytester: pytest.Pytester, models) -> None:
    # Seen: `pytest --update-golden '<nodeid>'` is a usage error (argparse takes the node id as the mode).
    digits_test(pytester, seed=0)
    missing = pytester.runpytest()
    missing.assert_outcomes(failed=1)
    pytester.runpytest(*_printed_command(missing)).assert_outcomes(passed=1)
    digits_test(pytester, seed=1)  # other inputs: the golden is stale, and re-recording is the fix
    stale = pytester.runpytest("--edge-device=AUTO")
    stale.assert_outcomes(failed=1)
    command = _printed_command(stale)
    assert "--edge-device=AUTO" in command
    pytester.runpytest(*command).assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)


def test_when_re_recording_cannot_help_the_marker_change_is_shown(pytester: pytest.Pytester, models) -> None:
    marker = "@pytest.mark.parity(atol=1e-5, cosine=0.999999, top_k=1)"
    digits_test(pytester, marker=marker)
    pytester.runpytest("--update-golden=new").assert_outcomes(failed=1)  # records, then compares
    assert store.golden_files(pytester.path / "golden")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "re-record the golden" not in text and "--update-golden" not in text
    result.stdout.fnmatch_lines(
        [
            "The golden is fresh (the original still reproduces it), so re-recording it would not change this result: "
            "the candidate misses the tolerance.",
            "If this difference is acceptable, loosen the parity marker to:",
            "    @pytest.mark.parity(*)",
        ]
    )
    suggested = next(ln.strip() for ln in result.stdout.lines if ln.startswith("    @pytest.mark.parity("))
    digits_test(pytester, marker=suggested)
    pytester.runpytest().assert_outcomes(passed=1)


def test_an_all_nan_golden_is_refused(pytester: pytest.Pytester) -> None:
    special_model(pytester.path / "special.onnx", "ArgMax")
    pytester.makepyfile(
        test_nan="""
        import numpy as np
        import pytest

        @pytest.mark.edge_model(original="special.onnx")
        def test_nan(golden_check):
            golden_check({"x": -np.ones((2, 5), np.float32)})  # log(-1): every element NaN
        """
    )
    result = pytester.runpytest("--update-golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*refusing to record golden *test_nan.npz: output 'log' is all NaN (10 elements)*"])
    assert not store.golden_files(pytester.path / "golden")
    assert_clean(result)


def test_a_golden_under_its_former_file_name_is_still_read(pytester: pytest.Pytester, models) -> None:
    # Goldens recorded before names were made injective (a parametrized id such as test_seed[3] was
    # written as test_seed_3.npz) keep working until they are re-recorded.
    pytester.makepyfile(
        test_old="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

        @pytest.mark.parametrize("seed", [3])
        def test_seed(golden_check, seed):
            golden_check(seed=seed, batch=2)
        """
    )
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    (new,) = store.golden_files(pytester.path / "golden")
    old = new.parent / "test_seed_3.npz"
    assert new != old
    new.rename(old)
    new.with_suffix(".json").rename(old.with_suffix(".json"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "golden(s)" not in result.stdout.str()
    pytester.runpytest("--update-golden=all").assert_outcomes(passed=1)
    assert new.exists()
    result = pytester.runpytest("--golden-prune")  # the former file is now unused
    result.stdout.fnmatch_lines(["*edgeqa: 1 removed golden(s)*", "  golden/test_old/test_seed_3.npz"])
    assert store.golden_files(pytester.path / "golden") == [new]


def map_and_scores_model(path: Path, int8: bool) -> None:
    """x: float32[n, 1, 4, 4] -> prob: sigmoid(x * w) [n, 1, 4, 4] (a detector's map) and scores:
    flatten(x) * w [n, 16] (class scores); w = 1, stored as int8 (dequantized, so INT8 defaults apply)
    or as float."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 4, 4])
    outs = [
        helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["n", 1, 4, 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 16]),
    ]
    if int8:
        inits = [
            helper.make_tensor("w_q", TensorProto.INT8, [1, 1], [2]),
            helper.make_tensor("w_scale", TensorProto.FLOAT, [], [0.5]),
        ]
        nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"])]
    else:
        inits, nodes = [helper.make_tensor("w", TensorProto.FLOAT, [1, 1], [1.0])], []
    nodes += [
        helper.make_node("Mul", ["x", "w"], ["xw"]),
        helper.make_node("Sigmoid", ["xw"], ["prob"]),
        helper.make_node("Flatten", ["xw"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(nodes, "maps", [x], outs, initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


def test_int8_defaults_judge_top_1_on_class_scores_only(pytester: pytest.Pytester) -> None:
    map_and_scores_model(pytester.path / "float.onnx", int8=False)
    map_and_scores_model(pytester.path / "int8.onnx", int8=True)
    pytester.makepyfile(
        test_maps="""
        import json
        import pytest

        @pytest.mark.edge_model(original="float.onnx", optimized="int8.onnx")
        def test_map(golden_check):
            result = golden_check(batch=3)
            outs = result.comparisons[0].outputs
            print("KIND", result.kind)
            for name in ("prob", "scores"):
                print("OUT", name, json.dumps(outs[name].criteria.applied(), sort_keys=True), sorted(outs[name].stats))
        """
    )
    pytester.runpytest("--update-golden=new").assert_outcomes(passed=1)
    result = pytester.runpytest("-s", "--edge-device=CPU,ort:cpu", "--edge-report=r.json")
    result.assert_outcomes(passed=2)
    assert_clean(result)
    out = result.stdout.str()
    assert out.count("KIND int8") == 2, out
    prob = [ln for ln in result.stdout.lines if ln.startswith("OUT prob")]
    scores = [ln for ln in result.stdout.lines if ln.startswith("OUT scores")]
    assert len(prob) == len(scores) == 2, out
    for line in prob:
        assert "top_k" not in line and "top1" not in line and '"cosine": 0.995' in line, line
    for line in scores:
        assert '"top_k": 1' in line and "'top1_agreement'" in line, line
    report = json.loads((pytester.path / "r.json").read_text())
    text = json.dumps(report)
    assert '"top1_agreement": ' in text  # the scores' figure reaches the report; the map's does not


def test_the_golden_device_from_the_command_line_beats_the_ini(pytester: pytest.Pytester, models) -> None:
    pytester.makeini("[pytest]\nedge_golden_device = CPU\n")
    pytester.makepyfile(
        test_dev="""
        import pytest

        @pytest.mark.edge_model(original="models/digits_cnn.onnx")
        def test_d(golden_check):
            golden_check(batch=2)
        """
    )
    manifest = pytester.path / "golden" / "test_dev" / "test_d.json"
    pytester.runpytest("--update-golden", "--edge-golden-device=ort:cpu").assert_outcomes(passed=1)
    assert json.loads(manifest.read_text())["recorded_with"]["runtime"] == "onnxruntime"
    pytester.runpytest("--update-golden=all").assert_outcomes(passed=1)  # the ini's CPU again
    assert json.loads(manifest.read_text())["recorded_with"]["runtime"] == "openvino"
    # The same parsing, and the same complaint, as the ini key; each names its source.
    bad = pytester.runpytest("--edge-golden-device=FOO:x")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*argument --edge-golden-device: 'FOO:x' is not a device: unknown runtime 'FOO'*"])
    pytester.makeini("[pytest]\nedge_golden_device = FOO:x\n")
    bad = pytester.runpytest()
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*ini edge_golden_device (*): 'FOO:x' is not a device: unknown runtime 'FOO'*"])
    pytester.runpytest("--edge-golden-device=ort:cpu").assert_outcomes(passed=1)  # the command line wins


def test_without_the_cache_provider_recipes_are_cached_per_user(
    pytester: pytest.Pytester, models, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_fp16="""
        import pytest

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="fp16")
        def test_q(optimized_model):
            print("HIT", optimized_model.info.extra["optimization"]["cache_hit"])
        """
    )
    xdg = pytester.path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    # Recipes run in subprocesses here (NNCF and converters register backends once per process).
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert [p.name.split("-")[0] for p in (xdg / "pytest-edgeqa" / "models").iterdir() if p.is_dir()] == ["fp16"]
    assert (xdg / "pytest-edgeqa" / "openvino").is_dir()
    assert not (pytester.path / ".pytest_cache").exists()
    again = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    again.stdout.fnmatch_lines(["*HIT True*"])
    # No XDG_CACHE_HOME: ~/.cache/pytest-edgeqa.
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert any((pytester.path / "home" / ".cache" / "pytest-edgeqa" / "models").glob("fp16-*"))
