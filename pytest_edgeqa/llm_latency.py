"""Language-model speed: generations of a fixed prompt and length timed by the runtime's own timers, the
original and the optimized model interleaved in blocks, judged by the latency gate's own rules (nearest-rank
percentiles, the TAIL refusal rule, the block-bootstrap ratio interval, contention, extra rounds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .contention import Contention, Window
from .errors import ConfigError
from .latency import EXTRA_ROUNDS, Round, Verdict, assess
from .latency_budget import LatencyBudget
from .llm_latency_budget import LLMLatencyBudget

# The default prompt: plain prose, repeated or cut to the budget's prompt_tokens. Its content barely
# matters to speed (every token costs the same), but a fixed text makes runs comparable.
DEFAULT_PROMPT = (
    "The lighthouse keeper climbed the spiral stairs each evening, wound the clockwork that turned the lens, "
    "and wrote in the log the state of the sea, the wind and the ships that passed. In winter the storms came "
    "from the north and the spray reached the gallery; in summer the fog rolled in at dawn and the horn sounded "
    "every thirty seconds until noon. "
)


def prompt_ids(model: Any, text: str | None, tokens: int, where: str) -> np.ndarray:
    """Exactly ``tokens`` token ids: ``text`` (the default prompt when None) tokenized, repeated or cut."""
    if text is None:
        text = DEFAULT_PROMPT
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: prompt={text!r}; expected a non-empty text (repeated or cut to prompt_tokens)")
    ids = model.encode(text)
    if len(ids) == 0:
        raise ConfigError(f"{where}: prompt={text[:40]!r} tokenizes to no tokens; give a text with words in it")
    return np.resize(ids, tokens)


@dataclass
class LLMRound:
    """One round: each model's generations in the order run, block by block, and the CPU contention."""

    runs: dict[str, list[Any]]  # role -> Generation, in order
    contention: Contention
    block: int = 1

    def series(self, role: str, what: str) -> np.ndarray:
        return np.asarray([getattr(g, f"{what}_ms") for g in self.runs[role]], dtype=np.float64)

    def view(self, what: str, subject: str) -> Round:
        """The latency engine's Round of one figure ("ttft" or "tpot") per generation."""
        s = self.series(subject, what)
        if "original" not in self.runs or subject == "original":
            return Round(s, self.contention)
        a = self.series("original", what)
        n = min(len(a), len(s)) // self.block
        return Round(s, self.contention, a, a[: n * self.block].reshape(n, -1), s[: n * self.block].reshape(n, -1))


def llm_rounds(
    budget: LLMLatencyBudget, timers: dict[str, Callable[[], Any]], *, after: Callable[[], None] | None = None
) -> Callable[[], LLMRound]:
    """Rounds of ``budget.generations`` generations per model, in alternating blocks of ``budget.block`` when
    there are two (original first, then optimized first, ...), after ``budget.warmup`` of each (first round only)."""
    done = 0
    roles = list(timers)

    def next_round() -> LLMRound:
        nonlocal done
        if done == 0:
            for role in roles:
                for _ in range(budget.warmup):
                    timers[role]()
        done += 1
        runs: dict[str, list[Any]] = {role: [] for role in roles}
        with Window() as window:
            step = 0
            while len(runs[roles[0]]) < budget.generations:
                for role in roles if step % 2 == 0 else reversed(roles):
                    runs[role].extend(timers[role]() for _ in range(budget.block))
                step += 1
        return LLMRound(runs, window.contention, budget.block)

    return next_round


def _views(budget: LLMLatencyBudget) -> list[tuple[str, str, LatencyBudget, dict[str, str]]]:
    """The budgets as the latency engine judges them: (what, label, its LatencyBudget, how its messages read)."""
    p = budget.percentile
    base = {"block": budget.block, "confidence": budget.confidence}
    out = []
    limits = [("ttft", "ttft_ms", budget.ttft_ms), ("tpot", "tpot_ms", budget.tpot_ms)]
    if budget.min_tokens_per_s is not None:
        limits.append(("tpot", "min_tokens_per_s", 1000 / budget.min_tokens_per_s))
    for what, key, limit in limits:
        if limit is None:
            continue
        name = f"{key}={getattr(budget, key):g}"
        if key == "min_tokens_per_s":
            name += f" (p{p:g} TPOT <= {limit:.4g} ms)"
        else:
            name += f" (p{p:g})"
        words = {
            f"p{p:g}_ms={limit:g}": name,
            f"p{p:g} needs at least": f"{name} needs at least",
            "samples": "generations",
            "raise iterations= or seconds=": "raise generations=",
        }
        out.append((what, key, LatencyBudget(percentiles=((p, limit),), **base), words))
    if budget.max_ratio is not None:
        words = {"optimized/original is": f"optimized/original {budget.ratio_of.upper()} is"}
        out.append((budget.ratio_of, "max_ratio", LatencyBudget(max_ratio=budget.max_ratio, **base), words))
    return out


def _reworded(text: str, words: dict[str, str]) -> str:
    for old, new in words.items():
        text = text.replace(old, new)
    return text


def measure_and_judge(
    budget: LLMLatencyBudget, next_round: Callable[[], LLMRound], subject: str
) -> tuple[list[LLMRound], Verdict]:
    """Measure a round and judge every timing budget on it; while one is undecided and none failed,
    measure another round, up to EXTRA_ROUNDS more (as the latency gate does)."""
    views = _views(budget)
    rounds = [next_round()]
    while True:
        merged = Verdict()
        for what, _key, lb, words in views:
            v = assess(lb, [r.view(what, subject) for r in rounds], subject)
            merged.failed += [_reworded(m, words) for m in v.failed]
            merged.open += [_reworded(m, words) for m in v.open]
            merged.refused += [_reworded(m, words) for m in v.refused]
            merged.contended = merged.contended or v.contended
            if lb.max_ratio is not None:
                merged.ratio, merged.interval = v.ratio, v.interval
        if not views or not merged.open or merged.failed or len(rounds) > EXTRA_ROUNDS:
            return rounds, merged
        rounds.append(next_round())


def size_mb(files: list[Any]) -> float:
    """Size on disk of ``files`` (MiB)."""
    return sum(f.stat().st_size for f in files) / 2**20


@dataclass
class Figures:
    """One model's figures: nearest-rank statistics of TTFT and TPOT over the generations shown, decode
    tokens/s (1000 / TPOT at the judged percentile), peak memory and size on disk."""

    ttft: dict[str, float]
    tpot: dict[str, float]
    tokens_per_s: float
    memory_mb: float | None = None  # peak resident set of loading and generating (VmHWM of a child)
    maxrss_mb: float | None = None  # the child's ru_maxrss, for reference (see peak_memory)
    size_mb: float | None = None
    setup: dict[str, Any] = field(default_factory=dict)


def stats(ms: np.ndarray, percentile: float, confidence: float = 0.95) -> dict[str, float]:
    """Nearest-rank statistics of one figure over the generations, the median's block-bootstrap interval
    (blocks of one generation: each is already the mean of many tokens) and the judged percentile ("at")."""
    from .latency import Stats, median_interval

    s = Stats.of(ms, [percentile])
    lo, hi = median_interval(ms, 1, confidence)
    return {
        "n": s.count, "min": s.min, "mean": s.mean, "p50": s.median, "p90": s.p90, "at": s.at(percentile), "cv": s.cv,
        "p50_low": lo, "p50_high": hi,
    }  # fmt: skip
