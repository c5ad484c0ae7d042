"""The HTML report, opened in a real browser (the system's Chromium): the matrix holds every result with its
status and the figures on hover, every plot is drawn, nothing is fetched, no console errors; the CLI renders any
report (and a merge of several); pytest-html's report gets the summary; bad paths are usage errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import load
from conftest import SUITES, assert_clean
from test_report import SUITE as REPORT_SUITE

from pytest_edgeqa import report as edge_report

# The report tests' suite without its parity check, so no golden needs recording first.
SUITE = REPORT_SUITE.replace("  parity: {samples: 8, atol: 50, rtol: 0.05}\n", "")
assert SUITE != REPORT_SUITE

# One run, every status: pass, fail (a budget and a parity criterion), warn (a breached latency budget under
# --edge-latency=warn), not-judged (too few samples for a p99), skip (no NPU; IR on ONNX Runtime).
TESTS = """
import pytest
pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

@pytest.mark.accuracy(min_value=0.999)
def test_too_strict(accuracy_check):
    accuracy_check("data/digits")

@pytest.mark.accuracy(max_drop=0.01)
def test_accuracy(accuracy_check):
    accuracy_check("data/digits")

@pytest.mark.latency(p50_ms=1e-6, seconds=0.2, warmup_s=0.05)
def test_impossible_latency(latency_check):
    latency_check()

@pytest.mark.latency(p99_ms=100, iterations=20, seconds=0.0001, warmup_s=0.01)
def test_too_few_samples(latency_check):
    latency_check()

@pytest.mark.parity(atol=1e-6, rtol=0)
def test_int8_parity_strict(parity_check):
    parity_check()

@pytest.mark.edge_model(original="models/diabetes_mlp.onnx", optimized="models/diabetes_mlp.onnx")
@pytest.mark.parity(atol=1e-6)
def test_same_model_parity(parity_check):
    parity_check()  # identical outputs: an infinite SNR
"""

COLOURS = {"pass", "fail", "warn", "not-judged", "skip"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run above, once for the module's tests (a real pytest session, in a subprocess)."""
    path = tmp_path_factory.mktemp("html")
    shutil.copytree(SUITES / "models", path / "models")
    shutil.copytree(SUITES / "data", path / "data")
    (path / "diabetes.edgeqa.yaml").write_text(SUITE)
    (path / "test_digits.py").write_text(TESTS)
    return path


@pytest.fixture(scope="module")
def page_run(project: Path) -> pytest.RunResult:
    args = ["--edge-device=CPU,ort:cpu,NPU", "--edge-latency=warn", "--edge-report=report.json"]
    args += [
        "--edge-report-html=out/report.html",
        "--html=pytest.html",
        "--self-contained-html",
        "-p",
        "no:cacheprovider",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "PYTEST_ADDOPTS")}
    start = time.time()
    done = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=project, capture_output=True, text=True, env=env)
    out, err = done.stdout.splitlines(), done.stderr.splitlines()
    return pytest.RunResult(done.returncode, out, err, time.time() - start)  # type: ignore[call-arg]


def _no_constant(name: str) -> None:
    raise ValueError(f"the JSON report holds {name}, which strict JSON readers reject")


def matrix_of(loaded) -> set[tuple[str, str, str, str]]:
    """(name, device, check, status) of every badge in the page's matrix."""
    return {
        tuple(x)
        for x in loaded.page.evaluate(
            """() => Array.from(document.querySelectorAll("#matrix tr[data-name] td a.badge")).map(a =>
                [a.closest("tr").dataset.name, a.closest("td").dataset.device, a.dataset.check, a.dataset.status])"""
        )
    }


def test_the_page_in_chromium(page_run: pytest.RunResult, project: Path, chromium) -> None:
    page_run.assert_outcomes(passed=8, failed=2, skipped=14, warnings=1)
    page_run.stdout.fnmatch_lines([f"edgeqa: HTML report written to {project}/out/report.html"])
    assert_clean(page_run)
    # Strict JSON: identical outputs have an infinite SNR, which the report once wrote as `Infinity`.
    data = json.loads((project / "report.json").read_text(), parse_constant=_no_constant)
    latency = next(r for r in data["results"] if r["check"] == "latency" and r["status"] == "pass")
    q = latency["detail"]["optimized"]["quantiles"]  # the distribution the ECDF is drawn from
    assert (
        len(q) == 201 and q == sorted(q) and q[100] == pytest.approx(latency["detail"]["optimized"]["median"], abs=1e-6)
    )

    loaded = load(chromium, project / "out" / "report.html")
    page = loaded.page
    assert loaded.errors == []  # no console error or warning, no uncaught exception, nothing fetched
    plots, drawn, svg = loaded.rendered_plots()
    assert plots >= 9 and plots == drawn == svg == int(page.evaluate("document.body.dataset.plots"))

    # The matrix: one badge per result, in its row and column, with its status; the figures on hover.
    assert matrix_of(loaded) == {(r["name"], r["device"], r["check"], r["status"]) for r in data["results"]}
    colours = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll("#matrix a.badge")).map(a =>
            [a.dataset.status, getComputedStyle(a).backgroundColor]))"""
    )
    assert set(colours) == COLOURS and len(set(colours.values())) == 5, colours  # a colour each
    cell = page.locator('#matrix tr[data-name="test_digits.py::test_accuracy"] td[data-device="NPU"] a.badge')
    assert cell.get_attribute("title") == "SKIP: NPU is not available: OpenVINO has: CPU"
    cell = page.locator('#matrix tr[data-name="test_digits.py::test_too_few_samples"] td[data-device="CPU"] a.badge')
    assert cell.get_attribute("title").startswith("NOT JUDGED: p50 ")
    target = cell.get_attribute("href")
    assert page.locator(f"article{target}").get_attribute("data-status") == "not-judged"
    reasons = page.locator(f"article{target} .reasons").inner_text()
    assert reasons == "p99 needs at least 500 samples (5 beyond it), got 20: raise iterations= or seconds="

    # Per result: the figures in words, the plots, parity's criteria, worst elements and the way to pass.
    acc = page.locator('section[data-name="test_digits.py::test_accuracy"] article[data-device="CPU"]')
    assert "accuracy 0.9844 -> 0.9844, drop +0.0000 abs" in acc.locator(".figures").inner_text()
    assert acc.locator("div.plot svg.main-svg").count() >= 1
    strict = page.locator('article[data-check="parity"][data-status="fail"]')
    text = strict.inner_text()
    assert "would pass with: atol >= " in text and "FAILED" in text and "atol=1e-06" in text
    assert strict.locator("tr.worst tbody tr").count() >= 1
    assert (
        page.locator('article[data-check="latency"][data-status="warn"] .reasons')
        .inner_text()
        .startswith("p50_ms=1e-06")
    )
    env = page.locator("#environment").inner_text()
    assert (
        data["environment"]["cpu"]["name"] in env and "openvino " + data["environment"]["versions"]["openvino"] in env
    )

    # The status filter hides passing results and keeps the rest.
    page.locator('input[data-filter="pass"]').uncheck()
    assert not page.locator('article[data-status="pass"]').first.is_visible()
    assert page.locator('article[data-status="fail"]').first.is_visible()
    page.close()


def test_pytest_html_gets_the_summary_and_each_tests_checks(
    page_run: pytest.RunResult, project: Path, chromium
) -> None:
    loaded = load(chromium, project / "pytest.html", ready="document.querySelector('#results-table') !== null")
    page = loaded.page
    assert [e for e in loaded.errors if "edgeqa" in e] == []
    assert "edgeqa checks: 7 pass, 2 fail, 1 warn, 1 not judged, 13 skip" in page.locator("body").inner_text()
    assert (
        page.locator('table.matrix tr[data-name="test_digits.py::test_too_strict"] [data-status="fail"]').count() == 1
    )
    extras = page.evaluate("() => Array.from(document.querySelectorAll('.edgeqa')).map(e => e.textContent)")
    assert any(e.startswith("accuracy accuracy on CPU: accuracy 0.9844 -> 0.9844") for e in extras), extras
    page.close()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_edgeqa", *args], cwd=cwd, capture_output=True, text=True)


def test_the_cli_renders_a_report_and_a_merged_matrix(page_run, project: Path, chromium) -> None:
    """``html`` renders any JSON report; given one report per CI job (here: one per device), it merges them
    into one page whose matrix is the whole run's."""
    data = json.loads((project / "report.json").read_text())
    for device in ("CPU", "ort:cpu", "NPU"):
        job = {**data, "results": [r for r in data["results"] if r["device"] == device]}
        job["environment"] = {**data["environment"], "devices": [device]}
        (project / f"job-{device.replace(':', '-')}.json").write_text(json.dumps(job))
    one = cli("html", "report.json", "-o", "one.html", cwd=project)
    merged = cli("html", "job-CPU.json", "job-ort-cpu.json", "job-NPU.json", "-o", "merged.html", cwd=project)
    assert one.returncode == 0 and merged.returncode == 0, one.stderr + merged.stderr
    assert merged.stdout.startswith(f"HTML report ({len(data['results'])} results, ")
    pages = [load(chromium, project / name) for name in ("out/report.html", "one.html", "merged.html")]
    assert [p.errors for p in pages] == [[], [], []]
    assert matrix_of(pages[0]) == matrix_of(pages[1]) == matrix_of(pages[2])
    assert pages[2].page.locator("#environment dl").count() == 3  # each job's environment
    for p in pages:
        p.page.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["html", "missing.json", "-o", "x.html"], "missing.json: not a readable edgeqa report"),
        (["html", "notes.txt", "-o", "x.html"], "notes.txt: not a readable edgeqa report"),
        (["html", "empty.json", "-o", "folder"], "html: cannot write folder: Is a directory"),
    ],
)
def test_the_cli_names_a_bad_file(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "notes.txt").write_text("not json")
    (tmp_path / "folder").mkdir()
    empty = edge_report.build([], {"python": "3", "platform": "x", "cpu": {"name": "c", "features": []}, "devices": [], "versions": {}}, 0.0)  # fmt: skip
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    done = cli(*args, cwd=tmp_path)
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_html_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "taken").mkdir()
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--edge-report-html=taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--edge-report-html=taken: " in result.stderr.str()
    pytester.makeini("[pytest]\nedge_report_html = taken\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "ini edge_report_html=taken" in result.stderr.str()
