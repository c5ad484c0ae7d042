"""Which inputs each model gets (issue 13, items 4 and 5): models that declare different input sets, and
the sizes of dynamic dimensions in generated inputs (shapes=, dims=, suites' shapes:/dims:)."""

from __future__ import annotations

import os
import re

import onnx
import pytest
from conftest import assert_clean
from onnx import TensorProto, helper

F32, I64 = TensorProto.FLOAT, TensorProto.INT64
FAST = "seconds=0.2, warmup_s=0.05"


def _save(graph: onnx.GraphProto, path: os.PathLike[str]) -> None:
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


@pytest.fixture
def variants(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """scalar.onnx: y = x * sr (sr an int64 0-d input, a sample rate); fixed.onnx: the vendor variant
    without sr (y = x * 16000); stateful.onnx: y = x * 16000 + sum(state, 0), state [2, batch, 4];
    pool.onnx: y = AveragePool(x, 4x4) with x [N, 3, height, width]."""
    monkeypatch.delenv("CI", raising=False)  # goldens are recorded on purpose
    path = pytester.path
    x = helper.make_tensor_value_info("x", F32, ["batch", 4])
    y = helper.make_tensor_value_info("y", F32, ["batch", 4])
    sr = helper.make_tensor_value_info("sr", I64, [])
    nodes = [helper.make_node("Cast", ["sr"], ["srf"], to=F32), helper.make_node("Mul", ["x", "srf"], ["y"])]
    _save(helper.make_graph(nodes, "scalar", [x, sr], [y]), path / "scalar.onnx")
    k = helper.make_tensor("k", F32, [], [16000.0])
    _save(helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "fixed", [x], [y], [k]), path / "fixed.onnx")
    state = helper.make_tensor_value_info("state", F32, [2, "batch", 4])
    axes = helper.make_tensor("axes", I64, [1], [0])
    nodes = [
        helper.make_node("Mul", ["x", "k"], ["xk"]),
        helper.make_node("ReduceSum", ["state", "axes"], ["s"], keepdims=0),
        helper.make_node("Add", ["xk", "s"], ["y"]),
    ]
    _save(helper.make_graph(nodes, "stateful", [x, state], [y], [k, axes]), path / "stateful.onnx")
    img = helper.make_tensor_value_info("x", F32, ["N", 3, "height", "width"])
    out = helper.make_tensor_value_info("y", F32, ["N", 3, "h", "w"])
    pool = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[4, 4], strides=[4, 4])
    _save(helper.make_graph([pool], "pool", [img], [out]), path / "pool.onnx")
    return pytester


DEVICES = "--edge-device=CPU,ort:cpu"


def _match(result: pytest.RunResult, lines: list[str]) -> None:
    """fnmatch_lines with brackets taken literally (shapes such as float32[batch,4]); * still matches."""
    result.stdout.fnmatch_lines([re.sub(r"[\[\]]", lambda m: f"[{m.group()}]", line) for line in lines])


def test_each_model_gets_the_inputs_it_declares(variants: pytest.Pytester) -> None:
    # latency_check fed the original the optimized model's inputs (no sr); golden_check fed the optimized
    # the original's (an unknown input sr); parity_check fed both the same dict.
    variants.makepyfile(
        test_variant=f"""
        import numpy as np
        import pytest

        FED = {{"x": np.arange(8, dtype=np.float32).reshape(2, 4), "sr": np.array(16000, np.int64)}}
        pytestmark = pytest.mark.edge_model(original="scalar.onnx", optimized="fixed.onnx")

        def test_golden(golden_check):
            golden_check(FED)

        @pytest.mark.latency(max_ratio=100, {FAST})
        def test_latency(latency_check):
            latency_check({{"x": FED["x"][:1], "sr": FED["sr"]}})

        def test_parity(parity_check):
            parity_check(FED)

        @pytest.mark.edge_model(original="fixed.onnx", optimized="scalar.onnx")
        @pytest.mark.latency(max_ratio=100, {FAST})
        def test_latency_other_way(latency_check):
            latency_check({{"x": FED["x"][:1], "sr": FED["sr"]}})
        """
    )
    result = variants.runpytest(DEVICES, "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(passed=8)
    assert_clean(result)


def test_an_input_a_model_declares_but_was_not_given_is_named_with_the_model(variants: pytest.Pytester) -> None:
    variants.makepyfile(
        test_missing=f"""
        import numpy as np
        import pytest

        X = {{"x": np.ones((1, 4), np.float32)}}
        pytestmark = pytest.mark.edge_model(original="fixed.onnx", optimized="stateful.onnx")

        def test_golden(golden_check):
            golden_check(X)

        @pytest.mark.latency(max_ratio=100, {FAST})
        def test_latency(latency_check):
            latency_check(X)

        def test_parity(parity_check):
            parity_check(X)
        """
    )
    result = variants.runpytest("--edge-device=ort:cpu", "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(failed=3)
    tail = "declares input 'state', which the inputs given do not have (given: x; the optimized model's inputs: x: float32[batch,4], state: float32[2,batch,4])"
    _match(
        result,
        [f"*{check}: the optimized model {tail}*" for check in ("golden_check", "latency_check", "parity_check")],
    )
    assert_clean(result)


def test_a_dimension_symbol_is_one_size_in_every_input(variants: pytest.Pytester) -> None:
    # state [2, batch, 4] got 8 for 'batch' while x [batch, 4] got 4: the runtime failed to add them.
    variants.makepyfile(
        test_shared="""
        import pytest

        @pytest.mark.edge_model(original="stateful.onnx")
        def test_golden(golden_check):
            result = golden_check()
            assert result.ok
        """
    )
    result = variants.runpytest(DEVICES, "--update-golden=new")
    result.assert_outcomes(passed=2)
    assert_clean(result)


def test_a_dynamic_dim_with_no_size_fails_before_running_and_says_how_to_give_it(variants: pytest.Pytester) -> None:
    # It used 8 for height and width, and the 4x4 AveragePool ran; a larger kernel crashed inside the runtime.
    variants.makepyfile(
        test_pool=f"""
        import pytest

        pytestmark = pytest.mark.edge_model(original="pool.onnx", optimized="pool.onnx")

        def test_golden(golden_check):
            golden_check()

        @pytest.mark.latency(max_ratio=100, {FAST})
        def test_latency(latency_check):
            latency_check()
        """
    )
    result = variants.runpytest(DEVICES, "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(failed=4)
    shown = "input 'x' [N,3,height,width] has a dynamic dimension 2 ('height') with no size, and generated inputs need one: give it with"
    _match(
        result,
        [
            f"*golden_check: {shown} golden_check(..., dims={{'height': <size>}}), or golden_check(..., shapes={{'x': (4, 3, <height>, <width>)}})",
            f"*latency_check: {shown} latency_check(..., dims={{'height': <size>}}), or latency_check(..., shapes={{'x': (1, 3, <height>, <width>)}})",
        ],
    )
    assert "failed to run" not in result.stdout.str()
    assert_clean(result)


def test_shapes_and_dims_size_generated_inputs(variants: pytest.Pytester) -> None:
    variants.makepyfile(
        test_sizes=f"""
        import pytest

        pytestmark = pytest.mark.edge_model(original="pool.onnx", optimized="pool.onnx")

        def test_dims(golden_check):
            golden_check(name="dims", dims={{"height": 16, "width": 12}})

        def test_shapes(golden_check, tmp_path):
            golden_check(name="shapes", shapes={{"x": (2, 3, 8, 20)}})

        @pytest.mark.latency(max_ratio=100, {FAST})
        def test_latency(latency_check):
            latency_check(dims={{"height": 8, "width": 8}})

        def test_sizes_seen(original_model):
            import numpy as np
            from pytest_edgeqa import inputs as data

            declared = data.with_symbols(original_model.inputs, data.declared_shapes("pool.onnx"))
            shapes = data.generated_shapes({{"m": declared}}, batch=3, dims={{"height": 16, "width": 12}})
            assert shapes == {{"x": (3, 3, 16, 12)}}
        """
    )
    result = variants.runpytest(DEVICES, "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(passed=8)
    assert_clean(result)


def test_parity_check_generates_inputs_sized_by_shapes_and_dims(variants: pytest.Pytester) -> None:
    # parity_check took only given inputs: no way to size a generated one.
    variants.makepyfile(
        test_live="""
        import pytest

        pytestmark = pytest.mark.edge_model(original="pool.onnx", optimized="pool.onnx")

        def test_dims(parity_check):
            assert parity_check(dims={"height": 8, "width": 12}).ok

        def test_shapes(parity_check):
            assert parity_check(shapes={"x": (1, 3, 4, 4)}, seed=3).ok

        @pytest.mark.edge_model(original="stateful.onnx", optimized="stateful.onnx")
        def test_shared_batch(parity_check):
            assert parity_check(batch=3).ok

        def test_no_size(parity_check):
            parity_check()
        """
    )
    result = variants.runpytest("--edge-device=ort:cpu", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    _match(
        result,
        [
            "*parity_check: input 'x' [N,3,height,width] has a dynamic dimension 2 ('height') with no size, and generated "
            "inputs need one: give it with parity_check(..., dims={'height': <size>}), or parity_check(..., shapes={'x': (4, 3, <height>, <width>)})"
        ],
    )
    assert_clean(result)


def test_bad_shapes_and_dims_are_named(variants: pytest.Pytester) -> None:
    variants.makepyfile(
        test_bad="""
        import numpy as np
        import pytest

        pytestmark = pytest.mark.edge_model(original="pool.onnx")

        @pytest.mark.parametrize("kwargs", [
            dict(dims={"heigth": 8, "width": 8}),
            dict(dims={"x": 8}),
            dict(dims={"height": 0, "width": 8}),
            dict(shapes={"x": (1, 4, 8, 8)}),
            dict(shapes={"y": (1, 3, 8, 8)}),
            dict(shapes=[1, 3, 8, 8]),
            dict(inputs={"x": np.ones((1, 3, 8, 8), np.float32)}, dims={"height": 8}),
        ])
        def test_bad(golden_check, kwargs):
            golden_check(**kwargs)
        """
    )
    result = variants.runpytest("--edge-device=ort:cpu", "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(failed=7)
    _match(
        result,
        [
            "*golden_check: dims names 'heigth', which is not a dimension symbol of the model's inputs (symbols: N, height, width)",
            "*golden_check: dims names 'x', which is not a dimension symbol * 'x' is an input: give its whole shape with shapes=",
            "*golden_check: dims['height']=0; expected a positive integer size",
            "*golden_check: shapes['x']=(1, 4, 8, 8), but dimension 1 of 'x' [N,3,height,width] is 3",
            "*golden_check: shapes names 'y', which is not an input of the model (inputs: x)",
            "*golden_check: shapes=*; expected a mapping of input name to a whole shape*",
            "*golden_check: shapes=/dims= size generated inputs, but inputs were given*",
        ],
    )
    assert_clean(result)


SUITE = """
name: pool
model:
  original: pool.onnx
  optimized: pool.onnx
data:
  path: rows
  split: test
checks:
  parity:
    samples: 2
{parity}
  latency:
    max_ratio: 100
    seconds: 0.2
    warmup_s: 0.05
{latency}
"""


def _suite(pytester: pytest.Pytester, parity: str = "", latency: str = "") -> None:
    import datasets
    import numpy as np

    rows = np.random.default_rng(0).random((3, 3, 8, 8), np.float32)
    (pytester.path / "rows").mkdir()
    datasets.Dataset.from_dict({"x": rows.tolist()}).to_parquet(pytester.path / "rows" / "test.parquet")
    text = SUITE.format(parity=parity, latency=latency)
    if "data" not in latency:
        text = text.replace("data:\n  path: rows\n  split: test\n", "")
    (pytester.path / "pool.edgeqa.yaml").write_text(text)


def test_a_suite_gives_shapes_and_dims(variants: pytest.Pytester) -> None:
    _suite(variants, parity="    dims: {height: 8, width: 16}", latency="    shapes: {x: [1, 3, 12, 12]}")
    result = variants.runpytest(DEVICES, "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    assert_clean(result)


def test_a_suite_without_sizes_says_which_key_to_add(variants: pytest.Pytester) -> None:
    _suite(variants)
    result = variants.runpytest("--edge-device=ort:cpu", "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    _match(
        result,
        [
            "*pool.edgeqa.yaml: checks.parity: input 'x' [N,3,height,width] has a dynamic dimension 2 ('height') with no size, and generated inputs need one: give it with dims: {height: <size>} under checks.parity, or shapes: {x: [2, 3, <height>, <width>]} under checks.parity",
        ],
    )
    assert_clean(result)


def test_a_suite_latency_check_takes_rows_of_the_data(variants: pytest.Pytester) -> None:
    _suite(variants, latency="    inputs: data")  # the parity check takes its rows too
    result = variants.runpytest("--edge-device=ort:cpu", "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert_clean(result)


@pytest.mark.parametrize(
    ("latency", "message"),
    [
        (
            "    dims: {height: -1}",
            "pool.edgeqa.yaml: checks.latency.dims.height: expected a positive integer size, got -1*",
        ),
        ("    shapes: {x: 8}", "pool.edgeqa.yaml: checks.latency.shapes.x: expected a list of positive sizes*"),
        ("    inputs: rows", "pool.edgeqa.yaml: checks.latency.inputs: expected data or generated, got*rows*"),
        ("    dim: {height: 8}", "pool.edgeqa.yaml: checks.latency: *dim*"),
    ],
)
def test_a_suite_with_bad_sizes_is_named(variants: pytest.Pytester, latency: str, message: str) -> None:
    _suite(variants, latency=latency)
    result = variants.runpytest("--edge-device=ort:cpu", "-p", "no:randomly")
    _match(result, [f"*{message}"])
    assert_clean(result)


def test_a_static_batch_on_openvino_sizes_the_batch_symbol_in_every_input(variants: pytest.Pytester) -> None:
    # OpenVINO times a model reshaped to the latency batch: x [batch, 4] became [1, 4], while state
    # [2, batch, 4] kept its dynamic axis 1, so 'batch' had no size there and latency_check failed on CPU
    # ("dynamic dimension 1 ('batch') with no size"; silero-vad's state) while ort:cpu ran.
    variants.makepyfile(
        test_static=f"""
        import pytest

        @pytest.mark.edge_model(original="stateful.onnx", optimized="stateful.onnx")
        @pytest.mark.latency(max_ratio=100, {FAST})
        def test_latency(latency_check):
            latency_check()
        """
    )
    result = variants.runpytest(DEVICES, "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert_clean(result)


def test_dims_name_the_symbols_of_a_recipes_ir_by_its_original(variants: pytest.Pytester) -> None:
    # A recipe's OpenVINO IR declares no dimension symbols (every dynamic dim is "?"), so latency_check,
    # which times only the optimized model, refused dims={'height': ...} ("symbols: none").
    variants.makepyfile(
        test_ir=f"""
        import pytest

        @pytest.mark.edge_model(original="pool.onnx", optimized="fp16")
        @pytest.mark.latency(p50_ms=1000, {FAST})
        def test_latency(latency_check, optimized_model):
            assert str(optimized_model.info.model).endswith(".xml")
            latency_check(dims={{"height": 8, "width": 12}})
        """
    )
    result = variants.runpytest("--edge-device=CPU", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert_clean(result)
