"""Device specs, parametrization, availability and fallback."""

from __future__ import annotations

import pytest
from conftest import assert_clean

from pytest_edgeqa.devices import Inventory, fallback, parse_device, parse_devices
from pytest_edgeqa.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("CPU", ["CPU"]),
        ("cpu", ["CPU"]),
        ("CPU,GPU", ["CPU", "GPU"]),
        ("GPU.1", ["GPU.1"]),
        ("NPU ort:cpu", ["NPU", "ort:cpu"]),
        ("AUTO", ["AUTO"]),
        ("AUTO:GPU,CPU", ["AUTO:GPU,CPU"]),
        ("AUTO:GPU,CPU,ort:cuda", ["AUTO:GPU,CPU", "ort:cuda"]),
        ("CPU,AUTO:-CPU", ["CPU", "AUTO:-CPU"]),
        ("HETERO:NPU,CPU", ["HETERO:NPU,CPU"]),
        ("ov:HETERO:GPU.1,CPU", ["HETERO:GPU.1,CPU"]),
        ("MULTI:GPU,CPU", ["MULTI:GPU,CPU"]),
        ("ort:cpu,ort:tensorrt,ort:openvino", ["ort:cpu", "ort:tensorrt", "ort:openvino"]),
        ("ort:dml,ort:coreml,ort:qnn", ["ort:dml", "ort:coreml", "ort:qnn"]),
        ("onnxruntime:CUDAExecutionProvider", ["ort:cuda"]),
        ("ort:MyVendorExecutionProvider", ["ort:MyVendorExecutionProvider"]),
        ("CPU,CPU", ["CPU"]),
    ],
)
def test_device_syntax(text: str, ids: list[str]) -> None:
    assert [d.id for d in parse_devices(text)] == ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty device name"),
        ("CPU,,GPU", "empty device name"),
        ("foo:bar", "unknown runtime 'foo'"),
        ("ort:banana", "unknown ONNX Runtime execution provider 'banana'"),
        ("ort:", "nothing after 'ort:'"),
        ("GPU.x", "'GPU.X' is not an OpenVINO device name"),
        ("HETERO", "HETERO needs candidate devices"),
        ("HETERO:-CPU", "only AUTO excludes devices"),
        ("AUTO:AUTO", "a virtual device cannot be a candidate"),
        ("C P U!", "is not an OpenVINO device name"),
    ],
)
def test_bad_device_syntax(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_devices(text) if text else parse_device(text)
    assert message in str(info.value)


def test_availability_matching() -> None:
    inv = Inventory(openvino=("CPU", "GPU.0", "GPU.1"), onnxruntime=("CPUExecutionProvider",))
    assert inv.missing(parse_device("GPU")) is None
    assert inv.missing(parse_device("GPU.1")) is None
    assert "GPU.2 is not available: OpenVINO has: CPU, GPU.0, GPU.1" == inv.missing(parse_device("GPU.2"))
    assert inv.missing(parse_device("AUTO:GPU,CPU")) is None
    assert "NPU missing" in str(inv.missing(parse_device("HETERO:NPU,CPU")))
    single = Inventory(openvino=("CPU", "GPU"))
    assert single.missing(parse_device("GPU.0")) is None  # one GPU is listed as plain "GPU"
    assert "ort:cpu" in str(inv.missing(parse_device("ort:cuda")))
    broken = Inventory(openvino=None, problems=(("openvino", "ImportError: no module"),))
    assert "OpenVINO is not usable: ImportError: no module" in str(broken.missing(parse_device("CPU")))


@pytest.mark.parametrize(
    ("device", "ran", "inventory", "verdict"),
    [
        ("CPU", ["CPU"], ("CPU",), None),
        ("GPU", ["GPU.0"], ("CPU", "GPU.0"), None),
        ("GPU.1", ["GPU.0"], ("CPU", "GPU.0", "GPU.1"), "asked for GPU.1 but OpenVINO runs it on GPU.0"),
        ("AUTO:GPU,CPU", ["CPU"], ("CPU", "GPU"), "meant to run on GPU but runs on CPU"),
        ("AUTO:GPU,CPU", ["GPU.0"], ("CPU", "GPU.0"), None),
        ("AUTO", ["CPU"], ("CPU",), None),
        ("AUTO", ["CPU"], ("CPU", "GPU"), "AUTO ran on CPU although GPU is available"),
        ("HETERO:NPU,CPU", ["CPU"], ("CPU", "NPU"), "meant to run on NPU but runs on CPU"),
        ("HETERO:NPU,CPU", ["NPU", "CPU"], ("CPU", "NPU"), None),
        ("MULTI:GPU,CPU", ["CPU"], ("CPU", "GPU"), "without GPU"),
    ],
)
def test_openvino_fallback_from_execution_devices(device, ran, inventory, verdict) -> None:
    # EXECUTION_DEVICES as OpenVINO reports them for a compiled model; only CPU exists on CI machines.
    got = fallback(parse_device(device), ran, Inventory(openvino=inventory))
    assert got == verdict if verdict is None else verdict in str(got)


def test_items_parametrized_per_device_with_readable_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        def test_one(edge_device):
            pass

        def test_no_device():
            pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", "--edge-device=CPU,ort:cpu", "--edge-device", "AUTO:GPU,CPU")
    result.stdout.fnmatch_lines(
        [
            "test_one.py::test_one[[]CPU[]]",
            "test_one.py::test_one[[]ort:cpu[]]",
            "test_one.py::test_one[[]AUTO:GPU,CPU[]]",
            "test_one.py::test_no_device",
        ]
    )


def test_ini_key_and_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(edge_device):\n    assert edge_device.id\n")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_one[[]CPU[]]", "*1 test collected*"])
    pytester.makeini("[pytest]\nedge_devices = CPU ort:cpu\n")
    result = pytester.runpytest("-v")
    result.stdout.fnmatch_lines(
        ["edgeqa: devices CPU, ort:cpu (from ini edge_devices)", "*test_one[[]ort:cpu[]] PASSED*"]
    )
    result.assert_outcomes(passed=2)
    # The command line wins over the ini file.
    pytester.runpytest("--edge-device=ort:cpu").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--edge-device=FOO:x"], None, "argument --edge-device: 'FOO:x' is not a device: unknown runtime 'FOO'"),
        (["--edge-device=ort:banana"], None, "unknown ONNX Runtime execution provider 'banana'"),
        (
            [],
            "edge_devices = CPU HETERO",
            "ini edge_devices (*tox.ini): 'HETERO' is not a device: HETERO needs candidate devices",
        ),
    ],
)
def test_bad_device_is_a_usage_error(pytester: pytest.Pytester, args, ini, message) -> None:
    if ini:
        pytester.makefile(".ini", tox=f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_one="def test_one(edge_device):\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])
    assert_clean(result)


def test_missing_npu_skips_naming_it_and_listing_available(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(edge_device):\n    pass\n")
    result = pytester.runpytest("--edge-device=NPU,CPU,ort:cuda", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_one.py:1: NPU is not available: OpenVINO has: CPU",
            "SKIPPED [[]1[]] test_one.py:1: ort:cuda is not available: ONNX Runtime has: *ort:cpu*",
        ]
    )


def test_require_devices_turns_the_skip_into_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(edge_device):\n    pass\n")
    result = pytester.runpytest("--edge-device=NPU,CPU", "--edge-require-devices")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*--edge-require-devices: NPU is not available: OpenVINO has: CPU*"])
    assert_clean(result)
    # The ini key does the same.
    pytester.makeini("[pytest]\nedge_require_devices = true\n")
    assert pytester.runpytest("--edge-device=NPU").ret == pytest.ExitCode.TESTS_FAILED


def test_edge_device_marker_limits_devices(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.edge_device("ort:cpu", "GPU")
        def test_limited(edge_device):
            assert edge_device.id == "ort:cpu"

        @pytest.mark.edge_device("CPU:x")
        def test_bad_marker(edge_device):
            pass
        """
    )
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "-rs", "--strict-markers")
    result.assert_outcomes(passed=1, skipped=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*edge_device marker: 'CPU:x' is not a device: unknown runtime 'CPU'*",
            "SKIPPED [[]1[]] *: CPU: this test is marked edge_device(ort:cpu, GPU)",
        ]
    )
    assert_clean(result)


STAND_IN_CUDA = """
import dataclasses
import pytest
import pytest_edgeqa.session

# STAND-IN, for testing device selection only: this machine has no CUDA, so discovery is told it
# does. Everything after discovery is real: ONNX Runtime is asked for CUDAExecutionProvider and
# either drops it silently or (with --edge-require-devices) refuses the session.
_real_discover = pytest_edgeqa.session.discover

def _claims_cuda(runtimes):
    inv = _real_discover(runtimes)
    return dataclasses.replace(inv, onnxruntime=(inv.onnxruntime or ()) + ("CUDAExecutionProvider",))

@pytest.fixture(autouse=True)
def _stand_in(monkeypatch):
    monkeypatch.setattr(pytest_edgeqa.session, "discover", _claims_cuda)
"""


def test_onnxruntime_dropping_a_provider_fails_the_item(pytester: pytest.Pytester, models) -> None:
    pytester.makeconftest(STAND_IN_CUDA)
    pytester.makepyfile(
        """
        import pytest
        pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx")

        def test_on_cuda(original_model):
            pass
        """
    )
    result = pytester.runpytest("--edge-device=ort:cuda")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*edge_model marker original='models/digits_cnn.onnx': digits_cnn.onnx: fell back: asked for ort:cuda "
            "(CUDAExecutionProvider) but ONNX Runtime's session runs on CPUExecutionProvider*"
        ]
    )
    assert_clean(result)

    strict = pytester.runpytest("--edge-device=ort:cuda", "--edge-require-devices")
    strict.assert_outcomes(errors=1)
    strict.stdout.fnmatch_lines(
        [
            "*fell back: ort:cuda cannot run digits_cnn.onnx by itself and --edge-require-devices forbids ONNX Runtime's CPU fallback*"
        ]
    )
    assert_clean(strict)
