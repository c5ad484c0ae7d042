"""Latency fidelity: the plugin's median latency against `benchmark_app -hint latency -api sync`.

Same model, device, shape and precision, in one run; for the digits CNN (~20 us) and a MatMul chain of
about 1 ms (12 layers of 1024x1024, batch 1, written to a temporary directory). The plugin's figure is
the median of `latency_check`'s engine (OpenVINO's own per-request timer, inputs bound once, default
warm-up and schedule), taken as the median over --repeat runs. Goal: ratio <= 1.10 (small), <= 1.03 (larger).

    python benchmarks/latency_fidelity.py [--repeat 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from pathlib import Path

import numpy as np
from _common import DIGITS, benchmark_app, compile_model, read


def plugin_median_ms(path: Path, shape: tuple[int, ...], repeat: int) -> float:
    from pytest_edgeqa.latency import Schedule, measure

    model = compile_model(path, hint="LATENCY", batch=shape[0])
    timer = model.timer({model.inputs[0].name: np.ones(shape, np.float32)})
    return statistics.median(float(np.median(measure(timer, Schedule(), 300))) for _ in range(repeat))


def benchmark_app_median_ms(path: Path, shape: tuple[int, ...], seconds: int) -> float:
    out = benchmark_app(
        [
            "-m",
            str(path),
            "-d",
            "CPU",
            "-hint",
            "latency",
            "-api",
            "sync",
            "-shape",
            str(list(shape)).replace(" ", ""),
            "-t",
            str(seconds),
        ]
    )
    unit = 1e-3 if re.search(r"Median:\s+[\d.]+ us", out) else 1.0
    return read(r"Median:\s+([\d.]+) (?:us|ms)", out) * unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    from pytest_edgeqa.synthetic import matmul_chain

    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("digits CNN", DIGITS, (1, 8, 8), 1.10),
            ("MatMul chain 12x1024", matmul_chain(Path(tmp) / "chain.onnx", 12, 1024), (1, 1024), 1.03),
        ]
        print(f"{'model':<22}{'plugin ms':>12}{'benchmark_app ms':>18}{'ratio':>8}{'goal':>8}")
        for name, path, shape, goal in cases:
            ours = plugin_median_ms(path, shape, args.repeat)
            theirs = benchmark_app_median_ms(path, shape, args.seconds)
            print(f"{name:<22}{ours:>12.4f}{theirs:>18.4f}{ours / theirs:>8.3f}{'<= ' + str(goal):>8}")


if __name__ == "__main__":
    main()
