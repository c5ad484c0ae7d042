"""Language-model speed and memory budgets: the llm_latency marker's arguments, validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import MAX_ITERATIONS, number
from .errors import ConfigError

BUDGET_KEYS = ("ttft_ms", "tpot_ms", "min_tokens_per_s", "max_ratio", "max_memory_mb", "max_size_mb")
MARKER_KEYS = (
    *BUDGET_KEYS,
    "ratio_of",
    "percentile",
    "prompt_tokens",
    "new_tokens",
    "warmup",
    "generations",
    "block",
    "confidence",
)
MAX_TOKENS = 32768
EXAMPLE = "llm_latency(tpot_ms=50, max_ratio=1.1)"


@dataclass(frozen=True)
class LLMLatencyBudget:
    """What an llm_latency marker asks. ``ttft_ms``, ``tpot_ms`` and ``min_tokens_per_s`` are judged at the
    nearest-rank ``percentile`` of the generations (one TTFT and one TPOT, the mean time of each token after
    the first, per generation; tokens/s is 1000 / TPOT); ``max_ratio`` bounds optimized/original of
    ``ratio_of`` ("tpot" or "ttft") by its block-bootstrap interval; memory and size are single figures."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    min_tokens_per_s: float | None = None
    max_ratio: float | None = None
    max_memory_mb: float | None = None
    max_size_mb: float | None = None
    ratio_of: str = "tpot"
    percentile: float = 50.0
    prompt_tokens: int = 128
    new_tokens: int = 64
    warmup: int = 1
    generations: int = 10
    block: int = 1
    confidence: float = 0.95

    @property
    def relative(self) -> bool:
        return self.max_ratio is not None

    def budgets(self) -> dict[str, float]:
        """What was budgeted, by marker key."""
        return {k: getattr(self, k) for k in BUDGET_KEYS if getattr(self, k) is not None}


def budget_from_marker(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str = "llm_latency marker"
) -> LLMLatencyBudget:
    """Validate the marker's arguments (``where`` names their source in errors): numbers finite and in range,
    at least one budget, new_tokens at least 2 (TPOT is the time of the tokens after the first)."""
    if args:
        raise ConfigError(f"{where}: takes keyword arguments only, e.g. {EXAMPLE}")
    unknown = sorted(set(kwargs) - set(MARKER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(MARKER_KEYS)})"
        )
    values: dict[str, Any] = {}
    for key in BUDGET_KEYS:
        if kwargs.get(key) is not None:
            values[key] = number(kwargs[key], where, key, low=0, low_open=True)
    if not values:
        raise ConfigError(f"{where}: no budget: give one of {', '.join(BUDGET_KEYS)}, e.g. {EXAMPLE}")
    for key, low, high in (
        ("prompt_tokens", 1, MAX_TOKENS),
        ("new_tokens", 2, MAX_TOKENS),
        ("warmup", 0, MAX_ITERATIONS),
        ("generations", 1, MAX_ITERATIONS),
        ("block", 1, MAX_ITERATIONS),
    ):
        if kwargs.get(key) is not None:
            why = "(TPOT is the time of the tokens after the first)" if key == "new_tokens" else ""
            values[key] = number(kwargs[key], where, key, integer=True, low=low, high=high, why=why)
    if kwargs.get("percentile") is not None:
        values["percentile"] = number(kwargs["percentile"], where, "percentile", low=0, low_open=True, high=99.9)
    conf = kwargs.get("confidence", 0.95)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise ConfigError(f"{where}: confidence={conf!r}; expected a number in [0.5, 1)")
    values["confidence"] = float(conf)
    ratio_of = kwargs.get("ratio_of", "tpot")
    if ratio_of not in ("tpot", "ttft"):
        raise ConfigError(f"{where}: ratio_of={ratio_of!r}; expected 'tpot' or 'ttft' (what max_ratio compares)")
    return LLMLatencyBudget(**values, ratio_of=ratio_of)
