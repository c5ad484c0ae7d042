"""Optimization recipes: the registry of recipes by name, what a marker or suite asks for (a RecipeSpec),
and a content-addressed, xdist-safe cache of what they build. How a recipe is written: optimize/base.py;
the built-in recipes: optimize/openvino_recipes.py, optimize/onnxruntime_recipes.py.

A recipe turns the original model into an optimized one. The cache key hashes the original's bytes,
the recipe and its options, the calibration data's fingerprint and the versions of nncf, openvino and
onnxruntime, so an entry is reused exactly when it would be rebuilt the same way.

Extending: decorate a function in a conftest.py (or a module that a package lists under the entry-point
group ``pytest_edgeqa.recipes``)::

    from pytest_edgeqa.optimize import Option, recipe

    @recipe("my-int8", options={"samples": Option(int, 300)}, calibration=True)
    def my_int8(ctx):
        ...                       # read ctx.original.path, use ctx.calibration_inputs()
        return ctx.out_dir / "model.xml"
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files import sha256_of
from .base import RECIPES, Context, Option, Recipe, RecipeError, Samples, recipe

ENTRY_POINT_GROUP = "pytest_edgeqa.recipes"
_NOT_RECIPE_KEYS = ("recipe", "calibration")


_ENTRY_POINTS_LOADED = [False]


def registry() -> dict[str, Recipe]:
    """Every recipe: the built-in ones, those of installed packages' entry points, and any registered since."""
    from . import onnxruntime_recipes, openvino_recipes  # noqa: F401  (they register on import)

    if not _ENTRY_POINTS_LOADED[0]:
        _ENTRY_POINTS_LOADED[0] = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            ep.load()
    return RECIPES


@dataclass(frozen=True)
class RecipeSpec:
    """What a marker or suite asked for: a recipe name, its options, and where calibration data comes from."""

    name: str
    options: Mapping[str, Any]
    calibration: Any = None

    @property
    def recipe(self) -> Recipe:
        return registry()[self.name]


def is_recipe(ref: Any) -> bool:
    return isinstance(ref, Mapping) or (isinstance(ref, str) and ref in registry())


def parse_spec(ref: Any, where: str) -> RecipeSpec:
    """``"fp16"`` or ``{"recipe": "nncf-int8", "calibration": ..., **options}``, validated against the recipe."""
    if isinstance(ref, str):
        ref = {"recipe": ref}
    if not isinstance(ref, Mapping) or "recipe" not in ref:
        raise ConfigError(
            f"{where}: optimized={ref!r}; expected a model path, a recipe name or {{'recipe': name, ...options}}"
        )
    name = ref["recipe"]
    known = registry()
    if name not in known:
        raise ConfigError(f"{where}: unknown recipe {name!r} (known: {', '.join(sorted(known))})")
    r = known[name]
    raw = {k: v for k, v in ref.items() if k not in _NOT_RECIPE_KEYS}
    unknown = sorted(set(raw) - set(r.options))
    if unknown:
        raise ConfigError(
            f"{where}: recipe {name!r} has no option {', '.join(map(repr, unknown))} (options: {', '.join(r.options) or 'none'})"
        )
    options = {k: opt.default for k, opt in r.options.items()}
    options.update({k: r.options[k].check(name, k, v) for k, v in raw.items()})
    calibration = ref.get("calibration")
    if (r.calibration or r.validation) and calibration is None:
        raise ConfigError(
            f"{where}: recipe {name!r} needs calibration data: add calibration=<fixture name, dataset path or {{path, split}}>"
        )
    return RecipeSpec(name, options, calibration)


@dataclass
class Built:
    path: Path
    info: dict[str, Any] = field(default_factory=dict)
    entry: Path | None = None  # the cache entry's directory

    def present(self) -> bool:
        """Whether the entry's files are still there (a cache cleared during the run is not)."""
        entry = self.entry or self.path.parent
        return all((entry / rel).is_file() for rel in self.info.get("files") or {self.path.name: ""})


class RecipeCacheWarning(UserWarning):
    """A recipe cache entry that could not be reused (damaged, incomplete) and was rebuilt."""


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("nncf", "openvino", "onnxruntime"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "absent"
    return out


def cache_key(original_sha: str, spec: RecipeSpec, samples: Samples | None) -> str:
    payload = {
        "original": original_sha,
        "recipe": spec.name,
        "options": {k: spec.options[k] for k in sorted(spec.options)},
        "calibration": samples.fingerprint if samples is not None else None,
        "versions": versions(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _size(path: Path) -> int:
    files = [path, path.with_suffix(".bin")] if path.suffix == ".xml" else [path]
    return sum(f.stat().st_size for f in files if f.exists())


def _checksums(entry: Path) -> dict[str, str]:
    """sha256 of every file a build wrote (not build.json), by path relative to the entry."""
    return {
        f.relative_to(entry).as_posix(): sha256_of(f)
        for f in sorted(entry.rglob("*"))
        if f.is_file() and f.name != "build.json"
    }


def _safe_rel(rel: Any) -> bool:
    return (
        isinstance(rel, str)
        and bool(rel)
        and not rel.startswith("/")
        and ".." not in rel.split("/")
        and "\\" not in rel
    )


def _reusable(entry: Path, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """The entry's build.json when the entry can be reused as it is, else why not (None: no entry).
    Reusing means its model files still have the checksums recorded when they were built."""
    if not entry.is_dir() or entry.is_symlink():
        if entry.is_symlink() or entry.exists():
            return None, "it is not a directory"
        return None, None
    try:
        meta = json.loads((entry / "build.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "its build.json is missing"
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"its build.json cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
    if not isinstance(meta, dict):
        return None, "its build.json is not a JSON object"
    files = meta.get("files")
    if (
        meta.get("key") != key
        or not isinstance(files, dict)
        or not all(_safe_rel(rel) and isinstance(sha, str) for rel, sha in files.items())
        or meta.get("model") not in files
    ):
        return None, "its build.json is incomplete (no checksums of the built files, or another entry's)"
    for rel, sha in files.items():
        try:
            actual = sha256_of(entry / rel)
        except FileNotFoundError:
            return None, f"{rel} is missing"
        except OSError as exc:
            return None, f"{rel} cannot be read ({exc.strerror or exc})"
        if actual != sha:
            return None, f"{rel} does not match its checksum in build.json (truncated or changed)"
    return meta, None


def _remove(entry: Path) -> None:
    if entry.is_symlink() or (entry.exists() and not entry.is_dir()):
        entry.unlink()
    elif entry.exists():
        shutil.rmtree(entry)


def _unusable_cache(cache_dir: Path, exc: OSError) -> RecipeError:
    return RecipeError(
        f"the recipe cache {cache_dir} cannot be used ({exc.strerror or exc}"
        f"{f': {exc.filename}' if exc.filename and str(exc.filename) != str(cache_dir) else ''}); "
        "give a writable directory with --edge-cache-dir (or the ini key edge_cache_dir)"
    )


def build(
    spec: RecipeSpec,
    original: Any,
    *,
    cache_dir: Path,
    samples: Samples | None = None,
    metric: Any = None,
    rebuild_session: str | None = None,
) -> Built:
    """The optimized model for ``spec``, from the cache or built now. Concurrent processes (xdist
    workers) serialize on a file lock per entry: one builds, the others then find it. An entry is built
    in a temporary directory and renamed into place, so nobody ever reads a half-written model; its
    build.json records the checksum of every file built, and an entry is reused only when they still
    match (a damaged, incomplete or replaced entry is rebuilt, with a RecipeCacheWarning).
    ``rebuild_session``: rebuild unless the entry was already built by this session (--edge-rebuild)."""
    from filelock import FileLock

    key = cache_key(original.sha256, spec, samples)
    final = cache_dir / f"{spec.name}-{key[:20]}"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cache_dir / f".{final.name}.lock")):
            meta, why = _reusable(final, key)
            if meta is not None and (rebuild_session is None or meta.get("session") == rebuild_session):
                return Built(final / meta["model"], {**meta, "cache_hit": True}, final)
            if why is not None:
                warnings.warn_explicit(
                    f"recipe cache entry {final} could not be reused ({why}); rebuilding it",
                    RecipeCacheWarning,
                    str(final / "build.json"),
                    0,
                )
            return _build_entry(spec, original, final, key, samples, metric, rebuild_session)
    except OSError as exc:
        raise _unusable_cache(cache_dir, exc) from None


def _build_entry(
    spec: RecipeSpec,
    original: Any,
    final: Path,
    key: str,
    samples: Samples | None,
    metric: Any,
    rebuild_session: str | None,
) -> Built:
    """Build ``spec`` in a temporary directory beside ``final`` and rename it into place (under the lock)."""
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        ctx = Context(original=original, options=spec.options, out_dir=tmp, samples=samples, metric=metric)
        start = time.perf_counter()
        try:
            out = Path(spec.recipe.build(ctx))
        except OSError as exc:  # the recipe's own failure, not the cache's
            raise RecipeError(f"recipe {spec.name!r} failed on {original.name}: {type(exc).__name__}: {exc}") from None
        seconds = time.perf_counter() - start
        if not out.is_file() or tmp not in out.parents:
            raise RecipeError(f"recipe {spec.name!r} returned {out}, which is not a model file in its output directory")
        before = sum(f.stat().st_size for f in original.files)
        after = _size(out)
        meta = {
            "key": key,
            "build_id": uuid.uuid4().hex,  # which build made this entry (one per entry, whoever asks)
            "recipe": spec.name,
            "options": dict(spec.options),
            "original": {"path": str(original.path), "sha256": original.sha256},
            "calibration": samples.fingerprint if samples is not None else None,
            "calibration_samples": len(samples) if samples is not None else 0,
            "model": out.relative_to(tmp).as_posix(),
            "files": _checksums(tmp),
            "build_s": round(seconds, 3),
            "size_before": before,
            "size_after": after,
            "compression_ratio": round(before / after, 3) if after else None,
            "versions": versions(),
            "session": rebuild_session,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / "build.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        _remove(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Built(final / meta["model"], {**meta, "cache_hit": False}, final)


def samples_from(
    source: Any, input_names: list[str], *, samples: int, labels: bool, base_dir: Path, where: str
) -> Samples:
    """Calibration samples from what a marker or suite gave: a dataset or dict of arrays (e.g. a fixture's
    value), a dataset path (its ``train`` split), or ``{"path"|"data": ..., "split", "samples", "inputs", "label"}``."""
    from .. import data

    spec: dict[str, Any] = (
        dict(source) if isinstance(source, Mapping) and ("path" in source or "data" in source) else {"data": source}
    )
    unknown = sorted(set(spec) - {"path", "data", "split", "samples", "inputs", "label"})
    if unknown:
        raise ConfigError(
            f"{where}: calibration has no key {', '.join(map(repr, unknown))} (keys: path, split, samples, inputs, label)"
        )
    origin = spec.get("data", spec.get("path"))
    mapping = dict(spec.get("inputs") or {n: n for n in input_names})
    label = spec.get("label", "label")
    count = int(spec.get("samples", samples))
    columns = sorted({*mapping.values(), *([label] if labels else [])})
    table, info = data.table(
        origin, columns, samples=count, base_dir=base_dir, split=spec.get("split", "train"), where=where
    )
    fingerprint = f"{info['fingerprint']}:{info['rows']}:{sorted(mapping.items())}"
    return Samples({name: table[col] for name, col in mapping.items()}, fingerprint, table[label] if labels else None)


__all__ = [  # what a project's recipes (Option, recipe, Context, Samples, RecipeError) and the session use
    "Built",
    "Context",
    "Option",
    "RecipeCacheWarning",
    "RecipeError",
    "RecipeSpec",
    "Samples",
    "build",
    "cache_key",
    "is_recipe",
    "parse_spec",
    "recipe",
    "registry",
    "samples_from",
]
