"""The example suites that the README's main command runs: green on CPU, honest about missing devices."""

from __future__ import annotations

import json
import shutil

import pytest
from browser import load
from conftest import ROOT, SUITES, assert_clean, supports_bf16

from pytest_edgeqa.config import user_cache_dir

CACHE_ROOT = user_cache_dir("llm").parent.parent  # read before pytester moves HOME


@pytest.fixture
def suites(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The repository's layout: suites/ and golden/suites/ under a rootdir, so every test has the id its
    # goldens were recorded for ("suites/test_digits.py::..."), and `pytest suites/` is the README's command.
    # pytester points HOME at its temporary folder: the language-model suites keep the real per-user cache
    # (the SmolLM2 wheel fetched, its GGUF converted and the recipes built once, as by tests/test_llm.py).
    monkeypatch.setenv("XDG_CACHE_HOME", str(CACHE_ROOT))
    pytester.makeini("[pytest]\n")
    shutil.copytree(SUITES, pytester.path / "suites", ignore=shutil.ignore_patterns("__pycache__", "*.gguf"))
    shutil.copytree(ROOT / "golden" / "suites", pytester.path / "golden" / "suites")
    shutil.copytree(ROOT / "scripts", pytester.path / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    # The suites build NNCF recipes, whose backend registers once per process: run them in subprocesses.
    pytester.runpytest = pytester.runpytest_subprocess  # type: ignore[method-assign]
    return pytester


def test_example_suites_pass_on_cpu_with_both_runtimes(suites: pytest.Pytester, chromium) -> None:
    result = suites.runpytest(
        "suites", "--edge-device=CPU,ort:cpu", "-rs", "--edge-report=report.json", "--edge-report-html=report.html"
    )
    # OpenVINO IR cannot run on ONNX Runtime: those items are skipped, with the reason. So are the two
    # bf16 examples on a CPU that runs f32 when asked for bf16 (AVX2 only): skipped, never passed at f32.
    # The language models (9 items a device, 2 of them speed and memory) run on OpenVINO only; naive INT4 is a strict xfail.
    bf16_items = 2
    if supports_bf16():
        result.assert_outcomes(passed=35, skipped=28, xfailed=1)
    else:
        result.assert_outcomes(passed=35 - bf16_items, skipped=28 + bf16_items, xfailed=1)
        result.stdout.fnmatch_lines_random(
            [
                "SKIPPED [[]1[]] suites/diabetes.edgeqa.yaml:1: precision='bf16' asked, but CPU runs f32 (CPU capabilities: *; no BF16)*",
                "SKIPPED [[]1[]] suites/test_diabetes.py:*: precision='bf16' asked, but CPU runs f32 (CPU capabilities: *; no BF16)*",
            ]
        )
    result.stdout.fnmatch_lines(["*ONNX Runtime runs ONNX models only; digits_cnn_fp16.xml is OpenVINO IR*"])
    result.stdout.fnmatch_lines(["*language models run on OpenVINO devices (CPU, GPU, NPU, AUTO), not ort:cpu*"])
    assert "unused golden" not in result.stdout.str()
    _the_page_opens_clean(suites, chromium)


def _the_page_opens_clean(suites: pytest.Pytester, chromium) -> None:
    """The example suites' HTML report in Chromium: no console error, every plot drawn, the matrix whole,
    a recipe's build, the language models' KL divergence along the text and generations side by side."""
    data = json.loads((suites.path / "report.json").read_text())
    loaded = load(chromium, suites.path / "report.html")
    page = loaded.page
    assert loaded.errors == []
    plots, drawn, svg = loaded.rendered_plots()
    assert plots >= 40 and plots == drawn == svg, (plots, drawn, svg)
    badges = page.locator("#matrix a.badge")
    assert badges.count() == len(data["results"])
    recipes = page.locator("#recipes tbody tr")
    assert recipes.filter(has_text="nncf-int8").count() >= 1
    assert recipes.filter(has_text="smollm2").filter(has_text="nncf-weights-int4").count() >= 1  # a language model's
    # The naive INT4 model's KLD check fails inside a strict xfail: FAIL, marked as expected.
    xfail = page.locator('#matrix tr[data-name$="TestNaiveInt4::test_logits_stay_close"] td[data-device="CPU"] a.badge')
    assert xfail.get_attribute("class") == "badge s-fail xfail"
    assert xfail.get_attribute("title").startswith("FAIL (expected: the test is marked xfail): mean KLD ")
    assert "1 fail (1 expected: xfail)" in page.locator("header .tally").inner_text()
    title, points = page.evaluate(
        """() => { const p = document.querySelector('article[data-check="kld"][data-status="pass"] div.plot');
                   return [p.layout.title.text, p.data[0].y.length]; }"""
    )
    assert title.startswith("KL divergence along the text")
    assert points in {r["figures"].get("tokens") for r in data["results"] if r["check"] == "kld"}
    assert page.locator('article[data-check="generation"] table.generations tbody tr').count() >= 2


def test_missing_npu_skips_and_require_devices_fails(suites: pytest.Pytester) -> None:
    result = suites.runpytest("--edge-device=NPU", "-rs")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=32)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] suites/test_digits.py:*: NPU is not available: OpenVINO has: CPU"])
    strict = suites.runpytest("--edge-device=NPU", "--edge-require-devices")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["*--edge-require-devices: NPU is not available: OpenVINO has: CPU*"])
    assert_clean(strict)


def test_the_readme_first_test_runs_as_written(pytester: pytest.Pytester, models, example_data) -> None:
    # The README's first example used a `digits` fixture the plugin does not have: it must run as pasted.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A first test", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_fp16=code)
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-rs", "-v")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_fp16_keeps_predictions[[]CPU[]] PASSED*",
            "SKIPPED * ONNX Runtime runs ONNX models only; digits_cnn_fp16.xml is OpenVINO IR*",
        ]
    )
    assert "ONNX Runtime runs ONNX\nmodels only; digits_cnn_fp16.xml is OpenVINO IR" in section
    assert_clean(result)
