"""Reports: the JSON report against its schema, Markdown and terminal text, xdist parity, merge and compare."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from conftest import assert_clean

from pytest_edgeqa.report import schema

SUITE = """
name: diabetes-bf16
model:
  original: models/diabetes_mlp.onnx
  optimized: models/diabetes_mlp.onnx
  precision: bf16
data: {path: data/diabetes, split: test, inputs: {features: features}, label: target}
checks:
  accuracy: {metric: mse, max_drop: 0.02, drop: relative}
  latency: {p90_ms: 50, seconds: 0.2, warmup_s: 0.05}
  parity: {samples: 8, atol: 50, rtol: 0.05}
"""

TESTS = """
import pytest
pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

@pytest.mark.accuracy(max_drop=0.01)
def test_accuracy(accuracy_check):
    accuracy_check("data/digits")

@pytest.mark.parity(cosine=0.999)
def test_parity(golden_check):
    golden_check(seed=1, batch=8)

@pytest.mark.accuracy(min_value=0.999)
def test_too_strict(accuracy_check):
    accuracy_check("data/digits")
"""


@pytest.fixture
def project(pytester: pytest.Pytester, models, example_data, monkeypatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makefile(".edgeqa.yaml", diabetes=SUITE)
    pytester.makepyfile(test_digits=TESTS)
    pytester.runpytest("--update-golden=new", "--edge-device=CPU,ort:cpu")
    return pytester


def run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    result = project.runpytest(
        "--edge-device=CPU,ort:cpu,NPU", "--edge-report=report.json", "--edge-report-md=report.md", *args
    )
    return result, json.loads((project.path / "report.json").read_text())


def test_json_report_validates_and_holds_every_result(project: pytest.Pytester) -> None:
    result, report = run(project)
    result.assert_outcomes(passed=8, failed=1, skipped=9)
    jsonschema.validate(report, schema())
    assert report["schema_version"] == 1 and report["environment"]["devices"] == ["CPU", "ort:cpu", "NPU"]
    assert {"openvino", "onnxruntime", "numpy", "pytest-edgeqa"} <= set(report["environment"]["versions"])
    assert report["environment"]["cpu"]["name"] and report["environment"]["cpu"]["features"]
    by = {(r["name"], r["check"], r["device"]): r for r in report["results"]}
    acc = by[("test_digits.py::test_accuracy", "accuracy", "CPU")]
    assert acc["outcome"] == "passed" and acc["ok"] and acc["figures"]["samples"] == 450  # passing results are kept
    assert acc["figures"]["ci_low"] <= acc["figures"]["drop"] <= acc["figures"]["ci_high"]
    assert by[("test_digits.py::test_too_strict", "accuracy", "CPU")]["outcome"] == "failed"
    skipped = by[("test_digits.py::test_accuracy", "accuracy", "NPU")]
    assert skipped["outcome"] == "skipped" and skipped["detail"]["reason"] == "NPU is not available: OpenVINO has: CPU"
    lat = by[("diabetes.edgeqa.yaml::diabetes-bf16", "latency", "CPU")]
    assert lat["figures"]["p50_ms"] > 0 and lat["figures"]["precision"] == "bf16"
    assert by[("diabetes.edgeqa.yaml::diabetes-bf16", "parity", "ort:cpu")]["figures"]["action"] == "compared"
    result.stdout.fnmatch_lines(
        [
            f"edgeqa: JSON report written to {project.path}/report.json",
            f"edgeqa: Markdown summary written to {project.path}/report.md",
        ]
    )


def test_terminal_and_markdown_as_a_user_reads_them(project: pytest.Pytester) -> None:
    result, _ = run(project)
    lines = result.stdout.lines
    start = next(i for i, ln in enumerate(lines) if "edgeqa results" in ln)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("edgeqa:", "=")))
    block = lines[start + 1 : end]
    assert len(block) >= 18 and all(len(ln) <= 100 for ln in block), block
    result.stdout.fnmatch_lines(
        [
            "*edgeqa results*",
            "diabetes.edgeqa.yaml::diabetes-bf16",
            "  PASS CPU        accuracy mse 3563 -> 35*, drop * rel [[]*, *[]] f32/bf16",
            "  PASS CPU        latency  p50 * ms, p90 * ms*bf16",
            "  PASS CPU        parity   cos 1.00000, max|d| *, top1 - (bf16, compared)",
            "test_digits.py::test_accuracy",
            "  PASS CPU        accuracy accuracy 0.9844 -> 0.9844, drop +0.0000 abs [[]+0.000, +0.000[]] f32/f32",
            "  SKIP NPU        accuracy NPU is not available: OpenVINO has: CPU",
            "  SKIP ort:cpu    accuracy ONNX Runtime runs ONNX models only; digits_cnn_int8.xml is OpenVINO IR*",
            "test_digits.py::test_too_strict",
            "  FAIL CPU        accuracy accuracy 0.9844 -> 0.9844, drop +0.0000 abs*",
        ]
    )
    md = (project.path / "report.md").read_text()
    assert md.startswith("## pytest-edgeqa\n\n1 failed, 8 passed, 9 skipped on CPU, ort:cpu, NPU")
    assert "| test | device | metric | original | optimized | drop | 95% CI | precision |  |" in md
    assert (
        "| `test_digits.py::test_accuracy` | CPU | accuracy | 0.9844 | 0.9844 | +0.0000 | [+0.0000, +0.0000] | f32 → f32 | ✅ |"
        in md
    )
    assert "| `test_digits.py::test_too_strict` | CPU | accuracy | 0.9844 | 0.9844 |" in md and "❌" in md
    assert "### latency" in md and "### parity" in md and "NPU is not available: OpenVINO has: CPU" in md
    assert_clean(result)


def test_github_step_summary_and_junit_properties(project: pytest.Pytester, monkeypatch) -> None:
    summary = project.path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.runpytest("--edge-device=CPU", "--junitxml=junit.xml", "-k", "test_accuracy or test_parity")
    result.assert_outcomes(passed=2)
    text = summary.read_text()
    assert text.startswith("# earlier step\n## pytest-edgeqa") and "test_digits.py::test_accuracy" in text
    result.stdout.fnmatch_lines([f"edgeqa: summary appended to $GITHUB_STEP_SUMMARY ({summary})"])
    case = next(
        c for c in ET.parse(project.path / "junit.xml").iter("testcase") if c.get("name") == "test_accuracy[CPU]"
    )
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["edgeqa.accuracy.metric"] == "accuracy" and float(props["edgeqa.accuracy.optimized"]) > 0.98
    assert "edgeqa.accuracy.ci_high" in props and props["edgeqa.accuracy.optimized_precision"] == "f32"


def _stable(report: dict) -> list[tuple]:
    """What must not depend on how the run was split: which results, their outcome, and the figures
    of the deterministic checks (accuracy and parity; latency is timing)."""
    rows = []
    for r in report["results"]:
        figs = r["figures"] if r["check"] != "latency" else {}
        rows.append((r["nodeid"], r["check"], r["device"], r["outcome"], json.dumps(figs, sort_keys=True)))
    return sorted(rows)


def test_xdist_gives_the_same_report(project: pytest.Pytester) -> None:
    _, serial = run(project)
    result, parallel = run(project, "-n", "2")
    result.assert_outcomes(passed=8, failed=1, skipped=9)
    jsonschema.validate(parallel, schema())
    assert _stable(parallel) == _stable(serial)
    assert parallel["summary"] == serial["summary"]


def test_merge_and_compare_on_real_reports(project: pytest.Pytester) -> None:
    cli = [sys.executable, "-m", "pytest_edgeqa"]
    project.runpytest("--edge-device=CPU", "--edge-report=cpu.json")
    project.runpytest("--edge-device=ort:cpu", "--edge-report=ort.json")
    merged = subprocess.run(
        [*cli, "merge", "cpu.json", "ort.json", "-o", "merged.json", "--md", "merged.md"],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert merged.returncode == 0, merged.stderr
    assert (
        "diabetes.edgeqa.yaml::diabetes-bf16  acc:PASS lat:PASS par:PASS  acc:PASS lat:PASS par:PASS" in merged.stdout
    )
    assert "merged 2 reports, 12 results -> merged.json" in merged.stdout
    report = json.loads((project.path / "merged.json").read_text())
    jsonschema.validate(report, schema())
    assert report["environment"]["devices"] == ["CPU", "ort:cpu"] and len(report["environment"]["jobs"]) == 2
    assert "| `diabetes.edgeqa.yaml::diabetes-bf16` | ort:cpu | mse |" in (project.path / "merged.md").read_text()

    same = subprocess.run([*cli, "compare", "cpu.json", "cpu.json"], cwd=project.path, capture_output=True, text=True)
    assert same.returncode == 0 and "no regression beyond the thresholds" in same.stdout

    # A regression: the same tests against a worse model (the damaged digits variant).
    worse = json.loads((project.path / "cpu.json").read_text())
    for r in worse["results"]:
        if r["name"] == "test_digits.py::test_accuracy":
            r["figures"]["drop"] += 0.02
            r["outcome"] = "failed"
        if r["check"] == "parity" and r["figures"].get("min_cosine") is not None:
            r["figures"]["min_cosine"] -= 0.01
    (project.path / "worse.json").write_text(json.dumps(worse))
    bad = subprocess.run(
        [*cli, "compare", "cpu.json", "worse.json", "--max-accuracy-drop", "0.01"],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1, bad.stdout
    assert "test_digits.py::test_accuracy [CPU] accuracy: passed before, fails now" in bad.stdout
    assert "test_digits.py::test_accuracy [CPU] accuracy: drop +0.0000 -> +0.0200 (+0.0200) > 0.01" in bad.stdout
    assert "regression(s):" in bad.stdout and "lower by 0.01 > 0.0001" in bad.stdout
    broken = subprocess.run(
        [*cli, "compare", "cpu.json", "nope.json"], cwd=project.path, capture_output=True, text=True
    )
    assert broken.returncode != 0 and "nope.json: not a readable edgeqa report" in broken.stderr
