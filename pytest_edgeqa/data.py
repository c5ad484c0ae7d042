"""Datasets: load local (or hub) data with the `datasets` library and hand columns over as numpy arrays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import datasets
    import numpy as np


def load(path: str | os.PathLike[str], split: str = "test", base_dir: Path | None = None) -> datasets.Dataset:
    """Load ``split`` of a dataset directory/file (relative to ``base_dir``) or a hub id, offline-safe for local data."""
    import datasets

    local = Path(path) if base_dir is None or Path(path).is_absolute() else base_dir / path
    source = str(local) if local.exists() else os.fspath(path)
    try:
        if local.is_dir() and (local / "dataset_info.json").exists():  # save_to_disk output
            loaded = datasets.load_from_disk(str(local))
            return loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
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
