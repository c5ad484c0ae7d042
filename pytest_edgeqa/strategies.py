"""Hypothesis strategies for model inputs: generated from a model's input specs, or drawn near real data."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .errors import ConfigError

Bound = int | tuple[int, int]
ELEMENTWISE_LIMIT = 1024  # arrays up to this many elements shrink element by element


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int | str, ...]  # str: a dynamic dimension's symbol ("?" when it has none)
    dtype: np.dtype[Any]


def _caller_dir() -> Path:
    for frame in inspect.stack()[2:]:
        if not frame.filename.startswith(str(Path(__file__).parent)):
            return Path(frame.filename).parent
    return Path.cwd()


def input_specs(model: Any, base_dir: Path | None = None) -> tuple[InputSpec, ...]:
    """Input names, shapes (dynamic dims as their symbol) and dtypes of a compiled model or a model file.
    Files are read, not compiled: ONNX through the onnx package (which keeps dimension names), IR
    through OpenVINO. Relative paths resolve against the calling test file's directory."""
    if hasattr(model, "inputs") and hasattr(model, "infer"):
        return tuple(InputSpec(s.name, s.shape, s.dtype) for s in model.inputs)
    path = Path(model)
    if not path.is_absolute():
        path = (base_dir or _caller_dir()) / path
    if not path.is_file():
        raise ConfigError(f"model_inputs: model file not found: {path}")
    if path.suffix.lower() == ".onnx":
        import onnx
        from onnx import helper

        graph = onnx.load(str(path), load_external_data=False).graph
        weights = {init.name for init in graph.initializer}
        specs = []
        for value in graph.input:
            if value.name in weights:
                continue
            tensor = value.type.tensor_type
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim)
            specs.append(InputSpec(value.name, shape, np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))))
        return tuple(specs)
    if path.suffix.lower() == ".xml":
        import openvino as ov

        ports = ov.Core().read_model(str(path)).inputs
        return tuple(
            InputSpec(
                p.get_any_name(),
                tuple(d.get_length() if d.is_static else "?" for d in p.get_partial_shape()),
                np.dtype(p.get_element_type().to_dtype()),
            )
            for p in ports
        )
    raise ConfigError(f"model_inputs: {path} is not an ONNX model (.onnx) or OpenVINO IR (.xml)")


def _bounds(value: Bound, where: str) -> tuple[int, int]:
    lo, hi = (
        (value, value)
        if isinstance(value, int) and not isinstance(value, bool)
        else (value if isinstance(value, tuple) and len(value) == 2 else (None, None))
    )
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo < 1 or hi < lo:
        raise ConfigError(
            f"model_inputs: {where}={value!r}; expected a positive size or a (min, max) pair with 1 <= min <= max"
        )
    return lo, hi


def _elements(spec: InputSpec, ranges: Mapping[str, tuple[float, float]]) -> st.SearchStrategy[Any]:
    kind = spec.dtype.kind
    if kind == "b":
        return st.booleans()
    lo, hi = ranges.get(spec.name, (0, 100) if kind in "iu" else (-1.0, 1.0))
    if not lo <= hi:
        raise ConfigError(f"model_inputs: ranges[{spec.name!r}]=({lo}, {hi}); expected low <= high")
    if kind in "iu":
        info = np.iinfo(spec.dtype)
        return st.integers(max(int(np.ceil(lo)), int(info.min)), min(int(np.floor(hi)), int(info.max)))
    width: Literal[16, 32, 64] = 16 if spec.dtype.itemsize == 2 else 32 if spec.dtype.itemsize == 4 else 64
    return st.floats(float(lo), float(hi), width=width, allow_nan=False, allow_infinity=False)


def _learned_ranges(
    dataset: Any, specs: tuple[InputSpec, ...], columns: Mapping[str, str] | None, rows: int = 1000
) -> dict[str, tuple[float, float]]:
    """Per-input (min, max) from the first ``rows`` rows of a dataset (or dict of arrays)."""
    from . import data

    mapping = dict(columns or {s.name: s.name for s in specs})
    table, _ = data.table(dataset, sorted(set(mapping.values())), samples=rows, where="model_inputs(dataset=...)")
    return {
        name: (float(np.min(table[col])), float(np.max(table[col])))
        for name, col in mapping.items()
        if table[col].dtype.kind != "b"
    }


def model_inputs(
    model: Any,
    *,
    batch: Bound = 1,
    dims: Mapping[str, Bound | tuple[Bound, ...]] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    dataset: Any = None,
    columns: Mapping[str, str] | None = None,
) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """Valid input dicts for ``model`` (a compiled model or a model path).

    ``batch`` sizes the first dynamic dimension; ``dims`` sizes the others, by dimension symbol
    (``{"seq": (1, 16)}``: one size shared by every input that has that symbol) or by input name
    (``{"pixels": (1, 3, 32, 32)}``: a whole shape). ``ranges`` bounds values per input; with
    ``dataset`` (a datasets.Dataset or dict of arrays; ``columns`` maps inputs to columns) the
    bounds are learned from its first rows. Defaults: floats in [-1, 1], integers in [0, 100].
    Arrays are drawn with hypothesis.extra.numpy and shrink toward zeros and small shapes."""
    specs = input_specs(model, _caller_dir())
    names = {s.name for s in specs}
    dims = dict(dims or {})
    value_ranges = _value_ranges(specs, ranges, dataset, columns)
    symbols = {d for s in specs for d in s.shape if isinstance(d, str) and d != "?"}
    for key in dims:
        if key not in names and key not in symbols:
            raise ConfigError(
                f"model_inputs: dims names {key!r}, which is neither an input nor a dimension symbol (inputs: {', '.join(sorted(names))}; symbols: {', '.join(sorted(symbols)) or 'none'})"
            )
    batch_bounds = _bounds(batch, "batch")
    symbol_bounds = {sym: _bounds(dims[sym], f"dims[{sym!r}]") for sym in symbols if sym in dims}  # type: ignore[arg-type]
    plans = {spec.name: _shape_plan(spec, dims, symbol_bounds) for spec in specs}
    elements = {s.name: _elements(s, value_ranges) for s in specs}
    return _draw_inputs(specs, plans, batch_bounds, symbol_bounds, elements)


def _value_ranges(
    specs: tuple[InputSpec, ...],
    ranges: Mapping[str, tuple[float, float]] | None,
    dataset: Any,
    columns: Mapping[str, str] | None,
) -> dict[str, tuple[float, float]]:
    """Value bounds per input: those given, else those learned from ``dataset``."""
    names = {s.name for s in specs}
    learned = _learned_ranges(dataset, specs, columns) if dataset is not None else {}
    given_ranges = dict(ranges or {})
    for key in given_ranges:
        if key not in names:
            raise ConfigError(
                f"model_inputs: ranges names {key!r}, which is not an input (inputs: {', '.join(sorted(names))})"
            )
    return {**learned, **given_ranges}


def _shape_plan(spec: InputSpec, dims: Mapping[str, Any], symbol_bounds: Mapping[str, tuple[int, int]]) -> list[Any]:
    """An input's shape as a list of: a fixed int, a symbol drawn once for all inputs (``("seq",)``, the
    batch as ``("batch",)``), or a private size's bounds."""
    if spec.name in dims:
        whole = dims[spec.name]
        if not isinstance(whole, tuple) or len(whole) != len(spec.shape):
            raise ConfigError(
                f"model_inputs: dims[{spec.name!r}]={whole!r}; expected a shape of {len(spec.shape)} sizes for {spec.name} {list(spec.shape)}"
            )
        return [_bounds(d, f"dims[{spec.name!r}][{i}]") for i, d in enumerate(whole)]
    plan: list[Any] = []
    for axis, d in enumerate(spec.shape):
        if isinstance(d, int):
            plan.append(d)
        elif axis == 0:
            plan.append(("batch",))
        elif d in symbol_bounds:
            plan.append((d,))
        else:
            raise ConfigError(
                f"model_inputs: input {spec.name!r} has a dynamic dimension {axis} ({d}) with no size: give dims={{{d!r}: (min, max)}}"
                if d != "?"
                else f"model_inputs: input {spec.name!r} has an unnamed dynamic dimension {axis}: give dims={{{spec.name!r}: (a full shape)}}"
            )
    return plan


def _draw_inputs(
    specs: tuple[InputSpec, ...],
    plans: Mapping[str, list[Any]],
    batch_bounds: tuple[int, int],
    symbol_bounds: Mapping[str, tuple[int, int]],
    elements: Mapping[str, st.SearchStrategy[Any]],
) -> st.SearchStrategy[dict[str, np.ndarray]]:
    @st.composite
    def draw_inputs(draw: st.DrawFn) -> dict[str, np.ndarray]:
        sizes = {"batch": draw(st.integers(*batch_bounds), label="batch")}
        sizes.update({sym: draw(st.integers(lo, hi), label=sym) for sym, (lo, hi) in symbol_bounds.items()})
        out = {}
        for spec in specs:
            shape = tuple(
                p if isinstance(p, int) else sizes[p[0]] if len(p) == 1 else draw(st.integers(*p))
                for p in plans[spec.name]
            )
            # Small arrays draw every element, so a failure shrinks to zeros but for the elements that
            # matter; large ones use Hypothesis's fill value (fast, but shrinks toward a uniform array).
            fill = st.nothing() if int(np.prod(shape)) <= ELEMENTWISE_LIMIT else None
            out[spec.name] = draw(
                hnp.arrays(spec.dtype, shape, elements=elements[spec.name], fill=fill), label=spec.name
            )
        return out

    return draw_inputs()


def dataset_samples(
    dataset: Any, *, columns: Mapping[str, str] | None = None, perturb: float = 0.02, rows: int | None = None
) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """Real samples (batch of 1) from ``dataset`` and small perturbations of them, so properties are
    checked near the data distribution. ``columns`` maps model inputs to columns (default: every
    column of the dict/Dataset that you name here); float inputs move by up to ``perturb`` times their
    range, elementwise; integer and bool inputs are taken as they are. Shrinks toward the first row and
    no perturbation."""
    from . import data

    if columns is None:
        raise ConfigError("dataset_samples: give columns={model input: column}, e.g. columns={'image': 'image'}")
    if not 0 <= perturb <= 1:
        raise ConfigError(f"dataset_samples: perturb={perturb!r}; expected a fraction in [0, 1]")
    table, info = data.table(dataset, sorted(set(columns.values())), samples=rows, where="dataset_samples")
    arrays = {name: np.asarray(table[col]) for name, col in columns.items()}
    n = info["rows"]
    spans = {name: float(np.ptp(a)) if a.dtype.kind == "f" and a.size else 0.0 for name, a in arrays.items()}

    @st.composite
    def draw_sample(draw: st.DrawFn) -> dict[str, np.ndarray]:
        i = draw(st.integers(0, n - 1), label="row")
        out = {}
        for name, a in arrays.items():
            row = a[i : i + 1]
            if a.dtype.kind == "f" and perturb and spans[name]:
                noise = draw(hnp.arrays(np.float64, row.shape, elements=st.floats(-1.0, 1.0)), label=f"{name} noise")
                row = (row + noise * perturb * spans[name]).astype(a.dtype)
            out[name] = row
        return out

    return draw_sample()
