"""Command-line options and ini keys, one function per group; their values are resolved in config.resolve."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .config import DEFAULT_DEVICES, positive_float, positive_int
from .devices import parse_device, parse_devices
from .errors import ConfigError
from .types import DeviceSpec

if TYPE_CHECKING:
    import pytest


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("edgeqa", "pytest-edgeqa: optimized models on edge devices")
    _device_options(parser, group)
    _golden_options(parser, group)
    _latency_options(parser, group)
    _cache_options(parser, group)
    _report_options(parser, group)
    _trust_options(parser, group)


def _device_arg(text: str) -> list[DeviceSpec]:
    try:
        return parse_devices(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _golden_device_arg(text: str) -> DeviceSpec:
    try:
        return parse_device(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _device_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    group.addoption(
        "--edge-device",
        action="append",
        dest="edge_device",
        type=_device_arg,
        metavar="[RUNTIME:]DEVICE",
        help=(
            "device(s) to run model tests on; repeatable and comma-separated. OpenVINO: CPU, GPU, GPU.1, "
            "NPU, AUTO, AUTO:GPU,CPU, HETERO:NPU,CPU; ONNX Runtime: ort:cpu, ort:cuda, ort:tensorrt, "
            "ort:openvino, ort:dml, ort:coreml, ort:qnn. Default: ini edge_devices, else CPU."
        ),
    )
    group.addoption(
        "--edge-require-devices",
        action="store_true",
        default=None,
        help="fail (instead of skip) items whose device is missing, and forbid ONNX Runtime's CPU fallback",
    )
    parser.addini("edge_devices", "default for --edge-device (space or comma separated)", default=DEFAULT_DEVICES)
    parser.addini("edge_require_devices", "default for --edge-require-devices", type="bool", default=False)


def _golden_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    group.addoption(
        "--update-golden",
        nargs="?",
        const="failing",
        default=None,
        choices=("failing", "new", "all"),
        dest="update_golden",
        help="write goldens: bare or =failing: missing and failing ones; =new: only missing ones; =all: every one that runs",
    )
    group.addoption(
        "--golden-force",
        action="store_true",
        default=False,
        help="allow --update-golden when the CI environment variable is set, and recording from a non-reference precision",
    )
    group.addoption(
        "--golden-prune",
        action="store_true",
        default=False,
        help="delete unused goldens at the end of a session that ran to its end (not after -x, an error, --collect-only...)",
    )
    group.addoption(
        "--edge-golden-device",
        dest="edge_golden_device",
        type=_golden_device_arg,
        default=None,
        metavar="[RUNTIME:]DEVICE",
        help="the device that records goldens, at the model's declared precision. Default: ini edge_golden_device, else CPU",
    )
    parser.addini("edge_golden_dir", "where goldens live, relative to the rootdir", default="golden")
    parser.addini("edge_golden_device", "default for --edge-golden-device: device that records goldens", default="CPU")


def _latency_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    group.addoption(
        "--edge-latency",
        choices=("enforce", "strict", "warn", "off"),
        default=None,
        help="latency budgets: enforce (fail a breach; NOT JUDGED, a skip, when a contended CPU or the interval cannot decide), "
        "strict (fail then too), warn (report a breach, do not fail: for noisy runners), off (skip the checks). Default: ini edge_latency, else enforce",
    )
    group.addoption(
        "--edge-latency-iterations",
        type=positive_int,
        default=None,
        metavar="N",
        help="minimum timed iterations per model (default 300; raised for p99)",
    )
    group.addoption(
        "--edge-latency-seconds",
        type=positive_float,
        default=None,
        metavar="S",
        help="minimum timed seconds per model (default 1.0)",
    )
    group.addoption(
        "--edge-latency-warmup",
        type=positive_float,
        default=None,
        metavar="S",
        help="minimum warm-up seconds (default 0.5, and at least 10 iterations)",
    )
    parser.addini("edge_latency", "default for --edge-latency", default="enforce")
    parser.addini("edge_latency_iterations", "default for --edge-latency-iterations", default="")
    parser.addini("edge_latency_seconds", "default for --edge-latency-seconds", default="")
    parser.addini("edge_latency_warmup", "default for --edge-latency-warmup", default="")


def _cache_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    group.addoption(
        "--edge-cache-dir",
        default=None,
        metavar="DIR",
        help="where optimized models are cached (default: pytest's cache dir, .pytest_cache/d/edgeqa-models; "
        "without the cache provider, $XDG_CACHE_HOME/pytest-edgeqa/models, else ~/.cache/pytest-edgeqa/models)",
    )
    group.addoption(
        "--edge-rebuild",
        action="store_true",
        default=False,
        help="rebuild optimized models once in this run instead of reusing cached ones",
    )
    parser.addini("edge_cache_dir", "default for --edge-cache-dir, relative to the rootdir", default="")


def _report_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    group.addoption(
        "--edge-report",
        default=None,
        metavar="PATH",
        help="write every check's result as JSON (schema: pytest_edgeqa/report.schema.json)",
    )
    group.addoption(
        "--edge-report-md",
        default=None,
        metavar="PATH",
        help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)",
    )
    group.addoption(
        "--edge-report-html",
        default=None,
        metavar="PATH",
        help="write a self-contained HTML report: the model x device matrix, plots of every check, the environment",
    )
    parser.addini("edge_report", "default for --edge-report", default="")
    parser.addini("edge_report_md", "default for --edge-report-md", default="")
    parser.addini("edge_report_html", "default for --edge-report-html", default="")


def _trust_options(parser: pytest.Parser, group: pytest.OptionGroup) -> None:
    group.addoption(
        "--edge-trust-code",
        action="store_true",
        default=None,
        help="let markers and fixture arguments (never a YAML suite) name code that no test file shows: a metric "
        "that evaluate.load loads (a metric script, a Hugging Face Hub metric) and a preprocess "
        "'package.module:function'. Off by default. Default: ini edge_trust_code",
    )
    parser.addini("edge_trust_code", "default for --edge-trust-code", type="bool", default=False)
