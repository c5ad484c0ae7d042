"""Latency gate stability: how often `max_ratio=1.10` fails an A/A comparison, and whether it catches a
variant made 1.5x slower, each over --runs runs of the gate exactly as latency_check runs it
(interleaved blocks of 10, default warm-up and schedule, paired block-bootstrap interval at 95%).

A/A: the digits CNN as both original and optimized. Slower: MatMul chains of 4 and 6 layers
(256 wide, batch 64; the second does 1.5x the work). Goals: A/A never fails; the slower variant is
always caught.

    python benchmarks/latency_stability.py [--runs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DIGITS, compile_model


def gate(original: object, optimized: object, shape: tuple[int, ...]) -> tuple[bool, float, tuple[float, float]]:
    from pytest_edgeqa.latency import LatencyBudget, LatencyResult, Schedule, Stats, interleave, judge, ratio_interval

    budget = LatencyBudget(max_ratio=1.10)
    x = {"x" if shape[-1] == 256 else "image": np.ones(shape, np.float32)}
    a, b = interleave(original.timer(x), optimized.timer(x), Schedule(), Schedule().iterations, budget.block)  # type: ignore[attr-defined]
    ratio, lo, hi = ratio_interval(a, b, budget.confidence)
    result = LatencyResult(
        mode="latency",
        unit="ms",
        optimized=Stats.of(b.ravel()),
        original=Stats.of(a.ravel()),
        ratio=ratio,
        ratio_interval=(lo, hi),
    )
    judge(budget, result)
    return result.ok, ratio, (lo, hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    from pytest_edgeqa.synthetic import matmul_chain

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        digits = compile_model(DIGITS, batch=1)
        fast = compile_model(matmul_chain(Path(tmp) / "c4.onnx", 4), batch=64)
        slow = compile_model(matmul_chain(Path(tmp) / "c6.onnx", 6), batch=64)
        for name, original, optimized, shape, want_ok in (
            ("A/A digits CNN", digits, digits, (1, 8, 8), True),
            ("1.5x slower chain", fast, slow, (64, 256), False),
        ):
            outcomes = [gate(original, optimized, shape) for _ in range(args.runs)]
            wrong = sum(ok != want_ok for ok, _, _ in outcomes)
            ratios = [r for _, r, _ in outcomes]
            widest = max(hi - lo for _, _, (lo, hi) in outcomes)
            verdict = "failed (false alarms)" if want_ok else "passed (missed)"
            print(
                f"{name:<20} ratio median {np.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}), "
                f"widest 95% CI {widest:.3f}: {verdict} {wrong}/{args.runs}"
            )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
