"""The latency result the user reads: statistics of the round shown, the verdict's status under the
--edge-latency mode, and its rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .contention import CONTENDED, Contention
from .latency import Round, Stats, Verdict, median_interval
from .latency_budget import LatencyBudget

HIGH_CV = 0.10  # coefficient of variation above which a result says the timing was noisy
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
        lines += self._model_lines()
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
            lines += [_round_line(r) for r in self.rounds]
        lines += [f"  failed: {f}" for f in self.failed]
        lines += [f"  not judged: {r}" for r in self.refused]
        if self.status == "fail" and not self.failed:
            lines.append("  --edge-latency=strict: a budget that cannot be judged fails")
        lines += [f"  note: {n}" for n in self.notes]
        for role in ("optimized", "original"):
            setup = self.setup.get(role)
            if setup and "compile_cold_s" in setup:
                lines.append(_compile_line(role, setup))
        return "\n".join(lines)

    def _model_lines(self) -> list[str]:
        """Each model's statistics, where and how it ran, and its throughput."""
        lines = []
        for role, stats in ((self.subject, self.optimized), ("original", self.original)):
            if stats is not None and not (
                role == "original" and self.subject == "original" and stats is not self.optimized
            ):
                setup = self.setup.get(role, {})
                where = f"{setup.get('device', '')}, {setup.get('precision', '')}, streams {setup.get('streams', '?')}, threads {setup.get('threads', '?')}{_shapes_text(setup)}"
                lines.append(f"  {role:<9} {stats.line()}  [{where}]")
                if role in self.fps:
                    lines.append(f"  {'':<9} throughput {self.fps[role]:,.0f} samples/s")
        return lines


def _round_line(r: Mapping[str, Any]) -> str:
    pressure = r["cpu_pressure"]
    cpu = (
        f"CPU pressure {pressure:.0%} ({r['cpu_pressure_source']})" if pressure is not None else "CPU pressure unknown"
    )
    return f"  round {r['round']}: {r['seconds']:.2f} s, n {r['count']}, median {r['p50_ms']:.4g} ms, p90 {r['p90_ms']:.4g} ms, {cpu}"


def _compile_line(role: str, setup: Mapping[str, Any]) -> str:
    cached = setup.get("compile_cached_s")
    from_cache = f", from cache {cached * 1000:.1f} ms" if cached is not None else ""
    return f"  {role} compile {setup['compile_cold_s'] * 1000:.1f} ms cold{from_cache}; first inference {setup['first_inference_ms']:.3f} ms"


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
