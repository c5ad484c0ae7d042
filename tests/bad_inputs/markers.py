"""Bad marker arguments, fixture-call arguments and hand-made device parametrizations: each fails its own
item (before any model is built or run) with one message naming the marker or fixture call, the argument,
what was given and what was expected; a device string a user parametrizes edge_device with is parsed like
--edge-device."""

from __future__ import annotations

from onnx import TensorProto, helper

from . import DATA, MODELS, Case


def _tiny() -> bytes:
    """y = relu(x), x: float32[batch, 4]: compiles and runs in milliseconds."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


TINY = _tiny()
HEAD = "import numpy as np\nimport pytest\n\nX = {'x': np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)}\n"
PAIR = "pytestmark = pytest.mark.edge_model(original='tiny.onnx', optimized='tiny.onnx')\n"


def _tiny_test(body: str, marker: str = PAIR) -> dict[str, str | bytes]:
    """A test file beside tiny.onnx: ``marker`` on the module, then ``body``."""
    return {"tiny.onnx": TINY, "test_m.py": HEAD + marker + "\n" + body}


def _accuracy_test(marker: str, call: str = "accuracy_check('data/digits')") -> dict[str, str]:
    """The digits CNN and its INT8 model on the digits data, under ``marker``."""
    return {
        "models": MODELS,
        "data": DATA,
        "test_acc.py": (
            "import pytest\n\n"
            "pytestmark = pytest.mark.edge_model(original='models/digits_cnn.onnx', optimized='models/digits_cnn_int8.xml')\n\n"
            f"@pytest.mark.{marker}\n"
            "def test_acc(accuracy_check):\n"
            f"    {call}\n"
        ),
    }


def _latency_test(marker: str, call: str = "latency_check()") -> dict[str, str | bytes]:
    return _tiny_test(f"@pytest.mark.{marker}\ndef test_lat(latency_check):\n    {call}\n")


def _parity_test(marker: str) -> dict[str, str | bytes]:
    return _tiny_test(f"@pytest.mark.{marker}\ndef test_par(parity_check):\n    parity_check(X)\n")


CASES: list[Case] = [
    # edge_model: the marker's models and options, the fixture's arguments.
    Case(
        id="markers-edge-model-original-not-a-path",
        files=_tiny_test(
            "def test_o(original_model):\n    pass\n", "pytestmark = pytest.mark.edge_model(original=42)\n"
        ),
        expect=("edge_model marker: original=42; expected a model path such as 'models/net.onnx'",),
        outcomes={"errors": 1},
        note="TypeError from path handling",
    ),
    Case(
        id="markers-edge-model-optimized-a-list",
        files=_tiny_test(
            "def test_o(optimized_model):\n    pass\n",
            "pytestmark = pytest.mark.edge_model(original='tiny.onnx', optimized=['a.xml', 'b.xml'])\n",
        ),
        expect=(
            "edge_model marker: optimized=['a.xml', 'b.xml']; expected a model path such as 'models/net_int8.xml', "
            "a recipe name such as 'fp16', or {'recipe': name, ...options}",
        ),
        outcomes={"errors": 1},
        note="TypeError from path handling",
    ),
    Case(
        id="markers-edge-model-threads-absurd",
        files=_tiny_test(
            "def test_o(original_model):\n    pass\n",
            "pytestmark = pytest.mark.edge_model(original='tiny.onnx', threads=100000)\n",
        ),
        expect=("edge_model marker: threads=100000; expected a positive integer of at most 1024",),
        outcomes={"errors": 1},
        note="passed on to the runtime",
    ),
    Case(
        id="markers-edge-model-fixture-reference-not-a-bool",
        files=_tiny_test("def test_e(edge_model):\n    edge_model('tiny.onnx', reference='no')\n"),
        expect=("edge_model() fixture: reference='no'; expected True or False",),
        outcomes={"failed": 1},
        note="accepted as true: the model ran at its declared precision",
    ),
    # A user parametrizing edge_device by hand with device strings.
    Case(
        id="markers-parametrize-device-string",
        files=_tiny_test(
            "@pytest.mark.parametrize('edge_device', ['CPU'])\n"
            "def test_p(original_model):\n    assert original_model.infer(X)['y'].shape == (2, 4)\n"
        ),
        outcomes={"passed": 1},
        note="AttributeError: 'str' object has no attribute 'id'",
    ),
    Case(
        id="markers-parametrize-device-string-missing",
        files=_tiny_test("@pytest.mark.parametrize('edge_device', ['NPU'])\ndef test_p(original_model):\n    pass\n"),
        args=("-rs",),
        expect=("NPU is not available",),
        outcomes={"skipped": 1},
        note="AttributeError: 'str' object has no attribute 'id'",
    ),
    Case(
        id="markers-parametrize-device-string-indirect",
        files=_tiny_test(
            "@pytest.mark.parametrize('edge_device', ['cpu'], indirect=True)\n"
            "def test_p(edge_device, optimized_model):\n    assert edge_device.id == 'CPU'\n"
        ),
        outcomes={"passed": 1},
        note="AttributeError: 'str' object has no attribute 'id'",
    ),
    Case(
        id="markers-parametrize-device-bad-string",
        files=_tiny_test("@pytest.mark.parametrize('edge_device', ['FOO:x'])\ndef test_p(original_model):\n    pass\n"),
        expect=("parametrize('edge_device') value 'FOO:x': 'FOO:x' is not a device: unknown runtime 'FOO'",),
        outcomes={"errors": 1},
        note="AttributeError: 'str' object has no attribute 'id'",
    ),
    # golden_check's arguments, and its marker.
    Case(
        id="markers-golden-check-batch-negative",
        files=_tiny_test("def test_g(golden_check):\n    golden_check(batch=-1)\n"),
        expect=("golden_check: batch=-1; expected a positive integer of at most 4096 (the batch of generated inputs)",),
        outcomes={"failed": 1},
        note="ValueError from numpy: negative dimensions are not allowed",
    ),
    Case(
        id="markers-golden-check-seed-a-string",
        files=_tiny_test("def test_g(golden_check):\n    golden_check(seed='x')\n"),
        expect=("golden_check: seed='x'; expected an integer at least 0",),
        outcomes={"failed": 1},
        note="TypeError from numpy's default_rng",
    ),
    Case(
        id="markers-golden-check-batch-a-bool",
        files=_tiny_test("def test_g(golden_check):\n    golden_check(batch=True)\n"),
        expect=("golden_check: batch=True; expected a positive integer of at most 4096",),
        outcomes={"failed": 1},
        note="accepted as a batch of 1",
    ),
    Case(
        id="markers-golden-check-without-edge-model",
        files=_tiny_test("def test_g(golden_check):\n    golden_check(X)\n", marker=""),
        expect=(
            "golden_check needs an edge_model marker on the test, its class or module, e.g. pytest.mark.edge_model(",
        ),
        outcomes={"failed": 1},
        note="AttributeError: 'NoneType' object has no attribute 'args'",
    ),
    # accuracy_check's arguments and the accuracy marker: refused before any model runs.
    Case(
        id="markers-accuracy-check-samples-zero",
        files=_accuracy_test("accuracy(max_drop=0.01)", "accuracy_check('data/digits', samples=0)"),
        expect=(
            "accuracy_check: samples=0; expected a positive integer (the number of rows to evaluate; leave it out for all)",
        ),
        outcomes={"failed": 1},
        note="reported as 'the dataset is empty'",
    ),
    Case(
        id="markers-accuracy-check-samples-negative",
        files=_accuracy_test("accuracy(max_drop=0.01)", "accuracy_check('data/digits', samples=-5)"),
        expect=("accuracy_check: samples=-5; expected a positive integer",),
        outcomes={"failed": 1},
        note="reported as 'the dataset is empty'",
    ),
    Case(
        id="markers-accuracy-min-value-above-max-value",
        files=_accuracy_test("accuracy(min_value=0.99, max_value=0.5)"),
        expect=("accuracy marker: min_value=0.99 is above max_value=0.5; no optimized value can meet both",),
        absent=("  original  ", "  optimized "),  # no evaluation report: refused before any model ran
        outcomes={"failed": 1},
        note="accepted; failed only after the whole evaluation",
    ),
    Case(
        id="markers-accuracy-min-value-in-percent",
        files=_accuracy_test("accuracy(min_value=95)"),
        expect=("accuracy marker: min_value=95 is above the most accuracy can be (1); no value can meet it",),
        outcomes={"failed": 1},
        note="accepted; failed only after the whole evaluation",
    ),
    Case(
        id="markers-accuracy-relative-drop-without-a-drop-budget",
        files=_accuracy_test("accuracy(min_value=0.9, drop='relative')"),
        expect=("accuracy marker: drop='relative' applies to max_drop or min_improvement, and neither is given",),
        outcomes={"failed": 1},
        note="accepted and ignored",
    ),
    Case(
        id="markers-accuracy-max-drop-inf",
        files=_accuracy_test("accuracy(max_drop=float('inf'))"),
        expect=("accuracy marker: max_drop=inf; expected a finite number at least 0",),
        outcomes={"failed": 1},
        note="accepted: a budget that always holds",
    ),
    Case(
        id="markers-accuracy-resamples-a-billion",
        files=_accuracy_test("accuracy(max_drop=0.01, resamples=10**9)"),
        expect=("accuracy marker: resamples=1000000000; expected an integer at least 100 and at most 100000",),
        outcomes={"failed": 1},
        subprocess=True,
        timeout=90,
        note="accepted: the bootstrap ran for hours",
    ),
    Case(
        id="markers-accuracy-direction-flipped",
        files=_accuracy_test("accuracy(max_drop=0.01, higher_is_better=False)"),
        expect=(
            "accuracy marker: higher_is_better=False contradicts accuracy, which is higher-is-better; "
            "higher_is_better= is for metrics whose direction is not known",
        ),
        outcomes={"failed": 1},
        note="accepted: a less accurate model counted as an improvement",
    ),
    Case(
        id="markers-accuracy-metric-not-a-name",
        files=_accuracy_test("accuracy(metric=42, max_drop=0.01)"),
        expect=("accuracy marker: metric=42; expected a metric name such as 'accuracy', or a callable",),
        outcomes={"failed": 1},
        note="refused only after the models were compiled",
    ),
    # latency: finite numbers in range, one budget per percentile.
    Case(
        id="markers-latency-seconds-inf",
        files=_latency_test("latency(p50_ms=100, seconds=float('inf'))"),
        expect=("latency marker: seconds=inf; expected a finite positive number of at most 3600 seconds",),
        outcomes={"failed": 1},
        subprocess=True,
        timeout=60,
        note="accepted: the measurement never ended",
    ),
    Case(
        id="markers-latency-budget-inf",
        files=_latency_test("latency(p90_ms=float('inf'))"),
        expect=("latency marker: p90_ms=inf; expected a finite positive number",),
        outcomes={"failed": 1},
        note="accepted: a budget that always holds",
    ),
    Case(
        id="markers-latency-percentile-given-twice",
        files=_latency_test("latency(p90_ms=5, percentiles={90: 4})"),
        expect=("latency marker: p90 has two budgets, p90_ms= and percentiles={90: ...}; give one",),
        outcomes={"failed": 1},
        note="accepted: both judged, the report listed p90 twice",
    ),
    Case(
        id="markers-latency-batch-absurd",
        files=_latency_test("latency(p50_ms=100, batch=100000)"),
        expect=("latency marker: batch=100000; expected a positive integer of at most 4096",),
        outcomes={"failed": 1},
        note="accepted",
    ),
    Case(
        id="markers-latency-check-seed-negative",
        files=_latency_test("latency(p50_ms=100)", "latency_check(seed=-1)"),
        expect=("latency_check: seed=-1; expected an integer at least 0",),
        outcomes={"failed": 1},
        note="ValueError from numpy's default_rng",
    ),
    # parity: finite criteria, and a criteria set that judges something.
    Case(
        id="markers-parity-atol-inf",
        files=_parity_test("parity(atol=float('inf'))"),
        expect=("parity marker: atol=inf; expected a finite number (leave atol out to not apply it)",),
        outcomes={"failed": 1},
        note="accepted: a criterion that always holds",
    ),
    Case(
        id="markers-parity-modifier-alone",
        files=_parity_test("parity(nan='ignore')"),
        expect=("parity marker: nan='ignore' sets no criterion, so nothing would be checked; add one of atol, rtol,",),
        outcomes={"failed": 1},
        note="accepted: replaced the defaults by nothing, so any output passed",
    ),
    Case(
        id="markers-parity-agreement-without-top-k",
        files=_parity_test("parity(cosine=0.99, top_k_agreement=0.9)"),
        expect=("parity marker: top_k_agreement=0.9 applies to top_k, which is not given",),
        outcomes={"failed": 1},
        note="accepted and ignored",
    ),
    Case(
        id="markers-latency-positional",
        files=_latency_test("latency(5.0)"),
        expect=("latency marker: takes keyword arguments only, e.g. latency(p90_ms=1.0, min_speedup=1.0)",),
        outcomes={"failed": 1},
        note="already right before",
    ),
]
