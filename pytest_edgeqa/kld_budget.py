"""The ``kld`` marker's budget (mean, percentiles and max of the KL divergence, same-top rate, PPL ratio;
point or confident gate), validated with errors that name the argument, and the judgement of a KLDStats
(kld.py) against it, in words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import MAX_RESAMPLES, number, short
from .errors import ConfigError

TOP_K = 64  # default k of a compact golden

GATES = ("point", "confident")
KLD_BUDGETS = ("mean", "p90", "p95", "p99", "max")  # the most the KLD figure may be
MARKER_KEYS = (*KLD_BUDGETS, "same_top", "ppl_ratio", "gate", "confidence", "block", "top_k", "resamples")


@dataclass(frozen=True)
class KLDBudget:
    mean: float | None = None  # max mean KLD
    p90: float | None = None  # max 90th percentile KLD
    p95: float | None = None
    p99: float | None = None
    max: float | None = None  # max KLD of any token
    same_top: float | None = None  # min same-top-token rate in [0, 1]
    ppl_ratio: float | None = None  # max PPL(Q)/PPL(base), >= 1
    gate: str = "point"  # "confident": the interval's worse end for mean, same_top, ppl_ratio
    confidence: float = 0.95
    block: int = 32
    top_k: int = TOP_K
    resamples: int = 2000


def budget_from_marker(args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str = "kld marker") -> KLDBudget:
    """Validate the marker's keyword arguments (``where`` names their source in errors)."""
    if args:
        raise ConfigError(
            f"{where}: takes keyword arguments only ({', '.join(MARKER_KEYS)}), got {len(args)} positional"
        )
    options = dict(kwargs)
    unknown = sorted(set(options) - set(MARKER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(MARKER_KEYS)})"
        )
    for key in KLD_BUDGETS:
        if options.get(key) is not None:
            why = "(a KL divergence is never negative)"
            options[key] = number(options[key], where, key, low=0, why=why)
    top = options.get("same_top")
    if top is not None:
        ok = isinstance(top, (int, float)) and not isinstance(top, bool) and 0 <= top <= 1
        if not ok:
            raise ConfigError(
                f"{where}: same_top={short(top)}; expected a rate in [0, 1] (0.95: 95% of tokens keep their top choice)"
            )
        options["same_top"] = float(top)
    if options.get("ppl_ratio") is not None:
        why = "(the most PPL(Q)/PPL(base) may be: 1.03 allows 3% higher perplexity)"
        options["ppl_ratio"] = number(options["ppl_ratio"], where, "ppl_ratio", low=1, why=why)
    gate = options.get("gate", "point")
    if not isinstance(gate, str) or gate not in GATES:
        raise ConfigError(f"{where}: gate={short(gate)}; expected 'point' or 'confident'")
    conf = options.get("confidence", 0.95)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise ConfigError(f"{where}: confidence={short(conf)}; expected a number in [0.5, 1)")
    for key, low, high in (("block", 1, 1 << 20), ("top_k", 1, 1 << 20), ("resamples", 100, MAX_RESAMPLES)):
        if key in options:
            options[key] = number(options[key], where, key, integer=True, low=low, high=high)
    judged = [k for k in (*KLD_BUDGETS, "same_top", "ppl_ratio") if options.get(k) is not None]
    if not judged:
        raise ConfigError(
            f"{where}: no budget: give one or more of {', '.join((*KLD_BUDGETS, 'same_top', 'ppl_ratio'))}"
        )
    if gate == "confident" and not {"mean", "same_top", "ppl_ratio"} & set(judged):
        raise ConfigError(
            f"{where}: gate='confident' judges mean, same_top and ppl_ratio by their interval; only "
            f"{', '.join(judged)} given, which are judged at the point"
        )
    return KLDBudget(**options)


def _f(x: float) -> str:
    return f"{x:.4f}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3g}"


def judge(stats: Any, budget: KLDBudget) -> list[str]:
    """Each budget that does not hold (``stats``: a kld.KLDStats), in words: the figure, the budget and by how much. ``confident`` judges
    the interval's worse end for mean KLD (upper), PPL ratio (upper) and same-top (lower)."""
    confident, pct = budget.gate == "confident", round(stats.confidence * 100)
    failed = []

    def most(name: str, point: float, limit: float | None, upper: float | None = None) -> None:
        by_bound = confident and upper is not None
        judged = upper if by_bound else point
        if limit is not None and judged > limit:
            bound = f" ({pct}% upper bound {_f(judged)})" if by_bound else ""
            failed.append(f"{name} {_f(point)}{bound} > budget {limit:g} (by {_f(judged - limit)})")

    most("mean KLD", stats.mean_kld, budget.mean, stats.mean_kld_interval[1])
    for key, label in (("p90", "90th"), ("p95", "95th"), ("p99", "99th")):
        most(f"{label} percentile KLD", stats.kld_percentiles[key], getattr(budget, key))
    most("maximum KLD", stats.kld_max, budget.max)
    ratio = f"PPL(Q)/PPL(base) {stats.ppl_q:.4g}/{stats.ppl_base:.4g} ="
    most(ratio, stats.ppl_ratio, budget.ppl_ratio, stats.ppl_ratio_interval[1])
    if budget.same_top is not None:
        judged = stats.same_top_interval[0] if confident else stats.same_top
        if judged < budget.same_top:
            bound = f" ({pct}% lower bound {100 * judged:.2f}%)" if confident else ""
            failed.append(
                f"same-top rate {100 * stats.same_top:.2f}%{bound} < budget {100 * budget.same_top:g}% "
                f"(by {100 * (budget.same_top - judged):.2f} points)"
            )
    return failed
