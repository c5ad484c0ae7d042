"""The language-model speed check behind ``llm_latency_check`` and a suite's ``checks.llm_latency``: the
optimized model (and the original, interleaved, when a budget compares them) generating a fixed number of
tokens after a fixed prompt, timed by OpenVINO GenAI's own timers; peak memory in a child process; size on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .records import store_record


def run_llm_latency_check(
    *,
    session: Any,
    item: Any,
    owner: str,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    prompt: str | None = None,
    calibration: str | None = None,
    where: str = "llm_latency_check",
) -> Any:
    """Time, measure and judge; the result is recorded with its status settled under --edge-latency
    (the caller concludes it: failure, warning or NOT JUDGED skip)."""
    __tracebackhide__ = True
    from ..llm_latency import llm_rounds, measure_and_judge, prompt_ids
    from ..llm_latency_result import LLMLatencyResult, judge_footprint
    from ..llm_session import language_model, marked_llms, require_openvino

    require_openvino(device, where)
    pair = marked_llms(session, marker, base_dir, calibration)
    if budget.relative and pair.optimized is None:
        raise ConfigError(f"{where}: max_ratio compares with the optimized model, but the edge_model marker has none")
    files = {"optimized": pair.optimized} if pair.optimized is not None else {}
    if pair.optimized is None or budget.relative:
        files["original"] = pair.original
    subject = "optimized" if "optimized" in files else "original"
    on_llamacpp = [role for role, llm in files.items() if llm.engine == "llama.cpp"]
    if on_llamacpp:
        from ..errors import Unsupported

        raise Unsupported(
            f"{where}: the {on_llamacpp[0]} model runs on llama.cpp; speed and memory are measured with OpenVINO "
            "GenAI's own timers only (give engine='openvino' where its GGUF reader loads the file)"
        )
    # Each model as it ships: the original at the device's defaults, the optimized with the marker's options.
    models = {
        role: language_model(
            session,
            llm,
            device,
            marker.options.get("precision") if role == "optimized" else None,
            role,
            marker.options.get("properties") if role == "optimized" else None,
        )
        for role, llm in files.items()
    }
    ids = prompt_ids(models[subject], prompt, budget.prompt_tokens, where)
    timers = {
        role: _timer(m, ids, budget.new_tokens) for role, m in sorted(models.items(), key=lambda r: r[0] != "original")
    }
    rounds, verdict = measure_and_judge(budget, llm_rounds(budget, timers), subject)
    figures = {role: _figures(rounds, role, budget, models[role], ids) for role in models}
    failed = [*verdict.failed, *judge_footprint(budget, figures[subject], subject)]
    shown = min(rounds, key=lambda r: r.contention.pressure or 0.0)
    result = LLMLatencyResult(
        subject=subject,
        figures=figures,
        prompt_tokens=budget.prompt_tokens,
        new_tokens=budget.new_tokens,
        percentile=budget.percentile,
        ratio_of=budget.ratio_of,
        ratio=verdict.ratio,
        ratio_interval=verdict.interval,
        confidence=budget.confidence,
        budgets=budget.budgets(),
        failed=failed,
        refused=[*verdict.refused, *verdict.open],
        contention=shown.contention.to_dict(),
        rounds=len(rounds),
        optimization=pair.built,
    )
    if shown.contention.pressure is None:
        result.notes.append("CPU contention unknown here: a breach is judged as measured")
    if len(rounds) > 1:
        result.notes.append(f"{len(rounds)} rounds measured: the first could not decide; figures of the quietest")
    result.settle(session.settings.latency_mode)
    store_record(item, "llm_latency", getattr(item, "title", owner), device.id, result)
    return result


def _timer(model: Any, ids: Any, new_tokens: int) -> Any:
    from ..runtimes.openvino_llm_timing import GenerationTimer

    timer = GenerationTimer(model.folder, model.device, model.properties, model.label)
    return lambda: timer(ids, new_tokens)


def _figures(rounds: list[Any], role: str, budget: Any, model: Any, ids: Any) -> Any:
    """The role's figures from the quietest round, its peak memory (a child process) and size on disk."""
    from ..llm_latency import Figures, size_mb, stats
    from ..runtimes.openvino_llm import REQUIRED
    from ..runtimes.openvino_llm_timing import peak_memory

    rnd = min(rounds, key=lambda r: r.contention.pressure or 0.0)
    ttft = stats(rnd.series(role, "ttft"), budget.percentile)
    tpot = stats(rnd.series(role, "tpot"), budget.percentile)
    memory = peak_memory(model.folder, model.device, model.properties, ids, budget.new_tokens, model.label)
    files = [model.folder / n for x in REQUIRED for n in (x, x[:-4] + ".bin")]
    setup = {
        "device": model.device,
        "precision": model.properties.get("INFERENCE_PRECISION_HINT"),
        "folder": str(model.folder),
    }
    return Figures(
        ttft=ttft,
        tpot=tpot,
        tokens_per_s=1000 / tpot["at"],
        memory_mb=memory["peak_mb"],
        maxrss_mb=memory.get("maxrss_mb"),
        size_mb=size_mb(files),
        setup=setup,
    )
