"""Loading, compiling and running real models with both runtimes, and what a user sees when it goes wrong."""

from __future__ import annotations

import os

import onnx
import pytest
from conftest import assert_clean, needs_unhonoured, supports_bf16, unhonoured_precision
from onnx import TensorProto, helper

# What a CPU without bf16 says when asked for it (AVX2-only machines): the item is skipped, not run at f32.
BF16_NOT_RUN = "SKIPPED * precision='bf16' asked, but CPU runs f32 (CPU capabilities: *; no BF16), for *"


def test_onnx_and_ir_load_on_cpu_with_both_runtimes(pytester: pytest.Pytester, models) -> None:
    pytester.makepyfile(
        test_load="""
        import numpy as np
        import openvino as ov

        def test_onnx(edge_model):
            m = edge_model("models/digits_cnn.onnx")
            assert [str(s) for s in m.inputs] in (["image: float32[?,8,8]"], ["image: float32[batch,8,8]"])
            out = m.infer({"image": np.zeros((3, 8, 8), np.float32)})
            assert list(out) == ["logits"] and out["logits"].shape == (3, 10)

        def test_ir(edge_model, tmp_path):
            ov.save_model(ov.convert_model("models/digits_cnn.onnx"), tmp_path / "fp32.xml", compress_to_fp16=False)
            m = edge_model(tmp_path / "fp32.xml", reference=True)
            onnx = edge_model("models/digits_cnn.onnx", reference=True)
            x = np.random.default_rng(0).uniform(0, 16, (5, 8, 8)).astype(np.float32)
            np.testing.assert_allclose(m.infer(x)["logits"], onnx.infer(x)["logits"], atol=1e-5)
            assert m.info.model_sha256 != onnx.info.model_sha256
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-rs", "-v")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_onnx[[]CPU[]] PASSED*",
            "*test_onnx[[]ort:cpu[]] PASSED*",
            "*test_ir[[]CPU[]] PASSED*",
            "SKIPPED * ONNX Runtime runs ONNX models only; fp32.xml is OpenVINO IR (use an OpenVINO device)",
        ]
    )


def test_runtimes_agree_at_f32_and_record_precision(pytester: pytest.Pytester, models, example_data) -> None:
    pytester.makepyfile(
        test_agree="""
        import numpy as np
        from pytest_edgeqa import data

        def test_agree(edge_model):
            images = data.columns(data.load("data/digits", split="test"), ["image"])["image"]
            ov_ref = edge_model("models/digits_cnn.onnx", device="CPU", reference=True)
            ort_ref = edge_model("models/digits_cnn.onnx", device="ort:cpu", reference=True)
            a, b = ov_ref.infer({"image": images})["logits"], ort_ref.infer({"image": images})["logits"]
            assert a.shape == (450, 10)
            diff = float(np.abs(a - b).max())
            print(f"max |OpenVINO - ONNX Runtime| = {diff:.2e}")
            assert diff <= 1e-4
            for m in (ov_ref, ort_ref):
                assert m.info.precision == m.info.declared_precision == "f32"
            assert ov_ref.info.execution_devices == ("CPU",)
            assert ort_ref.info.execution_devices == ("CPUExecutionProvider",)
            assert ov_ref.info.runtime == "openvino" and ort_ref.info.runtime == "onnxruntime"
            assert len(ov_ref.info.model_sha256) == 64 and ov_ref.info.model_sha256 == ort_ref.info.model_sha256
            assert ov_ref.info.device_full_name and ov_ref.info.runtime_version

        def test_pinned_precision_is_what_runs(edge_model):
            # bf16 is requested explicitly: the recorded precision is read back from the compiled model,
            # and it visibly changes the numbers, which is why references are pinned to f32.
            x = np.random.default_rng(1).uniform(0, 16, (64, 8, 8)).astype(np.float32)
            f32 = edge_model("models/digits_cnn.onnx", device="CPU", reference=True)
            bf16 = edge_model("models/digits_cnn.onnx", device="CPU", precision="bf16")
            assert (f32.info.precision, bf16.info.precision) == ("f32", "bf16")
            assert float(np.abs(f32.infer(x)["logits"] - bf16.infer(x)["logits"]).max()) > 1e-3
        """
    )
    result = pytester.runpytest("-s", "-rs")
    if supports_bf16():
        result.assert_outcomes(passed=2)
    else:  # an AVX2-only CPU runs f32 when asked for bf16: that is a skip that says so, never a pass
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines([BF16_NOT_RUN])
    result.stdout.fnmatch_lines(["*max |OpenVINO - ONNX Runtime| = *e-0[5-9]"])


def test_original_at_reference_optimized_at_device_default(pytester: pytest.Pytester, models) -> None:
    pytester.makepyfile(
        test_sides="""
        import pytest
        import openvino as ov

        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_fp16.xml")

        def test_sides(original_model, optimized_model):
            default = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
            assert original_model.info.precision == "f32"
            assert optimized_model.info.precision == default
            assert original_model.info.extra["properties"]["INFERENCE_PRECISION_HINT"] == "f32"
            assert "INFERENCE_PRECISION_HINT" not in optimized_model.info.extra["properties"]

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_fp16.xml", precision="bf16")
        def test_marker_precision(optimized_model):
            assert optimized_model.info.precision == "bf16"
        """
    )
    result = pytester.runpytest("--strict-markers", "-rs")
    if supports_bf16():
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines([BF16_NOT_RUN])


@needs_unhonoured
def test_a_setting_the_device_does_not_honour_is_a_skip_not_a_pass(pytester: pytest.Pytester, models) -> None:
    # Asked for a precision the CPU does not run (f16 on CPUs without AVX512-FP16/AMX, bf16 on AVX2-only
    # ones), the model compiles and reads back f32: running it at f32 and passing would be a lie.
    asked = unhonoured_precision()
    streams = (os.cpu_count() or 1) + 1  # more streams than the CPU has cores: it grants fewer
    pytester.makepyfile(
        test_honoured=f"""
        import pytest

        def test_factory(edge_model):
            edge_model("models/digits_cnn.onnx", precision="{asked}")

        def test_reference_still_runs(edge_model):
            assert edge_model("models/digits_cnn.onnx", reference=True).info.precision == "f32"

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml", precision="{asked}")
        def test_marker(original_model, optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", precision="{asked}")
        def test_original_at_reference_is_unaffected(original_model):
            assert original_model.info.precision == original_model.info.declared_precision == "f32"

        def test_property(edge_model):
            edge_model("models/digits_cnn.onnx", properties={{"INFERENCE_PRECISION_HINT": "{asked}"}})

        def test_streams(edge_model):
            edge_model("models/digits_cnn.onnx", streams={streams})

        def test_onnxruntime(edge_model):
            edge_model("models/digits_cnn.onnx", device="ort:cpu", precision="{asked}")
        """
    )
    result = pytester.runpytest("-rs", "--edge-device=CPU", "-p", "no:randomly")
    result.assert_outcomes(passed=2, skipped=5)
    capability = {"f16": "FP16", "bf16": "BF16"}[asked]
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED * test_honoured.py:*: precision='{asked}' asked, but CPU runs f32 (CPU capabilities: *FP32*; "
            f"no {capability}), for edge_model('models/digits_cnn.onnx')",
            f"SKIPPED * precision='{asked}' asked, but CPU runs f32 (*), for edge_model marker optimized='models/digits_cnn_int8.xml'",
            f"SKIPPED * INFERENCE_PRECISION_HINT='{asked}' asked, but CPU runs f32 (CPU capabilities: *; no {capability}), for *",
            f"SKIPPED * streams={streams} asked, but CPU runs *, for edge_model('models/digits_cnn.onnx')",
            f"SKIPPED * precision='{asked}' asked, but ort:cpu runs f32 (ONNX Runtime computes in the model's own types), for *",
        ]
    )
    # Under --edge-require-devices a setting the device does not honour fails the item instead.
    strict = pytester.runpytest("--edge-device=CPU", "--edge-require-devices", "-k", "factory or marker")
    strict.assert_outcomes(failed=1, errors=1)  # the marker's model is compiled in the fixture: an error
    strict.stdout.fnmatch_lines([f"*--edge-require-devices: precision='{asked}' asked, but CPU runs f32 (*"])
    assert_clean(strict)


def test_compile_settings_in_run_info_are_plain_names(pytester: pytest.Pytester, models) -> None:
    # JSON reports carry RunInfo: OpenVINO Type objects used to leak into it as "<Type: 'float32'>".
    pytester.makepyfile(
        test_names="""
        import json

        def test_names(edge_model):
            m = edge_model("models/digits_cnn.onnx", reference=True)
            text = json.dumps(m.info.to_dict())
            assert "<Type" not in text and "PerformanceMode" not in text, text
            assert m.info.asked["precision"] == m.info.granted["precision"] == "f32"
            assert m.info.granted["hint"] == "LATENCY" and "FP32" in m.info.capabilities["CPU"]
        """
    )
    pytester.runpytest("--edge-device=CPU,AUTO").assert_outcomes(passed=2)


def test_compiled_models_are_memoized_and_cached_on_disk(pytester: pytest.Pytester, models) -> None:
    pytester.makepyfile(
        test_memo="""
        import pytest
        seen = []
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

        @pytest.mark.parametrize("n", [1, 2])
        def test_same_object(original_model, edge_model, n):
            seen.append(original_model)
            assert edge_model("models/digits_cnn.onnx", reference=True) is original_model
            assert edge_model("models/digits_cnn.onnx", precision="f32") is not original_model
            assert all(m is seen[0] for m in seen)

        def test_cache(original_model, request):
            print("LOADED_FROM_CACHE", original_model.info.loaded_from_cache)
        """
    )
    first = pytester.runpytest("-s", "--edge-device=AUTO")
    first.assert_outcomes(passed=3)
    first.stdout.fnmatch_lines(["*LOADED_FROM_CACHE False"])
    assert list((pytester.path / ".pytest_cache" / "d" / "edgeqa-openvino").glob("*.blob"))
    second = pytester.runpytest("-s", "--edge-device=AUTO")
    second.stdout.fnmatch_lines(["*LOADED_FROM_CACHE True"])


BAD_INPUTS = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

def test_wrong_name(original_model):
    original_model.infer({"img": np.zeros((1, 8, 8), np.float32)})

def test_wrong_shape(original_model):
    original_model.infer({"image": np.zeros((1, 64), np.float32)})

def test_wrong_dim(original_model):
    original_model.infer({"image": np.zeros((1, 8, 9), np.float32)})

def test_wrong_dtype(original_model):
    original_model.infer({"image": np.zeros((1, 8, 8), np.int64)})

def test_cast_within_kind(original_model):
    assert original_model.infer(np.zeros((2, 8, 8), np.float64))["logits"].dtype == np.float32
"""


@pytest.mark.parametrize("device", ["CPU", "ort:cpu"])
def test_wrong_inputs_to_infer(pytester: pytest.Pytester, models, device: str) -> None:
    pytester.makepyfile(test_inputs=BAD_INPUTS)
    result = pytester.runpytest(f"--edge-device={device}")
    result.assert_outcomes(failed=4, passed=1)
    shape = "?" if device == "CPU" else "batch"
    result.stdout.fnmatch_lines(
        [
            f"E * infer(): unknown input 'img'; missing input 'image'; the model's inputs are image: float32[[]{shape},8,8[]]",
            f"E * infer(): input 'image' expects shape [[]{shape},8,8[]] (float32), got (1, 64)",
            f"E * infer(): input 'image' expects shape [[]{shape},8,8[]] (float32), got (1, 8, 9)",
            "E * infer(): input 'image' expects float32, got int64",
        ]
    )
    assert_clean(result)


def test_model_file_errors(pytester: pytest.Pytester, models) -> None:
    (pytester.path / "garbage.onnx").write_bytes(b"this is not a protobuf \x00\x01")
    (pytester.path / "garbage.xml").write_text("<net><layers><oops></net>")
    (pytester.path / "garbage.bin").write_bytes(b"")
    (pytester.path / "lonely.xml").write_text("<net/>")
    (pytester.path / "notes.txt").write_text("hello")
    pytester.makepyfile(
        test_files="""
        import pytest

        @pytest.mark.parametrize("path", ["nope.onnx", "garbage.onnx", "garbage.xml", "lonely.xml", "notes.txt"])
        def test_load(edge_model, path):
            edge_model(path)
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-rs")
    result.assert_outcomes(failed=9, skipped=1)
    out = result.stdout.str()
    base = str(pytester.path)
    for line in [
        f"edge_model('nope.onnx'): model file not found: {base}/nope.onnx (relative paths resolve against {base})",
        f"{base}/garbage.onnx is not a model OpenVINO can read; expected an ONNX model (a serialized ONNX ModelProto). OpenVINO: ",
        f"{base}/garbage.onnx is not a model ONNX Runtime can load; expected an ONNX model (a serialized ONNX ModelProto). ONNX Runtime: [ONNXRuntimeError] : 7 : INVALID_PROTOBUF",
        f"{base}/garbage.xml is not a model OpenVINO can read; expected OpenVINO IR (an IR .xml with its weights in garbage.bin, 0 bytes). OpenVINO: ",
        f"edge_model('lonely.xml'): OpenVINO IR {base}/lonely.xml has no weights file beside it: {base}/lonely.bin is missing",
        f"edge_model('notes.txt'): {base}/notes.txt is not a model file this plugin loads ('.txt'): expected an ONNX model (.onnx) or OpenVINO IR (.xml with its .bin beside it)",
    ]:
        assert line in out, line
    # which device the model was read for, after the runtime's words
    assert "INVALID_PROTOBUF" in out and " (device ort:cpu)" in out and " (device CPU)" in out, out
    assert_clean(result)


def test_marker_errors(pytester: pytest.Pytester, models) -> None:
    pytester.makepyfile(
        test_markers="""
        import pytest

        @pytest.mark.edge_model(optimized="models/digits_cnn.onnx")
        def test_no_original(original_model):
            pass

        @pytest.mark.edge_model("models/digits_cnn.onnx", hint="FAST", treads=2)
        def test_bad_options(original_model):
            pass

        @pytest.mark.edge_model("models/digits_cnn.onnx", threads=0)
        def test_bad_threads(original_model):
            pass

        @pytest.mark.edge_model("models/digits_cnn.onnx")
        def test_no_optimized(optimized_model):
            pass

        def test_no_marker(original_model):
            pass

        def test_factory_options(edge_model):
            edge_model("models/digits_cnn.onnx", precision="int3")

        def test_factory_device(edge_model):
            edge_model("models/digits_cnn.onnx", device="ort:banana")
        """
    )
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(errors=5, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*edge_model marker: argument 'original' is required (a model path such as 'models/net.onnx')",
            "*edge_model marker: unknown option 'treads' (expected: hint, precision, threads, streams, properties, empty_outputs)",
            "*edge_model marker: threads=0; expected a positive integer of at most 1024",
            "*edge_model marker: argument 'optimized' is not given, so there is no optimized_model",
            "*original_model needs an edge_model marker on the test, its class or module*",
            "*edge_model() fixture: precision='int3'; expected one of f32, f16, bf16",
            "*edge_model(device=...): 'ort:banana' is not a device: unknown ONNX Runtime execution provider 'banana'*",
        ]
    )
    assert_clean(result)


def test_markers_are_registered_with_signatures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.edge_model(original, optimized=None, **options): *",
            "@pytest.mark.edge_device(*devices): *",
        ]
    )
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--edge-device=*RUNTIME:*DEVICE*", "*--edge-require-devices*", "*edge_devices (string)*"]
    )


def _save(graph: onnx.GraphProto, path: os.PathLike[str]) -> None:
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


@pytest.fixture
def odd_models(pytester: pytest.Pytester) -> None:
    """Small graphs shaped like real third-party models (issue 13)."""
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    # scalar.onnx: y = x * Cast(sr), sr an int64 0-d input (a sample rate, as stateful audio models take).
    x = helper.make_tensor_value_info("x", f32, ["batch", 4])
    sr = helper.make_tensor_value_info("sr", i64, [])
    y = helper.make_tensor_value_info("y", f32, ["batch", 4])
    nodes = [helper.make_node("Cast", ["sr"], ["srf"], to=f32), helper.make_node("Mul", ["x", "srf"], ["y"])]
    _save(helper.make_graph(nodes, "scalar", [x, sr], [y]), pytester.path / "scalar.onnx")
    # renamed.onnx: the file's output 'output' is Identity(Relu(x)); OpenVINO names the port after the
    # Relu's tensor, 'A/Relu_output_0' (its get_any_name), keeping 'output' among its names.
    x = helper.make_tensor_value_info("x", f32, [1, 4])
    out = helper.make_tensor_value_info("output", f32, [1, 4])
    nodes = [
        helper.make_node("Relu", ["x"], ["A/Relu_output_0"]),
        helper.make_node("Identity", ["A/Relu_output_0"], ["output"]),
    ]
    _save(helper.make_graph(nodes, "renamed", [x], [out]), pytester.path / "renamed.onnx")
    # empty.onnx: y = x[:, 4:] along a dynamic axis: an input 4 wide or less gives an empty [n, 0] output, which
    # OpenVINO returns with no error (as a stride-32 network does for an 8x8 image).
    x = helper.make_tensor_value_info("x", f32, ["n", "w"])
    y = helper.make_tensor_value_info("y", f32, ["n", "m"])
    consts = [helper.make_tensor(n, i64, [1], [v]) for n, v in (("starts", 4), ("ends", 1000), ("axes", 1))]
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])]
    _save(helper.make_graph(nodes, "empty", [x], [y], consts), pytester.path / "empty.onnx")


def test_a_0d_input_stays_0d(pytester: pytest.Pytester, odd_models, monkeypatch) -> None:
    # np.ascontiguousarray made shape () into (1,): OpenVINO refused it ("got [1] expecting []").
    monkeypatch.delenv("CI", raising=False)  # it records a golden on purpose
    pytester.makepyfile(
        test_scalar="""
        import numpy as np
        import pytest

        FED = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "sr": np.array(16000, np.int64)}

        def test_infer(edge_model):
            m = edge_model("scalar.onnx")
            assert [s.name for s in m.inputs] == ["x", "sr"] and m.inputs[1].shape == ()
            np.testing.assert_array_equal(m.infer(FED)["y"], FED["x"] * 16000)
            prepared = m.prepare(FED)
            assert prepared["sr"].shape == ()
            np.testing.assert_array_equal(m.infer_batched(prepared, 2)["y"], FED["x"] * 16000)
            assert m.timer(prepared)() > 0
            fps, latencies = m.throughput(prepared, 0.05)
            assert fps > 0 and latencies

        @pytest.mark.edge_model(original="scalar.onnx")
        def test_golden(golden_check):
            golden_check(FED)
        """
    )
    pytester.runpytest("--edge-device=CPU,ort:cpu", "--update-golden").assert_outcomes(passed=4)
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_golden[[]CPU[]] PASSED*", "*test_golden[[]ort:cpu[]] PASSED*"])
    assert_clean(result)


def test_a_0d_input_goes_whole_with_every_static_batch(pytester: pytest.Pytester, odd_models) -> None:
    # OpenVINO's asynchronous path for a model compiled at a static batch (as accuracy and throughput
    # checks compile it): the scalar is not sliced, and the last batch is padded.
    import numpy as np

    from pytest_edgeqa.devices import parse_device
    from pytest_edgeqa.runtimes.openvino import OpenVINOEngine
    from pytest_edgeqa.types import CompileConfig, ModelFile

    path = pytester.path / "scalar.onnx"
    model = OpenVINOEngine().compile(ModelFile(path, "onnx", (path,), "-"), parse_device("CPU"), CompileConfig(batch=2))
    assert [s.shape for s in model.inputs] == [(2, 4), ()]
    fed = {"x": np.arange(20, dtype=np.float32).reshape(5, 4), "sr": np.array(3, np.int64)}
    np.testing.assert_array_equal(model.infer_batched(model.prepare(fed, any_batch=True), 2)["y"], fed["x"] * 3)


def test_ports_are_named_as_the_model_file_declares(pytester: pytest.Pytester, odd_models) -> None:
    # OpenVINO named the output 'A/Relu_output_0': infer()["output"] was a KeyError on CPU only.
    pytester.makepyfile(
        test_names="""
        import numpy as np

        def test_names(edge_model):
            m = edge_model("renamed.onnx")
            assert [s.name for s in m.inputs] == ["x"] and [s.name for s in m.outputs] == ["output"]
            x = np.array([[-1, 0, 1, 2]], np.float32)
            np.testing.assert_array_equal(m.infer(x)["output"], np.maximum(x, 0))
            assert m.timer(m.prepare(x))() > 0
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu")
    result.assert_outcomes(passed=2)
    assert_clean(result)


def test_an_empty_output_from_an_input_too_small_fails_before_another_request_runs(
    pytester: pytest.Pytester, odd_models
) -> None:
    # OpenVINO returned y of shape (2, 0) with no error; a second request of that compiled model afterwards
    # (latency, the throughput path) can kill the process ("pure virtual method called").
    pytester.makepyfile(
        test_empty="""
        import numpy as np

        def test_infer(edge_model):
            m = edge_model("empty.onnx")
            assert m.infer(np.ones((2, 6), np.float32))["y"].shape == (2, 2)
            m.infer(np.ones((2, 3), np.float32))

        def test_latency_path(edge_model):
            m = edge_model("empty.onnx", reference=True)  # another compiled model
            m.timer(m.prepare(np.ones((2, 3), np.float32)))

        def test_throughput_path(edge_model):
            m = edge_model("empty.onnx", precision="f32")
            m.infer_batched(m.prepare(np.ones((5, 3), np.float32)), 2)
        """
    )
    result = pytester.runpytest("--edge-device=CPU")
    result.assert_outcomes(failed=3)
    text = (
        "E * empty.onnx on CPU returned an empty output 'y' of shape [[]2, 0[]] (declared [[]?,?[]]) with no error, "
        "for inputs x: float32[[]2, 3[]]: an input is probably too small for the model*"
    )
    result.stdout.fnmatch_lines([text, text, text])
    assert_clean(result)


@pytest.fixture
def failing_model(pytester: pytest.Pytester) -> None:
    """fails.onnx: y = Reshape(x, [2, 3]) with x declared [n, w]: any x that is not 6 values long makes both
    runtimes raise while running (OpenVINO's CPU plugin and ONNX Runtime's Reshape kernel)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, 3])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    _save(helper.make_graph(nodes, "fails", [x], [y], [shape]), pytester.path / "fails.onnx")


@pytest.mark.parametrize("device", ["CPU", "ort:cpu"])
def test_a_runtime_error_while_running_is_one_message(
    pytester: pytest.Pytester, failing_model, monkeypatch, device: str
) -> None:
    # The runtime's RuntimeError / onnxruntime Fail came out as a traceback through the adapters and the runtime.
    monkeypatch.delenv("CI", raising=False)  # golden_check may record
    pytester.makepyfile(
        test_fails="""
        import numpy as np
        import pytest

        BAD = np.ones((2, 5), np.float32)

        def test_infer(edge_model):
            m = edge_model("fails.onnx")
            assert m.infer(np.ones((3, 2), np.float32))["y"].shape == (2, 3)
            m.infer(BAD)

        def test_batched(edge_model):
            m = edge_model("fails.onnx", reference=True)
            m.infer_batched(m.prepare(BAD), 2)

        def test_timer(edge_model):
            m = edge_model("fails.onnx", precision="f32")
            m.timer(m.prepare(BAD))()

        def test_throughput(edge_model):
            m = edge_model("fails.onnx", hint="THROUGHPUT")
            m.throughput(m.prepare(BAD), 0.05)

        @pytest.mark.edge_model(original="fails.onnx")
        def test_golden(golden_check):
            golden_check({"x": BAD})

        @pytest.mark.edge_model(original="fails.onnx", optimized="fails.onnx")
        @pytest.mark.latency(p90_ms=1000)
        def test_latency(latency_check):
            latency_check({"x": np.ones((1, 5), np.float32)})  # latency runs batch 1
        """
    )
    result = pytester.runpytest(f"--edge-device={device}", "--edge-latency=strict")
    result.assert_outcomes(failed=6)
    runtime = "OpenVINO: [[]CPU[]] Reshape node *" if device == "CPU" else "ONNX Runtime: *Non-zero status code *"
    line = f"*fails.onnx on {device} failed to run, for inputs x: float32[[]{{}}[]]. {runtime}"
    golden = "*fails.onnx on CPU failed to run, for inputs x: float32[[]2, 5[]]. OpenVINO: *"  # recorded on CPU
    # latency_check compiles for the shapes it feeds: OpenVINO's reshape to them fails before any run
    latency = (
        "*OpenVINO could not reshape fails.onnx for CPU to the input shapes x: [[]1,5[]]: *Reshape*"
        if device == "CPU"
        else line.format("1, 5")
    )
    result.stdout.fnmatch_lines([line.format("2, 5")] * 4 + [golden, latency])
    text = result.stdout.str() + result.stderr.str()
    assert "site-packages/openvino" not in text and "site-packages/onnxruntime" not in text, text
    assert "Traceback" not in text and "onnxruntime_src" not in text and "Exception from src/" not in text, text
    assert_clean(result)


@pytest.fixture
def scalar_first(pytester: pytest.Pytester) -> None:
    """scalar_first.onnx: inputs sr (int64, 0-d, first) and x [batch, 4]; outputs y = x * sr [batch, 4] and
    total = sum(y) (0-d). scalar_first_x2.onnx: the same with y doubled (a candidate that fails parity);
    scalar_first_y.onnx: y alone (batched paths do not take a 0-d output)."""
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    for name, scale in (("scalar_first", 1.0), ("scalar_first_x2", 2.0), ("scalar_first_y", 1.0)):
        sr = helper.make_tensor_value_info("sr", i64, [])
        x = helper.make_tensor_value_info("x", f32, ["batch", 4])
        y = helper.make_tensor_value_info("y", f32, ["batch", 4])
        total = helper.make_tensor_value_info("total", f32, [])
        nodes = [
            helper.make_node("Cast", ["sr"], ["srf"], to=f32),
            helper.make_node("Mul", ["x", "srf"], ["xs"]),
            helper.make_node("Mul", ["xs", "scale"], ["y"]),
            helper.make_node("ReduceSum", ["y"], ["total"], keepdims=0),
        ]
        consts = [helper.make_tensor("scale", f32, [], [scale])]
        outputs = [y] if name.endswith("_y") else [y, total]
        _save(helper.make_graph(nodes, name, [sr, x], outputs, consts), pytester.path / f"{name}.onnx")


def test_a_0d_first_input_is_not_the_sample_count(pytester: pytest.Pytester, scalar_first, monkeypatch) -> None:
    # len() of the first input counted samples: a 0-d first input (a sample rate) raised TypeError in
    # accuracy's evaluation and recipes' calibration data, and made golden_check report "1 samples".
    monkeypatch.delenv("CI", raising=False)  # it records a golden on purpose
    pytester.makepyfile(
        test_first="""
        import numpy as np
        import pytest
        from pytest_edgeqa.accuracy import outputs_of
        from pytest_edgeqa.optimize import Context, Samples

        FED = {"sr": np.array(3, np.int64), "x": np.arange(12, dtype=np.float32).reshape(3, 4)}

        def test_accuracy_evaluation(edge_model):
            m = edge_model("scalar_first_y.onnx")
            out, timing = outputs_of(m, FED, None, None, "original")
            np.testing.assert_array_equal(out, FED["x"] * 3)
            assert timing["samples"] == 3

        def test_calibration_samples():
            samples = Samples(dict(FED), "-")
            assert len(samples) == 3
            batches = Context(None, {}, None, samples).calibration_inputs()
            assert len(batches) == 3 and all(b["sr"].shape == () and b["x"].shape == (1, 4) for b in batches)

        @pytest.mark.edge_model(original="scalar_first.onnx", optimized="scalar_first_x2.onnx")
        def test_golden(golden_check):
            golden_check(FED)
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "--update-golden", "-k", "golden")
    result.assert_outcomes(failed=2)
    result = pytester.runpytest("--edge-device=CPU,ort:cpu")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*parity failed against golden * (3 samples; *"] * 2)
    result.stdout.fnmatch_lines(["  output 'total' [[][]] float32: FAILED*"])  # the 0-d output stays 0-d
    assert_clean(result)


def test_a_0d_array_hashes_as_0d() -> None:
    # np.ascontiguousarray turned shape () into (1,) before hashing: a 0-d golden output or input hashed like [1].
    import numpy as np

    from pytest_edgeqa import golden

    scalar, one = np.array(5.0, np.float32), np.array([5.0], np.float32)
    assert golden.array_sha256(scalar) != golden.array_sha256(one)
    assert golden.summary(scalar)["shape"] == [] and golden.arrays_sha256({"sr": scalar}) != golden.arrays_sha256({"sr": one})


def test_an_empty_output_is_judged_alike_on_both_runtimes_unless_allowed(pytester: pytest.Pytester, odd_models) -> None:
    # ONNX Runtime returned y of shape (2, 0) with no error where OpenVINO's adapter failed; a model that may
    # legitimately return no rows (a detector with no detections) had no way to say so.
    pytester.makepyfile(
        test_empty="""
        import numpy as np

        SMALL, WIDE = np.ones((2, 3), np.float32), np.ones((2, 6), np.float32)

        def test_unexpected(edge_model):
            edge_model("empty.onnx").infer(SMALL)

        def test_allowed(edge_model):
            m = edge_model("empty.onnx", empty_outputs="y")
            assert m.infer(SMALL)["y"].shape == (2, 0) and m.infer(WIDE)["y"].shape == (2, 2)
            assert m.timer(m.prepare(SMALL))() > 0
            assert m.infer_batched(m.prepare(SMALL), 1)["y"].shape == (2, 0)

        def test_allowed_throughput(edge_model):
            m = edge_model("empty.onnx", empty_outputs=["y"], hint="THROUGHPUT")
            m.infer(SMALL)
            fps, latencies = m.throughput(m.prepare(WIDE), 0.05)
            assert fps > 0 and latencies

        def test_bad_value(edge_model):
            edge_model("empty.onnx", empty_outputs=3)

        def test_unknown_output(edge_model):
            edge_model("empty.onnx", empty_outputs=["boxes"])
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-v")
    result.assert_outcomes(passed=3, failed=7)
    result.stdout.fnmatch_lines(
        [
            "*test_allowed[[]CPU[]] PASSED*",
            "*test_allowed[[]ort:cpu[]] PASSED*",
            "*test_allowed_throughput[[]ort:cpu[]] PASSED*",
        ],
        consecutive=False,
    )
    said = (
        "empty.onnx on {} returned an empty output 'y' of shape [[]2, 0[]] (declared [[]?,?[]]) with no error, for "
        "inputs x: float32[[]2, 3[]]: an input is probably too small for the model (a dimension came out 0); give "
        "larger input shapes, or, if 'y' may be empty (a detector that found nothing), name it in "
        "edge_model(..., empty_outputs=[[]'y'[]]){}"
    )
    ov_tail = ". The model is not run again (another inference of it after this can crash OpenVINO)"
    result.stdout.fnmatch_lines(
        [
            "E * " + said.format("CPU", ov_tail),
            "E * " + said.format("ort:cpu", ""),
            "E * empty.onnx on CPU returned an empty 'y' (allowed by empty_outputs=) for inputs x: float32[[]2, 3[]], "
            "so OpenVINO runs this compiled model on its first request only *use an ONNX Runtime device (ort:cpu)",
            "edge_model() fixture: empty_outputs=3; expected an output name or a list of output names, e.g. "
            "empty_outputs=('boxes',)",
            "edge_model('empty.onnx'): empty_outputs names 'boxes', which empty.onnx does not have (outputs: y)",
        ],
        consecutive=False,
    )
    assert_clean(result)
