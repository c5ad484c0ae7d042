"""What pytest-edgeqa trusts: registered metrics and preprocess functions work from markers, fixtures and
suites; metric scripts and import paths run only with --edge-trust-code, and never from a suite."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest
from bad_inputs.data import scalar_model
from conftest import assert_clean

from pytest_edgeqa.errors import ConfigError
from pytest_edgeqa.registry import Registry

DATA = "x,y\n1.0,2.0\n2.0,3.0\n3.0,4.0\n4.0,5.0\n"  # y = x + 1: the scalar model (y = x) is off by 1

# A metric script as evaluate.load expects one: an evaluate.Metric subclass in a .py file.
MAE_SCRIPT = """\
import datasets
import evaluate
import numpy as np


class MyMAE(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="mean absolute error", citation="", inputs_description="",
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references):
        return {"my_mae": float(np.mean(np.abs(np.asarray(predictions) - np.asarray(references))))}
"""

REGISTERING_CONFTEST = """\
import numpy as np


def worst_error(predictions, references):
    return float(np.max(np.abs(predictions - references)))


def shifted(cols):
    return {**cols, "y": cols["y"] - 0.5}  # now off by 0.5 everywhere


def pytest_edgeqa_register(registry):
    registry.add_metric("worst_error", worst_error, higher_is_better=False)
    registry.add_preprocess("shifted", shifted)
"""


@pytest.fixture
def scalar_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    scalar_model(pytester.path)
    (pytester.path / "d.csv").write_text(DATA)
    return pytester


def test_registered_names_work_from_markers_fixtures_and_suites(scalar_env: pytest.Pytester) -> None:
    scalar_env.makeconftest(REGISTERING_CONFTEST)
    scalar_env.makepyfile(
        test_reg="""
        import pytest

        pytestmark = pytest.mark.edge_model(original="m.onnx", optimized="m.onnx")

        @pytest.mark.accuracy(metric="worst_error", max_value=0.6)
        def test_registered(accuracy_check):
            r = accuracy_check("d.csv", label="y", preprocess="shifted")
            assert r.metric == "worst_error" and not r.higher_is_better and r.optimized.value == 0.5
        """
    )
    scalar_env.makefile(
        ".edgeqa.yaml",
        s="""
        name: s
        model: {original: m.onnx, optimized: m.onnx}
        data: {path: d.csv, inputs: {x: x}, label: y, preprocess: shifted}
        devices: [CPU]
        checks:
          accuracy: {metric: worst_error, max_value: 0.6}
        """,
    )
    result = scalar_env.runpytest("--edge-device=CPU", "-v")
    result.assert_outcomes(passed=2)
    assert_clean(result)


def test_trust_code_loads_a_local_metric_script_from_a_marker(scalar_env: pytest.Pytester) -> None:
    (scalar_env.path / "my_mae.py").write_text(MAE_SCRIPT)
    scalar_env.makepyfile(
        test_script="""
        import pytest

        pytestmark = pytest.mark.edge_model(original="m.onnx", optimized="m.onnx")

        @pytest.mark.accuracy(metric="my_mae.py", max_value=1.5, higher_is_better=False)
        def test_script(accuracy_check):
            r = accuracy_check("d.csv", label="y")
            assert r.metric == "my_mae.py" and r.optimized.value == pytest.approx(1.0)
        """
    )
    scalar_env.runpytest("--edge-device=CPU").assert_outcomes(failed=1)  # refused without the opt-in
    result = scalar_env.runpytest("--edge-device=CPU", "--edge-trust-code")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["edgeqa: devices CPU (from --edge-device); trusts code named by markers (--edge-trust-code)"]
    )
    assert_clean(result)
    scalar_env.makeini("[pytest]\nedge_trust_code = true\n")
    scalar_env.runpytest("--edge-device=CPU").assert_outcomes(passed=1)


def test_trust_code_imports_a_preprocess_path_from_a_fixture_argument(scalar_env: pytest.Pytester) -> None:
    (scalar_env.path / "helpers_for_trust.py").write_text(
        "def shifted(cols):\n    return {**cols, 'y': cols['y'] - 0.5}\n"
    )
    scalar_env.syspathinsert()
    scalar_env.makepyfile(
        test_import="""
        import pytest

        pytestmark = pytest.mark.edge_model(original="m.onnx", optimized="m.onnx")

        @pytest.mark.accuracy(metric="mae", max_value=0.6)
        def test_import(accuracy_check):
            r = accuracy_check("d.csv", label="y", preprocess="helpers_for_trust:shifted")
            assert r.optimized.value == pytest.approx(0.5)
        """
    )
    refused = scalar_env.runpytest("--edge-device=CPU")
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*preprocess='helpers_for_trust:shifted' is an import path*--edge-trust-code*"])
    scalar_env.runpytest("--edge-device=CPU", "--edge-trust-code").assert_outcomes(passed=1)


def test_trust_code_reaches_evaluate_load_for_a_hub_metric(scalar_env: pytest.Pytester) -> None:
    # Offline here, so the Hub cannot answer: the message shows evaluate.load was asked for that id.
    scalar_env.makepyfile(
        test_hub="""
        import pytest

        pytestmark = pytest.mark.edge_model(original="m.onnx", optimized="m.onnx")

        @pytest.mark.accuracy(metric="edgeqa-nobody/no-such-metric", max_drop=1.0)
        def test_hub(accuracy_check):
            accuracy_check("d.csv", label="y")
        """
    )
    result = scalar_env.runpytest_subprocess("--edge-device=CPU", "--edge-trust-code", timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*accuracy marker: unknown metric 'edgeqa-nobody/no-such-metric': not built in (accuracy, *) and "
            "evaluate.load could not load it (*"
        ]
    )
    assert_clean(result)


HOSTILE = (
    "evil.py",
    "./evil.py",
    "/tmp/evil.py",
    "../evil.py",
    "~/evil.py",
    "someone/evil",
    "bleu",
    "subprocess:run",
    "os:system",
    "a.b:c",
    "accuracy/../evil",
    "hub:someone/evil",
    "",
)


def test_no_string_loads_or_imports_code_without_the_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluate

    from pytest_edgeqa.data import preprocess_fn
    from pytest_edgeqa.metrics import resolve

    def ran(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"code was loaded for {args!r}")

    monkeypatch.setattr(evaluate, "load", ran)
    monkeypatch.setattr(importlib, "import_module", ran)
    for text in HOSTILE:
        for registry, declarative in (
            (None, False),
            (Registry(), False),
            (Registry(), True),
            (Registry(trust_code=True), True),  # a suite, whatever the option says
        ):
            with pytest.raises(ConfigError):
                resolve(text, "where", registry, declarative=declarative)
            if text:
                with pytest.raises(ConfigError):
                    preprocess_fn(text, "where", registry, declarative=declarative)


def test_the_registry_refuses_what_it_cannot_mean() -> None:
    registry = Registry()

    def fn(p: object, r: object) -> float:
        return 0.0

    registry.add_metric("mine", fn)
    registry.add_metric("mine", fn)  # the same function again (a conftest imported twice) is fine
    for call, message in [
        (lambda: registry.add_metric("mine", lambda p, r: 1.0), "metric 'mine' is registered twice ("),
        (lambda: registry.add_metric("top_7_accuracy", fn), "'top_7_accuracy' is a built-in metric"),
        (lambda: registry.add_metric("a:b", fn), "add_metric('a:b', ...): expected a name: letters"),
        (lambda: registry.add_metric("x", 42), "expected a callable fn(predictions, references) -> float"),
        (
            lambda: registry.add_metric("x", fn, higher_is_better="yes"),
            "higher_is_better='yes'; expected True or False",
        ),
        (lambda: registry.add_preprocess("p", "os:system"), "add_preprocess('p', ...): expected a callable"),
        (lambda: registry.add_preprocess("../p", print), "add_preprocess('../p', ...): expected a name"),
    ]:
        with pytest.raises(ConfigError) as info:
            call()
        assert message in str(info.value)


def test_a_registered_evaluate_metric_and_statistic_resolve(tmp_path: Path) -> None:
    import numpy as np

    from pytest_edgeqa import metrics

    registry = Registry()
    registry.add_metric("shipped_f1", metrics.F1())
    registry.add_metric("exact", metrics.MAEStat())
    assert isinstance(metrics.resolve("shipped_f1", "w", registry), metrics.PRFStat)
    stat = metrics.resolve("exact", "w", registry)
    assert isinstance(stat, metrics.MAEStat) and not stat.higher_is_better
    callable_stat = metrics.resolve(lambda p, r: float(np.mean(p == r)), "w")
    assert callable_stat.fn(np.array([1, 2]), np.array([1, 3])) == 0.5


def test_the_readme_states_the_trust_rules() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## What pytest-edgeqa trusts", 1)[1].split("\n## ", 1)[0]
    for text in ("--edge-trust-code", "edge_trust_code", "pytest_edgeqa_register", "yaml.safe_load", "hub:owner/name"):
        assert text in section, text
    assert textwrap.dedent(section).strip()
