"""What the benchmarks share: compiling models the way the plugin does, and running benchmark_app."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "suites" / "models" / "digits_cnn.onnx"


def compile_model(path: Path, device: str = "CPU", **config: Any) -> Any:
    from pytest_edgeqa.devices import parse_device
    from pytest_edgeqa.models import ModelStore
    from pytest_edgeqa.types import CompileConfig

    store = ModelStore()
    return store.compile(store.model(path, ROOT, "benchmark"), parse_device(device), CompileConfig(**config))


def benchmark_app(args: list[str]) -> str:
    exe = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    return subprocess.run([exe, *args], capture_output=True, text=True, check=True).stdout


def read(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if not match:
        raise SystemExit(f"benchmark_app printed no {pattern!r}:\n{text[-2000:]}")
    return float(match.group(1))
