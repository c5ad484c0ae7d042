"""Model inputs: what the user gives (arrays, a dict, a dataset) or inputs generated from the models' input
specs, sized by ``batch``, ``shapes`` and ``dims``; one message for each way they do not fit the models."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import columns
from .errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

GENERATED_BYTES = 256 << 20  # the most memory generated inputs may take: more is a typo in batch=/samples:


def model_inputs(
    source: Any,
    specs: tuple[Any, ...],
    *,
    seed: int = 0,
    batch: int = 4,
    columns_map: dict[str, str] | None = None,
    where: str = "inputs",
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Deterministic inputs for a model: a dataset selection, explicit arrays, or (``source=None``) arrays
    generated from the input specs with ``seed``. Returns the arrays and a description for manifests."""
    import numpy as np

    names = [s.name for s in specs]
    mapping = columns_map or {n: n for n in names}
    if isinstance(source, (str, bytes, os.PathLike)):
        raise ConfigError(
            f"{where}={os.fsdecode(source)[:80]!r} is a string; expected arrays, a dict of arrays keyed by "
            "input name, a datasets.Dataset (e.g. pytest_edgeqa.data.load(path, split=...)) or None (generated)"
        )
    if source is None:
        per, info = inputs_per_model(None, {"model": specs}, seed=seed, batch=batch, where=where)
        return per["model"], info
    if hasattr(source, "column_names") and hasattr(source, "with_format"):  # a datasets.Dataset
        cols = columns(source, [mapping[n] for n in names])
        fingerprint = getattr(source, "_fingerprint", None)
        return {n: cols[mapping[n]] for n in names}, {
            "source": "dataset",
            "rows": len(source),
            "fingerprint": fingerprint,
        }
    if isinstance(source, dict) or hasattr(source, "keys"):
        missing = [mapping[n] for n in names if mapping[n] not in source]
        if missing:
            raise ConfigError(
                f"inputs have no {', '.join(map(repr, missing))} (given: {', '.join(map(str, source.keys()))}; the model's inputs: {', '.join(names)})"
            )
        return {n: np.asarray(source[mapping[n]]) for n in names}, {"source": "arrays"}
    if len(names) == 1:
        return {names[0]: np.asarray(source)}, {"source": "arrays"}
    raise ConfigError(
        f"inputs must be a dict of arrays keyed by input name, a datasets.Dataset, or None (generated); got {type(source).__name__}"
    )


def declared_shapes(path: str | os.PathLike[str] | None) -> dict[str, tuple[Any, ...]]:
    """Input shapes as an ONNX file declares them (dynamic dims as their symbol, "?" when unnamed); empty
    for IR or a file the onnx package cannot read. OpenVINO reports every dynamic dim as "?": this keeps
    the symbols ``dims=`` names."""
    if path is None or Path(path).suffix.lower() != ".onnx":
        return {}
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return {}
    weights = {init.name for init in graph.initializer}
    return {
        v.name: tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in v.type.tensor_type.shape.dim
        )
        for v in graph.input
        if v.name not in weights
    }


def with_symbols(specs: tuple[Any, ...], declared: Mapping[str, tuple[Any, ...]]) -> tuple[Any, ...]:
    """``specs`` with each unnamed dynamic dim ("?") given the symbol the model file declares there, or the
    size the compiled model fixed for that symbol in another input: OpenVINO reshaped to a static batch
    makes x [batch, 4] [1, 4] but leaves state [2, batch, 4] dynamic, which is then [2, 1, 4]."""
    from dataclasses import replace

    files = {s.name: declared[s.name] for s in specs if s.name in declared and len(declared[s.name]) == len(s.shape)}
    fixed = {
        f: d
        for s in specs
        for d, f in zip(s.shape, files.get(s.name, ()), strict=False)
        if isinstance(d, int) and isinstance(f, str)
    }
    out = []
    for spec in specs:
        if spec.name in files:
            shape = tuple(
                fixed.get(f, f) if d == "?" and isinstance(f, str) else d
                for d, f in zip(spec.shape, files[spec.name], strict=True)
            )
            spec = replace(spec, shape=shape)
        out.append(spec)
    return tuple(out)


def _example_call(where: str) -> Callable[[str], str]:
    """How the user gives a size where ``where`` is: a fixture's keyword or a suite's key."""
    if where.endswith("_check"):
        return lambda text: f"{where}(..., {text})"

    def yaml(text: str) -> str:
        key, value = text.split("=", 1)
        value = value.replace("'", "").replace("(", "[").replace(")", "]")
        return f"{key}: {value} under {where.rsplit(': ', 1)[-1]}"

    return yaml


def _merged(models: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
    """One spec per input name across the models (first declaration first), each dim the most known:
    a static size any model declares, else a symbol any model names, else "?"."""
    from dataclasses import replace

    merged: dict[str, Any] = {}
    for specs in models.values():
        for spec in specs:
            have = merged.get(spec.name)
            if have is None:
                merged[spec.name] = spec
            elif len(have.shape) == len(spec.shape):
                shape = tuple(
                    a if isinstance(a, int) else b if isinstance(b, int) or a == "?" else a
                    for a, b in zip(have.shape, spec.shape, strict=True)
                )
                merged[spec.name] = replace(have, shape=shape)
    return merged


def _positive(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 1


def generated_shapes(
    models: Mapping[str, tuple[Any, ...]],
    *,
    batch: int,
    shapes: Mapping[str, Any] | None = None,
    dims: Mapping[str, Any] | None = None,
    where: str = "inputs",
) -> dict[str, tuple[int, ...]]:
    """The shape of every input the models declare, for generated inputs: ``shapes`` gives an input's
    whole shape, ``dims`` a size per dimension symbol (the same symbol is one size in every input of
    every model), ``batch`` a dynamic first dim; any other dynamic dim is an error naming the input."""
    merged = _merged(models)
    shapes, dims = dict(shapes or {}), dict(dims or {})
    sizes = _symbol_sizes(merged, dims, where)
    for key, whole in shapes.items():
        _size_symbols_by_shape(merged, key, whole, sizes, where)
    for spec in merged.values():  # a dynamic first dim is the batch, and so is its symbol everywhere
        if spec.shape and isinstance(spec.shape[0], str) and spec.shape[0] != "?" and spec.name not in shapes:
            sizes.setdefault(spec.shape[0], batch)
    call = _example_call(where)
    return {
        spec.name: tuple(int(n) for n in shapes[spec.name])
        if spec.name in shapes
        else _sized(spec, sizes, batch, call, where)
        for spec in merged.values()
    }


def _shown(spec: Any) -> str:
    return f"{spec.name!r} [{','.join(str(d) for d in spec.shape)}]"


def _symbol_sizes(merged: Mapping[str, Any], dims: Mapping[str, Any], where: str) -> dict[str, int]:
    """``dims``, checked: each a dimension symbol of the inputs, with a positive size."""
    symbols = {d for s in merged.values() for d in s.shape if isinstance(d, str) and d != "?"}
    for key, size in dims.items():
        if key not in symbols:
            hint = f"; {key!r} is an input: give its whole shape with shapes=" if key in merged else ""
            raise ConfigError(
                f"{where}: dims names {key!r}, which is not a dimension symbol of the model's inputs "
                f"(symbols: {', '.join(sorted(symbols)) or 'none'}){hint}"
            )
        if not _positive(size):
            raise ConfigError(f"{where}: dims[{key!r}]={size!r}; expected a positive integer size")
    return {k: int(v) for k, v in dims.items()}


def _size_symbols_by_shape(merged: Mapping[str, Any], key: str, whole: Any, sizes: dict[str, int], where: str) -> None:
    """Check ``shapes[key]`` against the input's declared shape; the sizes it gives its symbols join ``sizes``
    (a symbol is one size everywhere)."""
    spec = merged.get(key)
    if spec is None:
        raise ConfigError(
            f"{where}: shapes names {key!r}, which is not an input of the model (inputs: {', '.join(merged)})"
        )
    if not isinstance(whole, (tuple, list)) or len(whole) != len(spec.shape) or not all(map(_positive, whole)):
        raise ConfigError(
            f"{where}: shapes[{key!r}]={whole!r}; expected {len(spec.shape)} positive sizes for {_shown(spec)}"
        )
    for axis, (d, n) in enumerate(zip(spec.shape, whole, strict=True)):
        if isinstance(d, int) and d != n:
            raise ConfigError(
                f"{where}: shapes[{key!r}]={tuple(whole)!r}, but dimension {axis} of {_shown(spec)} is {d}"
            )
        if isinstance(d, str) and d != "?" and sizes.setdefault(d, int(n)) != n:
            raise ConfigError(
                f"{where}: shapes[{key!r}] makes {d!r} {n}, but it is {sizes[d]} elsewhere (dims= or another input's shape)"
            )


def _sized(spec: Any, sizes: Mapping[str, int], batch: int, call: Callable[[str], str], where: str) -> tuple[int, ...]:
    """The input's shape with every dynamic dim sized (by its symbol, else the batch for dim 0), else an
    error saying how to give the size."""
    shape = []
    for axis, d in enumerate(spec.shape):
        if isinstance(d, int):
            shape.append(d)
        elif d in sizes:
            shape.append(sizes[d])
        elif axis == 0:
            shape.append(batch)
        else:
            example = tuple(x if isinstance(x, int) else f"<{x}>" for x in spec.shape)
            example = (batch if isinstance(spec.shape[0], str) else spec.shape[0], *example[1:])
            spelled = "(" + ", ".join(str(x) for x in example) + ")"
            by_symbol = f"{call(f'dims={{{d!r}: <size>}}')}, or " if d != "?" else ""
            raise ConfigError(
                f"{where}: input {_shown(spec)} has a dynamic dimension {axis}"
                + (f" ({d!r})" if d != "?" else " (unnamed)")
                + " with no size, and generated inputs need one: give it with "
                + by_symbol
                + call(f"shapes={{{spec.name!r}: {spelled}}}")
            )
    return tuple(shape)


def inputs_per_model(
    source: Any,
    models: Mapping[str, tuple[Any, ...]],
    *,
    seed: int = 0,
    batch: int = 4,
    columns_map: dict[str, str] | None = None,
    shapes: Mapping[str, Any] | None = None,
    dims: Mapping[str, Any] | None = None,
    where: str = "inputs",
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Each model's own inputs (``models``: role -> input specs) from one source: what the user gives
    (every model takes the inputs it declares; one it lacks is named with the model) or generated once
    for all (an input two models share is the same array). The description is that of the first model's."""
    import numpy as np

    for key, value in (("shapes", shapes), ("dims", dims)):
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError(
                f"{where}: {key}={str(value)[:80]!r}; expected a mapping "
                + (
                    "of input name to a whole shape, e.g. {'x': (1, 3, 480, 640)}"
                    if key == "shapes"
                    else "of dimension symbol to a size, e.g. {'height': 480}"
                )
            )
    if isinstance(source, (str, bytes, os.PathLike)):
        model_inputs(source, (), where=f"{where}: inputs")  # refuses it, naming what it takes
    if source is None:
        sized = generated_shapes(models, batch=batch, shapes=shapes, dims=dims, where=where)
        merged = _merged(models)
        _check_generated(batch, tuple(merged.values()), sized, where)
        rng = np.random.default_rng(seed)
        arrays = {name: _generate(rng, spec.dtype, sized[name]) for name, spec in merged.items()}
        per = {role: {s.name: arrays[s.name] for s in specs} for role, specs in models.items()}
        return per, {"source": "generated", "seed": seed, "batch": batch}
    if shapes or dims:
        raise ConfigError(
            f"{where}: shapes=/dims= size generated inputs, but inputs were given (they have their own shapes): "
            "leave inputs unset, or leave shapes/dims out"
        )
    per, info = {}, None
    array_given = not (
        isinstance(source, (dict, str, bytes, os.PathLike))
        or hasattr(source, "keys")
        or hasattr(source, "column_names")
    )
    for role, specs in models.items():
        if array_given and len(specs) == 1:  # one array: each single-input model takes it under its own name
            got, got_info = {specs[0].name: np.asarray(source)}, {"source": "arrays"}
        else:
            _missing_per_model(source, role, specs, columns_map, where)
            got, got_info = model_inputs(source, specs, seed=seed, batch=batch, columns_map=columns_map, where=where)
        per[role] = got
        info = info or got_info
    return per, info or {}


def _missing_per_model(
    source: Any, role: str, specs: tuple[Any, ...], columns_map: dict[str, str] | None, where: str
) -> None:
    """Name the inputs the ``role`` model declares that the given dict or dataset lacks."""
    if hasattr(source, "column_names"):
        given = list(source.column_names)
    elif hasattr(source, "keys"):
        given = list(map(str, source.keys()))
    else:
        return
    mapping = columns_map or {}
    missing = [s.name for s in specs if mapping.get(s.name, s.name) not in given]
    if missing:
        spelled = ", ".join(f"{s}" for s in specs)
        raise ConfigError(
            f"{where}: {role} declares input {', '.join(map(repr, missing))}, which the inputs given do "
            f"not have (given: {', '.join(given) or 'nothing'}; {role}'s inputs: {spelled})"
        )


def _generate(rng: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """One generated array: floats in [0, 1), booleans, integers in [0, 10)."""
    if dtype.kind == "f":
        return rng.random(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 10, shape).astype(dtype)


def _check_generated(batch: Any, specs: tuple[Any, ...], shapes: dict[str, tuple[int, ...]], where: str) -> None:
    """Refuse a batch of generated inputs that is not a positive count or would not fit in GENERATED_BYTES."""
    if isinstance(batch, bool) or not isinstance(batch, Integral) or batch < 1:
        raise ConfigError(f"{where}: batch={batch!r}; expected a positive integer (rows of generated inputs)")
    for spec in specs:
        shape = shapes[spec.name]
        per_row = math.prod(shape[1:]) * spec.dtype.itemsize if shape else spec.dtype.itemsize
        need = math.prod(shape) * spec.dtype.itemsize
        if need > GENERATED_BYTES:
            most = max(1, GENERATED_BYTES // max(per_row, 1))
            raise ConfigError(
                f"{where}: {batch} rows of generated inputs would take {_size(need)} for input {spec.name!r} "
                f"({_size(per_row)} a row); at most {_size(GENERATED_BYTES)} are generated, {most} rows of this "
                "input: ask for fewer rows (batch=, or samples: in a suite)"
            )


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # unreachable
