"""Hooks pytest-edgeqa calls in a project's conftest.py files and plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .registry import Registry


def pytest_edgeqa_register(registry: Registry) -> None:
    """Register the metrics and preprocess functions that markers, fixtures and suites may name::

        def pytest_edgeqa_register(registry):
            registry.add_metric("balanced_accuracy", balanced_accuracy)   # fn(predictions, references) -> float
            registry.add_preprocess("scale_pixels", scale_pixels)         # dict of columns -> dict of columns

    Called once per session (in each xdist worker), before the first test that resolves a name."""
