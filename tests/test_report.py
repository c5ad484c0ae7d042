"""Reports: the JSON report against its schema, Markdown and terminal text, xdist parity, merge and compare."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from conftest import assert_clean

from pytest_edgeqa.report import schema

SUITE = """
name: diabetes-mlp
model:  # the same model on both sides: every device runs it at f32, whatever the CPU (no bf16 needed)
  original: models/diabetes_mlp.onnx
  optimized: models/diabetes_mlp.onnx
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
    assert report["schema_version"] == 2 and report["environment"]["devices"] == ["CPU", "ort:cpu", "NPU"]
    assert {"openvino", "onnxruntime", "numpy", "pytest-edgeqa"} <= set(report["environment"]["versions"])
    assert report["environment"]["cpu"]["name"] and report["environment"]["cpu"]["features"]
    by = {(r["name"], r["check"], r["device"]): r for r in report["results"]}
    acc = by[("test_digits.py::test_accuracy", "accuracy", "CPU")]
    assert acc["outcome"] == "passed" and acc["ok"] and acc["figures"]["samples"] == 450  # passing results are kept
    assert acc["figures"]["ci_low"] <= acc["figures"]["drop"] <= acc["figures"]["ci_high"]
    assert by[("test_digits.py::test_too_strict", "accuracy", "CPU")]["outcome"] == "failed"
    skipped = by[("test_digits.py::test_accuracy", "accuracy", "NPU")]
    assert skipped["outcome"] == "skipped" and skipped["detail"]["reason"] == "NPU is not available: OpenVINO has: CPU"
    lat = by[("diabetes.edgeqa.yaml::diabetes-mlp", "latency", "CPU")]
    assert lat["figures"]["p50_ms"] > 0 and lat["figures"]["precision"] == "f32"
    assert by[("diabetes.edgeqa.yaml::diabetes-mlp", "parity", "ort:cpu")]["figures"]["action"] == "compared"
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
            "diabetes.edgeqa.yaml::diabetes-mlp",
            "  PASS CPU        accuracy mse 3563 -> 3563, drop +0.0000 rel [[]+0.000, +0.000[]] f32/f32",
            "  PASS CPU        latency  p50 * ms, p90 * ms*f32*",
            "  PASS CPU        parity   cos 1.00000, max|d| 0, top1 - (f32, compared)",
            "test_digits.py::test_accuracy",
            "  PASS CPU        accuracy accuracy 0.9844 -> 0.9844, drop +0.0000 abs [[]+0.000, +0.000[]] f32/f32",
            "  SKIP NPU        accuracy NPU is not available: OpenVINO has: CPU",
            "  SKIP ort:cpu    accuracy ONNX Runtime runs ONNX models only; digits_cnn_int8.xml is OpenVINO IR*",
            "test_digits.py::test_too_strict",
            "  FAIL CPU        accuracy accuracy 0.9844 -> 0.9844, drop +0.0000 abs*",
        ]
    )
    md = (project.path / "report.md").read_text()
    assert md.startswith("## pytest-edgeqa\n\n8 pass, 1 fail, 9 skip on CPU, ort:cpu, NPU")
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
    result, parallel = run(project, "-n", "2", "--edge-report-html=report.html")
    result.assert_outcomes(passed=8, failed=1, skipped=9)
    jsonschema.validate(parallel, schema())
    assert _stable(parallel) == _stable(serial)
    assert parallel["summary"] == serial["summary"]
    # The HTML page, written by the controller alone, holds every worker's results (its matrix a badge each).
    page = (project.path / "report.html").read_text()
    badges = re.findall(r'<a class="badge s-[a-z-]+[^"]*" href="#r\d+" data-check="(\w+)" data-status="([a-z-]+)"', page)
    assert sorted(badges) == sorted((r["check"], r["status"]) for r in parallel["results"])


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
    assert "diabetes.edgeqa.yaml::diabetes-mlp  acc:PASS lat:PASS par:PASS  acc:PASS lat:PASS par:PASS" in merged.stdout
    assert "merged 2 reports, 12 results -> merged.json" in merged.stdout
    report = json.loads((project.path / "merged.json").read_text())
    jsonschema.validate(report, schema())
    assert report["environment"]["devices"] == ["CPU", "ort:cpu"] and len(report["environment"]["jobs"]) == 2
    assert "| `diabetes.edgeqa.yaml::diabetes-mlp` | ort:cpu | mse |" in (project.path / "merged.md").read_text()

    same = subprocess.run([*cli, "compare", "cpu.json", "cpu.json"], cwd=project.path, capture_output=True, text=True)
    assert same.returncode == 0 and "no regression beyond the thresholds" in same.stdout

    # A regression: the same tests against a worse model (the damaged digits variant).
    worse = json.loads((project.path / "cpu.json").read_text())
    for r in worse["results"]:
        if r["name"] == "test_digits.py::test_accuracy":
            for figure in ("drop", "ci_low", "ci_high"):
                r["figures"][figure] += 0.02
            r["outcome"], r["status"] = "failed", "fail"
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
    assert (
        "test_digits.py::test_accuracy [CPU] accuracy: drop +0.0000 -> +0.0200 (+0.0200), now [+0.0200, +0.0200] > 0.01"
        in bad.stdout
    )
    assert "regression(s):" in bad.stdout and "lower by 0.01 > 0.0001" in bad.stdout
    broken = subprocess.run(
        [*cli, "compare", "cpu.json", "nope.json"], cwd=project.path, capture_output=True, text=True
    )
    assert broken.returncode != 0 and "nope.json: not a readable edgeqa report" in broken.stderr


# ------------------------------------------------------------------ one status per check, everywhere


LONG_SKIP = """
import pytest
pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

@pytest.mark.latency(p50_ms=1e-6, seconds=0.2, warmup_s=0.05)
def test_impossible_latency(latency_check):
    latency_check()

@pytest.mark.accuracy(max_drop=0.01, nonsense=1)
def test_broken_marker(accuracy_check):
    accuracy_check("data/digits")
"""


def test_every_check_has_one_status_in_terminal_json_markdown_and_junit(
    pytester: pytest.Pytester, models, example_data, monkeypatch
) -> None:
    """--edge-latency=warn: a breached budget is WARN everywhere, never PASS; a check that errored before
    judging is FAIL (not missing); a skipped one is SKIP with its whole reason, wrapped at a word."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makepyfile(test_status=LONG_SKIP)
    result = pytester.runpytest(
        "--edge-device=CPU,ort:cpu",
        "--edge-latency=warn",
        "--edge-report=report.json",
        "--edge-report-md=report.md",
        "--junitxml=junit.xml",
    )
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, schema())
    status = {(r["name"], r["device"]): r["status"] for r in report["results"]}
    assert status == {
        ("test_status.py::test_impossible_latency", "CPU"): "warn",
        ("test_status.py::test_impossible_latency", "ort:cpu"): "skip",
        ("test_status.py::test_broken_marker", "CPU"): "fail",
        ("test_status.py::test_broken_marker", "ort:cpu"): "fail",
    }
    assert report["summary"] == {"fail": 2, "warn": 1, "skip": 1}
    broken = next(r for r in report["results"] if r["status"] == "fail")
    assert "unknown argument 'nonsense'" in broken["detail"]["reason"]

    lines = result.stdout.lines
    start = next(i for i, ln in enumerate(lines) if "edgeqa results" in ln)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("edgeqa:", "=")))
    block = lines[start + 1 : end]
    assert all(len(ln) <= 100 for ln in block), block
    result.stdout.fnmatch_lines(
        [
            "  FAIL CPU        accuracy accuracy marker: unknown argument 'nonsense'*",
            "  WARN CPU        latency  p50 * ms*",
        ]
    )
    assert not any(ln.lstrip().startswith("PASS") for ln in block), block
    # The skip reason is long: it wraps onto indented lines, and no word is cut.
    skip_at = next(i for i, ln in enumerate(block) if ln.startswith("  SKIP ort:cpu    latency"))
    wrapped = [block[skip_at], *[ln for ln in block[skip_at + 1 :] if ln.startswith("      ")][:3]]
    reason = " ".join(ln.strip() for ln in wrapped)
    expected = next(r for r in report["results"] if r["name"].endswith("latency") and r["device"] == "ort:cpu")
    assert " ".join(expected["detail"]["reason"].split()) in reason, (reason, expected)

    md = (pytester.path / "report.md").read_text()
    assert "2 fail, 1 warn, 1 skip on CPU, ort:cpu" in md
    assert "⚠️ WARN |" in md and "✅" not in md
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(pytester.path / "junit.xml").iter("testcase")
    }
    assert props["test_impossible_latency[CPU]"]["edgeqa.latency.status"] == "warn"
    assert props["test_impossible_latency[ort:cpu]"]["edgeqa.latency.status"] == "skip"
    assert props["test_broken_marker[ort:cpu]"]["edgeqa.accuracy.status"] == "fail"
    assert_clean(result)


LIVE = """
import numpy as np
import pytest

X = np.array([[0.5, 1, 2, 3, 4, 5]], dtype=np.float32)


@pytest.mark.edge_model(original="same.onnx", optimized="same.onnx")
def test_agrees(parity_check):
    for shift in (0.0, 1.0, 2.0):
        parity_check({"x": X + shift})


@pytest.mark.edge_model(original="same.onnx", optimized="diverges.onnx")
@pytest.mark.parity(atol=1e-3)
def test_diverges(parity_check):
    parity_check({"x": X})
    parity_check({"x": X + 4})  # 8.0 > 7.5: the optimized model adds 10 there
"""


def test_parity_check_results_reach_the_summary_and_every_report(pytester: pytest.Pytester, monkeypatch) -> None:
    """parity_check (live optimized vs original, no golden) gives a parity record like golden_check's:
    one per test and device over all its calls, with its status, its figures per output and criteria."""
    from test_strategies import planted

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    planted(pytester.path)
    pytester.makepyfile(test_live=LIVE)
    result = pytester.runpytest(
        "--edge-device=CPU,ort:cpu", "--edge-report=r.json", "--edge-report-md=r.md", "--junitxml=junit.xml"
    )
    result.assert_outcomes(passed=2, failed=2)
    report = json.loads((pytester.path / "r.json").read_text())
    jsonschema.validate(report, schema())
    by = {(r["name"], r["device"]): r for r in report["results"] if r["check"] == "parity"}
    assert len(by) == 4 and report["summary"] == {"pass": 2, "fail": 2}
    agrees = by[("test_live.py::test_agrees", "ort:cpu")]
    assert agrees["status"] == "pass" and agrees["outcome"] == "passed"
    assert agrees["figures"]["action"] == "live" and agrees["figures"]["calls"] == 3
    assert agrees["figures"]["golden"] is None and agrees["figures"]["kind"] == "f32"
    assert agrees["figures"]["outputs"]["y"]["ok"] and agrees["figures"]["outputs"]["y"]["max_abs_error"] == 0.0
    assert agrees["figures"]["outputs"]["y"]["criteria"] == {"atol": 0.0001, "rtol": 0.0001}
    diverges = by[("test_live.py::test_diverges", "CPU")]
    assert diverges["status"] == "fail" and diverges["outcome"] == "failed" and diverges["figures"]["calls"] == 2
    y = diverges["figures"]["outputs"]["y"]
    assert not y["ok"] and y["max_abs_error"] == pytest.approx(10.0) and y["criteria"]["atol"] == 0.001
    assert diverges["detail"]["failed_calls"] == 1
    shown = diverges["detail"]["comparisons"][0]["outputs"]["y"]  # the failing call's comparison
    assert not shown["ok"] and shown["failed"] and shown["stats"]["max_abs_error"] == pytest.approx(10.0)

    result.stdout.fnmatch_lines(
        [
            "*edgeqa results*",
            "test_live.py::test_agrees",
            "  PASS CPU        parity   cos 1.00000, max|d| 0, top1 1.000 (f32, live, 3 calls)",
            "  PASS ort:cpu    parity   cos 1.00000, max|d| 0, top1 1.000 (f32, live, 3 calls)",
            "test_live.py::test_diverges",
            "  FAIL CPU        parity   cos 0.93993, max|d| 10, top1 1.000 (f32, live, 2 calls)",
        ]
    )
    md = (pytester.path / "r.md").read_text()
    assert "2 pass, 2 fail on CPU, ort:cpu" in md and "### parity" in md
    assert "| `test_live.py::test_agrees` | CPU | 1.00000 | 0 | 1.000 | live, 3 calls | ✅ |" in md
    assert (
        "| `test_live.py::test_diverges` | ort:cpu | " in md and "| 0.93993 | 10 | 1.000 | live, 2 calls | ❌ |" in md
    )
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(pytester.path / "junit.xml").iter("testcase")
    }
    assert props["test_agrees[CPU]"]["edgeqa.parity.status"] == "pass"
    assert props["test_agrees[CPU]"]["edgeqa.parity.action"] == "live"
    assert props["test_diverges[ort:cpu]"]["edgeqa.parity.status"] == "fail"
    assert float(props["test_diverges[ort:cpu]"]["edgeqa.parity.max_abs_error"]) == pytest.approx(10.0)
    assert_clean(result)


def test_report_files_respect_the_umask(pytester: pytest.Pytester, models, example_data) -> None:
    import os

    pytester.makepyfile(test_status=LONG_SKIP)
    old = os.umask(0o022)
    try:
        pytester.runpytest("--edge-device=CPU", "-k", "broken", "--edge-report=r.json", "--edge-report-md=r.md")
    finally:
        os.umask(old)
    for name in ("r.json", "r.md"):
        assert (pytester.path / name).stat().st_mode & 0o777 == 0o644, name  # mkstemp alone leaves 0600


# ------------------------------------------------------------------------------------------- compare


def _rec(check: str, device: str, status: str, **figures) -> dict:
    return {
        "nodeid": f"t.py::test_{check}[{device}]",
        "name": f"t.py::test_{check}",
        "check": check,
        "device": device,
        "status": status,
        "ok": status == "pass",
        "outcome": {"pass": "passed", "fail": "failed", "warn": "passed"}.get(status, "skipped"),
        "figures": figures,
        "detail": {},
    }


def _report(*results: dict) -> dict:
    from pytest_edgeqa.report import build

    return build(
        list(results),
        {"python": "3", "platform": "x", "cpu": {"name": "c", "features": []}, "devices": [], "versions": {}},
        0.0,
    )


def test_compare_counts_lost_coverage_as_a_regression() -> None:
    from pytest_edgeqa.report import compare

    base = _report(_rec("parity", "ort:cpu", "pass", min_cosine=0.999), _rec("parity", "CPU", "pass", min_cosine=0.999))
    now = _report(_rec("parity", "ort:cpu", "skip"))
    moved, regressions = compare(base, now, accuracy=0.005, latency=1.1, parity=1e-4)
    assert regressions == [
        "t.py::test_parity [ort:cpu] parity: PASS before, SKIP now (lost coverage; --allow-lost accepts it)",
        "gone     t.py::test_parity [CPU] parity (was PASS): lost coverage; --allow-lost accepts it",
    ]
    assert compare(base, now, accuracy=0.005, latency=1.1, parity=1e-4, allow_lost=True)[1] == []
    # Not judged (a contended runner) is reported, not a regression.
    nj = _report(_rec("parity", "ort:cpu", "not-judged"), _rec("parity", "CPU", "pass", min_cosine=0.999))
    moved, regressions = compare(base, nj, accuracy=0.005, latency=1.1, parity=1e-4)
    assert regressions == [] and "t.py::test_parity [ort:cpu] parity: PASS before, NOT JUDGED now" in moved


def test_compare_judges_latency_and_accuracy_with_their_intervals() -> None:
    from pytest_edgeqa.report import compare

    def lat(p50: float, lo: float, hi: float) -> dict:
        return _rec("latency", "CPU", "pass", p50_ms=p50, p50_ci_low=lo, p50_ci_high=hi)

    # x1.118 on the points, but the intervals overlap: noise, not a regression (seen in the issue).
    moved, regressions = compare(
        _report(lat(1.00, 0.95, 1.08)), _report(lat(1.118, 1.02, 1.20)), accuracy=0.005, latency=1.10, parity=1e-4
    )
    assert regressions == [] and any("(x1.118), at least x0.944 between the intervals" in m for m in moved)
    # A real slowdown: even the fast end now is 1.3x the slow end before.
    moved, regressions = compare(
        _report(lat(1.00, 0.98, 1.02)), _report(lat(1.40, 1.33, 1.45)), accuracy=0.005, latency=1.10, parity=1e-4
    )
    assert regressions == [
        "t.py::test_latency [CPU] latency: p50 1 -> 1.4 ms (x1.400), at least x1.304 between the intervals > x1.1"
    ]

    def acc(drop: float, lo: float, hi: float) -> dict:
        return _rec("accuracy", "CPU", "pass", drop=drop, ci_low=lo, ci_high=hi)

    # The drop grew by 0.006, but the current interval still holds the baseline's drop: within noise.
    assert (
        compare(
            _report(acc(0.0, -0.004, 0.004)),
            _report(acc(0.006, -0.001, 0.013)),
            accuracy=0.005,
            latency=1.1,
            parity=1e-4,
        )[1]
        == []
    )
    _, regressions = compare(
        _report(acc(0.0, -0.004, 0.004)), _report(acc(0.02, 0.011, 0.029)), accuracy=0.005, latency=1.1, parity=1e-4
    )
    assert regressions == [
        "t.py::test_accuracy [CPU] accuracy: drop +0.0000 -> +0.0200 (+0.0200), now [+0.0110, +0.0290] > 0.005"
    ]


def test_compare_reads_schema_1_reports(tmp_path) -> None:
    """Reports written before statuses existed still load: the status comes from the test's outcome."""
    from pytest_edgeqa.report import load

    parity = {"golden": "g.npz", "action": "compared", "kind": "int8", "max_abs_error": 0.1, "min_top1_agreement": 1.0}
    old = _report(_rec("parity", "CPU", "pass", min_cosine=1.0, **parity))
    old["schema_version"] = 1
    for r in old["results"]:
        del r["status"]
    old["summary"] = {"passed": 1}
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = load(tmp_path / "old.json")
    assert loaded["results"][0]["status"] == "pass" and loaded["summary"] == {"pass": 1}
    jsonschema.validate(loaded, schema())
