"""pytest-edgeqa: accuracy, latency and parity gates for optimized models on edge devices."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Registry", "__version__"]


def __getattr__(name: str) -> Any:
    # ``pytest_edgeqa.Registry`` (what a conftest's pytest_edgeqa_register hook receives), imported on use.
    if name == "Registry":
        from .registry import Registry

        return Registry
    raise AttributeError(f"module 'pytest_edgeqa' has no attribute {name!r}")
