"""Datasets: load local (or hub) data with the `datasets` library and hand columns over as numpy arrays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import datasets
    import numpy as np


_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".arrow": "arrow", ".txt": "text"}


def load(path: str | os.PathLike[str], split: str = "test", base_dir: Path | None = None) -> datasets.Dataset:
    """Load ``split`` of a dataset directory/file (relative to ``base_dir``) or a hub id, offline-safe for local data."""
    import datasets

    local = Path(path) if base_dir is None or Path(path).is_absolute() else base_dir / path
    source = str(local) if local.exists() else os.fspath(path)
    # datasets draws progress bars on stderr while it prepares a file; in a test run they only clutter
    # the captured output of a failing test. Off while we load, as they were afterwards.
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        return _load(local, source, path, split)
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()


def _load(local: Path, source: str, path: str | os.PathLike[str], split: str) -> datasets.Dataset:
    import datasets

    try:
        if local.is_dir() and ((local / "dataset_dict.json").exists() or (local / "dataset_info.json").exists()):
            loaded = datasets.load_from_disk(str(local))  # save_to_disk output
            return loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
        if local.is_file():
            builder = _BUILDERS.get(local.suffix.lower())
            if builder is None:
                raise ConfigError(
                    f"dataset {local}: unknown file type {local.suffix!r} (expected {', '.join(_BUILDERS)})"
                )
            # One file is one split: it is the split asked for, whatever its name.
            return datasets.load_dataset(builder, data_files={split: str(local)}, split=split)
        return datasets.load_dataset(source, split=split)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"dataset {os.fspath(path)!r} (split {split!r}) could not be loaded: {exc}") from None


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
    source: Any, specs: tuple[Any, ...], *, seed: int = 0, batch: int = 4, columns_map: dict[str, str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Deterministic inputs for a model: a dataset selection, explicit arrays, or (``source=None``) arrays
    generated from the input specs with ``seed``. Returns the arrays and a description for manifests."""
    import numpy as np

    names = [s.name for s in specs]
    mapping = columns_map or {n: n for n in names}
    if source is None:
        rng = np.random.default_rng(seed)
        arrays = {}
        for spec in specs:
            shape = tuple((batch if i == 0 else 8) if isinstance(d, str) else d for i, d in enumerate(spec.shape))
            if spec.dtype.kind == "f":
                arrays[spec.name] = rng.random(shape).astype(spec.dtype)
            elif spec.dtype.kind == "b":
                arrays[spec.name] = rng.random(shape) < 0.5
            else:
                arrays[spec.name] = rng.integers(0, 10, shape).astype(spec.dtype)
        return arrays, {"source": "generated", "seed": seed, "batch": batch}
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


def _callable(preprocess: Any, where: str) -> Any:
    """A callable, or an import path 'package.module:function' (how YAML suites name one)."""
    if preprocess is None or callable(preprocess):
        return preprocess
    if isinstance(preprocess, str) and ":" in preprocess:
        import importlib

        module, _, attr = preprocess.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: preprocess={preprocess!r} cannot be imported: {exc}") from None
        if callable(fn):
            return fn
    raise ConfigError(f"{where}: preprocess={preprocess!r}; expected a callable or 'package.module:function'")


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
    ``source``: a ``datasets.Dataset``, a path or hub id (``split`` of it), or a dict of arrays.
    A subset is taken only when ``samples`` asks for it, and the result says so."""
    import numpy as np

    if isinstance(source, (str, os.PathLike)):
        source = load(source, split=split, base_dir=base_dir)
    fn = _callable(preprocess, where)
    if hasattr(source, "column_names") and hasattr(source, "with_format"):
        total = len(source)
        if samples is not None:
            source = source.select(range(min(samples, total)))
        fingerprint = getattr(source, "_fingerprint", None)
        available = list(source.column_names)
        cols: dict[str, np.ndarray] = dict(source.with_format("numpy")[:]) if len(source) else {}
    elif isinstance(source, dict):
        from .golden import arrays_sha256

        cols = {k: np.asarray(v) for k, v in source.items()}
        total = len(next(iter(cols.values()))) if cols else 0
        if samples is not None:
            cols = {k: v[:samples] for k, v in cols.items()}
        fingerprint = arrays_sha256(cols)[:16]
        available = list(cols)
    else:
        raise ConfigError(
            f"{where}: data must be a datasets.Dataset, a dataset path or a dict of arrays; got {type(source).__name__}"
        )
    if total == 0 or not cols:
        raise ConfigError(f"{where}: the dataset is empty (0 rows); there is nothing to evaluate")
    if fn is not None:
        cols = dict(fn(cols))
        available = list(cols)
    missing = [n for n in names if n not in cols]
    if missing:
        raise ConfigError(
            f"{where}: dataset has no column {', '.join(map(repr, missing))} (columns: {', '.join(available)})"
        )
    rows = len(cols[names[0]])
    info = {
        "rows": rows,
        "fingerprint": fingerprint,
        "subset": samples if samples is not None and samples < total else None,
        "total_rows": total,
    }
    return {n: cols[n] for n in names}, info
