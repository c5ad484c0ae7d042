"""How a recipe is written: the ``@recipe`` decorator and the table it fills, a recipe's options, the context
it is built in (the original model, its options, calibration samples), the error it raises and the guard
that turns a library's exception into that error. The built-in recipes (optimize/openvino_recipes.py,
optimize/onnxruntime_recipes.py) and a project's own (a conftest.py, an entry point) are written against it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, EdgeQAError


class RecipeError(EdgeQAError):
    """A recipe that cannot apply to this model (the message says why)."""


@dataclass(frozen=True)
class Option:
    """A recipe option: its type (or the tuple of allowed values) and its default."""

    kind: Any
    default: Any = None
    valid: Callable[[Any], bool] | None = None  # an extra range check
    expected: str = ""  # what ``valid`` wants, for the error message

    def check(self, recipe: str, key: str, value: Any) -> Any:
        value = self._typed(recipe, key, value)
        if self.valid is not None and value is not None and not self.valid(value):
            raise ConfigError(f"recipe {recipe!r}: {key}={value!r}; expected {self.expected}")
        return value

    def _typed(self, recipe: str, key: str, value: Any) -> Any:
        if isinstance(self.kind, tuple):
            if value not in self.kind:
                raise ConfigError(
                    f"recipe {recipe!r}: {key}={value!r}; expected one of {', '.join(map(repr, self.kind))}"
                )
            return value
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"recipe {recipe!r}: {key}={value!r}; expected a positive integer")
        if not isinstance(value, self.kind) or (isinstance(value, bool) and self.kind is not bool):
            raise ConfigError(
                f"recipe {recipe!r}: {key}={value!r}; expected {self.expected or getattr(self.kind, '__name__', self.kind)}"
            )
        return value


# How many calibration samples a recipe uses unless told otherwise.
SAMPLES = Option(int, 300)


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[Context], Path]
    options: Mapping[str, Option]
    calibration: bool = False  # needs calibration samples
    validation: bool = False  # needs labelled samples and a metric
    doc: str = ""


RECIPES: dict[str, Recipe] = {}


def recipe(
    name: str, *, options: Mapping[str, Option] | None = None, calibration: bool = False, validation: bool = False
) -> Callable[[Callable[[Context], Path]], Callable[[Context], Path]]:
    """Register a recipe under ``name`` (a later registration of the same name replaces it)."""

    def register(fn: Callable[[Context], Path]) -> Callable[[Context], Path]:
        RECIPES[name] = Recipe(name, fn, dict(options or {}), calibration, validation, (fn.__doc__ or "").strip())
        return fn

    return register


@dataclass
class Samples:
    """Calibration (and, for accuracy-aware recipes, validation) data, already as arrays."""

    inputs: dict[str, Any]  # model input name -> array (samples first)
    fingerprint: str
    labels: Any = None

    def __len__(self) -> int:
        from ..runtimes import batch_of

        return batch_of(self.inputs)  # a 0-d input (a scalar sample rate) is not a sample count


@dataclass
class Context:
    """What a recipe gets: the original model, validated options, a directory for its output, data."""

    original: Any  # models.ModelFile
    options: Mapping[str, Any]
    out_dir: Path
    samples: Samples | None = None
    metric: Any = None  # metrics.Statistic, for accuracy-aware recipes

    def calibration_inputs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """One dict of batch-1 arrays per sample, the form nncf.Dataset and ORT's data readers take."""
        if self.samples is None:
            raise RecipeError(f"{self.original.name}: this recipe needs calibration data")
        n = len(self.samples) if limit is None else min(limit, len(self.samples))
        import numpy as np

        return [
            {k: v[i : i + 1] if np.ndim(v) else v for k, v in self.samples.inputs.items()}  # 0-d: whole with each
            for i in range(n)
        ]


def guard(
    ctx: Context, what: str, advanced: set[str] | frozenset[str] = frozenset(), advice: Callable[[], str] | None = None
) -> Any:
    """Turn a library's exception into a RecipeError that names the recipe and the model. Where the
    library suggests one of its own options (``advanced``: those the recipe's ``advanced=`` takes), say
    how to pass it; ``advice``: what the library logged before it failed (its hints), kept in the message."""

    class Guard:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
            if exc is not None and not isinstance(exc, EdgeQAError) and isinstance(exc, Exception):
                from ..runtimes import first_line  # numpy: imported once a recipe has failed

                message = f"{what} failed on {ctx.original.name}: {type(exc).__name__}: {first_line(exc)}"
                if advice is not None and advice():
                    message += f"\n{advice()}"
                named = [n for n in dict.fromkeys(re.findall(r"`(\w+)`", str(exc))) if n in advanced]
                if named:
                    message += (
                        f"\n(the recipe passes NNCF options through its advanced= mapping: "
                        f"advanced={{{', '.join(f'{n!r}: ...' for n in named)}}})"
                    )
                raise RecipeError(message) from None
            return False

    return Guard()
