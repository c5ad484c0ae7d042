"""The example suites that the README's main command runs: green on CPU, honest about missing devices."""

from __future__ import annotations

import shutil

import pytest
from conftest import SUITES, assert_clean


@pytest.fixture
def suites(pytester: pytest.Pytester) -> pytest.Pytester:
    for entry in SUITES.iterdir():
        if entry.name != "__pycache__":
            (shutil.copytree if entry.is_dir() else shutil.copy)(entry, pytester.path / entry.name)
    return pytester


def test_example_suites_pass_on_cpu_with_both_runtimes(suites: pytest.Pytester) -> None:
    result = suites.runpytest("--edge-device=CPU,ort:cpu", "-rs")
    # The FP16 IR cannot run on ONNX Runtime: that one item is skipped, with the reason.
    result.assert_outcomes(passed=9, skipped=1)
    result.stdout.fnmatch_lines(["*ONNX Runtime runs ONNX models only; digits_cnn_fp16.xml is OpenVINO IR*"])


def test_missing_npu_skips_and_require_devices_fails(suites: pytest.Pytester) -> None:
    result = suites.runpytest("--edge-device=NPU", "-rs")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=5)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_digits.py:*: NPU is not available: OpenVINO has: CPU"])
    strict = suites.runpytest("--edge-device=NPU", "--edge-require-devices")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["*--edge-require-devices: NPU is not available: OpenVINO has: CPU*"])
    assert_clean(strict)
