"""Latency: the timing engine, nearest-rank percentiles, interleaved A/B blocks and their ratio's interval."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError, EdgeQAError

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
HIGH_CV = 0.10  # coefficient of variation above which a result says the timing was noisy


class LatencyFailed(EdgeQAError):
    """A latency budget does not hold: the message is the full report."""


class LatencyWarning(UserWarning):
    """A latency budget that failed under --edge-latency=warn, or timing on a shared CPU."""


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


def _positive(key: str, value: Any, where: str, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kind)
        or (isinstance(value, float) and math.isnan(value))
        or value <= 0
    ):
        raise ConfigError(f"{where}: {key}={value!r}; expected a positive {'integer' if integer else 'number'}")
    return value


def budget_from_marker(args: tuple[Any, ...], kwargs: Mapping[str, Any], defaults: Schedule) -> LatencyBudget:
    where = "latency marker"
    if args:
        raise ConfigError(f"{where}: takes keyword arguments only, e.g. latency(p90_ms=1.0, min_speedup=1.0)")
    unknown = sorted(set(kwargs) - set(MARKER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(MARKER_KEYS)})"
        )
    values: dict[str, Any] = {}
    for key in (*PERCENTILE_KEYS, "mean_ms", "max_ratio", "min_speedup", "min_fps", "warmup_s", "seconds"):
        if kwargs.get(key) is not None:
            values[key] = float(_positive(key, kwargs[key], where))
    for key in ("batch", "iterations", "block"):
        if kwargs.get(key) is not None:
            values[key] = _positive(key, kwargs[key], where, integer=True)
    if kwargs.get("warmup_iters") is not None:
        w = kwargs["warmup_iters"]
        if isinstance(w, bool) or not isinstance(w, int) or w < 0:
            raise ConfigError(f"{where}: warmup_iters={w!r}; expected an integer of at least 0")
        values["warmup_iters"] = w
    pcts = kwargs.get("percentiles") or {}
    if not isinstance(pcts, Mapping):
        raise ConfigError(f"{where}: percentiles={pcts!r}; expected {{percentile: budget_ms}}, e.g. {{99.9: 5.0}}")
    checked = []
    for p, ms in pcts.items():
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 100:
            raise ConfigError(f"{where}: percentiles has {p!r}; a percentile must be between 0 and 100 (exclusive)")
        checked.append((float(p), float(_positive(f"percentiles[{p}]", ms, where))))
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
    return LatencyBudget(**values, percentiles=tuple(checked), hint=hint, confidence=float(conf), schedule=schedule)


# ---------------------------------------------------------------------------------------- statistics


def nearest_rank(sorted_ms: np.ndarray, percentile: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least p% of samples at or below it."""
    rank = max(1, math.ceil(percentile / 100 * len(sorted_ms) - 1e-9))
    return float(sorted_ms[rank - 1])


@dataclass
class Stats:
    count: int
    min: float
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    std: float
    cv: float
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, ms: np.ndarray, percentiles: list[float] = ()) -> Stats:  # type: ignore[assignment]
        s = np.sort(np.asarray(ms, dtype=np.float64))
        mean = float(s.mean())
        std = float(s.std(ddof=1)) if len(s) > 1 else 0.0
        return cls(
            count=len(s),
            min=float(s[0]),
            mean=mean,
            median=nearest_rank(s, 50),
            p90=nearest_rank(s, 90),
            p95=nearest_rank(s, 95),
            p99=nearest_rank(s, 99),
            std=std,
            cv=std / mean if mean else 0.0,
            extra={f"p{p:g}": nearest_rank(s, p) for p in percentiles},
        )

    def at(self, percentile: float) -> float:
        return {50.0: self.median, 90.0: self.p90, 95.0: self.p95, 99.0: self.p99}.get(percentile) or self.extra[
            f"p{percentile:g}"
        ]

    def line(self) -> str:
        return (
            f"min {self.min:.4g}  mean {self.mean:.4g}  median {self.median:.4g}  p90 {self.p90:.4g}  "
            f"p95 {self.p95:.4g}  p99 {self.p99:.4g}  std {self.std:.3g}  cv {self.cv:.1%}  n {self.count}"
        )


# ---------------------------------------------------------------------------------------- measurement

Timer = Callable[[], float]  # runs one inference, returns its latency in ms


def warm_up(timer: Timer, schedule: Schedule) -> None:
    start, n = time.perf_counter(), 0
    while n < schedule.warmup_iters or time.perf_counter() - start < schedule.warmup_s:
        timer()
        n += 1


def measure(timer: Timer, schedule: Schedule, iterations: int) -> np.ndarray:
    """At least ``iterations`` samples and ``schedule.seconds``, after warm-up."""
    warm_up(timer, schedule)
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < iterations or time.perf_counter() - start < schedule.seconds:
        out.append(timer())
    return np.asarray(out)


def interleave(
    timer_a: Timer, timer_b: Timer, schedule: Schedule, iterations: int, block: int
) -> tuple[np.ndarray, np.ndarray]:
    """A and B in alternating blocks of ``block`` runs, in one process, until each has ``iterations``
    samples and ``schedule.seconds`` passed: slow drifts of a noisy machine hit both alike.
    Returns per-block arrays of shape (blocks, block)."""
    warm_up(timer_a, schedule)
    warm_up(timer_b, schedule)
    a_blocks: list[list[float]] = []
    b_blocks: list[list[float]] = []
    start = time.perf_counter()
    while len(a_blocks) * block < iterations or time.perf_counter() - start < schedule.seconds:
        first, second = (timer_a, timer_b) if len(a_blocks) % 2 == 0 else (timer_b, timer_a)
        got_first = [first() for _ in range(block)]
        got_second = [second() for _ in range(block)]
        a, b = (got_first, got_second) if first is timer_a else (got_second, got_first)
        a_blocks.append(a)
        b_blocks.append(b)
    return np.asarray(a_blocks), np.asarray(b_blocks)


def ratio_interval(
    a_blocks: np.ndarray, b_blocks: np.ndarray, confidence: float, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Ratio of medians B/A and its paired block-bootstrap interval: whole blocks are resampled, the
    same ones for A and B, so the pairing the interleaving built is kept."""
    ratio = float(np.median(b_blocks) / np.median(a_blocks))
    rng = np.random.default_rng(seed)
    n = len(a_blocks)
    idx = rng.integers(0, n, (resamples, n))
    a = np.median(a_blocks[idx].reshape(resamples, -1), axis=1)
    b = np.median(b_blocks[idx].reshape(resamples, -1), axis=1)
    r = b / a
    alpha = (1 - confidence) / 2
    return ratio, float(np.quantile(r, alpha)), float(np.quantile(r, 1 - alpha))


# ---------------------------------------------------------------------------------------------- result


@dataclass
class LatencyResult:
    mode: str  # "latency" | "throughput"
    unit: str  # "ms" | "fps"
    optimized: Stats  # the model judged: the optimized one, or the original when the marker has no other
    subject: str = "optimized"
    original: Stats | None = None
    ratio: float | None = None  # optimized / original time per sample (>1: slower)
    ratio_interval: tuple[float, float] | None = None
    confidence: float = 0.95
    fps: dict[str, float] = field(default_factory=dict)
    setup: dict[str, Any] = field(
        default_factory=dict
    )  # per side: hint, streams, threads, precision, devices, compile times
    ok: bool = True
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def speedup(self) -> float | None:
        return 1 / self.ratio if self.ratio else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["speedup"] = self.speedup
        return d

    def render(self) -> str:
        verdict = "FAILED" if self.failed else ("NOT JUDGED" if self.refused else "ok")
        lines = [f"latency {verdict} ({self.mode}, nearest-rank percentiles, ms)"]
        for role, stats in ((self.subject, self.optimized), ("original", self.original)):
            if stats is not None and not (
                role == "original" and self.subject == "original" and stats is not self.optimized
            ):
                setup = self.setup.get(role, {})
                where = f"{setup.get('device', '')}, {setup.get('precision', '')}, streams {setup.get('streams', '?')}, threads {setup.get('threads', '?')}"
                lines.append(f"  {role:<9} {stats.line()}  [{where}]")
                if role in self.fps:
                    lines.append(f"  {'':<9} throughput {self.fps[role]:,.0f} samples/s")
        if self.ratio is not None and self.ratio_interval is not None:
            lo, hi = self.ratio_interval
            pct = round(self.confidence * 100)
            lines.append(
                f"  ratio optimized/original {self.ratio:.3f} ({pct}% CI [{lo:.3f}, {hi:.3f}], interleaved blocks), "
                f"speedup {1 / self.ratio:.3f} ({pct}% CI [{1 / hi:.3f}, {1 / lo:.3f}])"
            )
        lines += [f"  failed: {f}" for f in self.failed]
        lines += [f"  not judged: {r}" for r in self.refused]
        lines += [f"  note: {n}" for n in self.notes]
        for role in ("optimized", "original"):
            setup = self.setup.get(role)
            if setup and "compile_cold_s" in setup:
                cached = setup.get("compile_cached_s")
                from_cache = f", from cache {cached * 1000:.1f} ms" if cached is not None else ""
                lines.append(
                    f"  {role} compile {setup['compile_cold_s'] * 1000:.1f} ms cold{from_cache}; first inference {setup['first_inference_ms']:.3f} ms"
                )
        return "\n".join(lines)


def judge(budget: LatencyBudget, result: LatencyResult) -> None:
    stats = result.optimized
    for percentile, limit in budget.percentile_budgets():
        need = samples_needed(percentile)
        if stats.count < need:
            result.refused.append(
                f"p{percentile:g} needs at least {need} samples ({TAIL} beyond it), got {stats.count}: raise iterations= or seconds="
            )
            continue
        value = stats.at(percentile)
        if value > limit:
            result.failed.append(
                f"p{percentile:g}_ms={limit:g}: measured {value:.4g} ms ({value / limit:.2f}x the budget)"
            )
    if budget.mean_ms is not None and stats.mean > budget.mean_ms:
        result.failed.append(f"mean_ms={budget.mean_ms:g}: measured {stats.mean:.4g} ms")
    if budget.min_fps is not None and result.fps.get(result.subject, 0.0) < budget.min_fps:
        result.failed.append(
            f"min_fps={budget.min_fps:g}: measured {result.fps.get(result.subject, 0.0):,.0f} samples/s"
        )
    if result.ratio_interval is not None and result.ratio is not None:
        hi = result.ratio_interval[1]
        pct = round(budget.confidence * 100)
        if budget.max_ratio is not None and hi > budget.max_ratio:
            result.failed.append(
                f"max_ratio={budget.max_ratio:g}: the {pct}% upper bound of optimized/original is {hi:.3f} (point {result.ratio:.3f})"
            )
        if budget.min_speedup is not None and 1 / hi < budget.min_speedup:
            result.failed.append(
                f"min_speedup={budget.min_speedup:g}: the {pct}% lower bound of the speedup is {1 / hi:.3f} (point {1 / result.ratio:.3f})"
            )
    for role, s in ((result.subject, result.optimized), ("original", result.original)):
        if s is not None and s.cv > HIGH_CV:
            result.notes.append(
                f"{role} timings are noisy (cv {s.cv:.0%} > {HIGH_CV:.0%}): the machine was busy or the model is very short"
            )
    result.ok = not result.failed and not result.refused
