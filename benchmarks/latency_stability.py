"""Latency gate stability: how often `max_ratio=1.10` fails an A/A comparison, and whether it catches a
variant made 1.5x slower, each over --runs runs of the gate exactly as latency_check runs it
(interleaved blocks of 10, default warm-up and schedule, paired block-bootstrap interval at 95%,
extra rounds while the interval straddles the budget, NOT JUDGED when it still does), on a quiet CPU
and under a CPU load the benchmark starts and stops itself:

- steady: --burners busy processes (default: as many as this process may use CPUs) for the whole scenario;
- bursty: the same number of processes, each busy for --burst seconds then idle as long, out of phase.

A/A: the digits CNN as both original and optimized. Slower: MatMul chains of 4 and 6 layers
(256 wide, batch 64; the second does 1.5x the work). Per scenario it prints how many runs ended
FAIL, PASS and NOT JUDGED, and the wrong ones: a FAIL of A/A is a false alarm, a PASS of the slower
variant is a miss; NOT JUDGED is neither (the gate declined to decide). Goals: 0 false alarms, 0 misses.

    python benchmarks/latency_stability.py [--runs 20] [--load quiet,steady,bursty] [--burners N] [--burst 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from _common import DIGITS, compile_model

BURNER = """
import sys, time
on, offset, end = float(sys.argv[1]), float(sys.argv[2]), time.time() + float(sys.argv[3])
time.sleep(offset)
while time.time() < end:  # bounded even if the benchmark dies without stopping it
    stop = time.time() + on
    while time.time() < stop:
        pass
    if {bursty}:
        time.sleep(on)
"""


@contextlib.contextmanager
def cpu_load(kind: str, burners: int, burst: float, limit_s: float) -> Iterator[None]:
    """Busy processes for the duration of the block (none for 'quiet'), always stopped at its end."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if kind != "quiet":
            code = BURNER.format(bursty=kind == "bursty")
            for i in range(burners):
                offset = (i % 2) * burst if kind == "bursty" else 0.0  # half of them out of phase
                procs.append(subprocess.Popen([sys.executable, "-c", code, str(burst), str(offset), str(limit_s)]))
            time.sleep(0.2)
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def gate(
    original: object, optimized: object, shape: tuple[int, ...]
) -> tuple[str, float, tuple[float, float], float, int]:
    """One run of the relative gate: (status, ratio, interval, CPU pressure of the quietest round, rounds)."""
    from pytest_edgeqa.latency import latency_rounds, measure_and_judge
    from pytest_edgeqa.latency_budget import LatencyBudget
    from pytest_edgeqa.latency_result import result_of

    budget = LatencyBudget(max_ratio=1.10)
    x = {"x" if shape[-1] == 256 else "image": np.ones(shape, np.float32)}
    schedule = budget.schedule
    next_round = latency_rounds(
        schedule,
        schedule.iterations,
        budget.block,
        optimized.timer(x),  # type: ignore[attr-defined]
        original.timer(x),  # type: ignore[attr-defined]
    )
    rounds, verdict = measure_and_judge(budget, next_round)
    result = result_of(budget, rounds, verdict, mode="enforce")
    assert result.ratio is not None and result.ratio_interval is not None
    return result.status, result.ratio, result.ratio_interval, result.contention.get("pressure") or 0.0, len(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", default="quiet,steady,bursty", help="comma-separated: quiet, steady, bursty")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    parser.add_argument("--burners", type=int, default=cpus, help=f"busy processes under load (default {cpus})")
    parser.add_argument("--burst", type=float, default=0.5, help="bursty: seconds busy, then as many idle")
    args = parser.parse_args()
    loads = [k.strip() for k in args.load.split(",") if k.strip()]
    unknown = set(loads) - {"quiet", "steady", "bursty"}
    if unknown:
        parser.error(f"--load: unknown {', '.join(sorted(unknown))}")
    from pytest_edgeqa.synthetic import matmul_chain

    start = time.perf_counter()
    print(f"max_ratio=1.10, {args.runs} runs per line; load: {args.burners} busy process(es) on {cpus} CPU(s)")
    print(
        f"{'load':<7} {'case':<18} {'FAIL':>4} {'PASS':>4} {'NOT JUDGED':>10} {'wrong':>14}  "
        "ratio median (min-max), widest 95% CI, CPU pressure median (max), rounds max, seconds"
    )
    with tempfile.TemporaryDirectory() as tmp:
        digits = compile_model(DIGITS, batch=1, hint="LATENCY")
        fast = compile_model(matmul_chain(Path(tmp) / "c4.onnx", 4), batch=64, hint="LATENCY")
        slow = compile_model(matmul_chain(Path(tmp) / "c6.onnx", 6), batch=64, hint="LATENCY")
        for load in loads:
            for name, original, optimized, shape, want in (
                ("A/A digits CNN", digits, digits, (1, 8, 8), "pass"),
                ("1.5x slower chain", fast, slow, (64, 256), "fail"),
            ):
                began = time.perf_counter()
                with cpu_load(load, args.burners, args.burst, limit_s=60 * args.runs):
                    outcomes = [gate(original, optimized, shape) for _ in range(args.runs)]
                status = [o[0] for o in outcomes]
                ratios = [o[1] for o in outcomes]
                widest = max(hi - lo for _, _, (lo, hi), _, _ in outcomes)
                pressures = [o[3] for o in outcomes]
                wrong_status = "fail" if want == "pass" else "pass"
                wrong = status.count(wrong_status)
                label = "false FAIL" if want == "pass" else "missed"
                print(
                    f"{load:<7} {name:<18} {status.count('fail'):>4} {status.count('pass'):>4} {status.count('not-judged'):>10} "
                    f"{f'{label} {wrong}/{args.runs}':>14}  {np.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}), "
                    f"{widest:.3f}, {np.median(pressures):.0%} ({max(pressures):.0%}), {max(o[4] for o in outcomes)}, "
                    f"{time.perf_counter() - began:.0f}",
                    flush=True,
                )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
