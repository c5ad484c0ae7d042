"""The inputs a model declares, with its dimension symbols: what checks size given or generated inputs by."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def declared_inputs(session: Any, marker: Any, base_dir: Path, role: str, compiled: Any) -> tuple[Any, ...]:
    """The ``role`` model's input specs with the dimension symbols its ONNX file declares (OpenVINO reports
    every dynamic dim as "?"), so dims= names them on every runtime. An IR (a recipe's output) declares
    none: its original's ONNX file names them, input by input (with_symbols skips a name or rank that differs)."""
    from ..inputs import declared_shapes, with_symbols

    declared: dict[str, tuple[Any, ...]] = {}
    for which in dict.fromkeys((role, "original")):
        try:
            given = marker.original if which == "original" else marker.optimized
            path = session.store.model(given, base_dir, which).path
        except Exception:  # a model that compiled is readable; this only names its dims
            continue
        declared = declared_shapes(path)
        if declared or Path(path).suffix.lower() == ".onnx":
            break
    return with_symbols(compiled.inputs, declared)
