"""Language-model speed and memory fidelity: llm_latency_check's figures against OpenVINO GenAI's own and
against /usr/bin/time.

Same model (SmolLM2-135M-Instruct's GGUF converted to its f16 IR, or --folder), device, prompt (the default
prompt cut to --prompt-tokens token ids) and lengths (--new-tokens, EOS ignored), in one run:
- TTFT and TPOT: the plugin's engine (GenerationTimer, the median over generations of each generation's TTFT
  and mean per-token duration) against GenAI's ``perf_metrics.get_ttft().mean`` / ``get_tpot().mean``
  accumulated over as many generations of a second pipeline, the two alternated generation by generation.
  Goal: ratio within 1.05.
- Peak memory: the plugin's child process (VmHWM) against ``/usr/bin/time -v``'s "Maximum resident set size"
  of the same child command, alternated --repeat times. Goal: within 5%.

    python benchmarks/llm_latency.py [--generations 20] [--repeat 3] [--prompt-tokens 128] [--new-tokens 64]
    python benchmarks/llm_latency.py --quick     # a few seconds of each: checks that it runs, not a measurement
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def original_folder() -> Path:
    """SmolLM2's GGUF from the zoo, converted once into the per-user LLM cache (as the tests do)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import fetch_zoo

    from pytest_edgeqa.config import user_cache_dir
    from pytest_edgeqa.llm_models import resolve_llm

    gguf = fetch_zoo.ensure("smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return resolve_llm(gguf, ROOT, "benchmark", user_cache_dir("llm")).folder


def timings(folder: Path, device: str, ids, new_tokens: int, generations: int) -> dict[str, float]:
    """The plugin's median TTFT/TPOT and GenAI's own means, generations of the two alternated."""
    import openvino as ov
    import openvino_genai

    from pytest_edgeqa.llm_latency import stats
    from pytest_edgeqa.runtimes.openvino_llm_timing import GenerationTimer, generation_config

    plugin = GenerationTimer(folder, device, {}, "plugin")
    genai = openvino_genai.LLMPipeline(str(folder), device)
    config = generation_config(new_tokens)
    tensor = ov.Tensor(ids.reshape(1, -1))
    plugin(ids, new_tokens), genai.generate(tensor, config)  # warm-up, one each
    runs, metrics = [], None
    for _ in range(generations):
        runs.append(plugin(ids, new_tokens))
        pm = genai.generate(tensor, config).perf_metrics
        metrics = pm if metrics is None else metrics + pm
    import numpy as np

    return {
        "plugin_ttft": stats(np.array([g.ttft_ms for g in runs]), 50)["p50"],
        "plugin_tpot": stats(np.array([g.tpot_ms for g in runs]), 50)["p50"],
        "genai_ttft": metrics.get_ttft().mean,
        "genai_tpot": metrics.get_tpot().mean,
    }


def memory(folder: Path, device: str, ids, new_tokens: int, repeat: int) -> dict[str, float]:
    """The plugin's peak memory (VmHWM of its child) and /usr/bin/time -v's maximum RSS of the same command."""
    from pytest_edgeqa.runtimes.openvino_llm_timing import memory_command, peak_memory

    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(peak_memory(folder, device, {}, ids, new_tokens, "plugin")["peak_mb"])
        done = subprocess.run(
            ["/usr/bin/time", "-v", *memory_command(folder, device, {}, ids, new_tokens)],
            capture_output=True,
            text=True,
            check=True,
        )
        kib = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        theirs.append(int(kib.group(1)) / 1024)
    return {"plugin_mb": statistics.median(ours), "time_v_mb": statistics.median(theirs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="an LLM folder (default: SmolLM2-135M's f16 IR)")
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="memory measurements of each kind")
    parser.add_argument("--quick", action="store_true", help="16 prompt tokens, 8 new, 3 generations, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.prompt_tokens, args.new_tokens, args.generations, args.repeat = 16, 8, 3, 1
    from pytest_edgeqa.llm_latency import DEFAULT_PROMPT, prompt_ids
    from pytest_edgeqa.runtimes.openvino_llm import LanguageModel

    folder = args.folder or original_folder()
    ids = prompt_ids(LanguageModel(folder, args.device), DEFAULT_PROMPT, args.prompt_tokens, "benchmark")
    t = timings(folder, args.device, ids, args.new_tokens, args.generations)
    m = memory(folder, args.device, ids, args.new_tokens, args.repeat)
    print(f"{folder} on {args.device}: {args.prompt_tokens} prompt tokens, {args.new_tokens} new tokens")
    print(f"{'':<6} {'plugin':>10} {'GenAI / time -v':>16} {'ratio':>7}  goal")
    rows = [
        ("TTFT", t["plugin_ttft"], t["genai_ttft"], "ms", 1.05),
        ("TPOT", t["plugin_tpot"], t["genai_tpot"], "ms", 1.05),
        ("memory", m["plugin_mb"], m["time_v_mb"], "MiB", 1.05),
    ]
    ok = True
    for name, ours, theirs, unit, goal in rows:
        ratio = ours / theirs
        ok = ok and 1 / goal <= ratio <= goal
        print(f"{name:<6} {ours:>7.2f} {unit:<3} {theirs:>12.2f} {unit:<3} {ratio:>7.3f}  within {goal:g}")
    print(f"(medians over {args.generations} generations each; memory over {args.repeat} runs each)")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
