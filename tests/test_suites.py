"""Declarative suites: valid ones run on the same engines as markers; malformed ones say where and why."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import assert_clean, supports_bf16

from pytest_edgeqa.suite import SuiteError, load

VALID = """
name: diabetes-bf16
model:
  original: models/diabetes_mlp.onnx
  optimized: models/diabetes_mlp.onnx
  precision: bf16
data: {path: data/diabetes, split: test, inputs: {features: features}, label: target}
devices: [CPU, ort:cpu]
checks:
  accuracy: {metric: mse, max_drop: 0.02, drop: relative}
  latency: {p90_ms: 50, seconds: 0.2, warmup_s: 0.05}
  parity: {samples: 8, atol: 50, rtol: 0.05}
"""


def test_a_valid_suite_runs_one_item_per_check_and_device(
    pytester: pytest.Pytester, models, example_data, monkeypatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # the golden is recorded here on purpose
    pytester.makefile(".edgeqa.yaml", diabetes=VALID)
    collected = pytester.runpytest("--collect-only", "-q", "--edge-device=CPU,ort:cpu")
    collected.stdout.fnmatch_lines(
        [
            "diabetes.edgeqa.yaml::diabetes-bf16::accuracy[[]CPU[]]",
            "diabetes.edgeqa.yaml::diabetes-bf16::accuracy[[]ort:cpu[]]",
            "diabetes.edgeqa.yaml::diabetes-bf16::latency[[]CPU[]]",
            "diabetes.edgeqa.yaml::diabetes-bf16::latency[[]ort:cpu[]]",
            "diabetes.edgeqa.yaml::diabetes-bf16::parity[[]CPU[]]",
            "diabetes.edgeqa.yaml::diabetes-bf16::parity[[]ort:cpu[]]",
        ]
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu,NPU", "--update-golden=new", "-rs", "-v")
    # ONNX Runtime's CPU provider has no bf16: its items are skipped with the reason, not passed at f32;
    # so are the CPU's on a CPU that runs f32 when asked for bf16 (AVX2 only).
    cpu_runs_bf16 = supports_bf16()
    result.assert_outcomes(passed=3 if cpu_runs_bf16 else 0, skipped=6 if cpu_runs_bf16 else 9)
    result.stdout.fnmatch_lines(
        [
            "*edgeqa results*",
            "diabetes.edgeqa.yaml::diabetes-bf16",
            "  PASS CPU        accuracy mse 35* -> 35*, drop * rel [[]*, *[]] f32/bf16"
            if cpu_runs_bf16
            else "  SKIP CPU        accuracy precision='bf16' asked, but CPU runs f32*",
            "  SKIP NPU        accuracy NPU: suite 'diabetes-bf16' lists devices CPU, ort:cpu",
            "SKIPPED [[]3[]] diabetes.edgeqa.yaml:1: NPU: suite 'diabetes-bf16' lists devices CPU, ort:cpu",
        ]
    )
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]3[]] diabetes.edgeqa.yaml:1: precision='bf16' asked, but ort:cpu runs f32 (ONNX Runtime computes*"]
    )
    assert (pytester.path / "golden" / "diabetes.edgeqa" / "diabetes-bf16.parity.npz").exists() == cpu_runs_bf16
    pytester.runpytest("--edge-device=CPU").assert_outcomes(**({"passed": 3} if cpu_runs_bf16 else {"skipped": 3}))


def test_a_failing_suite_check_reads_like_the_marker(pytester: pytest.Pytester, models, example_data) -> None:
    pytester.makefile(
        ".edgeqa.yaml",
        strict=VALID.replace("max_drop: 0.02, drop: relative", "max_value: 100")
        .replace("name: diabetes-bf16", "name: strict")
        .replace("  precision: bf16\n", ""),  # runs on any CPU
    )
    result = pytester.runpytest("--edge-device=CPU", "-k", "accuracy")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "accuracy FAILED: mse (lower is better) on 89 samples [[]gate: point[]]",
            "  failed: max_value=100: optimized is 35*",
        ]
    )
    assert_clean(result)


def test_a_malformed_suite_is_reported_alone_and_the_rest_runs(pytester: pytest.Pytester, models, example_data) -> None:
    pytester.makefile(
        ".edgeqa.yaml",
        good=VALID.replace(
            "  latency: {p90_ms: 50, seconds: 0.2, warmup_s: 0.05}\n  parity: {samples: 8, atol: 50, rtol: 0.05}\n", ""
        ).replace("  precision: bf16\n", ""),  # runs on any CPU
    )
    pytester.makefile(".edgeqa.yaml", bad="name: broken\nmodel: {original: 42}\nchecks: {accuracy: {max_drop: 0.1}}\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("--edge-device=CPU")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of bad.edgeqa.yaml: invalid suite*",
            "bad.edgeqa.yaml: model.original: expected a model path (string), got 42",
        ]
    )
    assert_clean(result)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.edgeqa.yaml"
    path.write_text(textwrap.dedent(text))
    return path


BASE = {
    "name": "name: s",
    "model": "model: {original: m.onnx, optimized: o.xml}",
    "data": "data: {path: d, label: label}",
    "checks": "checks: {accuracy: {max_drop: 0.01}}",
}


def suite(**parts: str | None) -> str:
    merged = {**BASE, **parts}
    return "\n".join(v for v in merged.values() if v is not None) + "\n"


MALFORMED = [
    ("name: [unclosed\n", "s.edgeqa.yaml: is not valid YAML (line 2, column 1)"),
    ("- just\n- a list\n", "s.edgeqa.yaml: (top level): expected a mapping, got a list"),
    (suite(name=None), "s.edgeqa.yaml: name: missing; a suite needs name, model and checks"),
    (suite(name="name: 3"), "s.edgeqa.yaml: name: expected a non-empty string without [ ] : /, got 3"),
    (suite(name="name: 'a::b'"), "s.edgeqa.yaml: name: expected a non-empty string without [ ] : /, got 'a::b'"),
    (
        suite() + "owner: me\n",
        "s.edgeqa.yaml: (top level): unknown key 'owner' (expected: name, model, data, devices, checks)",
    ),
    (suite(model=None), "s.edgeqa.yaml: model: missing; a suite needs name, model and checks"),
    (suite(model="model: m.onnx"), "s.edgeqa.yaml: model: expected a mapping, got 'm.onnx'"),
    (
        suite(model="model: {optimized: o.xml}"),
        "s.edgeqa.yaml: model.original: missing; expected the path of the original model",
    ),
    (suite(model="model: {original: 42}"), "s.edgeqa.yaml: model.original: expected a model path (string), got 42"),
    (
        suite(model="model: {original: m.onnx, optimized: 7}"),
        "s.edgeqa.yaml: model.optimized: expected a model path, a recipe name or {recipe: ..., options}, got 7",
    ),
    (
        suite(model="model: {original: m.onnx, optimised: o.xml}"),
        "s.edgeqa.yaml: model: unknown key 'optimised' (expected: original, optimized, hint, precision",
    ),
    (
        suite(model="model: {original: m.onnx, optimized: {recipe: nncf-int9}}"),
        "s.edgeqa.yaml: model.optimized: unknown recipe 'nncf-int9' (known: fp16, nncf-int8",
    ),
    (
        suite(model="model: {original: m.onnx, optimized: {recipe: nncf-weights-int4, ratio: 3}}"),
        "s.edgeqa.yaml: recipe 'nncf-weights-int4': ratio=3.0; expected a fraction in (0, 1]",
    ),
    (
        suite(model="model: {original: m.onnx, optimized: o.xml, precision: int4}"),
        "s.edgeqa.yaml: model: precision='int4'; expected one of f32, f16, bf16",
    ),
    (suite(data=None), "s.edgeqa.yaml: data: missing; the accuracy check needs data: {path, split, inputs, label}"),
    (
        suite(data="data: {split: test}"),
        "s.edgeqa.yaml: data.path: expected a dataset path or hub id (string), got None",
    ),
    (
        suite(data="data: {path: d, inputs: [image]}"),
        "s.edgeqa.yaml: data.inputs: expected a mapping of model input to column name, got a list",
    ),
    (suite(data="data: {path: d, label: 3}"), "s.edgeqa.yaml: data.label: expected a column name (string), got 3"),
    (suite(data="data: {path: d, samples: 0}"), "s.edgeqa.yaml: data.samples: expected a positive integer, got 0"),
    (
        suite(data="data: {path: d, columns: x}"),
        "s.edgeqa.yaml: data: unknown key 'columns' (expected: path, split, inputs, label, samples, preprocess)",
    ),
    (
        suite(data="data: {path: d, preprocess: 'mymodule:fn'}"),
        "s.edgeqa.yaml: data.preprocess: 'mymodule:fn' is an import path ('module:function'); a suite names a "
        "preprocess function",
    ),
    (suite() + "devices: CPU\n", "s.edgeqa.yaml: devices: expected a non-empty list of device names, got 'CPU'"),
    (
        suite() + "devices: [CPU, 'foo:bar']\n",
        "s.edgeqa.yaml: devices: 'foo:bar' is not a device: unknown runtime 'foo'",
    ),
    (suite(checks=None), "s.edgeqa.yaml: checks: missing; a suite needs name, model and checks"),
    (
        suite(checks="checks: {}"),
        "s.edgeqa.yaml: checks: expected at least one of accuracy, latency, parity, kld, generation, llm_latency, got a mapping",
    ),
    (
        suite(checks="checks: {speed: {p90_ms: 1}}"),
        "s.edgeqa.yaml: checks: unknown key 'speed' (expected: accuracy, latency, parity, kld, generation, llm_latency)",
    ),
    (suite(checks="checks: {accuracy: 0.01}"), "s.edgeqa.yaml: checks.accuracy: expected a mapping, got 0.01"),
    (
        suite(checks="checks: {accuracy: {max_drop: -1}}"),
        "s.edgeqa.yaml: checks.accuracy: max_drop=-1; expected a number at least 0",
    ),
    (
        suite(checks="checks: {accuracy: {metric: accuracy}}"),
        "s.edgeqa.yaml: checks.accuracy: no budget: give max_drop, min_value, max_value, min_improvement or a preset",
    ),
    (
        suite(checks="checks: {latency: {p90: 1}}"),
        "s.edgeqa.yaml: checks.latency: unknown argument 'p90' (expected: p50_ms, p90_ms",
    ),
    (
        suite(checks="checks: {latency: {percentiles: {100: 2}}}"),
        "s.edgeqa.yaml: checks.latency: percentiles has 100; a percentile must be between 0 and 100 (exclusive)",
    ),
    (
        suite(checks="checks: {parity: {cosine: 2}}"),
        "s.edgeqa.yaml: checks.parity: cosine=2; expected a number between -1.0 and 1.0",
    ),
    (
        suite(checks="checks: {parity: {samples: -4}}"),
        "s.edgeqa.yaml: checks.parity.samples: expected a positive integer, got -4",
    ),
    (
        suite(model="model: {original: m.onnx}"),
        "s.edgeqa.yaml: model.optimized: missing; the accuracy check compares the optimized model with the original",
    ),
    (
        suite(model="model: {original: m.onnx, optimized: {recipe: nncf-int8, calibration: {split: 3}}}"),
        "s.edgeqa.yaml: model.optimized.calibration.split: expected a string, got 3",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED, ids=[f"case{i}" for i in range(len(MALFORMED))])
def test_malformed_suites(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SuiteError) as info:
        load(write(tmp_path, text))
    assert str(info.value).startswith(message), str(info.value)


def test_there_are_at_least_twenty_malformed_cases() -> None:
    assert len(MALFORMED) >= 20


def test_anchors_and_merge_keys_within_the_budget_are_read_as_yaml_reads_them(tmp_path: Path) -> None:
    loaded = load(
        write(
            tmp_path,
            """
            name: s
            data: &data {path: d, split: test, label: label}
            model:
              original: m.onnx
              optimized: {recipe: nncf-int8, calibration: {<<: *data, split: train}}
            checks:
              parity: {cosine: 0.999}
              latency: {p90_ms: 5}
            """,
        )
    )
    assert loaded.model["optimized"]["calibration"] == {"path": "d", "split": "train", "label": "label"}
    assert loaded.checks["parity"] == {"cosine": 0.999}


def test_a_recipe_named_alone_is_validated_like_a_recipe_mapping(tmp_path: Path) -> None:
    assert load(write(tmp_path, suite(model="model: {original: m.onnx, optimized: fp16}"))).model["optimized"] == "fp16"
    with pytest.raises(
        SuiteError, match=r"model\.optimized\.recipe: missing; expected a recipe name such as nncf-int8"
    ):
        load(write(tmp_path, suite(model="model: {original: m.onnx, optimized: {bits: 8}}")))


def test_many_unknown_keys_are_named_five_at_most(tmp_path: Path) -> None:
    keys = ", ".join(f"k{i}: 1" for i in range(1000))
    with pytest.raises(SuiteError) as info:
        load(write(tmp_path, suite(model=f"model: {{original: m.onnx, optimized: o.xml, {keys}}}")))
    assert str(info.value).startswith(
        "s.edgeqa.yaml: model: unknown key 'k0', 'k1', 'k10', 'k100', 'k101' and 995 more"
    )
