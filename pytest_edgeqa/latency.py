"""Latency: the timing engine, nearest-rank percentiles, interleaved A/B blocks and their ratio's interval."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .config import MAX_BATCH, MAX_ITERATIONS, MAX_SECONDS, number
from .contention import CONTENDED, Contention, threshold
from .errors import ConfigError, EdgeQAError, Unsupported

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


class LatencyNotJudged(Unsupported):
    """The evidence could not decide a latency budget (a contended CPU, an interval across the budget, too
    few samples): the item is skipped with a reason that starts with "NOT JUDGED: "."""


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
    pcts = kwargs.get("percentiles") or {}
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


def median_interval(
    ms: np.ndarray, block: int, confidence: float, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Interval of the median by a block bootstrap: runs of ``block`` consecutive samples are resampled
    whole, so a drift within the run widens the interval as it should."""
    ms = np.asarray(ms, dtype=np.float64).ravel()
    n = len(ms) // block
    blocks = ms[: n * block].reshape(n, block) if n >= 2 else ms.reshape(-1, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(blocks), (resamples, len(blocks)))
    medians = np.median(blocks[idx].reshape(resamples, -1), axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(medians, alpha)), float(np.quantile(medians, 1 - alpha))


# ------------------------------------------------------------------------------------ rounds and judging

# When the first round cannot decide (a breach under contention, an interval across the budget), up to
# this many more rounds of the same schedule are measured: at most 4x the schedule's time, which keeps a
# contended check within seconds of its quiet cost and gives a burst of load room to pass.
EXTRA_ROUNDS = 3


@dataclass
class Round:
    """One run of the schedule: the judged model's samples, the original's, the paired blocks the ratio
    is computed from, throughput figures, and the CPU contention during exactly this window."""

    subject: np.ndarray  # ms per inference of the model judged
    contention: Contention
    original: np.ndarray | None = None
    a_blocks: np.ndarray | None = None  # original, per block (rows pair with b_blocks)
    b_blocks: np.ndarray | None = None  # optimized, per block
    fps: dict[str, float] = field(default_factory=dict)

    @property
    def pressure(self) -> float:
        return self.contention.pressure or 0.0

    def summary(self, number: int, subject: str) -> dict[str, Any]:
        s = np.sort(np.asarray(self.subject, dtype=np.float64))
        out: dict[str, Any] = {
            "round": number,
            "seconds": round(self.contention.seconds, 3),
            "count": len(s),
            "p50_ms": nearest_rank(s, 50),
            "p90_ms": nearest_rank(s, 90),
            "cpu_pressure": self.contention.pressure,
            "cpu_pressure_source": self.contention.source,
        }
        if subject in self.fps:
            out["fps"] = self.fps[subject]
        return out


@dataclass
class Verdict:
    """What the rounds decided: budgets that fail, budgets the evidence could not decide (``open``),
    and budgets that could not be judged at all (``refused``: too few samples)."""

    failed: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    ratio: float | None = None
    interval: tuple[float, float] | None = None
    contended: bool = False  # an open budget is open because the CPU was contended


def _floor(kind: str, s: np.ndarray, percentile: float | None, contention: Contention) -> tuple[float, str]:
    """The least the statistic can truly be, given the contention of its round. Contention only ever
    slows a run down, and in two ways: a sample much shorter than a scheduler slice is either untouched
    or held up whole, and at most the pressure's share of samples can be (so the true p-th percentile is
    at least the measured (p - 100q)-th); a longer sample is stretched by the time its threads waited,
    at most the ``stretch`` share of it (this process's own wait share from schedstat, else the pressure).
    Both discounts at once: conservative, so a breach that survives them is the model's."""
    q = contention.pressure or 0.0
    keep = 1 - contention.stretch
    if kind == "percentile":
        lower = max(0.0, float(percentile) - 100 * q)  # type: ignore[arg-type]
        return nearest_rank(s, lower) * keep, f"p{lower:.3g} x {keep:.2f}"
    k = max(1, int(len(s) * (1 - q)))
    return float(s[:k].mean()) * keep, f"mean of the fastest {1 - q:.0%} x {keep:.2f}"


def _discounted(
    kind: str, s: np.ndarray, percentile: float | None, value: float, contention: Contention
) -> tuple[float | None, str]:
    """The round's figure with the contention discounted (None: nothing can be said), and how."""
    if kind == "fps":  # others took a share q of the CPUs: without them, at most value / (1 - q)
        q = contention.pressure or 0.0
        return (value / (1 - q), f"{value:,.0f} / {1 - q:.2f}") if q < 1 else (None, "")
    return _floor(kind, s, percentile, contention)


def _judge_absolute(
    label: str, kind: str, percentile: float | None, limit: float, rounds: list[Round], subject: str
) -> tuple[str, str]:
    """One absolute budget over the rounds in order: the first round that decides it decides it.
    A round within the budget passes it (contention never makes a model faster); a breach fails it when
    the round was quiet (or how quiet is unknown) or when it survives the contention discount."""
    thr = threshold(percentile) if kind == "percentile" else threshold()

    def figures(rnd: Round) -> tuple[np.ndarray, float, bool]:
        s = np.sort(np.asarray(rnd.subject, dtype=np.float64))
        if kind == "fps":
            value = rnd.fps.get(subject, 0.0)
            return s, value, value < limit
        value = nearest_rank(s, percentile) if kind == "percentile" else float(s.mean())  # type: ignore[arg-type]
        return s, value, value > limit

    def show(value: float) -> str:
        return f"{value:,.0f} samples/s" if kind == "fps" else f"{value:.4g} ms"

    for i, rnd in enumerate(rounds):
        s, value, breach = figures(rnd)
        if not breach:
            return "pass", ""
        q = rnd.contention.pressure
        times = f" ({value / limit:.2f}x the budget)" if kind == "percentile" else ""
        where = f" in round {i + 1}" if i else ""
        if q is None or q <= thr:
            return "fail", f"{label}: measured {show(value)}{times}{where}" + (
                f" ({rnd.contention.describe()})" if i else ""
            )
        floor, how = _discounted(kind, s, percentile, value, rnd.contention)
        if floor is not None and (floor < limit if kind == "fps" else floor > limit):
            return "fail", (
                f"{label}: measured {show(value)}{times}{where}; the CPU was contended ({rnd.contention.describe()}), "
                f"but even discounted for it ({how} = {show(floor)}) the budget does not hold"
            )
    # Undecided: describe the quietest round, the best evidence there was.
    rnd = min(rounds, key=lambda r: r.pressure)
    s, value, _ = figures(rnd)
    floor, how = _discounted(kind, s, percentile, value, rnd.contention)
    discount = f"; discounted for it ({how} = {show(floor)}) it would hold" if floor is not None else ""
    total = sum(r.contention.seconds for r in rounds)
    n = len(rounds)
    return "open", (
        f"{label}: measured {show(value)} while the CPU was contended ({rnd.contention.describe()}; above {thr:.0%} "
        f"a breach may be the machine's){discount}; {n} round{'s' if n > 1 else ''} over {total:.1f} s found no quieter window"
    )


def _judge_relative(budget: LatencyBudget, rounds: list[Round]) -> tuple[str, str, float, tuple[float, float]]:
    """The ratio optimized/original over the pooled blocks of the first rounds that decide it: the whole
    interval within the budget passes, the whole interval (and the point) beyond it fails; an interval
    across the budget is undecided.

    On a contended CPU one round's interval is not trusted alone: its blocks share that round's load
    pattern, and a burst that hits the longer model's samples harder moves the ratio further than the
    interval says (seen: a 1.05x model reading 0.92 [0.88, 0.95] under load). There a verdict needs at
    least two rounds, each round's own interval and the pooled one on the same side of the budget."""
    limit = budget.max_ratio if budget.max_ratio is not None else 1 / budget.min_speedup  # type: ignore[operator]
    pct = round(budget.confidence * 100)

    def side(ratio: float, lo: float, hi: float) -> str:
        return "pass" if hi <= limit else "fail" if lo > limit and ratio > limit else "open"

    own = [ratio_interval(r.a_blocks, r.b_blocks, budget.confidence) for r in rounds]  # type: ignore[arg-type]
    state, contended, disagree = "open", False, False
    for k in range(1, len(rounds) + 1):
        a = np.concatenate([r.a_blocks for r in rounds[:k] if r.a_blocks is not None])
        b = np.concatenate([r.b_blocks for r in rounds[:k] if r.b_blocks is not None])
        ratio, lo, hi = ratio_interval(a, b, budget.confidence)
        state = side(ratio, lo, hi)
        contended = contended or (rounds[k - 1].contention.pressure or 0.0) > CONTENDED
        if contended and state != "open":
            disagree = k < 2 or any(side(*o) != state for o in own[:k])
            if disagree:
                state = "open"
        if state != "open":
            break
    after = (
        f" after {k} rounds of interleaved blocks ({sum(r.contention.seconds for r in rounds[:k]):.1f} s)"
        if k > 1
        else ""
    )
    if budget.max_ratio is not None:
        figure = f"optimized/original is {ratio:.3f} ({pct}% CI [{lo:.3f}, {hi:.3f}]"
        label, side_name = f"max_ratio={budget.max_ratio:g}", "above"
        each = ", ".join(f"[{o[1]:.3f}, {o[2]:.3f}]" for o in own)
    else:
        figure = f"speedup {1 / ratio:.2f}x ({pct}% CI [{1 / hi:.2f}x, {1 / lo:.2f}x]"
        label, side_name = f"min_speedup={budget.min_speedup:g}", "below"
        each = ", ".join(f"[{1 / o[2]:.2f}x, {1 / o[1]:.2f}x]" for o in own)
    if state == "fail":
        return state, f"{label}: {figure}, wholly {side_name} the budget){after}", ratio, (lo, hi)
    if state == "pass":
        return state, "", ratio, (lo, hi)
    if disagree:
        quiet = min(rounds, key=lambda r: r.pressure).contention.describe()
        return (
            state,
            (
                f"{label}: {figure}{after}), but the CPU was contended ({quiet}) and the rounds' own intervals "
                f"({each}) do not all agree: under load one round's interval is not trusted alone"
            ),
            ratio,
            (lo, hi),
        )
    return (
        state,
        (f"{label}: {figure}, across the budget){after}: the difference is within what this run can resolve"),
        ratio,
        (lo, hi),
    )


def assess(budget: LatencyBudget, rounds: list[Round], subject: str = "optimized") -> Verdict:
    """Judge every budget on the rounds measured so far (pure: no timing, no pytest)."""
    verdict = Verdict()
    first = np.asarray(rounds[0].subject)
    checks: list[tuple[str, str, float | None, float]] = []
    for percentile, limit in budget.percentile_budgets():
        need = samples_needed(percentile)
        if len(first) < need:
            verdict.refused.append(
                f"p{percentile:g} needs at least {need} samples ({TAIL} beyond it), got {len(first)}: raise iterations= or seconds="
            )
            continue
        checks.append((f"p{percentile:g}_ms={limit:g}", "percentile", percentile, limit))
    if budget.mean_ms is not None:
        checks.append((f"mean_ms={budget.mean_ms:g}", "mean", None, budget.mean_ms))
    if budget.min_fps is not None:
        checks.append((f"min_fps={budget.min_fps:g}", "fps", None, budget.min_fps))
    for label, kind, at, limit in checks:
        state, message = _judge_absolute(label, kind, at, limit, rounds, subject)
        if state == "fail":
            verdict.failed.append(message)
        elif state == "open":
            verdict.open.append(message)
            verdict.contended = True
    if budget.relative and rounds[0].a_blocks is not None:
        state, message, verdict.ratio, verdict.interval = _judge_relative(budget, rounds)
        if state == "fail":
            verdict.failed.append(message)
        elif state == "open":
            verdict.open.append(message)
    return verdict


def latency_rounds(
    schedule: Schedule, iterations: int, block: int, subject: Timer, original: Timer | None = None
) -> Callable[[], Round]:
    """Rounds of the schedule for one model, or for the original and the subject interleaved in blocks;
    warm-up before the first round only, and the CPU contention of each round around exactly it."""
    from dataclasses import replace

    from .contention import Window

    done = 0

    def next_round() -> Round:
        nonlocal done
        sched = schedule if done == 0 else replace(schedule, warmup_iters=0, warmup_s=0.0)
        done += 1
        with Window() as window:
            if original is None:
                samples = measure(subject, sched, iterations)
            else:
                a_blocks, b_blocks = interleave(original, subject, sched, iterations, block)
        if original is None:
            return Round(samples, window.contention)
        return Round(b_blocks.ravel(), window.contention, a_blocks.ravel(), a_blocks, b_blocks)

    return next_round


def measure_and_judge(
    budget: LatencyBudget, next_round: Callable[[], Round], subject: str = "optimized", extra_rounds: int = EXTRA_ROUNDS
) -> tuple[list[Round], Verdict]:
    """Measure a round, judge; while a budget is undecided (and nothing has failed outright), measure
    another round, up to ``extra_rounds`` more."""
    rounds = [next_round()]
    while True:
        verdict = assess(budget, rounds, subject)
        if not verdict.open or verdict.failed or len(rounds) > extra_rounds:
            return rounds, verdict
        rounds.append(next_round())


# ---------------------------------------------------------------------------------------------- result

MODES = ("enforce", "strict", "warn", "off")
STATUSES = ("pass", "fail", "warn", "not-judged")


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
    refused: list[str] = field(default_factory=list)  # not judged: the evidence could not decide
    notes: list[str] = field(default_factory=list)
    status: str = "pass"  # "pass" | "fail" | "warn" | "not-judged": set by ``settle`` from the --edge-latency mode
    contention: dict[str, Any] = field(default_factory=dict)  # of the round whose statistics are shown
    rounds: list[dict[str, Any]] = field(default_factory=list)
    budgets: dict[str, float] = field(default_factory=dict)  # what was budgeted: {"p99_ms": 5.0, "max_ratio": 1.1}
    median_interval: tuple[float, float] | None = None  # of the judged model's p50, block bootstrap

    @property
    def speedup(self) -> float | None:
        return 1 / self.ratio if self.ratio else None

    @property
    def contended(self) -> bool:
        pressure = self.contention.get("pressure")
        return pressure is not None and pressure > CONTENDED

    def settle(self, mode: str) -> str:
        """The one status under an --edge-latency mode: a failed budget fails (warns under ``warn``); a
        budget that could not be judged is not judged (fails under ``strict``)."""
        self.ok = not self.failed and not self.refused
        if self.failed:
            self.status = "warn" if mode == "warn" else "fail"
        elif self.refused:
            self.status = "fail" if mode == "strict" else "not-judged"
        else:
            self.status = "pass"
        return self.status

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["speedup"] = self.speedup
        return d

    def not_judged_reason(self) -> str:
        """The one paragraph a NOT JUDGED skip shows: why, the figures, and what to do."""
        contended = any("the CPU was contended" in r for r in self.refused)
        advice = []
        if contended:
            advice.append("rerun on a quiet runner (or with fewer pytest-xdist workers)")
        if any("across the budget" in r for r in self.refused):
            advice.append("give the check more time (seconds=) for a narrower interval")
        advice.append("--edge-latency=strict fails instead")
        return f"NOT JUDGED: latency {'; '.join(self.refused)}. To decide: {'; or '.join(advice)}."

    def render(self) -> str:
        verdict = {"pass": "ok", "fail": "FAILED", "warn": "FAILED", "not-judged": "NOT JUDGED"}[self.status]
        if self.status == "pass" and (self.failed or self.refused):  # not settled yet
            verdict = "FAILED" if self.failed else "NOT JUDGED"
        lines = [f"latency {verdict} ({self.mode}, nearest-rank percentiles, ms)"]
        for role, stats in ((self.subject, self.optimized), ("original", self.original)):
            if stats is not None and not (
                role == "original" and self.subject == "original" and stats is not self.optimized
            ):
                setup = self.setup.get(role, {})
                where = f"{setup.get('device', '')}, {setup.get('precision', '')}, streams {setup.get('streams', '?')}, threads {setup.get('threads', '?')}{_shapes_text(setup)}"
                lines.append(f"  {role:<9} {stats.line()}  [{where}]")
                if role in self.fps:
                    lines.append(f"  {'':<9} throughput {self.fps[role]:,.0f} samples/s")
        if self.ratio is not None and self.ratio_interval is not None:
            lo, hi = self.ratio_interval
            pct = round(self.confidence * 100)
            lines.append(
                f"  ratio optimized/original {self.ratio:.3f} ({pct}% CI [{lo:.3f}, {hi:.3f}], interleaved blocks), "
                f"speedup {1 / self.ratio:.2f}x ({pct}% CI [{1 / hi:.2f}x, {1 / lo:.2f}x])"
            )
        if self.contention:
            lines.append(f"  cpu: {_describe_contention(self.contention)}")
        if len(self.rounds) > 1:
            for r in self.rounds:
                pressure = r["cpu_pressure"]
                cpu = (
                    f"CPU pressure {pressure:.0%} ({r['cpu_pressure_source']})"
                    if pressure is not None
                    else "CPU pressure unknown"
                )
                lines.append(
                    f"  round {r['round']}: {r['seconds']:.2f} s, n {r['count']}, median {r['p50_ms']:.4g} ms, p90 {r['p90_ms']:.4g} ms, {cpu}"
                )
        lines += [f"  failed: {f}" for f in self.failed]
        lines += [f"  not judged: {r}" for r in self.refused]
        if self.status == "fail" and not self.failed:
            lines.append("  --edge-latency=strict: a budget that cannot be judged fails")
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


def _shapes_text(setup: Mapping[str, Any]) -> str:
    """', x[1,3,64,64] compiled static' (dims fixed to the shapes fed, as benchmark_app -shape does) or
    '... dynamic' (the runtime runs the model's dynamic dims as they come)."""
    shapes = setup.get("shapes")
    if not shapes:
        return ""
    text = " ".join(f"{name}[{','.join(map(str, shape))}]" for name, shape in shapes.items())
    return f", {text} {'static' if setup.get('static_shapes') else 'dynamic'}"


def _describe_contention(d: Mapping[str, Any]) -> str:
    return Contention(
        d.get("pressure"),
        str(d.get("source", "unavailable")),
        float(d.get("seconds") or 0.0),
        own_wait=d.get("own_wait"),
    ).describe()


def budget_keys(budget: LatencyBudget) -> dict[str, float]:
    """What was budgeted, by marker key (a ``percentiles`` entry as ``p99.9_ms``)."""
    out = {f"p{p:g}_ms": limit for p, limit in budget.percentile_budgets()}
    for key in ("mean_ms", "max_ratio", "min_speedup", "min_fps"):
        if getattr(budget, key) is not None:
            out[key] = getattr(budget, key)
    return out


def result_of(
    budget: LatencyBudget,
    rounds: list[Round],
    verdict: Verdict,
    *,
    mode: str,
    subject: str = "optimized",
    setup: Mapping[str, Any] | None = None,
    hint: str | None = None,
) -> LatencyResult:
    """The result the user reads: the statistics of the least contended round (the first when none
    was), the ratio that decided, every round's figures when there was more than one, and its status
    under the --edge-latency ``mode``."""
    shown = min(range(len(rounds)), key=lambda i: rounds[i].pressure)
    rnd = rounds[shown]
    extra = [p for p, _ in budget.percentile_budgets() if p not in (50.0, 90.0, 95.0, 99.0)]
    stats = Stats.of(rnd.subject, extra)
    original = Stats.of(rnd.original, extra) if rnd.original is not None else None
    result = LatencyResult(
        mode=(hint or budget.hint).lower(),
        unit="ms",
        optimized=stats,
        subject=subject,
        original=original,
        ratio=verdict.ratio,
        ratio_interval=verdict.interval,
        confidence=budget.confidence,
        fps=dict(rnd.fps),
        setup=dict(setup or {}),
        failed=list(verdict.failed),
        refused=[*verdict.refused, *verdict.open],
        contention=rnd.contention.to_dict(),
        rounds=[r.summary(i + 1, subject) for i, r in enumerate(rounds)] if len(rounds) > 1 else [],
        budgets=budget_keys(budget),
        median_interval=median_interval(rnd.subject, budget.block, budget.confidence),
    )
    if rnd.contention.pressure is None:
        result.notes.append("CPU contention unknown here: a breach is judged as measured")
    elif rnd.contention.pressure > CONTENDED and not verdict.contended:
        result.notes.append(f"measured on a contended CPU ({rnd.contention.describe()}): the verdict held despite it")
    for role, s in ((subject, stats), ("original", original)):
        if s is not None and s.cv > HIGH_CV:
            result.notes.append(
                f"{role} timings are noisy (cv {s.cv:.0%} > {HIGH_CV:.0%}): the machine was busy or the model is very short"
            )
    result.settle(mode)
    return result
