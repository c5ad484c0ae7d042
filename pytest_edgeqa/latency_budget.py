"""Latency budgets: the latency marker's arguments, validated, and the schedule that measures them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import MAX_BATCH, MAX_ITERATIONS, MAX_SECONDS, number
from .errors import ConfigError

PERCENTILE_KEYS = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0}
MARKER_KEYS = (
    *PERCENTILE_KEYS,
    "mean_ms",
    "percentiles",
    "max_ratio",
    "min_speedup",
    "min_fps",
    "batch",
    "hint",
    "warmup_iters",
    "warmup_s",
    "iterations",
    "seconds",
    "block",
    "confidence",
)
TAIL = 5  # a percentile is judged only with at least this many samples beyond it


def samples_needed(percentile: float) -> int:
    """Samples needed to judge a percentile: ``TAIL`` of them must lie beyond it (p99: 500)."""
    return math.ceil(TAIL / (1 - percentile / 100) - 1e-9)


@dataclass(frozen=True)
class Schedule:
    """How long to warm up and measure: each minimum (count and time) must be reached.

    Defaults: 10 iterations and 0.5 s of warm-up cover first-run allocations, cache and frequency ramp-up
    on CPUs; 300 iterations and 1 s give a median that moves by ~1% between runs on a quiet machine
    and judge p90/p95 (p99 raises the count to 500 by itself)."""

    warmup_iters: int = 10
    warmup_s: float = 0.5
    iterations: int = 300
    seconds: float = 1.0
    iterations_given: bool = False  # explicitly set: then too few for a percentile is refused, not raised


@dataclass(frozen=True)
class LatencyBudget:
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    percentiles: tuple[tuple[float, float], ...] = ()
    max_ratio: float | None = None
    min_speedup: float | None = None
    min_fps: float | None = None
    batch: int = 1
    hint: str = "LATENCY"
    block: int = 10
    confidence: float = 0.95
    schedule: Schedule = field(default_factory=Schedule)

    @property
    def relative(self) -> bool:
        return self.max_ratio is not None or self.min_speedup is not None

    def percentile_budgets(self) -> list[tuple[float, float]]:
        fixed = [(p, getattr(self, k)) for k, p in PERCENTILE_KEYS.items() if getattr(self, k) is not None]
        return sorted(fixed + list(self.percentiles))


def _positive(key: str, value: Any, where: str, integer: bool = False, high: float | None = None) -> Any:
    return number(value, where, key, integer=integer, low=1 if integer else 0, low_open=not integer, high=high)


def budget_from_marker(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], defaults: Schedule, where: str = "latency marker"
) -> LatencyBudget:
    """Validate the marker's arguments (``where`` names their source in errors): every number finite and
    in range, no budget given twice or in two spellings, and at least one budget."""
    if args:
        raise ConfigError(f"{where}: takes keyword arguments only, e.g. latency(p90_ms=1.0, min_speedup=1.0)")
    unknown = sorted(set(kwargs) - set(MARKER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(MARKER_KEYS)})"
        )
    values = _numbers(kwargs, where)
    checked = _percentiles(kwargs.get("percentiles") or {}, values, where)
    hint = str(kwargs.get("hint", "LATENCY")).upper()
    if hint not in ("LATENCY", "THROUGHPUT"):
        raise ConfigError(f"{where}: hint={kwargs['hint']!r}; expected 'LATENCY' or 'THROUGHPUT'")
    conf = kwargs.get("confidence", 0.95)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise ConfigError(f"{where}: confidence={conf!r}; expected a number in [0.5, 1)")
    if values.get("min_speedup") is not None and values.get("max_ratio") is not None:
        raise ConfigError(f"{where}: give max_ratio or min_speedup, not both (min_speedup=s is max_ratio=1/s)")
    if hint == "LATENCY" and "min_fps" in values:
        raise ConfigError(f"{where}: min_fps is a throughput budget; add hint='THROUGHPUT'")
    budgets = [*PERCENTILE_KEYS, "mean_ms", "max_ratio", "min_speedup", "min_fps"]
    if not any(k in values for k in budgets) and not checked:
        raise ConfigError(f"{where}: no budget: give one of {', '.join(budgets)} or percentiles=")
    schedule = Schedule(
        warmup_iters=values.pop("warmup_iters", defaults.warmup_iters),
        warmup_s=values.pop("warmup_s", defaults.warmup_s),
        iterations=values.pop("iterations", defaults.iterations),
        seconds=values.pop("seconds", defaults.seconds),
        iterations_given="iterations" in kwargs or defaults.iterations_given,
    )
    return LatencyBudget(
        **values, percentiles=tuple(checked.items()), hint=hint, confidence=float(conf), schedule=schedule
    )


def _numbers(kwargs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The marker's numbers (budgets, schedule, batch and block), each checked for its range."""
    values: dict[str, Any] = {}
    for key in (*PERCENTILE_KEYS, "mean_ms", "max_ratio", "min_speedup", "min_fps"):
        if kwargs.get(key) is not None:
            values[key] = float(_positive(key, kwargs[key], where))
    for key in ("warmup_s", "seconds"):
        if kwargs.get(key) is not None:
            values[key] = number(kwargs[key], where, key, low=0, low_open=True, high=MAX_SECONDS, why="seconds")
    for key, high in (("batch", MAX_BATCH), ("iterations", MAX_ITERATIONS), ("block", MAX_ITERATIONS)):
        if kwargs.get(key) is not None:
            values[key] = _positive(key, kwargs[key], where, integer=True, high=high)
    if kwargs.get("warmup_iters") is not None:
        values["warmup_iters"] = number(
            kwargs["warmup_iters"], where, "warmup_iters", integer=True, low=0, high=MAX_ITERATIONS
        )
    return values


def _percentiles(pcts: Any, values: Mapping[str, Any], where: str) -> dict[float, float]:
    """``percentiles={p: ms}``, checked: each p in (0, 100), not also budgeted by name (p99_ms=)."""
    if not isinstance(pcts, Mapping):
        raise ConfigError(f"{where}: percentiles={pcts!r}; expected {{percentile: budget_ms}}, e.g. {{99.9: 5.0}}")
    checked: dict[float, float] = {}
    named = {p: k for k, p in PERCENTILE_KEYS.items() if k in values}
    for p, ms in pcts.items():
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 100:
            raise ConfigError(f"{where}: percentiles has {p!r}; a percentile must be between 0 and 100 (exclusive)")
        if float(p) in named:
            raise ConfigError(
                f"{where}: p{p:g} has two budgets, {named[float(p)]}= and percentiles={{{p!r}: ...}}; give one"
            )
        checked[float(p)] = float(_positive(f"percentiles[{p}]", ms, where))
    return checked
