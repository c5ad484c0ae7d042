"""The models an item's markers name: the edge_model marker with a recipe replaced by the model it builds
(cached), the marker's original or optimized model compiled for a device, and the markers a check needs
(or an error that shows how to add them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from . import markers
from .errors import ConfigError
from .outcomes import as_outcome
from .session import SESSION
from .types import DeviceSpec

if TYPE_CHECKING:
    from .runtimes import CompiledModel

EDGE_MODEL_EXAMPLE = "pytest.mark.edge_model(original='models/net.onnx', optimized='models/net_int8.xml')"


def model_marker(request: pytest.FixtureRequest, mark: pytest.Mark) -> markers.ModelMarker:
    """The edge_model marker, with an ``optimized`` recipe replaced by the model it builds (cached).
    ``calibration`` may name a fixture; its value is the calibration data."""
    __tracebackhide__ = True
    from dataclasses import replace

    marker = markers.parse_model_marker(mark)
    if marker.optimized is None:
        return marker
    from . import optimize

    if not optimize.is_recipe(marker.optimized):
        return marker
    spec = optimize.parse_spec(marker.optimized, "edge_model marker")
    calibration = spec.calibration
    if isinstance(calibration, str) and calibration.isidentifier():
        try:
            calibration = request.getfixturevalue(calibration)
        except pytest.FixtureLookupError:
            pass  # not a fixture: a dataset path
    metric = None
    if spec.recipe.validation:
        from .accuracy import budget_from_marker
        from .metrics import resolve
        from .registry import registry_of

        acc = request.node.get_closest_marker("accuracy")
        budget = budget_from_marker(acc.args, acc.kwargs) if acc is not None else None
        metric = resolve(
            budget.metric if budget else "accuracy",
            "recipe nncf-int8-accuracy",
            registry_of(request.config),
            base_dir=request.path.parent,
        )
        given = marker.optimized if isinstance(marker.optimized, dict) else {}
        if budget is not None and budget.max_drop is not None and "max_drop" not in given:
            spec = replace(spec, options={**spec.options, "max_drop": budget.max_drop, "drop": budget.drop})
    path = request.config.stash[SESSION].optimized(spec, marker.original, request.path.parent, calibration, metric)
    return replace(marker, optimized=path)


def marked_model(request: pytest.FixtureRequest, device: DeviceSpec, role: str) -> CompiledModel:
    """The edge_model marker's ``role`` model ("original" or "optimized") compiled for ``device``."""
    __tracebackhide__ = True
    mark = request.node.get_closest_marker("edge_model")
    if mark is None:
        pytest.fail(
            f"{role}_model needs an edge_model marker on the test, its class or module, e.g. "
            "pytestmark = pytest.mark.edge_model(original='models/net.onnx', optimized='models/net_int8.xml')",
            pytrace=False,
        )
    session = request.config.stash[SESSION]
    with as_outcome():
        marker = model_marker(request, mark)
        if role == "optimized" and marker.optimized is None:
            raise ConfigError("edge_model marker: argument 'optimized' is not given, so there is no optimized_model")
        return session.compile_marked(marker, role, request.path.parent, device, marker.config())
    raise AssertionError("unreachable")


def check_markers(
    request: pytest.FixtureRequest, check: str, marker: str, example: str, parse: Callable[[pytest.Mark], Any]
) -> tuple[Any, markers.ModelMarker]:
    """The check's own marker parsed by ``parse`` (first: a bad budget is refused before any model is
    built or run) and the edge_model marker (recipes built), or an error that shows how to add them."""
    node = request.node
    name = marker.split()[-1]
    mark = node.get_closest_marker(name)
    if mark is None:
        raise ConfigError(f"{check} needs {marker} marker, e.g. @pytest.mark.{example}")
    parsed = parse(mark)
    models = node.get_closest_marker("edge_model")
    if models is None:
        raise ConfigError(
            f"{check} needs an edge_model marker on the test, its class or module, e.g. {EDGE_MODEL_EXAMPLE}"
        )
    return parsed, model_marker(request, models)
