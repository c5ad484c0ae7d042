"""Recipes in real sessions: each one builds a model that runs, the cache is reused, xdist builds once."""

from __future__ import annotations

import json
import re

import pytest
from conftest import assert_clean
from onnx import TensorProto, helper

from pytest_edgeqa import optimize
from pytest_edgeqa.errors import ConfigError

CONFTEST = """
import pytest
from pytest_edgeqa import data

@pytest.fixture(scope="session")
def digits_train():
    return data.load("data/digits", split="train")

@pytest.fixture(scope="session")
def digits():
    return data.load("data/digits", split="test")
"""


@pytest.fixture
def env(pytester: pytest.Pytester, models, example_data) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    # NNCF registers its OpenVINO backend when first used and cannot register it twice in one process;
    # pytester's in-process runs would unload and reload it, so these sessions run in subprocesses.
    pytester.runpytest = pytester.runpytest_subprocess  # type: ignore[method-assign]
    return pytester


RECIPE_TEST = """
import numpy as np
import pytest

@pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={optimized})
@pytest.mark.accuracy(metric="accuracy", max_drop=0.02)
def test_recipe(optimized_model, accuracy_check, digits):
    info = optimized_model.info.extra["optimization"]
    print("BUILT", info["recipe"], "hit" if info["cache_hit"] else "built", info["size_before"], info["size_after"], info["compression_ratio"], info["build_s"])
    r = accuracy_check(digits)
    assert r.optimized.value > 0.95
"""


@pytest.mark.parametrize(
    ("optimized", "formats"),
    [
        ('"fp16"', "ir"),
        ('{"recipe": "nncf-int8", "calibration": "digits_train", "samples": 200}', "ir"),
        ('{"recipe": "nncf-int8-accuracy", "calibration": "digits_train", "samples": 200}', "ir"),
        ('{"recipe": "ort-dynamic-int8"}', "onnx"),
        ('{"recipe": "ort-static-int8", "calibration": "data/digits", "per_channel": True, "samples": 100}', "onnx"),
        ('"nncf-weights-int8"', "ir"),
    ],
)
def test_each_recipe_builds_a_model_that_runs_on_every_runtime_its_format_allows(
    env: pytest.Pytester, optimized: str, formats: str
) -> None:
    env.makepyfile(test_recipe=RECIPE_TEST.format(optimized=optimized))
    result = env.runpytest("-s", "--edge-device=CPU,ort:cpu", "-rs")
    if formats == "onnx":
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["*ONNX Runtime runs ONNX models only; model.xml is OpenVINO IR*"])
    result.stdout.fnmatch_lines(["*BUILT * built * * * *"])
    # A second session reuses the cache entry: nothing is quantized again.
    again = env.runpytest("-s", "--edge-device=CPU")
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(["*BUILT * hit *"])
    assert "built" not in " ".join(ln for ln in again.stdout.lines if "BUILT" in ln)


def test_second_run_hits_the_cache_and_runs_no_quantization(env: pytest.Pytester) -> None:
    env.makepyfile(
        test_cache="""
        import nncf
        import pytest

        calls = []

        @pytest.fixture(autouse=True)
        def count_quantize(monkeypatch):
            real = nncf.quantize
            def counting(*args, **kwargs):
                calls.append(1)
                return real(*args, **kwargs)
            monkeypatch.setattr(nncf, "quantize", counting)
            yield
            print("QUANTIZE CALLS", len(calls))

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-int8", "calibration": "digits_train", "samples": 100})
        def test_q(optimized_model):
            assert optimized_model.info.extra["optimization"]["calibration_samples"] == 100
        """
    )
    env.runpytest("-s").stdout.fnmatch_lines(["*QUANTIZE CALLS 1"])
    env.runpytest("-s").stdout.fnmatch_lines(["*QUANTIZE CALLS 0"])
    env.runpytest("-s", "--edge-rebuild").stdout.fnmatch_lines(["*QUANTIZE CALLS 1"])
    entries = [p for p in (env.path / ".pytest_cache" / "d" / "edgeqa-models").iterdir() if p.is_dir()]
    assert len(entries) == 1
    meta = json.loads((entries[0] / "build.json").read_text())
    assert (
        meta["recipe"] == "nncf-int8"
        and meta["options"]["samples"] == 100
        and set(meta["versions"]) == {"nncf", "openvino", "onnxruntime"}
    )
    assert meta["size_after"] < meta["size_before"] and meta["compression_ratio"] > 1.5
    # Other calibration data is another entry.
    env.makepyfile(
        test_other="""
        import pytest

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-int8", "calibration": "digits_train", "samples": 50})
        def test_q(optimized_model):
            pass
        """
    )
    env.runpytest("test_other.py", "--edge-cache-dir=elsewhere").assert_outcomes(passed=1)
    assert len([p for p in (env.path / "elsewhere").iterdir() if p.is_dir()]) == 1


def test_xdist_workers_build_once(env: pytest.Pytester) -> None:
    env.makepyfile(
        test_many="""
        import json, os, pytest

        @pytest.mark.parametrize("n", range(6))
        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "ort-static-int8", "calibration": "digits_train", "samples": 50})
        def test_q(optimized_model, n):
            info = optimized_model.info.extra["optimization"]
            with open(f"report-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{n}.json", "w") as fh:
                json.dump({"build": info["build_id"], "key": info["key"]}, fh)
        """
    )
    env.runpytest("-n", "2", "--edge-device=CPU,ort:cpu").assert_outcomes(passed=12)
    reports = [json.loads(p.read_text()) for p in env.path.glob("report-*.json")]
    assert (
        len(reports) >= 6 and len({w.name.split("-")[1] for w in env.path.glob("report-*.json")}) == 2
    )  # both workers
    # Every item of both workers got the model of one and the same build.
    assert len({r["key"] for r in reports}) == 1 and len({r["build"] for r in reports}) == 1
    assert len(list((env.path / ".pytest_cache" / "d" / "edgeqa-models").glob("ort-static-int8-*"))) == 1


def conv_only(path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, 8, 8])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 1, 3, 3], [0.1] * 36)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "conv", [x], [y], [w])
    import onnx

    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


def test_clear_errors(env: pytest.Pytester) -> None:
    conv_only(env.path / "conv.onnx")
    env.makepyfile(
        test_errors="""
        import pytest

        @pytest.mark.edge_model(original="conv.onnx", optimized="nncf-weights-int4")
        def test_int4_without_matmul(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-int9"})
        def test_unknown(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-weights-int4", "group_size": 0})
        def test_bad_option(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-weights-int4", "ratio": 2.0})
        def test_bad_ratio(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "fp16", "samples": 3})
        def test_unknown_option(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-int8"})
        def test_no_calibration(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn_fp16.xml", optimized="ort-dynamic-int8")
        def test_ort_on_ir(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-int8", "calibration": {"path": "data/digits", "inputs": {"image": "pixels"}}})
        def test_bad_column(optimized_model):
            pass
        """
    )
    result = env.runpytest()
    result.assert_outcomes(errors=8)
    result.stdout.fnmatch_lines_random(
        [
            "*nncf-weights-int4 cannot apply to conv.onnx: it compresses MatMul (and embedding) weights, and this model has none (use nncf-int8 for convolutional models)",
            "*edge_model marker: unknown recipe 'nncf-int9' (known: fp16, nncf-int8, nncf-int8-accuracy, nncf-weights-int4, nncf-weights-int8, ort-dynamic-int8, ort-static-int8)",
            "*recipe 'nncf-weights-int4': group_size=0; expected a positive integer",
            "*recipe 'nncf-weights-int4': ratio=2.0; expected a fraction in (0, 1]",
            "*edge_model marker: recipe 'fp16' has no option 'samples' (options: none)",
            "*edge_model marker: recipe 'nncf-int8' needs calibration data: add calibration=<fixture name, dataset path or {path, split}>",
            "*ort-dynamic-int8 quantizes ONNX models; digits_cnn_fp16.xml is OpenVINO IR",
            "*recipe 'nncf-int8' calibration: dataset data/digits (split 'train') has no column 'pixels' (columns: image, label)",
        ]
    )
    assert_clean(result)


def test_nncf_options_without_a_recipe_option_pass_through_advanced(env: pytest.Pytester) -> None:
    # NNCF's error suggests `group_size_fallback_mode`, which no recipe option sets: `advanced` carries it
    # (and any other parameter of the NNCF call or field of its advanced-parameters dataclass) to NNCF.
    env.makepyfile(
        test_advanced="""
        import pytest

        INT4 = {"recipe": "nncf-weights-int4", "group_size": 48}

        @pytest.mark.edge_model(original="models/charlm.onnx", optimized=INT4)
        def test_suggested(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/charlm.onnx", optimized={**INT4, "advanced": {"group_size_fallback_mode": "adjust", "backup_mode": "int8_sym"}})
        def test_adjusted(optimized_model):
            assert optimized_model.info.extra["optimization"]["options"]["advanced"]["group_size_fallback_mode"] == "adjust"

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "nncf-int8", "calibration": "digits_train", "samples": 50, "advanced": {"disable_bias_correction": True, "target_device": "cpu"}})
        def test_quantize(optimized_model):
            assert optimized_model.info.extra["optimization"]["options"]["advanced"] == {"disable_bias_correction": True, "target_device": "cpu"}

        @pytest.mark.edge_model(original="models/charlm.onnx", optimized={**INT4, "advanced": {"group_size_fallbak_mode": "adjust"}})
        def test_typo(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/charlm.onnx", optimized={**INT4, "advanced": {"group_size_fallback_mode": "sometimes"}})
        def test_bad_value(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/charlm.onnx", optimized={**INT4, "advanced": {"ratio": 0.5}})
        def test_recipe_option(optimized_model):
            pass

        @pytest.mark.edge_model(original="models/charlm.onnx", optimized={**INT4, "advanced": ["group_size_fallback_mode"]})
        def test_not_a_mapping(optimized_model):
            pass
        """
    )
    result = env.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=5)
    result.stdout.fnmatch_lines_random(
        [
            "*nncf.compress_weights failed on charlm.onnx: InvalidGroupSizeError: Failed to apply group-wise quantization "
            "with group size value 48.*consider setting `group_size_fallback_mode` to IGNORE or ADJUST*",
            "(the recipe passes NNCF options through its advanced= mapping: advanced={'group_size_fallback_mode': ...})",
            "*recipe 'nncf-weights-int4': advanced: nncf.compress_weights has no parameter 'group_size_fallbak_mode' "
            "(it takes: *group_size_fallback_mode*)",
            "*recipe 'nncf-weights-int4': advanced: group_size_fallback_mode='sometimes'; expected one of 'error', "
            "'ignore', 'adjust'",
            "*recipe 'nncf-weights-int4': advanced: 'ratio' is set by the recipe itself (from its own options); use those instead",
            "*recipe 'nncf-weights-int4': advanced=[[]'group_size_fallback_mode'[]]; expected a mapping of NNCF parameter names to values*",
        ]
    )
    assert_clean(result)


def test_a_conftest_registers_its_own_recipe(env: pytest.Pytester) -> None:
    env.makeconftest(
        CONFTEST
        + """
import shutil
from pytest_edgeqa.optimize import Option, recipe

@recipe("copy", options={"suffix": Option(str, "copy")})
def copy(ctx):
    out = ctx.out_dir / f"model-{ctx.options['suffix']}.onnx"
    shutil.copy(ctx.original.path, out)
    return out
"""
    )
    env.makepyfile(
        test_custom="""
        import pytest

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized={"recipe": "copy", "suffix": "x"})
        def test_custom(optimized_model, original_model):
            assert optimized_model.info.model.endswith("model-x.onnx")
            assert optimized_model.info.model_sha256 == original_model.info.model_sha256
        """
    )
    env.runpytest("--edge-device=CPU,ort:cpu").assert_outcomes(passed=2)


def test_option_validation_is_unit_testable() -> None:
    with pytest.raises(ConfigError, match="recipe 'nncf-int8': preset='fast'; expected one of 'performance', 'mixed'"):
        optimize.parse_spec({"recipe": "nncf-int8", "calibration": "x", "preset": "fast"}, "test")
    spec = optimize.parse_spec({"recipe": "nncf-weights-int4", "ratio": 1}, "test")
    assert spec.options == {
        "mode": "sym",
        "group_size": 128,
        "ratio": 1.0,
        "all_layers": False,
        "awq": False,
        "scale_estimation": False,
        "samples": 32,
        "ignored_scope": None,
        "advanced": None,
    }


def _constant_weights_conv(path) -> None:
    """A Conv whose weight and bias are Constant nodes, not initializers, as some exporters (paddle2onnx,
    the rapidocr models) write them: ONNX Runtime's quantizers expect initializers."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32), "b")
    nodes = [
        helper.make_node("Constant", [], ["w"], value=weight, name="weight"),
        helper.make_node("Constant", [], ["b"], value=bias, name="bias"),
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])
    graph = helper.make_graph(nodes, "constant_weights", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


CONSTANT_WEIGHTS = """
import numpy as np
import onnx
import pytest

X = np.random.default_rng(1).normal(size=(16, 3, 8, 8)).astype(np.float32)
STATIC = {"recipe": "ort-static-int8", "calibration": "calib", "samples": 8, "preprocess": True,
          "op_types_to_quantize": ["Conv"], "nodes_to_exclude": ["relu"]}


@pytest.fixture(scope="session")
def calib():
    return {"x": X}


def quantized_ops(model):
    return {n.op_type for n in onnx.load(model.info.model).graph.node}


@pytest.mark.edge_model(original="constw.onnx", optimized={"recipe": "ort-dynamic-int8"})
def test_dynamic_without_preprocess(optimized_model):
    pass


@pytest.mark.edge_model(original="constw.onnx", optimized={"recipe": "ort-dynamic-int8", "preprocess": True})
def test_dynamic_with_preprocess(optimized_model, original_model):
    assert "ConvInteger" in quantized_ops(optimized_model)
    out, ref = optimized_model.infer(X[:2])["y"], original_model.infer(X[:2])["y"]
    assert out.shape == (2, 4, 8, 8) and np.abs(out - ref).max() < 0.2


@pytest.mark.edge_model(original="constw.onnx", optimized=STATIC)
def test_static_with_preprocess(optimized_model):
    assert "QuantizeLinear" in quantized_ops(optimized_model)
    assert optimized_model.infer(X[:2])["y"].shape == (2, 4, 8, 8)


@pytest.mark.edge_model(original="constw.onnx", optimized={**STATIC, "op_types_to_quantize": ["Conv2d"]})
def test_unknown_op_type(optimized_model):
    pass


@pytest.mark.edge_model(original="constw.onnx", optimized={**STATIC, "nodes_to_exclude": ["Relu_1"]})
def test_unknown_node(optimized_model):
    pass
"""


def test_ort_recipes_preprocess_models_whose_weights_are_constant_nodes(pytester: pytest.Pytester) -> None:
    _constant_weights_conv(pytester.path / "constw.onnx")
    pytester.makepyfile(test_constw=CONSTANT_WEIGHTS)
    result = pytester.runpytest("--edge-device=ort:cpu", "-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*onnxruntime.quantization.quantize_dynamic failed on constw.onnx: ValueError: Expected w to be an initializer",
            "ONNX Runtime: Please consider to run pre-processing before quantization.* (the recipe runs it with the "
            "option preprocess=True)",
            "*recipe 'ort-static-int8': op_types_to_quantize names 'Conv2d', not an op type of constw.onnx; expected "
            "some of: Constant, Conv, Relu",
            "*recipe 'ort-static-int8': nodes_to_exclude names 'Relu_1', not a node of constw.onnx; expected node "
            "names such as 'bias', 'conv', 'relu', 'weight'",
        ]
    )
    assert_clean(result)


def test_ort_recipe_options_are_checked_and_part_of_the_cache_key() -> None:
    for key, value, expected in [
        ("op_types_to_quantize", "Conv", "a list of ONNX op types, e.g. ['Conv', 'MatMul']"),
        ("nodes_to_exclude", [], "a list of node names of the model, e.g. ['/head/MatMul']"),
        ("nodes_to_exclude", ["conv", 3], "a list of node names"),
        ("preprocess", "yes", "bool"),
    ]:
        with pytest.raises(ConfigError, match=f"recipe 'ort-dynamic-int8': {key}=.*; expected {re.escape(expected)}"):
            optimize.parse_spec({"recipe": "ort-dynamic-int8", key: value}, "test")
    plain = optimize.parse_spec("ort-dynamic-int8", "test")
    keys = {
        optimize.cache_key("sha", optimize.parse_spec({"recipe": "ort-dynamic-int8", **opts}, "test"), None)
        for opts in ({"preprocess": True}, {"op_types_to_quantize": ["Conv"]}, {"nodes_to_exclude": ["conv"]})
    }
    assert len(keys | {optimize.cache_key("sha", plain, None)}) == 4
