"""Datasets: load local data (or a Hub dataset asked for as ``hub:owner/name``) with the `datasets` library
and hand columns over as numpy arrays; every way data can be wrong ends in a message naming it."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import datasets
    import numpy as np

    from .registry import Registry


_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".arrow": "arrow", ".txt": "text"}
HUB = "hub:"  # the one spelling that reaches the Hugging Face Hub: a path never does, however it is mistyped
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?\Z")
_SAVED = ("dataset_dict.json", "dataset_info.json", "state.json")  # what save_to_disk writes
GENERATED_BYTES = 256 << 20  # the most memory generated inputs may take: more is a typo in batch=/samples:


def load(
    path: str | os.PathLike[str], split: str = "test", base_dir: Path | None = None, where: str = "data"
) -> datasets.Dataset:
    """``split`` of a local dataset file or directory (relative to ``base_dir``), or of the Hub dataset
    ``hub:owner/name``. A local path that does not exist is "not found", never a Hub lookup."""
    import datasets

    # datasets draws progress bars on stderr while it prepares a file, and logs a reader's error before
    # raising it; in a test run they only clutter the output (what went wrong is in our message). Both
    # are off while we load, as they were afterwards.
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    loggers = [logging.getLogger(name) for name in ("datasets", "huggingface_hub")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        text = os.fspath(path)
        if not isinstance(split, str) or not split:
            raise ConfigError(f"{where}: split={split!r}; expected a split name such as 'test'")
        if isinstance(path, str) and text.startswith(HUB):
            loaded = _load_hub(text, split, where)
        else:
            loaded = _load_local(_local(text, base_dir, where), text, split, where)
        if len(loaded) == 0:
            raise _empty(where, text, split)
        return loaded
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars_were_on:
            datasets.enable_progress_bars()


def _local(text: str, base_dir: Path | None, where: str) -> Path:
    if not text.strip():
        raise ConfigError(f"{where}: the data path is empty; expected a dataset file or directory, or 'hub:owner/name'")
    given = Path(text).expanduser()
    local = given if base_dir is None or given.is_absolute() else base_dir / given
    try:
        found = local.exists()
        kind_ok = local.is_file() or local.is_dir()
    except OSError as exc:  # a directory on the way that may not be read, a name too long
        raise ConfigError(f"{where}: data {text} cannot be reached: {exc.strerror or exc}") from None
    if not found:
        relative = "" if given.is_absolute() else f" (relative to {base_dir or Path.cwd()})"
        raise ConfigError(
            f"{where}: data not found: {text}{relative}; a dataset on the Hugging Face Hub is named 'hub:owner/name'"
        )
    if not kind_ok:
        raise ConfigError(f"{where}: data {text} is neither a file nor a directory")
    return local


def _load_local(local: Path, text: str, split: str, where: str) -> datasets.Dataset:
    import datasets

    name = f"{where}: data {text}"
    if local.is_dir() and any((local / f).exists() for f in _SAVED):
        try:
            loaded = datasets.load_from_disk(str(local))  # save_to_disk output
        except Exception as exc:  # a corrupt or partial save_to_disk directory: anything datasets raises
            raise ConfigError(f"{name}: the save_to_disk directory could not be read: {_cause(exc)}") from None
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ConfigError(f"{name} has no split {split!r} (splits: {', '.join(loaded)})")
            return loaded[split]
        return loaded
    if local.is_file():
        builder = _BUILDERS.get(local.suffix.lower())
        if builder is None:
            raise ConfigError(f"{name}: unknown file type {local.suffix!r} (expected {', '.join(_BUILDERS)})")
        if local.stat().st_size == 0:
            raise ConfigError(f"{name}: the file is empty (0 bytes); expected {builder} data")
        if builder == "parquet":
            _parquet_rows(local, name, split)
        try:
            # One file is one split: it is the split asked for, whatever its name.
            return datasets.load_dataset(builder, data_files={split: str(local)}, split=split)
        except Exception as exc:  # DatasetGenerationError around the reader's (pandas', pyarrow's) own error
            if "corresponds to no data" in str(exc):  # a CSV of only a header, an empty JSON lines file
                raise _empty(where, text, split) from None
            raise ConfigError(f"{name} could not be read as {builder}: {_cause(exc)}") from None
    try:
        return datasets.load_dataset(str(local), split=split)
    except Exception as exc:
        raise _directory_error(exc, local, name, split) from None


def _empty(where: str, text: str, split: str) -> ConfigError:
    return ConfigError(f"{where}: the dataset {text} (split {split!r}) is empty (0 rows); there is nothing to evaluate")


def _parquet_rows(local: Path, name: str, split: str) -> None:
    """Read a parquet file's footer: a corrupt file or one without rows is refused before datasets
    reads it (it fails on zero rows with 'BatchSize must be greater than 0')."""
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(local) as f:
            rows = f.metadata.num_rows
    except Exception as exc:  # ArrowInvalid, OSError: whatever pyarrow finds wrong with the file
        raise ConfigError(f"{name} could not be read as parquet: {_cause(exc)}") from None
    if rows == 0:
        where, _, text = name.partition(": data ")
        raise _empty(where, text, split)


def _directory_error(exc: Exception, local: Path, name: str, split: str) -> ConfigError:
    from datasets.data_files import EmptyDatasetError
    from datasets.exceptions import DataFilesNotFoundError

    text = str(exc)
    if isinstance(exc, (EmptyDatasetError, DataFilesNotFoundError)):
        present = sorted(p.name for p in local.iterdir())[:8]
        return ConfigError(
            f"{name}: the directory holds no data files ({', '.join(_BUILDERS)}) and is not a save_to_disk "
            f"directory (it holds: {', '.join(present) if present else 'nothing'})"
        )
    script = re.search(r"scripts are no longer supported, but found (\S+)", text)
    if script:
        return ConfigError(
            f"{name}: the directory holds a dataset loading script ({script.group(1)}); pytest-edgeqa reads data "
            "files only and never runs a script: give the data files' directory"
        )
    splits = re.search(r"(?:Available splits: |Should be one of )\[([^\]]*)\]", text)
    if isinstance(exc, ValueError) and splits:
        names = ", ".join(s.strip().strip("'\"") for s in splits.group(1).split(","))
        return ConfigError(f"{name} has no split {split!r} (splits: {names})")
    return ConfigError(f"{name} could not be read: {_cause(exc)}")


def _load_hub(text: str, split: str, where: str) -> datasets.Dataset:
    """The Hub dataset ``hub:owner/name`` (asked for explicitly): data, never code (datasets runs no scripts)."""
    import datasets

    repo = text[len(HUB) :]
    if not _HUB_ID.match(repo):
        raise ConfigError(f"{where}: data {text!r}: expected 'hub:owner/name' (a dataset id on the Hugging Face Hub)")
    try:
        return datasets.load_dataset(repo, split=split)
    except Exception as exc:  # ConnectionError offline, DatasetNotFoundError, a bad split...
        raise ConfigError(
            f"{where}: data {text!r} (split {split!r}) could not be loaded from the Hugging Face Hub: {_cause(exc)}"
        ) from None


def _cause(exc: BaseException) -> str:
    """The innermost error's type and first line: what the reader (pandas, pyarrow) found, not the wrapper."""
    inner = exc
    for _ in range(20):
        nested = inner.__cause__ or (None if inner.__suppress_context__ else inner.__context__)
        if nested is None:
            break
        inner = nested
    first = (str(inner).strip().splitlines() or [""])[0]
    first = first if len(first) <= 300 else first[:297] + "..."
    return f"{type(inner).__name__}: {first}" if first else type(inner).__name__


def columns(ds: datasets.Dataset, names: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named columns as numpy arrays, with a clear error for a missing one."""
    missing = [n for n in names if n not in ds.column_names]
    if missing:
        raise ConfigError(
            f"dataset has no column {', '.join(map(repr, missing))} (columns: {', '.join(ds.column_names)})"
        )
    table: dict[str, Any] = ds.with_format("numpy", columns=list(names))[:]
    return dict(table)


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
    symbols = {d for s in merged.values() for d in s.shape if isinstance(d, str) and d != "?"}
    shown = lambda s: f"{s.name!r} [{','.join(str(d) for d in s.shape)}]"  # noqa: E731
    for key, size in dims.items():
        if key not in symbols:
            hint = f"; {key!r} is an input: give its whole shape with shapes=" if key in merged else ""
            raise ConfigError(
                f"{where}: dims names {key!r}, which is not a dimension symbol of the model's inputs "
                f"(symbols: {', '.join(sorted(symbols)) or 'none'}){hint}"
            )
        if not _positive(size):
            raise ConfigError(f"{where}: dims[{key!r}]={size!r}; expected a positive integer size")
    sizes: dict[str, int] = {k: int(v) for k, v in dims.items()}
    for key, whole in shapes.items():
        spec = merged.get(key)
        if spec is None:
            raise ConfigError(
                f"{where}: shapes names {key!r}, which is not an input of the model (inputs: {', '.join(merged)})"
            )
        if not isinstance(whole, (tuple, list)) or len(whole) != len(spec.shape) or not all(map(_positive, whole)):
            raise ConfigError(
                f"{where}: shapes[{key!r}]={whole!r}; expected {len(spec.shape)} positive sizes for {shown(spec)}"
            )
        for axis, (d, n) in enumerate(zip(spec.shape, whole, strict=True)):
            if isinstance(d, int) and d != n:
                raise ConfigError(
                    f"{where}: shapes[{key!r}]={tuple(whole)!r}, but dimension {axis} of {shown(spec)} is {d}"
                )
            if isinstance(d, str) and d != "?" and sizes.setdefault(d, int(n)) != n:
                raise ConfigError(
                    f"{where}: shapes[{key!r}] makes {d!r} {n}, but it is {sizes[d]} elsewhere (dims= or another input's shape)"
                )
    for spec in merged.values():  # a dynamic first dim is the batch, and so is its symbol everywhere
        if spec.shape and isinstance(spec.shape[0], str) and spec.shape[0] != "?" and spec.name not in shapes:
            sizes.setdefault(spec.shape[0], batch)
    call = _example_call(where)
    resolved: dict[str, tuple[int, ...]] = {}
    for spec in merged.values():
        if spec.name in shapes:
            resolved[spec.name] = tuple(int(n) for n in shapes[spec.name])
            continue
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
                    f"{where}: input {shown(spec)} has a dynamic dimension {axis}"
                    + (f" ({d!r})" if d != "?" else " (unnamed)")
                    + " with no size, and generated inputs need one: give it with "
                    + by_symbol
                    + call(f"shapes={{{spec.name!r}: {spelled}}}")
                )
        resolved[spec.name] = tuple(shape)
    return resolved


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


def preprocess_fn(
    preprocess: Any, where: str, registry: Registry | None = None, *, declarative: bool = False
) -> Callable[..., Any] | None:
    """The function ``preprocess`` names: a callable as it is (the user's own code), a name registered
    in ``registry``; a ``'package.module:function'`` is imported only where the registry trusts code
    (``--edge-trust-code``), never for a suite (``declarative``): importing runs the module's code."""
    if preprocess is None or (callable(preprocess) and not isinstance(preprocess, str)):
        return preprocess
    if not isinstance(preprocess, str) or not preprocess:
        raise ConfigError(
            f"{where}: preprocess={preprocess!r}; expected a callable (dict of columns -> dict of columns) "
            "or the name of a registered preprocess function"
        )
    if registry is not None and preprocess in registry.preprocessors:
        return registry.preprocessors[preprocess]
    registered = registry.listed("preprocess") if registry is not None else "none"
    register = "register it from conftest.py: def pytest_edgeqa_register(registry): registry.add_preprocess(name, fn)"
    if declarative:
        raise ConfigError(
            f"{where}: {preprocess!r} is not a registered preprocess function (registered: {registered}). A suite "
            "names preprocess functions only: it never imports one from a module path, whatever --edge-trust-code "
            f"says; {register}"
        )
    if ":" not in preprocess:
        raise ConfigError(
            f"{where}: preprocess={preprocess!r} is not a registered preprocess function (registered: {registered}); "
            f"{register}, or pass the function itself"
        )
    if registry is None or not registry.trust_code:
        raise ConfigError(
            f"{where}: preprocess={preprocess!r} is an import path: importing it runs that module's code, which "
            "pytest-edgeqa does only with --edge-trust-code (ini edge_trust_code = true); pass the function itself, "
            f"or {register}"
        )
    return _imported(preprocess, where)


def _imported(path: str, where: str) -> Callable[..., Any]:
    """``'package.module:function'``, imported: reached only under --edge-trust-code."""
    import importlib

    module, _, attr = path.partition(":")
    if not all(part.isidentifier() for part in module.split(".")) or not attr.isidentifier():
        raise ConfigError(f"{where}: preprocess={path!r}; expected 'package.module:function'")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where}: preprocess={path!r} cannot be imported: {exc}") from None
    if not callable(fn):
        raise ConfigError(f"{where}: preprocess={path!r} is a {type(fn).__name__}, not a function")
    return fn


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def _described(values: np.ndarray) -> str | None:
    """What a column holds when no model or metric can use it (strings, objects, rows of unequal
    length); None for numbers and booleans."""
    import numpy as np

    kind = values.dtype.kind
    if kind in "iufb":
        return None
    first = values.reshape(-1)[:1].tolist() if values.size else []
    shown = f" (first: {str(first[0])[:40]!r})" if first else ""
    if kind in "US":
        return f"strings{shown}"
    if kind == "O":
        shapes = {np.shape(v) for v in values.reshape(-1)[:1000]}
        if len(shapes) > 1:
            listed = sorted(shapes, key=str)[:3]
            return f"rows of different shapes ({', '.join(str(s) for s in listed)}{', ...' if len(shapes) > 3 else ''})"
        return f"Python objects{shown}"
    return f"{values.dtype.name} values{shown}"


def table(
    source: Any,
    names: list[str],
    *,
    samples: int | None = None,
    preprocess: Any = None,
    base_dir: Path | None = None,
    split: str = "test",
    where: str = "accuracy_check",
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The named columns of a dataset as arrays, with what identifies the data: rows and fingerprint.
    ``source``: a ``datasets.Dataset``, a path or ``hub:owner/name`` (``split`` of it), or a dict of arrays.
    A subset is taken only when ``samples`` asks for it, and the result says so."""
    __tracebackhide__ = True  # a preprocess function's error shows the user's frames, not ours

    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, Integral) or samples < 1):
        raise ConfigError(f"{where}: samples={samples!r}; expected a positive integer (how many rows to take)")
    what = "dataset"
    if isinstance(source, (str, os.PathLike)):
        what = f"dataset {os.fspath(source)} (split {split!r})"
        source = load(source, split=split, base_dir=base_dir, where=where)
    fn = preprocess_fn(preprocess, where)
    if hasattr(source, "column_names") and hasattr(source, "with_format"):
        total = len(source)
        if samples is not None:
            source = source.select(range(min(samples, total)))
        fingerprint = getattr(source, "_fingerprint", None)
        available = list(source.column_names)
        cols: dict[str, np.ndarray] = dict(source.with_format("numpy")[:]) if len(source) else {}
    elif isinstance(source, dict):
        from .golden import arrays_sha256

        cols = {str(k): _array(v, f"{where}: data column {str(k)!r}") for k, v in source.items()}
        lengths = {k: len(v) if v.ndim else None for k, v in cols.items()}
        total = next(iter(lengths.values()), 0) or 0
        if len(set(lengths.values())) > 1 or None in lengths.values():
            raise ConfigError(
                f"{where}: the data's arrays differ in length ({_lengths(lengths)}); expected one row per sample in each"
            )
        if samples is not None:
            cols = {k: v[:samples] for k, v in cols.items()}
        fingerprint = arrays_sha256(cols)[:16]
        available = list(cols)
    else:
        raise ConfigError(
            f"{where}: data must be a datasets.Dataset, a dataset path, 'hub:owner/name' or a dict of arrays; "
            f"got {type(source).__name__}"
        )
    if total == 0 or not cols:
        name = "the dataset" if what == "dataset" else f"the {what}"
        raise ConfigError(f"{where}: {name} is empty (0 rows); there is nothing to evaluate")
    if fn is not None:
        cols = _preprocessed(fn, cols, where)
        available = list(cols)
        what = f"preprocess={_fn_name(fn)} returned"
        missing = [n for n in names if n not in cols]
        if missing:
            raise ConfigError(
                f"{where}: {what} no column {', '.join(map(repr, missing))} (columns: {', '.join(available)})"
            )
    missing = [n for n in names if n not in cols]
    if missing:
        raise ConfigError(
            f"{where}: {what} has no column {', '.join(map(repr, missing))} (columns: {', '.join(available)})"
        )
    for n in names:
        odd = _described(cols[n])
        if odd is not None:
            raise ConfigError(
                f"{where}: column {n!r} holds {odd}; a model input or label must be numbers: convert it with preprocess="
            )
    rows = len(cols[names[0]])
    info = {
        "rows": rows,
        "fingerprint": fingerprint,
        "subset": samples if samples is not None and samples < total else None,
        "total_rows": total,
    }
    return {n: cols[n] for n in names}, info


def _array(value: Any, what: str) -> np.ndarray:
    import numpy as np

    try:
        return np.asarray(value)
    except ValueError as exc:  # lists of unequal lengths
        raise ConfigError(f"{what} is not an array: {str(exc).splitlines()[0][:200]}") from None


def _lengths(lengths: Mapping[str, int | None]) -> str:
    shown = [f"{k}: {'a scalar' if v is None else f'{v} rows'}" for k, v in list(lengths.items())[:6]]
    return ", ".join(shown) + (", ..." if len(lengths) > 6 else "")


def _preprocessed(fn: Callable[..., Any], cols: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """``fn(cols)``, checked: a mapping of column name to arrays of one length (the user's errors propagate)."""
    __tracebackhide__ = True
    out = fn(cols)
    label = f"preprocess={_fn_name(fn)}"
    if not isinstance(out, Mapping):
        raise ConfigError(
            f"{where}: {label} returned {type(out).__name__}; expected a dict of column name -> array (the columns "
            "it was given, changed or added to)"
        )
    result = {str(k): _array(v, f"{where}: {label} returned column {str(k)!r}, which") for k, v in out.items()}
    lengths = {k: len(v) if v.ndim else None for k, v in result.items()}
    if len(set(lengths.values())) > 1 or None in lengths.values():
        raise ConfigError(
            f"{where}: {label} returned columns of different lengths ({_lengths(lengths)}); expected one row per sample in each"
        )
    if not result or not next(iter(lengths.values())):
        raise ConfigError(f"{where}: {label} returned no rows; there is nothing to evaluate")
    return result
