"""Timing and memory of a language model through OpenVINO GenAI: generations of a fixed length (no stop at
EOS) read from the pipeline's own timers (perf_metrics' raw values), and the peak resident memory of
loading and generating, measured in a child process so the caller's own memory does not count.

Run as ``python -m pytest_edgeqa.runtimes.openvino_llm_timing FOLDER DEVICE PROPERTIES_JSON IDS_JSON
NEW_TOKENS``: the child that loads the pipeline, generates once and prints its peak memory as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError

CHILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Generation:
    """One generation's figures from the runtime's timers (ms): time to first token, the duration of each
    token after it, and the whole generate() call."""

    ttft_ms: float
    durations_ms: tuple[float, ...]
    generate_ms: float
    tokens: int

    @property
    def tpot_ms(self) -> float:
        """Mean time per output token after the first, as OpenVINO GenAI's get_tpot() defines it."""
        return sum(self.durations_ms) / len(self.durations_ms)


def generation_config(new_tokens: int) -> Any:
    """Greedy, exactly ``new_tokens`` tokens whatever the model generates (EOS ignored), no chat template."""
    import openvino_genai

    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = new_tokens
    config.min_new_tokens = new_tokens
    config.ignore_eos = True
    config.do_sample = False
    config.apply_chat_template = False
    return config


def load_pipeline(folder: Path, device: str, properties: dict[str, Any], label: str) -> Any:
    import openvino_genai

    try:
        return openvino_genai.LLMPipeline(str(folder), device, **properties)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        raise ModelError(f"{label}: OpenVINO GenAI cannot load {folder} on {device}: {text}") from None


class GenerationTimer:
    """A pipeline that generates ``new_tokens`` tokens after the token ids ``ids`` and returns the
    figures of its own timers."""

    def __init__(self, folder: Path, device: str, properties: dict[str, Any], label: str) -> None:
        self.label = label
        self.pipeline = load_pipeline(folder, device, properties, label)

    def __call__(self, ids: Any, new_tokens: int) -> Generation:
        import numpy as np
        import openvino as ov

        tensor = ov.Tensor(np.asarray(ids, dtype=np.int64).reshape(1, -1))
        result = self.pipeline.generate(tensor, generation_config(new_tokens))
        return of_result(result, new_tokens, self.label)


def of_result(result: Any, new_tokens: int, label: str) -> Generation:
    """A Generation from an EncodedResults: raw values are in microseconds."""
    raw = result.perf_metrics.raw_metrics
    tokens = len(result.tokens[0])
    durations = tuple(float(d) / 1000 for d in raw.m_durations)
    if tokens != new_tokens or len(durations) != new_tokens - 1 or len(raw.m_times_to_first_token) != 1:
        raise ModelError(
            f"{label}: asked for {new_tokens} tokens, OpenVINO GenAI generated {tokens} with "
            f"{len(durations)} token durations: cannot time a fixed-length generation"
        )
    generate = sum(float(d) for d in raw.generate_durations) / 1000
    return Generation(float(raw.m_times_to_first_token[0]) / 1000, durations, generate, tokens)


def memory_command(folder: Path, device: str, properties: dict[str, Any], ids: Any, new_tokens: int) -> list[str]:
    """The child command that loads ``folder``, generates ``new_tokens`` tokens after ``ids`` and prints its
    peak memory (what benchmarks/llm_latency.py runs under /usr/bin/time -v too)."""
    return [
        sys.executable,
        "-m",
        __name__,
        str(folder),
        device,
        json.dumps(properties),
        json.dumps([int(i) for i in ids]),
        str(new_tokens),
    ]


def peak_memory(folder: Path, device: str, properties: dict[str, Any], ids: Any, new_tokens: int, label: str) -> dict:
    """{"peak_mb", "vmhwm_mb", "maxrss_mb"} of a child that loads and generates (MiB). ``peak_mb`` is
    /proc/self/status's VmHWM, the high-water resident set of the child's own address space; getrusage's
    ru_maxrss is kept beside it but not trusted: Linux carries the high-water mark of the address space
    an exec replaces into it, and a child forked (or vforked) from pytest starts from pytest's."""
    command = memory_command(folder, device, properties, ids, new_tokens)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"{label}: the memory measurement of {folder} ran past {CHILD_TIMEOUT_S} s") from None
    if done.returncode != 0:
        tail = " ".join(done.stderr.split()[-60:])
        raise ModelError(f"{label}: the memory measurement of {folder} failed (exit {done.returncode}): {tail}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["peak_mb"] = figures["vmhwm_mb"] if figures.get("vmhwm_mb") is not None else figures["maxrss_mb"]
    return dict(figures)


def _vmhwm_kib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _child(argv: list[str]) -> None:
    import resource

    folder, device, props, ids, new_tokens = argv
    GenerationTimer(Path(folder), device, json.loads(props), "memory")(json.loads(ids), int(new_tokens))
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    hwm = _vmhwm_kib()
    print(json.dumps({"maxrss_mb": maxrss_kib / 1024, "vmhwm_mb": hwm / 1024 if hwm is not None else None}))


if __name__ == "__main__":
    _child(sys.argv[1:])
