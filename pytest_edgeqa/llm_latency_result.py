"""The language-model speed result the user reads: each model's TTFT, TPOT, tokens/s, peak memory and size,
the ratio's interval, the verdict's status under --edge-latency, and its rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .latency_result import LatencyResult, _describe_contention


@dataclass
class LLMLatencyResult:
    subject: str  # the model judged: "optimized", or "original" when the marker has no other
    figures: dict[str, Any]  # role -> Figures
    prompt_tokens: int
    new_tokens: int
    percentile: float
    ratio_of: str = "tpot"
    ratio: float | None = None  # optimized / original of ratio_of (> 1: slower)
    ratio_interval: tuple[float, float] | None = None
    confidence: float = 0.95
    budgets: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    contention: dict[str, Any] = field(default_factory=dict)
    rounds: int = 1
    ok: bool = True
    status: str = "pass"
    optimization: dict[str, Any] | None = None  # the optimized model's recipe build, when one built it

    settle = LatencyResult.settle  # the same statuses under the same --edge-latency modes

    @property
    def speedup(self) -> float | None:
        return 1 / self.ratio if self.ratio else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["speedup"] = self.speedup
        return d

    def not_judged_reason(self) -> str:
        advice = []
        if any("the CPU was contended" in r for r in self.refused):
            advice.append("rerun on a quiet runner (or with fewer pytest-xdist workers)")
        if any("across the budget" in r or "generations" in r for r in self.refused):
            advice.append("give the check more generations (generations=)")
        advice.append("--edge-latency=strict fails instead")
        return f"NOT JUDGED: llm_latency {'; '.join(self.refused)}. To decide: {'; or '.join(advice)}."

    def render(self) -> str:
        verdict = {"pass": "ok", "fail": "FAILED", "warn": "FAILED", "not-judged": "NOT JUDGED"}[self.status]
        if self.status == "pass" and (self.failed or self.refused):
            verdict = "FAILED" if self.failed else "NOT JUDGED"
        p = f"p{self.percentile:g}"
        n = next(iter(self.figures.values())).ttft["n"]
        lines = [
            f"llm_latency {verdict}: {self.prompt_tokens} prompt tokens, {self.new_tokens} new tokens (EOS ignored), "
            f"{n} generations each; nearest-rank {p}, runtime timers (ms)"
        ]
        for role in (self.subject, "original"):
            f = self.figures.get(role)
            if f is None or (role == "original" and self.subject == "original" and lines[1:]):
                continue
            lines.append(f"  {role:<9} {model_line(f, p)}")
        if self.ratio is not None and self.ratio_interval is not None:
            lo, hi = self.ratio_interval
            pct = round(self.confidence * 100)
            lines.append(
                f"  {self.ratio_of.upper()} ratio optimized/original {self.ratio:.3f} ({pct}% CI [{lo:.3f}, {hi:.3f}], "
                f"interleaved generations), speedup {1 / self.ratio:.2f}x"
            )
        if self.contention:
            lines.append(f"  cpu: {_describe_contention(self.contention)}")
        lines += [f"  failed: {f}" for f in self.failed]
        lines += [f"  not judged: {r}" for r in self.refused]
        if self.status == "fail" and not self.failed:
            lines.append("  --edge-latency=strict: a budget that cannot be judged fails")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def model_line(f: Any, p: str) -> str:
    memory = f"peak RSS {f.memory_mb:.0f} MiB" if f.memory_mb is not None else "peak RSS not measured"
    size = f"size {f.size_mb:.1f} MiB" if f.size_mb is not None else ""
    return (
        f"TTFT {p} {f.ttft['at']:.4g} (median {f.ttft['p50']:.4g}, min {f.ttft['min']:.4g}), "
        f"TPOT {p} {f.tpot['at']:.4g} (median {f.tpot['p50']:.4g}, min {f.tpot['min']:.4g}), "
        f"{f.tokens_per_s:.1f} tokens/s; {memory}; {size}  [{f.setup.get('device', '?')}"
        f"{', ' + f.setup['precision'] if f.setup.get('precision') else ''}]"
    )


def judge_footprint(budget: Any, figures: Any, subject: str) -> list[str]:
    """The memory and size budgets on the judged model: single figures, no interval."""
    out = []
    if budget.max_memory_mb is not None and figures.memory_mb is not None and figures.memory_mb > budget.max_memory_mb:
        out.append(
            f"max_memory_mb={budget.max_memory_mb:g}: the {subject} model's peak RSS loading and generating was "
            f"{figures.memory_mb:.1f} MiB ({figures.memory_mb / budget.max_memory_mb:.2f}x the budget; child process)"
        )
    if budget.max_size_mb is not None and figures.size_mb is not None and figures.size_mb > budget.max_size_mb:
        out.append(
            f"max_size_mb={budget.max_size_mb:g}: the {subject} model's files take {figures.size_mb:.1f} MiB on disk "
            f"({figures.size_mb / budget.max_size_mb:.2f}x the budget)"
        )
    return out
