"""Hypothesis strategies for model inputs, and parity_check inside @given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import SUITES
from hypothesis import find, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from pytest_edgeqa import data
from pytest_edgeqa.errors import ConfigError
from pytest_edgeqa.strategies import dataset_samples, input_specs, model_inputs

THRESHOLD = 7.5


def save(graph: onnx.GraphProto, path: Path) -> Path:
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
    return path


def planted(directory: Path) -> tuple[Path, Path]:
    """Two models of x: float32[batch, 6]: ``same`` returns x; ``diverges`` adds 10 wherever x > 7.5."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6])
    t = helper.make_tensor("t", TensorProto.FLOAT, [], [THRESHOLD])
    ten = helper.make_tensor("ten", TensorProto.FLOAT, [], [10.0])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    same = save(
        helper.make_graph([helper.make_node("Add", ["x", "zero"], ["y"])], "same", [x], [y], [zero]),
        directory / "same.onnx",
    )
    nodes = [
        helper.make_node("Greater", ["x", "t"], ["g"]),
        helper.make_node("Cast", ["g"], ["gf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["gf", "ten"], ["bump"]),
        helper.make_node("Add", ["x", "bump"], ["y"]),
    ]
    diverges = save(helper.make_graph(nodes, "diverges", [x], [y], [t, ten]), directory / "diverges.onnx")
    return same, diverges


def multi_input(directory: Path) -> Path:
    """Token ids (int64[batch, seq]), a bool attention mask (bool[batch, seq]) and floats (float32[batch, 3])."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.BOOL, ["batch", "seq"])
    extra = helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["batch", 3])
    out = helper.make_tensor_value_info("kept", TensorProto.INT64, ["batch", "seq"])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", 1])
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.INT64),
        helper.make_node("Mul", ["input_ids", "m"], ["kept"]),
        helper.make_node("ReduceSum", ["extra"], ["s"], keepdims=1),
    ]
    return save(helper.make_graph(nodes, "multi", [ids, mask, extra], [out, s]), directory / "multi.onnx")


def test_a_planted_divergence_is_found_and_shrunk_to_a_minimal_input(tmp_path: Path) -> None:
    same, diverges = planted(tmp_path)
    a = ort.InferenceSession(str(same), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(diverges), providers=["CPUExecutionProvider"])

    def disagree(inputs: dict) -> bool:
        return not np.allclose(a.run(None, inputs)[0], b.run(None, inputs)[0], atol=1e-3)

    minimal = find(
        model_inputs(same, batch=(1, 4), ranges={"x": (0, 10)}),
        disagree,
        settings=settings(max_examples=2000, database=None),
    )
    x = minimal["x"]
    # Shrunk: one row, exactly one element past the threshold, every other element zero.
    assert x.shape == (1, 6)
    assert int((x > THRESHOLD).sum()) == 1 and int((x != 0).sum()) == 1
    assert THRESHOLD < float(x.max()) <= 8.0


def test_parity_check_inside_given_reports_the_minimal_failing_example(pytester: pytest.Pytester) -> None:
    planted(pytester.path)
    pytester.makepyfile(
        test_prop="""
        import pytest
        from hypothesis import given, settings
        from pytest_edgeqa.strategies import model_inputs

        pytestmark = pytest.mark.edge_model(original="same.onnx", optimized="diverges.onnx")

        @pytest.mark.parity(atol=1e-3)
        @settings(max_examples=500, database=None, deadline=None)
        @given(inputs=model_inputs("same.onnx", ranges={"x": (0, 10)}))
        def test_agree(parity_check, inputs):
            parity_check(inputs)
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "function-scoped fixture" not in out  # no health check failure
    result.stdout.fnmatch_lines(
        [
            "*failed: |a - r| <= atol + rtol*|r| (atol=0.001, rtol=0): 1/6 elements (16.7%) outside, 0 allowed (max_mismatch=0)",
            "*Failing test case: test_agree(",
            "*inputs={'x': array([[][[]0., 0., 0., 0., 0., 8.[]][]], dtype=float32)},",
            "*ParityMismatch",
        ]
    )


def test_generated_inputs_always_satisfy_the_specs(tmp_path: Path) -> None:
    path = multi_input(tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    specs = {s.name: s for s in input_specs(path)}
    assert specs["input_ids"].shape == ("batch", "seq") and specs["attention_mask"].dtype == np.bool_
    strategy = model_inputs(
        path, batch=(1, 3), dims={"seq": (1, 12)}, ranges={"input_ids": (0, 50), "extra": (-2.0, 2.0)}
    )

    @settings(max_examples=150, deadline=None, database=None)
    @given(inputs=strategy)
    def check(inputs: dict) -> None:
        ids, mask, extra = inputs["input_ids"], inputs["attention_mask"], inputs["extra"]
        assert ids.dtype == np.int64 and mask.dtype == np.bool_ and extra.dtype == np.float32
        assert ids.shape == mask.shape and 1 <= ids.shape[0] <= 3 and 1 <= ids.shape[1] <= 12  # seq is shared
        assert extra.shape == (ids.shape[0], 3)
        assert ids.min(initial=0) >= 0 and ids.max(initial=0) <= 50
        assert np.all(np.abs(extra) <= 2.0)
        kept, _ = session.run(None, inputs)  # the real runtime accepts every draw
        assert np.array_equal(kept, ids * mask)

    check()


def test_ranges_can_be_learned_from_a_dataset() -> None:
    digits = data.load(SUITES / "data" / "digits", split="test")
    strategy = model_inputs(SUITES / "models" / "digits_cnn.onnx", dataset=digits, columns={"image": "image"})

    @settings(max_examples=50, deadline=None, database=None)
    @given(inputs=strategy)
    def check(inputs: dict) -> None:
        assert inputs["image"].shape == (1, 8, 8) and inputs["image"].min() >= 0 and inputs["image"].max() <= 16

    check()


def test_dataset_samples_stay_near_the_data() -> None:
    digits = data.load(SUITES / "data" / "digits", split="test")
    images = data.columns(digits, ["image"])["image"]

    @settings(max_examples=60, deadline=None, database=None)
    @given(inputs=dataset_samples(digits, columns={"image": "image"}, perturb=0.05))
    def check(inputs: dict) -> None:
        x = inputs["image"]
        assert x.shape == (1, 8, 8) and x.dtype == np.float32
        nearest = np.abs(images - x[0]).max(axis=(1, 2)).min()
        assert nearest <= 0.05 * 16 + 1e-5  # within the perturbation band of some real image

    check()
    first = find(dataset_samples(digits, columns={"image": "image"}), lambda _: True)
    np.testing.assert_array_equal(first["image"][0], images[0])  # shrinks to the first row, unperturbed


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda p: model_inputs(p, ranges={"ids": (0, 5)}),
            "model_inputs: ranges names 'ids', which is not an input (inputs: attention_mask, extra, input_ids)",
        ),
        (
            lambda p: model_inputs(p, dims={"sequence": 4}),
            "model_inputs: dims names 'sequence', which is neither an input nor a dimension symbol",
        ),
        (
            lambda p: model_inputs(p),
            "model_inputs: input 'input_ids' has a dynamic dimension 1 (seq) with no size: give dims={'seq': (min, max)}",
        ),
        (
            lambda p: model_inputs(p, batch=(3, 1), dims={"seq": 2}),
            "model_inputs: batch=(3, 1); expected a positive size or a (min, max) pair",
        ),
        (
            lambda p: model_inputs(p, dims={"seq": 2}, ranges={"extra": (1.0, -1.0)}),
            "model_inputs: ranges['extra']=(1.0, -1.0); expected low <= high",
        ),
        (lambda p: model_inputs(p.with_name("nope.onnx")), "model_inputs: model file not found:"),
        (lambda p: dataset_samples({"a": np.zeros(3)}), "dataset_samples: give columns={model input: column}"),
        (
            lambda p: dataset_samples({"a": np.zeros(3)}, columns={"a": "a"}, perturb=2),
            "dataset_samples: perturb=2; expected a fraction in [0, 1]",
        ),
    ],
)
def test_clear_errors_for_bad_arguments(tmp_path: Path, call, message) -> None:
    path = multi_input(tmp_path)
    with pytest.raises(ConfigError) as info:
        call(path)
    assert message in str(info.value)


def test_strategies_draw_efficiently() -> None:
    # hypothesis.extra.numpy draws whole arrays; a 64x8x8 batch is one draw, not 4096 separate ones.
    strategy = model_inputs(SUITES / "models" / "digits_cnn.onnx", batch=64, ranges={"image": (0, 16)})
    drawn = find(strategy, lambda x: x["image"].shape[0] == 64)
    assert drawn["image"].shape == (64, 8, 8) and not drawn["image"].any()  # shrunk to zeros
    assert st is not None
