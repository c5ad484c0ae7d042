"""Accuracy-evaluation throughput against benchmark_app's throughput mode, same model, batch and device.

Prints samples/s of pytest-edgeqa's evaluation loop (the code behind accuracy_check: data already in
memory, inputs checked and batched, the model reshaped to a static batch, asynchronous requests in
round robin with the THROUGHPUT hint, outputs copied out) next to `benchmark_app -hint throughput` FPS, and their ratio. Goal: ratio >= 0.7.

    python benchmarks/accuracy_throughput.py [--batch 64] [--repeat 5] [--device CPU]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import DIGITS as MODEL
from _common import ROOT, benchmark_app, read


def plugin_samples_per_s(batch: int, device: str, repeat: int, rows: int) -> tuple[float, float]:
    from pytest_edgeqa import data
    from pytest_edgeqa.accuracy import outputs_of
    from pytest_edgeqa.devices import parse_device
    from pytest_edgeqa.models import ModelStore
    from pytest_edgeqa.types import CompileConfig

    store = ModelStore()
    model = store.compile(
        store.model(MODEL, ROOT, "benchmark"), parse_device(device), CompileConfig(hint="THROUGHPUT", batch=batch)
    )
    images = data.columns(data.load(ROOT / "suites" / "data" / "digits", split="test"), ["image"])["image"]
    inputs = {"image": np.resize(images, (rows, 8, 8)).astype(np.float32)}  # the 450 test images, tiled
    outputs_of(model, inputs, batch, None, "warm-up")
    rates = []
    for _ in range(repeat):
        _, timing = outputs_of(model, inputs, batch, None, "benchmark")
        rates.append(timing["samples_per_s"])
    return statistics.median(rates), max(rates)


def benchmark_app_fps(batch: int, device: str, seconds: int) -> float:
    args = ["-m", str(MODEL), "-d", device, "-hint", "throughput", "-api", "async", "-shape", f"[{batch},8,8]"]
    # With the layout given, benchmark_app knows the batch and counts every sample: FPS is samples/s.
    # (Without it, it counts one frame per inference and under-reports a batched model by the batch.)
    return read(r"Throughput:\s+([\d.]+) FPS", benchmark_app([*args, "-layout", "image[NHW]", "-t", str(seconds)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    start = time.perf_counter()
    ours, best = plugin_samples_per_s(args.batch, args.device, args.repeat, args.rows)
    theirs = benchmark_app_fps(args.batch, args.device, args.seconds)
    print(f"model            {MODEL.relative_to(ROOT)}  batch {args.batch}  device {args.device}")
    print(
        f"pytest-edgeqa    {ours:12,.0f} samples/s  (median of {args.repeat} evaluations of {args.rows} samples; best {best:,.0f})"
    )
    print(f"benchmark_app    {theirs:12,.0f} samples/s  (-hint throughput -api async, {args.seconds} s)")
    print(f"ratio            {ours / theirs:12.2f}  (goal >= 0.70)")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
