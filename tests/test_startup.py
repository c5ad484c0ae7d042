"""Start-up stays light: loading the plugin imports no ML framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("openvino", "onnxruntime", "nncf", "datasets", "evaluate", "torch")


def test_importing_the_plugin_imports_no_ml_framework() -> None:
    code = (
        "import sys, pytest_edgeqa, pytest_edgeqa.plugin, pytest_edgeqa.config, pytest_edgeqa.devices; "
        f"print(sorted(m for m in {(*HEAVY, 'numpy')!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_session_that_uses_no_model_imports_no_ml_framework(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain=f"""
        import sys

        def test_plain(request):
            assert request.config.pluginmanager.has_plugin("edgeqa")
            heavy = [m for m in {HEAVY!r} if m in sys.modules]
            assert heavy == []
        """
    )
    result = pytester.runpytest_subprocess("--edge-device=CPU,ort:cpu", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["edgeqa: devices CPU, ort:cpu (from --edge-device)"])
