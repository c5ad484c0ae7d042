"""Datasets: load local data (or a Hub dataset asked for as ``hub:owner/name``) with the `datasets` library
and hand columns over as numpy arrays; every way data can be wrong ends in a message naming it."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigError

if TYPE_CHECKING:
    import datasets
    import numpy as np


_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".arrow": "arrow", ".txt": "text"}
HUB = "hub:"  # the one spelling that reaches the Hugging Face Hub: a path never does, however it is mistyped
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?\Z")
_SAVED = ("dataset_dict.json", "dataset_info.json", "state.json")  # what save_to_disk writes


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


class Preprocessors(Protocol):
    """What preprocess_fn asks of the session's registry (registry.Registry): the functions registered,
    and whether code may be imported by name."""

    preprocessors: dict[str, Callable[..., Any]]
    trust_code: bool

    def listed(self, kind: str) -> str: ...


def preprocess_fn(
    preprocess: Any, where: str, registry: Preprocessors | None = None, *, declarative: bool = False
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
    cols, total, fingerprint, available = _all_columns(source, samples, where)
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
    _require_numbers(cols, names, what, available, where)
    rows = len(cols[names[0]])
    info = {
        "rows": rows,
        "fingerprint": fingerprint,
        "subset": samples if samples is not None and samples < total else None,
        "total_rows": total,
    }
    return {n: cols[n] for n in names}, info


def _all_columns(
    source: Any, samples: int | None, where: str
) -> tuple[dict[str, np.ndarray], int, str | None, list[str]]:
    """Every column of a dataset or a dict of arrays (the first ``samples`` rows), with the rows in the
    whole source, its fingerprint and its column names."""
    if hasattr(source, "column_names") and hasattr(source, "with_format"):
        total = len(source)
        if samples is not None:
            source = source.select(range(min(samples, total)))
        fingerprint = getattr(source, "_fingerprint", None)
        available = list(source.column_names)
        cols: dict[str, np.ndarray] = dict(source.with_format("numpy")[:]) if len(source) else {}
        return cols, total, fingerprint, available
    if isinstance(source, dict):
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
        return cols, total, arrays_sha256(cols)[:16], list(cols)
    raise ConfigError(
        f"{where}: data must be a datasets.Dataset, a dataset path, 'hub:owner/name' or a dict of arrays; "
        f"got {type(source).__name__}"
    )


def _require_numbers(
    cols: Mapping[str, np.ndarray], names: list[str], what: str, available: list[str], where: str
) -> None:
    """Every named column is there and holds numbers (or booleans)."""
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
