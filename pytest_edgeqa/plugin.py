"""pytest hooks and fixtures only: each a few lines handing off to the core. Imports no ML framework."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import fixture_calls, golden_usage, markers, options, records, session
from .gating import checked_device, device_of, parametrize_devices
from .htmlreport import pytest_html
from .marked_models import marked_model
from .report_collector import EdgeReport
from .session import CURRENT, SESSION
from .types import DeviceSpec

if TYPE_CHECKING:
    from .runtimes import CompiledModel


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(trylast=True)  # after the cache provider has set config.cache
def pytest_configure(config: pytest.Config) -> None:
    for _name, signature in markers.MARKERS.items():
        config.addinivalue_line("markers", signature)
    session.start(config)
    golden_usage.start_usage(config)
    if not session.is_worker(config):  # the controller (or a plain run) owns the report files
        collector = EdgeReport(config)
        config.pluginmanager.register(collector, "edgeqa-report")
        if pytest_html.wanted(config):
            config.pluginmanager.register(pytest_html.Summary(collector), "edgeqa-pytest-html")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .suite import collect_file

    return collect_file(file_path, parent)


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[SESSION].settings
    required = ", required" if s.require_devices else ""
    trust = "; trusts code named by markers (--edge-trust-code)" if s.trust_code else ""
    return f"edgeqa: devices {', '.join(d.id for d in s.devices)} (from {s.devices_source}{required}){trust}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_devices(metafunc)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[CURRENT] = item
    golden_usage.mark_owner(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    records.before_report(item, call)
    report = yield
    records.attach(item, call, report)
    pytest_html.add_extras(item, report)
    return report


@pytest.fixture
def edge_device(request: pytest.FixtureRequest) -> DeviceSpec:
    """The device of this item's parametrization (one item per ``--edge-device``)."""
    __tracebackhide__ = True
    return checked_device(request, getattr(request, "param", request.config.stash[SESSION].settings.devices[0]))


@pytest.fixture
def edge_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., CompiledModel]:
    """Factory: ``edge_model(path, device=None, reference=False, **options)`` -> a compiled model.

    ``device`` defaults to this item's device; ``reference=True`` pins the model's declared precision."""
    return fixture_calls.model_factory(request, device_of(request, edge_device))


@pytest.fixture
def original_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> CompiledModel:
    """The marker's ``original`` model on this item's device, at its declared (reference) precision."""
    return marked_model(request, device_of(request, edge_device), "original")


@pytest.fixture
def optimized_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> CompiledModel:
    """The marker's ``optimized`` model on this item's device, at the device's default precision."""
    return marked_model(request, device_of(request, edge_device), "optimized")


@pytest.fixture
def golden_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``golden_check(inputs=None, *, name=None, model=None, seed=0, batch=4, columns=None, shapes=None,
    dims=None)``: compare the optimized model (or ``model``) with the golden recorded from the original at
    reference precision, and with the original run live on this device, under the ``parity`` marker's
    criteria. Generated inputs take ``shapes`` (input -> whole shape) and ``dims`` (symbol -> size)."""
    return fixture_calls.golden_check(request, device_of(request, edge_device))


@pytest.fixture(scope="session")
def parity_check(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """``parity_check(inputs=None, *, seed=0, batch=4, shapes=None, dims=None)``: the optimized model
    against the original, run live on this item's device, under the ``parity`` marker's criteria
    (defaults by the model's kind); without ``inputs``, generated ones sized as for golden_check. Session-scoped and
    stateless, so it works inside ``@given`` tests without tripping Hypothesis's function-scoped-fixture
    health check; a mismatch raises ``ParityMismatch`` (an AssertionError), which Hypothesis shrinks."""
    return fixture_calls.parity_check(pytestconfig)


@pytest.fixture
def accuracy_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``accuracy_check(data, *, inputs=None, label="label", samples=None, preprocess=None, split="test")``:
    evaluate original and optimized on ``data`` and assert the ``accuracy`` marker's budget."""
    return fixture_calls.accuracy_check(request, device_of(request, edge_device))


@pytest.fixture
def latency_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``latency_check(inputs=None, *, seed=0, shapes=None, dims=None)``: time the marker's models and assert
    the ``latency`` marker's budgets (generated inputs sized by ``shapes`` and ``dims`` as for golden_check). A budget the evidence cannot decide (a contended CPU, an interval across the budget)
    skips the test as NOT JUDGED (=strict fails it); under --edge-latency=warn a failure is a warning;
    =off skips the check. The result's ``status`` is set before it is recorded."""
    return fixture_calls.latency_check(request, device_of(request, edge_device))


@pytest.fixture
def kld_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``kld_check(text, *, context=256, windows=None, name=None)``: the KL divergence of the optimized language
    model from the original's distribution (a compact golden of its top-k log-probs, recorded with
    --update-golden) on ``text`` cut into windows of ``context`` tokens, scored on each window's second half as
    llama.cpp does; asserts the ``kld`` marker's budget."""
    return fixture_calls.kld_check(request, device_of(request, edge_device))


@pytest.fixture
def generation_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``generation_check(prompts)``: each prompt generated greedily (no chat template) by the original (f32)
    and the optimized language model; asserts the ``generation`` marker's budget, the texts side by side."""
    return fixture_calls.generation_check(request, device_of(request, edge_device))


@pytest.fixture
def llm_latency_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``llm_latency_check(prompt=None)``: the language model generating ``new_tokens`` tokens (EOS ignored) after
    ``prompt`` repeated or cut to ``prompt_tokens`` tokens, timed by OpenVINO GenAI's own timers; asserts the
    ``llm_latency`` marker's TTFT/TPOT/tokens-per-second/ratio budgets as latency_check does (NOT JUDGED, strict,
    warn, off), and its peak-memory (a child process) and size budgets."""
    return fixture_calls.llm_latency_check(request, device_of(request, edge_device))
