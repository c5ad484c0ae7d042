"""Accuracy budgets on real data: passing, failing with the numbers, budgets, gates, metrics, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from conftest import assert_clean, needs_bf16, supports_bf16
from sklearn import metrics as skm

from pytest_edgeqa import metrics
from pytest_edgeqa.errors import ConfigError


def damage(src: Path, dest: Path, scale: float) -> None:
    """The digits CNN with Gaussian noise (``scale`` x the weight's std) added to its two big weight tensors."""
    model = ov.Core().read_model(str(src))
    rng = np.random.default_rng(0)
    for op in list(model.get_ops()):
        if (
            op.get_type_name() == "Constant"
            and op.get_output_element_type(0) == ov.Type.f32
            and op.get_output_partial_shape(0).rank.get_length() >= 2
        ):
            w = op.get_data()
            if w.size > 1000:
                noisy = (w + rng.normal(scale=scale * w.std(), size=w.shape)).astype(np.float32)
                op.output(0).replace(ov.opset13.constant(noisy).output(0))
    ov.save_model(model, str(dest), compress_to_fp16=False)


@pytest.fixture
def digits_env(pytester: pytest.Pytester, models, example_data) -> pytest.Pytester:
    damage(models / "digits_cnn.onnx", models / "damaged.xml", 1.0)  # 98.4% -> 96.7%
    damage(models / "digits_cnn.onnx", models / "scratched.xml", 0.5)  # 98.4% -> 97.8%
    pytester.makeconftest(
        """
        import pytest
        from pytest_edgeqa import data

        @pytest.fixture(scope="session")
        def digits():
            return data.load("data/digits", split="test")
        """
    )
    return pytester


def test_int8_within_budget_and_damaged_model_fails_with_the_numbers(digits_env: pytest.Pytester) -> None:
    digits_env.makepyfile(
        test_acc="""
        import pytest

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")
        @pytest.mark.accuracy(metric="accuracy", max_drop=0.01)
        def test_int8(accuracy_check, digits):
            result = accuracy_check(digits)
            assert result.optimized.value > 0.97 and result.samples == 450 and result.gate == "point"
            assert result.dataset["rows"] == 450 and result.dataset["subset"] is None and result.dataset["fingerprint"]

        @pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/damaged.xml")
        @pytest.mark.accuracy(metric="accuracy", max_drop=0.01)
        def test_damaged(accuracy_check, digits):
            accuracy_check(digits)
        """
    )
    result = digits_env.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "accuracy FAILED: accuracy (higher is better) on 450 samples [[]gate: point[]]",
            "  original  0.984444  (CPU, f32)",
            "  optimized 0.966667  (CPU, f32)",
            "  drop +0.0177778 absolute, 95% CI [[]+0.0*, +0.0*[]] (paired bootstrap, 2000 resamples)",
            "  failed: max_drop=0.01 (absolute): the drop is +0.0177778",
            "  the optimized model runs at the reference precision (f32), so the whole drop comes from the optimization",
            "  data: 450 rows, fingerprint *",
        ]
    )
    assert_clean(result)


def test_absolute_relative_floor_and_improvement_budgets(digits_env: pytest.Pytester) -> None:
    digits_env.makepyfile(
        test_budgets="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/damaged.xml")

        @pytest.mark.accuracy(max_drop=0.02)
        def test_abs_ok(accuracy_check, digits):
            accuracy_check(digits)

        @pytest.mark.accuracy(max_drop=0.02, drop="relative")
        def test_rel_ok(accuracy_check, digits):
            assert accuracy_check(digits).drop == pytest.approx(0.0177778 / 0.984444, rel=1e-4)

        @pytest.mark.accuracy(preset="mlperf-99")
        def test_mlperf(accuracy_check, digits):
            accuracy_check(digits)

        @pytest.mark.accuracy(min_value=0.97)
        def test_floor(accuracy_check, digits):
            accuracy_check(digits)

        @pytest.mark.accuracy(min_improvement=0.0)
        def test_improvement(accuracy_check, digits):
            accuracy_check(digits)
        """
    )
    result = digits_env.runpytest()
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "  failed: max_drop=0.01 (relative): the drop is +0.0180587",
            "  failed: min_value=0.97: optimized is 0.966667",
            "  failed: min_improvement=0: the drop is +0.0177778, an improvement of -0.0177778",
        ]
    )


def test_confident_gate_is_stricter_than_point_on_a_small_noisy_sample(digits_env: pytest.Pytester) -> None:
    digits_env.makepyfile(
        test_gates="""
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/scratched.xml")

        @pytest.mark.accuracy(max_drop=0.01, gate="point")
        def test_point(accuracy_check, digits):
            r = accuracy_check(digits, samples=150)
            assert r.gate == "point" and r.dataset["subset"] == 150
            print("POINT", r.drop, r.interval)

        @pytest.mark.accuracy(max_drop=0.01, gate="confident", confidence=0.9)
        def test_confident(accuracy_check, digits):
            accuracy_check(digits, samples=150)
        """
    )
    result = digits_env.runpytest("-s")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "accuracy FAILED: accuracy (higher is better) on 150 samples [[]gate: confident[]]",
            "  failed: max_drop=0.01 (absolute): the 90% upper bound of the drop is +0.0*",
            "  data: 150 rows, fingerprint *, first 150 rows asked for",
        ]
    )


def test_lower_is_better_metric_on_the_regression_model(pytester: pytest.Pytester, models, example_data) -> None:
    pytester.makepyfile(
        test_mse="""
        import pytest

        @pytest.mark.edge_device("CPU")  # ONNX Runtime's CPU provider has no bf16 mode to ask for
        @pytest.mark.edge_model(original="models/diabetes_mlp.onnx", optimized="models/diabetes_mlp.onnx", precision="bf16")
        @pytest.mark.accuracy(metric="mse", max_drop=0.02, drop="relative")
        def test_bf16_mse(accuracy_check):
            r = accuracy_check("data/diabetes", label="target")
            assert r.higher_is_better is False and 3000 < r.original.value < 4000
            assert r.optimized.precision == "bf16" and r.original.precision == "f32"

        @pytest.mark.edge_model(original="models/diabetes_mlp.onnx", optimized="models/diabetes_mlp.onnx")
        @pytest.mark.accuracy(metric="mae", max_value=40)
        def test_mae_ceiling(accuracy_check):
            accuracy_check("data/diabetes", label="target")
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-rs")
    if supports_bf16():
        result.assert_outcomes(passed=1, skipped=1, failed=2)
    else:  # the bf16 item does not run at f32 and pass: it is skipped, saying why
        result.assert_outcomes(skipped=2, failed=2)
        result.stdout.fnmatch_lines(
            ["SKIPPED * precision='bf16' asked, but CPU runs f32 (CPU capabilities: *; no BF16)*"]
        )
    result.stdout.fnmatch_lines(
        ["accuracy FAILED: mae (lower is better) on 89 samples*", "  failed: max_value=40: optimized is 4*"]
    )


def test_the_original_is_evaluated_once_per_device(digits_env: pytest.Pytester) -> None:
    digits_env.makepyfile(
        test_once="""
        import pytest
        from pytest_edgeqa import accuracy

        calls = []
        real = accuracy.outputs_of

        @pytest.fixture(autouse=True)
        def count(monkeypatch):
            def counting(model, *args, **kwargs):
                calls.append(args[-1])
                return real(model, *args, **kwargs)
            monkeypatch.setattr(accuracy, "outputs_of", counting)

        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

        @pytest.mark.parametrize("n", range(3))
        @pytest.mark.accuracy(max_drop=0.05)
        def test_many(accuracy_check, digits, n):
            accuracy_check(digits)

        def test_count():
            assert sorted(calls) == ["optimized on CPU"] * 3 + ["original on CPU"], calls
        """
    )
    digits_env.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_shipped_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 7))
    labels = rng.integers(0, 7, 300)
    preds = logits.argmax(1)
    cases = [
        (metrics.Accuracy(), skm.accuracy_score(labels, preds)),
        (metrics.TopKAccuracy(), skm.top_k_accuracy_score(labels, logits, k=5)),
        (metrics.Precision(), skm.precision_score(labels, preds, average="macro", zero_division=0)),
        (metrics.Recall(), skm.recall_score(labels, preds, average="macro", zero_division=0)),
        (metrics.F1(), skm.f1_score(labels, preds, average="macro", zero_division=0)),
        (metrics.F1Micro(), skm.f1_score(labels, preds, average="micro")),
    ]
    y = rng.normal(size=300)
    yhat = (y + rng.normal(scale=0.3, size=300))[:, None]
    cases += [
        (metrics.MSE(), skm.mean_squared_error(y, yhat[:, 0])),
        (metrics.MAE(), skm.mean_absolute_error(y, yhat[:, 0])),
    ]
    for metric, expected in cases:
        references = y if metric.statistic.name in ("mse", "mae") else labels
        outputs = yhat if metric.statistic.name in ("mse", "mae") else logits
        got = metric.compute(predictions=outputs, references=references)
        assert got == {metric.statistic.name: pytest.approx(expected, rel=1e-12)}, metric.statistic.name
        assert isinstance(metric, __import__("evaluate").Metric)


def test_perplexity_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 6, 11))
    tokens = rng.integers(0, 11, (4, 6))
    tokens[3, 4:] = -100  # padding is ignored
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = [-logp[b, t, tokens[b, t + 1]] for b in range(4) for t in range(5) if tokens[b, t + 1] >= 0]
    got = metrics.Perplexity().compute(predictions=logits, references=tokens)["perplexity"]
    assert got == pytest.approx(np.exp(np.mean(nll)), rel=1e-12)


def test_bootstrap_is_paired_vectorized_and_seeded() -> None:
    from pytest_edgeqa.accuracy import bootstrap_drop

    stat = metrics.AccuracyStat()
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 500)
    a = np.where(rng.random(500) < 0.9, labels, (labels + 1) % 3)
    b = np.where(rng.random(500) < 0.95, a, (a + 1) % 3)  # b mostly agrees with a: a paired design is tight
    sa, sb = stat.stats(a, labels), stat.stats(b, labels)
    lo, hi = bootstrap_drop(stat.value, sa, sb, higher=True, relative=False, confidence=0.95, resamples=2000)
    assert (lo, hi) == bootstrap_drop(stat.value, sa, sb, higher=True, relative=False, confidence=0.95, resamples=2000)
    point = float(stat.value(sa.sum(0)) - stat.value(sb.sum(0)))
    assert lo < point < hi
    # An unpaired interval (independent resamples) is wider; the paired one uses the correlation.
    idx1, idx2 = rng.integers(0, 500, (2, 2000, 500))
    unpaired = sa[idx1, 0].mean(1) - sb[idx2, 0].mean(1)
    assert hi - lo < np.quantile(unpaired, 0.975) - np.quantile(unpaired, 0.025)


def test_callable_metric_and_unknown_metric(digits_env: pytest.Pytester) -> None:
    digits_env.makepyfile(
        test_custom="""
        import numpy as np
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

        def balanced(predictions, references):
            return float(np.mean([(predictions[references == c] == c).mean() for c in np.unique(references)]))

        @pytest.mark.accuracy(metric=balanced, max_drop=0.01)
        def test_callable(accuracy_check, digits):
            r = accuracy_check(digits)
            assert r.metric == "balanced" and r.resamples == 300 and 0.97 < r.original.value <= 1

        @pytest.mark.accuracy(metric="definitely-not-a-metric", max_drop=0.01)
        def test_unknown(accuracy_check, digits):
            accuracy_check(digits)
        """
    )
    result = digits_env.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*accuracy marker: metric='definitely-not-a-metric' is neither a built-in nor a registered metric (built in: accuracy, top_5_accuracy,*--edge-trust-code*"
        ]
    )
    assert_clean(result)


def test_clear_errors(digits_env: pytest.Pytester) -> None:
    digits_env.makepyfile(
        test_errors="""
        import numpy as np
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

        @pytest.mark.accuracy(max_drop=0.01)
        def test_missing_column(accuracy_check, digits):
            accuracy_check(digits, label="target")

        @pytest.mark.accuracy(max_drop=0.01)
        def test_empty(accuracy_check, digits):
            accuracy_check(digits.select([]))

        @pytest.mark.accuracy(metric="mse", max_drop=0.01)
        def test_shape_mismatch(accuracy_check, digits):
            accuracy_check(digits)

        @pytest.mark.accuracy(max_drop=-0.1)
        def test_negative_budget(accuracy_check, digits):
            accuracy_check(digits)

        @pytest.mark.accuracy(metric="accuracy")
        def test_no_budget(accuracy_check, digits):
            accuracy_check(digits)

        def test_no_marker(accuracy_check, digits):
            accuracy_check(digits)

        @pytest.mark.accuracy(max_drop=0.01)
        def test_wrong_input_mapping(accuracy_check, digits):
            accuracy_check(digits, inputs={"pixels": "image"})
        """
    )
    result = digits_env.runpytest()
    result.assert_outcomes(failed=7)
    result.stdout.fnmatch_lines_random(
        [
            "accuracy_check: dataset has no column 'target' (columns: image, label)",
            "accuracy_check: the dataset is empty (0 rows); there is nothing to evaluate",
            "metric mse: predictions of shape (450, 10) do not match labels of shape (450,)",
            "accuracy marker: max_drop=-0.1; expected a number at least 0 (a drop is measured as a positive loss)",
            "accuracy marker: no budget: give max_drop, min_value, max_value, min_improvement or a preset",
            "accuracy_check needs an accuracy marker, e.g. @pytest.mark.accuracy(metric='accuracy', max_drop=0.01)",
            "accuracy_check: inputs= names 'pixels', which the model does not have (inputs: image)",
        ]
    )
    assert_clean(result)


def test_marker_argument_errors() -> None:
    from pytest_edgeqa.accuracy import budget_from_marker

    for kwargs, message in [
        ({"max_drop": 0.1, "gate": "maybe"}, "gate='maybe'; expected 'point' or 'confident'"),
        ({"preset": "mlperf-98"}, "preset='mlperf-98'; expected one of mlperf-99, mlperf-99.9"),
        ({"preset": "mlperf-99", "max_drop": 0.1}, "preset='mlperf-99' sets max_drop and drop; give one or the other"),
        ({"max_drop": 0.1, "confidence": 1.2}, "confidence=1.2; expected a number in [0.5, 1)"),
        ({"max_drop": 0.1, "drop": "percent"}, "drop='percent'; expected 'absolute' or 'relative'"),
        ({"max_drop": 0.1, "maxdrop": 1}, "unknown argument 'maxdrop'"),
    ]:
        with pytest.raises(ConfigError) as info:
            budget_from_marker((), kwargs)
        assert message in str(info.value)


@pytest.mark.parametrize("device", ["CPU", "ort:cpu"])
def test_throughput_path_matches_single_inference_call_after_call(device: str) -> None:
    # Regression: with a dynamic batch, OpenVINO's CPU THROUGHPUT streams returned another request's
    # outputs for one batch on repeated evaluations; evaluation now runs at a static batch.
    from conftest import SUITES

    from pytest_edgeqa import data
    from pytest_edgeqa.accuracy import outputs_of
    from pytest_edgeqa.devices import parse_device
    from pytest_edgeqa.models import ModelStore
    from pytest_edgeqa.types import CompileConfig

    images = data.columns(data.load(SUITES / "data" / "digits", split="test"), ["image"])["image"]
    before = images.copy()
    store = ModelStore()
    spec = parse_device(device)
    for name in ("digits_cnn.onnx", "digits_cnn_int8.xml") if device == "CPU" else ("digits_cnn.onnx",):
        model_file = store.model(SUITES / "models" / name, SUITES, "test")
        reference = store.compile(model_file, spec, CompileConfig()).infer({"image": images})["logits"]
        for batch in (64, 64, 64, 7, 1, 450, 1000):
            model = store.compile(model_file, spec, CompileConfig(hint="THROUGHPUT", batch=batch))
            out, timing = outputs_of(model, {"image": images}, batch, None, "test")
            assert timing["samples"] == 450 and out.shape == (450, 10)
            np.testing.assert_allclose(out, reference, atol=1e-4, err_msg=f"{name} batch {batch}")
    np.testing.assert_array_equal(images, before)  # the caller's data is never computed on in place


@needs_bf16
def test_precision_loss_is_not_blamed_on_the_optimization(pytester: pytest.Pytester, models, example_data) -> None:
    # The "optimized" model is the original itself at bf16, asked to be 1% better (it cannot be): the
    # message shows what the original scores at bf16, i.e. what precision alone does.
    pytester.makepyfile(
        test_bf16="""
        import pytest

        @pytest.mark.edge_model(original="models/diabetes_mlp.onnx", optimized="models/diabetes_mlp.onnx", precision="bf16")
        @pytest.mark.accuracy(metric="mse", min_improvement=0.01, drop="relative")
        def test_strict(accuracy_check):
            accuracy_check("data/diabetes", label="target", samples=40)
        """
    )
    result = pytester.runpytest()
    out = result.stdout.str()
    assert "optimized model runs at the reference precision" not in out
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "  optimized * (CPU, bf16)",
            "  the original itself scores * at bf16 (the precision the optimized model runs at), a drop of * before any optimization",
        ]
    )
    # The optimized model *is* the original at bf16, so the attribution shows exactly its score.
    optimized = next(ln for ln in out.splitlines() if ln.startswith("  optimized ")).split()[1]
    assert f"the original itself scores {optimized} at bf16" in out


def test_datasets_from_every_local_format(tmp_path: Path) -> None:
    import datasets

    from pytest_edgeqa import data

    ds = datasets.Dataset.from_dict({"x": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "label": [0, 1, 0]})
    ds.to_parquet(str(tmp_path / "d.parquet"))
    ds.to_json(str(tmp_path / "d.jsonl"))
    ds.to_csv(str(tmp_path / "d.csv"))
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "dir").mkdir()
    ds.to_parquet(str(tmp_path / "dir" / "test.parquet"))
    for source in (
        "d.parquet",
        "d.jsonl",
        "saved",
        "dir",
        ds,
        {"x": np.array(ds["x"]), "label": np.array(ds["label"])},
    ):
        cols, info = data.table(source, ["label"], base_dir=tmp_path)
        assert cols["label"].tolist() == [0, 1, 0] and info["rows"] == 3 and info["fingerprint"], source
    cols, _ = data.table("d.csv", ["label"], base_dir=tmp_path)
    assert cols["label"].tolist() == [0, 1, 0]
    cols, info = data.table(ds, ["x"], samples=2)
    assert cols["x"].shape == (2, 2) and info["subset"] == 2 and info["total_rows"] == 3
    cols, _ = data.table(ds, ["y"], preprocess=lambda c: {**c, "y": c["x"].sum(axis=1)})
    assert cols["y"].tolist() == [3.0, 7.0, 11.0]
    with pytest.raises(ConfigError, match="preprocess='nope:fn' is an import path: importing it runs"):
        data.table(ds, ["x"], preprocess="nope:fn")  # refused unless --edge-trust-code: see test_trust.py
    from pytest_edgeqa.registry import Registry

    with pytest.raises(ConfigError, match="preprocess='nope:fn' cannot be imported"):
        data.preprocess_fn("nope:fn", "accuracy_check", Registry(trust_code=True))


def unary_model(path: Path, *ops: str) -> None:
    """A real ONNX regressor y = op_n(...op_1(x)) on x: float[n, 1], built with the onnx helper API."""
    import onnx
    from onnx import TensorProto, helper

    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i}"
        if op == "AddOne":
            nodes.append(helper.make_node("Add", [prev, "one"], [out]))
        else:
            nodes.append(helper.make_node(op, [prev], [out]))
        prev = out
    graph = helper.make_graph(
        nodes,
        "unary",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)


NAN_TESTS = """
import numpy as np
import pytest

X = np.array([[1.0], [-1.0], [2.0], [0.0], [3.0], [-2.0], [4.0], [5.0]], np.float32)
TARGET = np.log(np.abs(X[:, 0]) + 1).astype(np.float64)


@pytest.mark.edge_model(original="safe_log.onnx", optimized="log.onnx")
@pytest.mark.accuracy(metric="mse", max_drop=1.0)
def test_optimized_gives_nan(accuracy_check):
    accuracy_check({"x": X, "target": TARGET}, label="target")


@pytest.mark.edge_model(original="log.onnx", optimized="safe_log.onnx")
@pytest.mark.accuracy(metric="mse", max_drop=1.0)
def test_original_gives_nan(accuracy_check):
    accuracy_check({"x": X, "target": TARGET}, label="target")


@pytest.mark.edge_model(original="relu_log.onnx", optimized="relu_log.onnx")
@pytest.mark.accuracy(metric="mse", max_drop=1.0)
def test_all_nan_inputs(accuracy_check):
    accuracy_check({"x": np.full_like(X, np.nan), "target": TARGET}, label="target")


@pytest.mark.edge_model(original="safe_log.onnx", optimized="safe_log.onnx")
@pytest.mark.accuracy(metric="mse", max_drop=1.0)
def test_some_inf_inputs(accuracy_check):
    x = X.copy()
    x[[2, 6]] = np.inf
    accuracy_check({"x": x, "target": TARGET}, label="target")


@pytest.mark.edge_model(original="safe_log.onnx", optimized="safe_log.onnx")
@pytest.mark.accuracy(metric="mse", max_drop=1.0)
def test_nan_labels(accuracy_check):
    accuracy_check({"x": X, "target": np.where(X[:, 0] > 3, np.nan, TARGET)}, label="target")
"""


def test_nan_or_inf_in_outputs_or_data_is_a_clear_failure(pytester: pytest.Pytester) -> None:
    # Before: NaN outputs ended in an IndexError from the bootstrap (ONNX Runtime), and all-NaN inputs
    # passed as "accuracy 0.10 -> 0.10" (OpenVINO's ReLU turns NaN into 0).
    unary_model(pytester.path / "log.onnx", "Log")  # NaN for x < 0, -Inf at 0
    unary_model(pytester.path / "safe_log.onnx", "Abs", "AddOne", "Log")  # log(|x| + 1): finite
    unary_model(pytester.path / "relu_log.onnx", "Relu", "AddOne", "Log")  # OpenVINO: finite even for NaN
    pytester.makepyfile(test_nan=NAN_TESTS)
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-p", "no:randomly")
    result.assert_outcomes(failed=10)
    out = result.stdout.str()
    for device in ("CPU", "ort:cpu"):
        for message in (
            f"accuracy_check: the optimized model ({device}, f32) gave NaN and -Inf in output 'y' for 3 of 8 rows "
            "(rows 1, 3, 5): a metric cannot score those rows; the original gives finite values for them, so the "
            "optimized model breaks there",
            f"accuracy_check: the original model ({device}, f32) gave NaN and -Inf in output 'y' for 3 of 8 rows "
            "(rows 1, 3, 5): a metric cannot score those rows",
        ):
            assert message in out, message
    for message in (
        "accuracy_check: input 'x' holds only NaN in 8 of 8 rows (rows 0, 1, 2, 3, 4, ...): a model cannot be judged on "
        "rows without numbers; drop or clean them first (e.g. preprocess=)",
        "accuracy_check: input 'x' holds only +Inf in 2 of 8 rows (rows 2, 6): a model cannot be judged",
        "accuracy_check: label column 'target' holds NaN in 2 of 8 rows (rows 6, 7): those rows cannot be scored",
    ):
        assert out.count(message) >= 2, message  # on both devices
    assert "IndexError" not in out and "PASS" not in out
    assert_clean(result)


def test_no_datasets_progress_bars_in_captured_output(pytester: pytest.Pytester, models) -> None:
    # A fresh file makes datasets prepare it (and draw "Generating test split" bars on stderr), which a
    # failing test's captured output used to show.
    import datasets

    x = np.random.default_rng(0).normal(size=(20, 10)).astype(np.float32)
    datasets.Dataset.from_dict({"features": x.tolist(), "target": np.arange(20.0)}).to_parquet(
        str(pytester.path / f"fresh-{pytester.path.name}.parquet")
    )
    pytester.makepyfile(
        test_bars=f"""
        import pytest

        @pytest.mark.edge_model(original="models/diabetes_mlp.onnx", optimized="models/diabetes_mlp.onnx")
        @pytest.mark.accuracy(metric="mse", max_value=0.001)
        def test_fails(accuracy_check):
            accuracy_check("fresh-{pytester.path.name}.parquet", label="target")
        """
    )
    result = pytester.runpytest("--edge-device=CPU")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["accuracy FAILED: mse (lower is better) on 20 samples*"])
    out = result.stdout.str() + result.stderr.str()
    assert "Generating test split" not in out and "it/s]" not in out and " examples/s]" not in out, out
    assert not datasets.utils.are_progress_bars_disabled()  # the user's own setting is left as it was
