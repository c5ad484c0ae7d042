"""pytest hooks and fixtures only: each a few lines handing off to the core. Imports no ML framework."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from . import config as cfg
from .errors import ConfigError, EdgeQAError, Unsupported
from .session import EdgeSession

if TYPE_CHECKING:
    from .devices import DeviceSpec
    from .runtimes import CompiledModel

SESSION = pytest.StashKey[EdgeSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    cfg.add_options(parser)


@pytest.hookimpl(trylast=True)  # after the cache provider has set config.cache
def pytest_configure(config: pytest.Config) -> None:
    for _name, signature in cfg.MARKERS.items():
        config.addinivalue_line("markers", signature)
    try:
        settings = cfg.resolve(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    cache = getattr(config, "cache", None)
    cache_dir = str(cache.mkdir("edgeqa-openvino")) if cache is not None else None
    config.stash[SESSION] = EdgeSession(settings=settings, cache_dir=cache_dir)


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[SESSION].settings
    required = ", required" if s.require_devices else ""
    return f"edgeqa: devices {', '.join(d.id for d in s.devices)} (from {s.devices_source}{required})"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "edge_device" not in metafunc.fixturenames:
        return
    if any("edge_device" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")):
        return  # the user parametrized it by hand
    devices = metafunc.config.stash[SESSION].settings.devices
    metafunc.parametrize("edge_device", devices, ids=[d.id for d in devices], indirect=True)


@contextmanager
def _as_outcome() -> Iterator[None]:
    """Our errors become a one-paragraph failure (or a skip), never a traceback into the plugin."""
    __tracebackhide__ = True
    try:
        yield
    except Unsupported as exc:
        pytest.skip(str(exc))
    except EdgeQAError as exc:
        pytest.fail(str(exc), pytrace=False)


def _gate(session: EdgeSession, spec: DeviceSpec) -> None:
    __tracebackhide__ = True
    reason = session.unavailable(spec)
    if reason is None:
        return
    if session.settings.require_devices:
        pytest.fail(f"--edge-require-devices: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def edge_device(request: pytest.FixtureRequest) -> DeviceSpec:
    """The device of this item's parametrization (one item per ``--edge-device``)."""
    session = request.config.stash[SESSION]
    spec: DeviceSpec = getattr(request, "param", session.settings.devices[0])
    mark = request.node.get_closest_marker("edge_device")
    if mark is not None:
        with _as_outcome():
            allowed = cfg.parse_device_marker(mark)
        if not cfg.device_allowed(spec, allowed):
            pytest.skip(f"{spec.id}: this test is marked edge_device({', '.join(a.id for a in allowed)})")
    _gate(session, spec)
    return spec


@pytest.fixture
def edge_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., CompiledModel]:
    """Factory: ``edge_model(path, device=None, reference=False, **options)`` -> a compiled model.

    ``device`` defaults to this item's device; ``reference=True`` pins the model's declared precision."""
    session = request.config.stash[SESSION]
    base_dir = request.path.parent

    def load(
        model: str | os.PathLike[str], device: str | None = None, *, reference: bool = False, **options: Any
    ) -> CompiledModel:
        __tracebackhide__ = True
        with _as_outcome():
            spec = edge_device if device is None else cfg.parse_device_arg(device, "edge_model(device=...)")
            _gate(session, spec)
            config = cfg.compile_config(options, "edge_model() fixture")
            if reference:
                config = config.with_(precision="reference")
            return session.compile(model, base_dir, spec, config, what=f"edge_model({os.fspath(model)!r})")
        raise AssertionError("unreachable")  # _as_outcome re-raises as a pytest outcome

    return load


def _marked_model(request: pytest.FixtureRequest, device: DeviceSpec, role: str) -> CompiledModel:
    __tracebackhide__ = True
    mark = request.node.get_closest_marker("edge_model")
    if mark is None:
        pytest.fail(
            f"{role}_model needs an edge_model marker on the test, its class or module, e.g. "
            "pytestmark = pytest.mark.edge_model(original='models/net.onnx', optimized='models/net_int8.xml')",
            pytrace=False,
        )
    session = request.config.stash[SESSION]
    with _as_outcome():
        marker = cfg.parse_model_marker(mark)
        ref = marker.original if role == "original" else marker.optimized
        if ref is None:
            raise ConfigError("edge_model marker: argument 'optimized' is not given, so there is no optimized_model")
        config = marker.config()
        if role == "original":
            config = config.with_(precision="reference")
        return session.compile(ref, request.path.parent, device, config, what=f"edge_model marker {role}={ref!r}")
    raise AssertionError("unreachable")


@pytest.fixture
def original_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> CompiledModel:
    """The marker's ``original`` model on this item's device, at its declared (reference) precision."""
    return _marked_model(request, edge_device, "original")


@pytest.fixture
def optimized_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> CompiledModel:
    """The marker's ``optimized`` model on this item's device, at the device's default precision."""
    return _marked_model(request, edge_device, "optimized")
