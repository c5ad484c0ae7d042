"""The llm_latency check in the reports: its key figures, its words in the terminal, its Markdown row, and
its moves between two reports (compare)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def figures(result: Any) -> dict[str, Any]:
    """The judged model's figures (and the original's where it ran) as plain numbers."""
    f = result.figures[result.subject]
    o = result.figures.get("original") if result.subject != "original" else None
    out: dict[str, Any] = {
        "prompt_tokens": result.prompt_tokens,
        "new_tokens": result.new_tokens,
        "generations": f.ttft["n"],
        "percentile": result.percentile,
        "ttft_ms": f.ttft["at"],
        "tpot_ms": f.tpot["at"],
        "tpot_p50_ms": f.tpot["p50"],
        "tpot_p50_low": f.tpot["p50_low"],
        "tpot_p50_high": f.tpot["p50_high"],
        "tokens_per_s": f.tokens_per_s,
        "memory_mb": f.memory_mb,
        "size_mb": f.size_mb,
        "original_ttft_ms": o.ttft["at"] if o else None,
        "original_tpot_ms": o.tpot["at"] if o else None,
        "original_memory_mb": o.memory_mb if o else None,
        "original_size_mb": o.size_mb if o else None,
        "ratio_of": result.ratio_of,
        "speedup": result.speedup,
        "ratio_low": result.ratio_interval[0] if result.ratio_interval else None,
        "ratio_high": result.ratio_interval[1] if result.ratio_interval else None,
        "cpu_pressure": result.contention.get("pressure"),
        "rounds": result.rounds,
        "budgeted": list(result.budgets),
    }
    return out


def _f(value: Any, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


def describe(f: Mapping[str, Any]) -> str:
    p = f"p{f['percentile']:g}"
    text = f"TTFT {p} {_f(f['ttft_ms'])} ms, TPOT {p} {_f(f['tpot_ms'])} ms ({_f(f['tokens_per_s'], '.1f')} tokens/s)"
    if f.get("speedup"):
        text += f", {f['ratio_of'].upper()} speedup {f['speedup']:.2f}x"
    return text + f", peak RSS {_f(f['memory_mb'], '.0f')} MiB, {_f(f['size_mb'], '.1f')} MiB on disk"


def cells(f: Mapping[str, Any]) -> list[str]:
    return [
        _f(f["ttft_ms"]),
        _f(f["tpot_ms"]),
        _f(f["tokens_per_s"], ".1f"),
        f"{f['speedup']:.2f}x ({f['ratio_of'].upper()})" if f.get("speedup") else "-",
        _f(f["memory_mb"], ".0f")
        + (f" (original {f['original_memory_mb']:.0f})" if f.get("original_memory_mb") else ""),
        _f(f["size_mb"], ".1f") + (f" (original {f['original_size_mb']:.1f})" if f.get("original_size_mb") else ""),
    ]


def moved(fb: Mapping[str, Any], fc: Mapping[str, Any], latency: float, memory: float) -> tuple[str, str]:
    """TPOT and peak memory before and now: TPOT regressed when even the intervals' favourable ends (fast
    end now, slow end before) are further apart than ``latency``; memory when it grew by more than ``memory``."""
    parts, why = [], []
    if fb.get("tpot_p50_ms") and fc.get("tpot_p50_ms"):
        ratio = fc["tpot_p50_ms"] / fb["tpot_p50_ms"]
        parts.append(f"TPOT p50 {fb['tpot_p50_ms']:.4g} -> {fc['tpot_p50_ms']:.4g} ms (x{ratio:.3f})")
        least = ratio
        if fb.get("tpot_p50_high") and fc.get("tpot_p50_low"):
            least = fc["tpot_p50_low"] / fb["tpot_p50_high"]
            parts[-1] += f", at least x{least:.3f} between the intervals"
        if least > latency:
            why.append(f"TPOT > x{latency:g}")
    if fb.get("memory_mb") and fc.get("memory_mb"):
        ratio = fc["memory_mb"] / fb["memory_mb"]
        parts.append(f"peak RSS {fb['memory_mb']:.0f} -> {fc['memory_mb']:.0f} MiB (x{ratio:.3f})")
        if ratio > memory:
            why.append(f"peak RSS > x{memory:g}")
    return ", ".join(parts), "; ".join(why)
