"""The latency check: time the optimized model (and the original, interleaved, when there is one) and
judge the budget; the session's schedule; what a result does under --edge-latency."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import EdgeQAError
from .inputs import declared_inputs


def run_latency_check(
    *,
    session: Any,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    inputs_source: Any,
    seed: int,
    shapes: Mapping[str, Any] | None = None,
    dims: Mapping[str, Any] | None = None,
    where: str = "latency_check",
    columns: dict[str, str] | None = None,
) -> Any:
    """Time the optimized model (and the original, interleaved, when there is one) and judge the budget.
    The original runs as it would ship without the optimization: at the device's default precision."""
    __tracebackhide__ = True
    from ..inputs import inputs_per_model
    from ..latency import latency_rounds, measure_and_judge
    from ..latency_budget import samples_needed
    from ..latency_result import result_of

    config = marker.config().with_(hint=budget.hint, batch=budget.batch)
    roles = _roles(marker, budget)
    # The original is timed as it ships without the optimization: at the device's default precision.
    models = {role: session.compile_marked(marker, role, base_dir, device, config, reference=False) for role in roles}
    subject = "optimized" if "optimized" in models else "original"
    # Each model gets the inputs it declares (a variant may lack one, or take extra state), the subject's first.
    order = [subject] + [role for role in models if role != subject]
    per, _ = inputs_per_model(
        inputs_source,
        {f"the {role} model": declared_inputs(session, marker, base_dir, role, models[role]) for role in order},
        seed=seed,
        batch=budget.batch,
        columns_map=columns,
        shapes=shapes,
        dims=dims,
        where=where,
    )
    prepared = {role: m.prepare(per[f"the {role} model"]) for role, m in models.items()}
    configs = _static_shapes(session, marker, base_dir, device, config, models, prepared)
    setup, timers = _first_runs(session, marker, base_dir, device, budget, models, prepared, configs)

    schedule = budget.schedule
    iterations = schedule.iterations
    if not schedule.iterations_given:
        iterations = max([iterations] + [samples_needed(p) for p, _ in budget.percentile_budgets()])
    paired = subject == "optimized" and "original" in models
    if budget.hint != "THROUGHPUT":
        next_round = latency_rounds(
            schedule, iterations, budget.block, timers[subject], timers["original"] if paired else None
        )
    else:
        next_round = _throughput_rounds(schedule, models, prepared, subject, paired)
    rounds, verdict = measure_and_judge(budget, next_round, subject)
    return result_of(budget, rounds, verdict, mode=session.settings.latency_mode, subject=subject, setup=setup)


def _roles(marker: Any, budget: Any) -> list[str]:
    """The models timed: the optimized one, and the original when there is no optimized one or the
    budget compares the two."""
    __tracebackhide__ = True
    roles = ["optimized"] if marker.optimized is not None else []
    if marker.optimized is None or budget.relative:
        roles.append("original")
    if budget.relative and marker.optimized is None:
        raise EdgeQAError(
            "latency marker: max_ratio/min_speedup compare with the optimized model, but the edge_model marker has none"
        )
    return roles


def _static_shapes(
    session: Any,
    marker: Any,
    base_dir: Path,
    device: Any,
    config: Any,
    models: dict[str, Any],
    prepared: dict[str, Any],
) -> dict[str, Any]:
    """Each model's compile config, a model with dynamic dims recompiled in ``models`` with them fixed to
    the shapes fed. Timed as benchmark_app -shape times it: OpenVINO runs a model compiled with dynamic
    dims 10-30% slower than its static form; ONNX Runtime runs shapes as they come."""
    configs = {role: config for role in models}
    for role, model in models.items():
        if any(spec.dynamic for spec in model.inputs):
            configs[role] = config.with_(shapes=tuple((n, tuple(a.shape)) for n, a in prepared[role].items()))
            models[role] = session.compile_marked(marker, role, base_dir, device, configs[role], reference=False)
    return configs


def _first_runs(
    session: Any,
    marker: Any,
    base_dir: Path,
    device: Any,
    budget: Any,
    models: dict[str, Any],
    prepared: dict[str, Any],
    configs: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each model's setup as the report shows it (how it was compiled, its compile times and first
    inference) and its timer, after one untimed first run."""
    setup: dict[str, Any] = {}
    timers = {}
    for role, model in models.items():
        info = model.info
        model_file = session.store.model(marker.original if role == "original" else marker.optimized, base_dir, role)
        setup[role] = {
            "device": info.device,
            "execution_devices": list(info.execution_devices),
            "precision": info.precision,
            "hint": info.hint,
            "streams": info.extra.get("streams"),
            "threads": info.extra.get("threads"),
            "batch": budget.batch,
            "shapes": {name: list(array.shape) for name, array in prepared[role].items()},
            "static_shapes": all(not spec.dynamic for spec in model.inputs),
            **session.store.engine(device.runtime).compile_times(model_file, device, configs[role]),
        }
        if "optimization" in info.extra:  # the recipe's build: its size, compression and build time
            setup[role]["optimization"] = info.extra["optimization"]
        timers[role] = model.timer(prepared[role])
        start = time.perf_counter()
        timers[role]()
        setup[role]["first_inference_ms"] = (time.perf_counter() - start) * 1000
    return setup, timers


def _throughput_rounds(
    schedule: Any, models: dict[str, Any], prepared: dict[str, Any], subject: str, paired: bool
) -> Callable[[], Any]:
    """Rounds of throughput segments (THROUGHPUT hint), interleaved when there are two models."""
    from dataclasses import replace

    import numpy as np

    from ..contention import Window
    from ..latency import Round

    rounds_done = 0

    def next_round() -> Round:
        """Throughput segments, interleaved when there are two models (warm-up: the first round only)."""
        nonlocal rounds_done
        sched = schedule if rounds_done == 0 else replace(schedule, warmup_iters=0, warmup_s=0.0)
        rounds_done += 1
        blocks = 6 if paired else 1
        per: dict[str, list[float]] = {role: [] for role in models}
        lat: dict[str, list[float]] = {role: [] for role in models}
        # The streams keep every core busy themselves: only other processes' CPU time counts.
        with Window(saturating=True) as window:
            for step in range(blocks):
                for role in list(models) if step % 2 == 0 else list(reversed(models)):
                    rate, latencies = models[role].throughput(prepared[role], sched.seconds / blocks)
                    per[role].append(1000.0 / rate)  # ms per sample
                    lat[role].extend(latencies)
        return Round(
            subject=np.asarray(lat[subject]),
            contention=window.contention,
            original=np.asarray(lat["original"]) if paired else None,
            a_blocks=np.asarray(per["original"])[:, None] if paired else None,
            b_blocks=np.asarray(per["optimized"])[:, None] if paired else None,
            fps={role: 1000.0 / float(np.mean(per[role])) for role in models},
        )

    return next_round


def latency_schedule(settings: Any) -> Any:
    """The session's latency schedule: command line > ini > defaults (a marker may override it)."""
    from ..latency_budget import Schedule

    given = dict(settings.latency_schedule)
    return Schedule(**given, iterations_given="iterations" in given)


def conclude_latency(settings: Any, result: Any) -> None:
    """What a latency result does, by the status it settled on under --edge-latency: a failure, a
    LatencyWarning (warn), or a NOT JUDGED skip (enforce and warn; strict made it a failure)."""
    __tracebackhide__ = True
    import warnings

    from ..latency import LatencyFailed, LatencyNotJudged, LatencyWarning

    if result.status == "pass":
        return
    if result.status == "warn":
        warnings.warn(LatencyWarning(result.render() + "\n(--edge-latency=warn: reported, not failed)"), stacklevel=3)
        return
    if result.status == "not-judged":
        raise LatencyNotJudged(result.not_judged_reason())
    raise LatencyFailed(result.render())
