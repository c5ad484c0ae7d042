"""Latency: the timing engine, nearest-rank percentiles, interleaved A/B blocks and their ratio's interval,
and the judging of budgets over rounds of measurement."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .contention import CONTENDED, Contention, threshold
from .errors import EdgeQAError, Unsupported
from .latency_budget import TAIL, LatencyBudget, Schedule, samples_needed


class LatencyFailed(EdgeQAError):
    """A latency budget does not hold: the message is the full report."""


class LatencyNotJudged(Unsupported):
    """The evidence could not decide a latency budget (a contended CPU, an interval across the budget, too
    few samples): the item is skipped with a reason that starts with "NOT JUDGED: "."""


class LatencyWarning(UserWarning):
    """A latency budget that failed under --edge-latency=warn, or timing on a shared CPU."""


# ---------------------------------------------------------------------------------------- statistics


def nearest_rank(sorted_ms: np.ndarray, percentile: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least p% of samples at or below it."""
    rank = max(1, math.ceil(percentile / 100 * len(sorted_ms) - 1e-9))
    return float(sorted_ms[rank - 1])


QUANTILE_LEVELS = [i / 2 for i in range(201)]  # p0 (the minimum) to p100 (the maximum) in steps of 0.5


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
    # The distribution in 201 nearest-rank percentiles (p0, p0.5, ..., p100): an ECDF for the HTML report.
    quantiles: list[float] = field(default_factory=list)

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
            quantiles=[round(nearest_rank(s, p), 6) for p in QUANTILE_LEVELS],
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
    message = "" if state == "pass" else _ratio_message(budget, rounds[:k], own, state, disagree, (ratio, lo, hi))
    return state, message, ratio, (lo, hi)


def _ratio_message(
    budget: LatencyBudget,
    used: list[Round],
    own: list[tuple[float, float, float]],
    state: str,
    disagree: bool,
    pooled: tuple[float, float, float],
) -> str:
    """Why a relative budget failed or was not decided, over the rounds ``used`` (and every round's own
    interval, ``own``)."""
    ratio, lo, hi = pooled
    pct = round(budget.confidence * 100)
    k = len(used)
    after = (
        f" after {k} rounds of interleaved blocks ({sum(r.contention.seconds for r in used):.1f} s)" if k > 1 else ""
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
        return f"{label}: {figure}, wholly {side_name} the budget){after}"
    if disagree:
        quiet = min(used, key=lambda r: r.pressure).contention.describe()
        return (
            f"{label}: {figure}{after}), but the CPU was contended ({quiet}) and the rounds' own intervals "
            f"({each}) do not all agree: under load one round's interval is not trusted alone"
        )
    return f"{label}: {figure}, across the budget){after}: the difference is within what this run can resolve"


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
