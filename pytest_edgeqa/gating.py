"""Which devices an item runs on, and whether it runs: one item per --edge-device, the edge_device marker,
the device's availability (a skip, or a failure under --edge-require-devices)."""

from __future__ import annotations

import pytest

from . import config as cfg
from . import markers
from .outcomes import as_outcome
from .session import SESSION, EdgeSession
from .types import DeviceSpec


def parametrize_devices(metafunc: pytest.Metafunc) -> None:
    """One item per --edge-device for a test that uses edge_device (or parity_check), unless the user
    parametrized edge_device by hand."""
    if "parity_check" in metafunc.fixturenames and "edge_device" not in metafunc.fixturenames:
        # parity_check is session-scoped (so @given tests may use it); the item still gets a device,
        # through the fixture closure rather than the signature, which Hypothesis's health check reads.
        metafunc.fixturenames.append("edge_device")
    if "edge_device" not in metafunc.fixturenames:
        return
    if any(
        "edge_device" in str(m.args[0] if m.args else m.kwargs.get("argnames", ""))
        for m in metafunc.definition.iter_markers("parametrize")
    ):
        return  # the user parametrized it by hand
    devices = metafunc.config.stash[SESSION].settings.devices
    metafunc.parametrize("edge_device", devices, ids=[d.id for d in devices], indirect=True)


def gate(session: EdgeSession, spec: DeviceSpec) -> None:
    """Skip the running item when ``spec`` is not available (fail it under --edge-require-devices)."""
    __tracebackhide__ = True
    reason = session.unavailable(spec)
    if reason is None:
        return
    if session.settings.require_devices:
        pytest.fail(f"--edge-require-devices: {reason}", pytrace=False)
    pytest.skip(reason)


def checked_device(request: pytest.FixtureRequest, value: object) -> DeviceSpec:
    """The item's device from its parametrization value: a ``DeviceSpec`` (from --edge-device) or a string
    a user parametrized ``edge_device`` with by hand (parsed like --edge-device); then the edge_device
    marker and the device's availability decide whether the item runs."""
    __tracebackhide__ = True
    session = request.config.stash[SESSION]
    if isinstance(value, str):
        with as_outcome():
            spec = markers.parse_device_arg(value, f"parametrize('edge_device') value {value!r}")
    elif isinstance(value, DeviceSpec):
        spec = value
    else:
        pytest.fail(
            f"parametrize('edge_device') value {cfg.short(value)}: not a device; expected a device string such "
            "as 'CPU', 'GPU.1' or 'ort:cpu' (or leave edge_device to --edge-device)",
            pytrace=False,
        )
    mark = request.node.get_closest_marker("edge_device")
    if mark is not None:
        with as_outcome():
            allowed = markers.parse_device_marker(mark)
        if not markers.device_allowed(spec, allowed):
            pytest.skip(f"{spec.id}: this test is marked edge_device({', '.join(a.id for a in allowed)})")
    gate(session, spec)
    return spec


def device_of(request: pytest.FixtureRequest, value: object) -> DeviceSpec:
    """What a fixture got as ``edge_device``: checked already when the edge_device fixture made it; a raw
    parametrize value (``parametrize('edge_device', ['NPU'])`` without indirect) is checked here."""
    __tracebackhide__ = True
    return value if isinstance(value, DeviceSpec) else checked_device(request, value)
