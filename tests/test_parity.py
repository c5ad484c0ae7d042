"""The comparison engine: each criterion passing and failing, special values, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pytest_edgeqa.errors import ConfigError
from pytest_edgeqa.parity import compare, compare_output, render
from pytest_edgeqa.parity_criteria import Criteria, Spec, criteria_from, spec_from_marker

RNG = np.random.default_rng(0)
REF = RNG.normal(size=(16, 10)).astype(np.float32)


def check(actual, reference=REF, **criteria):
    return compare_output("y", np.asarray(actual), np.asarray(reference), criteria_from(criteria, "test"), "test")


@pytest.mark.parametrize(
    ("criteria", "noise", "ok"),
    [
        ({"atol": 1e-3}, 5e-4, True),
        ({"atol": 1e-3}, 2e-3, False),
        ({"rtol": 1e-2}, 0.0, True),
        ({"max_abs_error": 0.1}, 0.05, True),
        ({"max_abs_error": 0.1}, 0.2, False),
        ({"mean_abs_error": 0.01}, 0.005, True),
        ({"mean_abs_error": 0.01}, 0.02, False),
        ({"median_abs_error": 0.01}, 0.02, False),
        ({"quantile_abs_error": 0.01, "quantile": 0.9}, 0.02, False),
        ({"cosine": 0.999}, 0.01, True),
        ({"cosine": 0.999}, 0.5, False),
        ({"snr_db": 30}, 0.01, True),
        ({"snr_db": 30}, 0.1, False),
        ({"psnr_db": 40}, 0.01, True),
        ({"psnr_db": 40}, 0.1, False),
    ],
)
def test_each_criterion_passes_and_fails(criteria, noise, ok) -> None:
    # A constant offset: every statistic of |a - r| equals it, so each bound is exercised exactly.
    rep = check(REF + np.float32(noise), **criteria)
    assert rep.ok is ok, render_one(rep)
    if not ok:
        assert rep.failed and rep.would_pass


def render_one(rep) -> str:
    from pytest_edgeqa.parity import Comparison

    return "\n".join(render(Comparison("t", {"y": rep})))


def test_max_mismatch_allows_outliers() -> None:
    actual = REF.copy()
    actual[0, :3] += 1.0  # 3 of 160 elements (1.9%)
    assert not check(actual, atol=1e-3).ok
    assert check(actual, atol=1e-3, max_mismatch=0.02).ok
    rep = check(actual, atol=1e-3, max_mismatch=0.01)
    assert rep.failed == [
        "|a - r| <= atol + rtol*|r| (atol=0.001, rtol=0): 3/160 elements (1.88%) outside, 1 allowed (max_mismatch=0.01)"
    ]


def test_rtol_is_relative_to_the_reference_like_numpy() -> None:
    ref = np.array([1.0, 100.0, 1e-9])
    act = ref * 1.009
    assert check(act, ref, rtol=0.01).ok == np.allclose(act, ref, rtol=0.01, atol=0)
    act = ref + np.array([0.0, 2.0, 0.0])
    assert check(act, ref, rtol=0.01).ok == np.allclose(act, ref, rtol=0.01, atol=0) is False


def test_top_k_agreement() -> None:
    swapped = REF.copy()
    top = REF.argmax(axis=1)
    swapped[0, top[0]] = REF[0].min() - 1  # row 0 changes its argmax
    assert check(REF, top_k=1).ok
    rep = check(swapped, top_k=1)
    assert not rep.ok and rep.stats["top1_agreement"] == 15 / 16
    assert rep.failed == ["top-1 agreement >= 1: got 0.9375 (1 rows disagree)"]
    assert check(swapped, top_k=1, top_k_agreement=0.9).ok
    # top-3 compares the set of the three best classes, in any order.
    shuffled = REF.copy()
    order = np.argsort(-REF, axis=1)
    rows = np.arange(16)
    shuffled[rows, order[:, 0]], shuffled[rows, order[:, 1]] = REF[rows, order[:, 1]], REF[rows, order[:, 0]]
    assert not check(shuffled, top_k=1).ok and check(shuffled, top_k=3).ok
    # An output without a class axis (a regression head) is not judged by top-k.
    single = check(REF[:, :1] + 1, REF[:, :1], top_k=1)
    assert single.ok and single.stats["top1_agreement"] == "n/a"


def test_nan_and_inf() -> None:
    ref = np.array([1.0, np.nan, np.inf, -np.inf, 0.0])
    assert check(ref.copy(), ref, atol=0.0).ok  # NaN where both are NaN, equal infinities: equal
    moved = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0])
    rep = check(moved, ref, atol=0.1)
    assert not rep.ok and rep.stats["nan_mismatches"] == 2
    assert "nan='ignore' (NaN positions differ)" in rep.would_pass
    assert check(moved, ref, atol=0.1, nan="ignore").ok
    assert not check(np.array([1.0, np.nan, -np.inf, -np.inf, 0.0]), ref, atol=1e9).ok  # +inf vs -inf
    assert not check(np.array([1.0, np.nan, np.inf, -np.inf, np.nan]), ref, cosine=0.5).ok  # NaN without elementwise


def test_integer_and_bool_outputs_compare_exactly() -> None:
    ref = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert check(ref.copy(), ref, atol=100).ok
    act = ref.copy()
    act[2, 1] = 0
    rep = check(act, ref, atol=100)  # tolerances do not apply to integers
    assert rep.failed == ["exact equality (int64): 1/12 elements differ"] and rep.listed[0][0] == (2, 1)
    assert not check(np.array([True, False]), np.array([True, True])).ok
    assert check(ref.astype(np.int32), ref).ok  # int widths are comparable


def test_fp16_is_compared_in_float64() -> None:
    ref = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    act = ref.astype(np.float16)
    rep = check(act, ref, atol=0.0)
    assert rep.ok and (rep.dtype, rep.ref_dtype) == ("float16", "float32")
    rep = check(np.array([1.0, 2.001, 3.0], dtype=np.float16), ref, atol=1e-4)
    assert not rep.ok and rep.stats["max_abs_error"] == pytest.approx(float(np.float16(2.001)) - 2.0)


def test_structure_is_checked_before_values() -> None:
    rep = check(np.zeros((16, 9)), atol=1.0)
    assert rep.problems == ["shape (16, 9) differs from the reference's (16, 10)"] and not rep.stats
    rep = check(np.zeros((16, 10), bool), np.zeros((16, 10), np.float32))
    assert rep.problems == ["dtype bool is not comparable with the reference's float32"]
    cmp = compare({"a": REF, "extra": REF}, {"a": REF, "b": REF}, Spec(Criteria(atol=0.0)), "f32", "x")
    assert cmp.problems == ["outputs missing from the result: b", "outputs not in the reference: extra"]


def test_per_output_overrides_and_defaults() -> None:
    spec = spec_from_marker((), {"atol": 1e-6, "outputs": {"loose": {"cosine": 0.9}}})
    ref = {"tight": REF, "loose": REF}
    act = {"tight": REF + np.float32(1e-3), "loose": REF + np.float32(1e-3)}
    cmp = compare(act, ref, spec, "f32", "x")
    assert not cmp.outputs["tight"].ok and cmp.outputs["loose"].ok
    assert cmp.outputs["loose"].criteria_source == "marker outputs=loose"
    # No numbers at all: the defaults for the model's kind.
    default = compare(act, ref, spec_from_marker((), {}), "int8", "x")
    assert default.outputs["tight"].criteria.cosine == 0.995 and default.ok
    assert not compare(act, ref, spec_from_marker((), {}), "f32", "x").ok
    bad = compare(act, ref, spec_from_marker((), {"outputs": {"nope": {"atol": 1}}}), "f32", "x")
    assert "parity marker outputs= names 'nope', which the model does not have (outputs: tight, loose)" in bad.problems


def test_suggested_tolerance_is_the_smallest_that_passes() -> None:
    actual = REF + RNG.normal(scale=1e-3, size=REF.shape).astype(np.float32)
    rep = check(actual, atol=1e-5, max_mismatch=0.05)
    suggested = float(rep.would_pass[0].split(">=")[1].split()[0])
    assert check(actual, atol=suggested * 1.0001, max_mismatch=0.05).ok
    assert not check(actual, atol=suggested * 0.99, max_mismatch=0.05).ok


def test_failure_text_lists_at_most_twenty_elements() -> None:
    rep = check(REF + np.float32(1.0), atol=1e-3)
    text = render_one(rep)
    assert len(rep.listed) == 20 and "... 140 more" in text
    assert "mismatches: 160/160 (100%)" in text
    assert "max abs error 1 at [" in text and "(reference " in text and ", actual " in text
    assert "mean abs error 1, median 1, p99 1" in text
    assert "cosine " in text and "SNR dB " in text and "top1 agreement " in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"atoll": 1}, "parity marker: unknown argument 'atoll' (expected: atol, rtol,"),
        ({"atol": -1}, "parity marker: atol=-1; expected a number at least 0.0"),
        ({"atol": "x"}, "parity marker: atol='x'; expected a number"),
        ({"cosine": 1.5}, "parity marker: cosine=1.5; expected a number between -1.0 and 1.0"),
        ({"max_mismatch": 2}, "parity marker: max_mismatch=2; expected a number between 0.0 and 1.0"),
        ({"top_k": 0}, "parity marker: top_k=0; expected a positive integer"),
        ({"nan": "skip"}, "parity marker: nan='skip'; expected 'match' or 'ignore'"),
        ({"outputs": {"y": {"rtol": -2}}}, "parity marker outputs['y']: rtol=-2; expected a number at least 0.0"),
        ({"outputs": ["y"]}, "parity marker: outputs= expects {output name: {criterion: value}}"),
    ],
)
def test_bad_marker_arguments(kwargs, message) -> None:
    with pytest.raises(ConfigError) as info:
        spec_from_marker((), kwargs)
    assert message in str(info.value)
    with pytest.raises(ConfigError, match="keyword arguments only"):
        spec_from_marker((0.1,), {})


# ------------------------------------------------------------------------------------- properties

float_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.float16]),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    elements={"allow_nan": True, "allow_infinity": True},
)
criteria = st.builds(
    dict,
    atol=st.floats(0, 1),
    rtol=st.floats(0, 1),
    cosine=st.floats(-1, 1),
    snr_db=st.floats(-50, 100),
    top_k=st.integers(1, 3),
)


@settings(max_examples=150, deadline=None)
@given(arr=float_arrays, crit=criteria)
def test_identical_arrays_always_pass(arr: np.ndarray, crit: dict) -> None:
    if not np.isfinite(arr).all():
        crit.pop("cosine")  # cosine and SNR are over finite elements; NaN/Inf agree position by position
        crit.pop("snr_db")
    rep = check(arr.copy(), arr, **crit, top_k_agreement=0.0)
    assert rep.ok, render_one(rep)


@settings(max_examples=150, deadline=None)
@given(
    arr=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), elements=st.floats(-100, 100)
    ),
    data=st.data(),
    atol=st.floats(1e-6, 1.0),
)
def test_a_perturbation_above_tolerance_is_found_where_it_is(arr: np.ndarray, data, atol: float) -> None:
    index = tuple(data.draw(st.integers(0, n - 1)) for n in arr.shape)
    bumped = arr.copy()
    bumped[index] += 2 * atol + 1e-9
    rep = check(bumped, arr, atol=atol)
    assert not rep.ok
    assert rep.stats["mismatches"] == 1 and rep.stats["worst_index"] == index
    assert rep.listed[0][0] == index


@settings(max_examples=100, deadline=None)
@given(
    arr=hnp.arrays(np.float32, st.tuples(st.integers(2, 6), st.integers(2, 6)), elements=st.floats(-10, 10, width=32)),
    noise=hnp.arrays(np.float32, st.tuples(st.integers(2, 6), st.integers(2, 6)), elements=st.floats(-1, 1, width=32)),
)
def test_results_do_not_depend_on_memory_layout(arr: np.ndarray, noise: np.ndarray) -> None:
    rows, cols = min(arr.shape[0], noise.shape[0]), min(arr.shape[1], noise.shape[1])
    ref, act = arr[:rows, :cols], arr[:rows, :cols] + noise[:rows, :cols]
    kwargs = {"atol": 0.1, "cosine": 0.99, "top_k": 1}
    base = check(np.ascontiguousarray(act), np.ascontiguousarray(ref), **kwargs)
    for a, r in [
        (np.asfortranarray(act), np.asfortranarray(ref)),
        (np.ascontiguousarray(act.T).T, ref),
        (np.repeat(act, 2, axis=1)[:, ::2], np.repeat(ref, 2, axis=0)[::2]),
    ]:
        rep = check(a, r, **kwargs)
        assert rep.ok == base.ok and rep.failed == base.failed and rep.listed == base.listed
        for key, value in base.stats.items():
            assert rep.stats[key] == value or (
                isinstance(value, float) and math.isclose(rep.stats[key], value, rel_tol=1e-12)
            )


@pytest.mark.parametrize(
    ("shape", "judged"),
    [
        ((4, 214), True),  # class scores
        ((4, 2), True),  # a binary head
        ((4, 1, 16, 16), False),  # a detector's probability map
        ((4, 172, 88), False),  # a piano roll
        ((4, 5, 6625), False),  # per-step scores: rank 3 needs top_k or class_axis
        ((4, 1), False),  # one score
    ],
)
def test_default_top_k_judges_class_scores_only(shape, judged) -> None:
    rng = np.random.default_rng(1)
    ref = rng.random(shape, dtype=np.float32)
    # Argmax along the last axis flips almost everywhere, while cosine and SNR stay high.
    act = ref + rng.normal(0, 1e-3, shape).astype(np.float32)
    rep = compare({"y": act}, {"y": ref}, Spec(), "int8", "t").outputs["y"]
    if judged:
        assert rep.criteria.top_k == 1 and "top1_agreement" in rep.stats
    else:
        assert rep.criteria.top_k is None and "top_k" not in rep.criteria.applied()
        assert not any(k.startswith("top") for k in rep.stats), rep.stats
        assert rep.ok, render_one(rep)
    # f32 defaults never judge top-k, and show a top-1 figure for class scores only.
    f32 = compare({"y": act}, {"y": ref}, Spec(), "f32", "t").outputs["y"]
    assert ("top1_agreement" in f32.stats) is judged


def test_a_class_axis_given_opts_the_defaults_top_k_in() -> None:
    rng = np.random.default_rng(2)
    ref = rng.random((2, 5, 30), dtype=np.float32)
    act = ref[:, :, ::-1].copy()  # every step's argmax moves
    spec = spec_from_marker((), {"class_axis": -1})
    rep = compare({"y": act}, {"y": ref}, spec, "int8", "t").outputs["y"]
    assert rep.criteria.top_k == 1 and rep.stats["top1_agreement"] < 0.95
    assert any("top-1 agreement" in f for f in rep.failed)
    assert "class_axis=-1" in rep.criteria_source
    # An explicit top_k judges any output with the axis, rank 3 included.
    rep = compare({"y": act}, {"y": ref}, spec_from_marker((), {"top_k": 1}), "f32", "t").outputs["y"]
    assert not rep.ok and rep.criteria.top_k == 1
    # A class axis the output does not have is not applicable, not an error.
    rep = compare({"y": act}, {"y": ref}, spec_from_marker((), {"top_k": 1, "class_axis": 5}), "f32", "t")
    assert rep.outputs["y"].stats["top1_agreement"] == "n/a"
    with pytest.raises(ConfigError, match="sets no criterion"):
        spec_from_marker((), {"nan": "ignore"})


def _openvino_unreadable_int8(path) -> None:
    """Int8 weights as a Constant inside an If branch, feeding a Conv whose input rank is unknown (an inner
    If whose branches differ in rank): ONNX Runtime runs it, OpenVINO cannot convert it (as silero_vad.onnx)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def branch(name, nodes, out):
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])

    weights = numpy_helper.from_array(np.arange(-6, 6, dtype=np.int8).reshape(2, 2, 3), "wq")
    flat = [helper.make_node("Constant", [], ["n"], value_ints=[16]), helper.make_node("Reshape", ["x", "n"], ["x1"])]
    inner = helper.make_node(
        "If", ["cond"], ["z"],
        then_branch=branch("keep", [helper.make_node("Identity", ["x"], ["x3"])], "x3"),
        else_branch=branch("flat", flat, "x1"),
    )  # fmt: skip
    conv = [
        helper.make_node("Constant", [], ["wq"], value=weights),
        helper.make_node("Constant", [], ["scale"], value_float=0.1),
        helper.make_node("DequantizeLinear", ["wq", "scale"], ["w"]),
        inner,
        helper.make_node("Conv", ["z", "w"], ["c"]),
    ]
    nodes = [
        helper.make_node("Constant", [], ["rate"], value=numpy_helper.from_array(np.array(16000, np.int64))),
        helper.make_node("Equal", ["sr", "rate"], ["cond"]),
        helper.make_node(
            "If", ["cond"], ["y"], then_branch=branch("conv", conv, "c"),
            else_branch=branch("skip", [helper.make_node("Identity", ["x"], ["e"])], "e"),
        ),
    ]  # fmt: skip
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8]),
        helper.make_tensor_value_info("sr", TensorProto.INT64, []),
    ]
    graph = helper.make_graph(nodes, "dynrank", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


def test_weights_of_an_onnx_file_openvino_cannot_read_are_told(tmp_path) -> None:
    from pytest_edgeqa.errors import ModelError
    from pytest_edgeqa.runtimes.openvino_reading import read_model
    from pytest_edgeqa.weights import weight_format

    path = tmp_path / "dynrank.onnx"
    _openvino_unreadable_int8(path)
    with pytest.raises(ModelError, match="not a model OpenVINO can read"):
        read_model(path)
    assert weight_format(path) == "int8"  # the Constant inside the If branch, read with the onnx package


DYNRANK_TEST = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="dynrank.onnx", optimized="dynrank.onnx")
X = {"x": np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 2, 8), "sr": np.array(16000, np.int64)}


def test_default_criteria(golden_check):
    golden_check(X)


@pytest.mark.parity(atol=1e-5)
def test_explicit_criteria(golden_check):
    golden_check(X)
"""


def test_a_model_openvino_cannot_read_is_checked_on_onnx_runtime(pytester: pytest.Pytester, monkeypatch) -> None:
    from conftest import assert_clean

    monkeypatch.delenv("CI", raising=False)
    _openvino_unreadable_int8(pytester.path / "dynrank.onnx")
    pytester.makepyfile(test_dynrank=DYNRANK_TEST)
    ort = ("--edge-device=ort:cpu", "--edge-golden-device=ort:cpu", "-p", "no:randomly")
    result = pytester.runpytest(*ort, "--update-golden=new")
    result.assert_outcomes(passed=2)
    again = pytester.runpytest(*ort)
    again.assert_outcomes(passed=2)
    assert_clean(again)
    summary = again.stdout.str()
    assert summary.count("(int8, compared)") == 2 and "(f32," not in summary, summary  # told by the onnx package
    # Goldens recorded on OpenVINO (the default golden device): one failure saying where else to record them.
    (pytester.path / "golden").rename(pytester.path / "golden-ort")
    on_ov = pytester.runpytest("--edge-device=ort:cpu", "--update-golden=new", "-p", "no:randomly")
    on_ov.assert_outcomes(failed=2)
    assert_clean(on_ov)
    on_ov.stdout.fnmatch_lines(["*golden reference (CPU): *dynrank.onnx is not a model OpenVINO can read*"])
    assert "--edge-golden-device=ort:cpu" in on_ov.stdout.str()


BRANCHED_FP16 = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="branched.onnx", optimized="fp16")


def test_fp16_defaults(golden_check):
    golden_check({"x": np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)})
"""


def test_an_ir_whose_weights_sit_inside_an_if_is_told_f16(pytester: pytest.Pytester, monkeypatch) -> None:
    """The fp16 recipe's IR of a model whose MatMul weights are inside If branches (as silero-vad's): the IR's
    weights were looked for at its top level only, so it was judged as f32 (atol 1e-4) and failed."""
    import onnx
    from conftest import assert_clean
    from onnx import TensorProto, helper, numpy_helper

    monkeypatch.delenv("CI", raising=False)
    w = np.random.default_rng(0).normal(size=(4, 64)).astype(np.float32)

    def branch(name: str, scale: float) -> onnx.GraphProto:
        weight = helper.make_node("Constant", [], [f"w_{name}"], value=numpy_helper.from_array(w * scale))
        out = helper.make_tensor_value_info(f"y_{name}", TensorProto.FLOAT, ["batch", 64])
        return helper.make_graph(
            [weight, helper.make_node("MatMul", ["x", f"w_{name}"], [f"y_{name}"])], name, [], [out]
        )

    nodes = [
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
        helper.make_node("Constant", [], ["zero"], value_float=0.0),
        helper.make_node("Greater", ["total", "zero"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=branch("up", 1.0), else_branch=branch("down", -1.0)),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])
    model = helper.make_model(
        helper.make_graph(nodes, "branched", [x], [y]), opset_imports=[helper.make_opsetid("", 17)], ir_version=10
    )
    onnx.save(model, pytester.path / "branched.onnx")
    pytester.makepyfile(test_branched=BRANCHED_FP16)
    result = pytester.runpytest("--edge-device=CPU", "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*PASS CPU        parity   cos *(f16, recorded)"])
    assert_clean(result)
