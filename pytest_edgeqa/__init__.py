"""pytest-edgeqa: accuracy, latency and parity gates for optimized models on edge devices."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
