"""The accuracy check: the original and the optimized model evaluated on the same samples, the paired
drop bootstrapped and judged against the budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EdgeQAError

if TYPE_CHECKING:
    import numpy as np


@dataclass
class _Evaluation:
    """What an accuracy check evaluates: both models compiled for it, the samples and their references."""

    device: Any
    budget: Any
    throughput: Any  # the compile config both models are evaluated under
    original: Any
    optimized: Any
    mapping: dict[str, str]  # model input -> data column
    inputs: dict[str, Any]
    refs: Any
    info: dict[str, Any]  # the data set, as data.table describes it

    def outputs(self, model: Any, role: str) -> tuple[np.ndarray, dict[str, Any]]:
        from ..accuracy import outputs_of

        return outputs_of(model, self.inputs, self.budget.batch_size, self.budget.output, f"{role} on {self.device.id}")


def run_accuracy_check(
    *,
    session: Any,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    data_source: Any,
    inputs_map: dict[str, str] | None,
    label: str,
    samples: int | None,
    preprocess: Any,
    split: str,
) -> Any:
    """Evaluate the original (once per session and device) and the optimized model on the same
    samples, bootstrap the paired drop, and judge it against the budget."""
    __tracebackhide__ = True
    from ..accuracy import AccuracyResult, Side, judge, signed_drop
    from ..metrics import ExternalStatistic, resolve

    if marker.optimized is None:
        raise EdgeQAError("accuracy_check: the edge_model marker has no 'optimized' model to compare with the original")
    stat = resolve(budget.metric, "accuracy marker")
    higher = stat.higher_is_better if budget.higher_is_better is None else budget.higher_is_better
    run = _prepare(
        session, base_dir, marker, device, budget, data_source, inputs_map, label, samples, preprocess, split
    )
    (orig_out, orig_timing), (opt_out, opt_timing) = _evaluate_both(session, run, label)
    v_orig, v_opt, interval, resamples = _score(stat, orig_out, opt_out, run.refs, higher, budget)
    drop = float(signed_drop(v_orig, v_opt, higher, budget.drop == "relative"))
    failed = judge(budget, higher, v_orig, v_opt, interval, drop)
    original, optimized = run.original, run.optimized
    result = AccuracyResult(
        metric=stat.name,
        higher_is_better=higher,
        samples=len(run.refs),
        dataset=run.info,
        original=Side(
            v_orig, device.id, original.info.precision, orig_timing["samples_per_s"], original.info.to_dict()
        ),
        optimized=Side(
            v_opt, device.id, optimized.info.precision, opt_timing["samples_per_s"], optimized.info.to_dict()
        ),
        drop=drop,
        drop_kind=budget.drop,
        interval=interval,
        confidence=budget.confidence,
        resamples=resamples,
        gate=budget.gate,
        budget={k: v for k, v in vars(budget).items() if v is not None and k != "metric"},
        ok=not failed,
        failed=failed,
    )
    if failed and not isinstance(stat, ExternalStatistic):
        result.precision_note = _precision_share(session, base_dir, marker, run, stat, v_orig, higher)
    return result


def _prepare(
    session: Any,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    data_source: Any,
    inputs_map: dict[str, str] | None,
    label: str,
    samples: int | None,
    preprocess: Any,
    split: str,
) -> _Evaluation:
    """Compile both models for evaluation (THROUGHPUT hint, a static batch) and read the samples."""
    __tracebackhide__ = True
    from .. import data
    from ..accuracy import batch_size_for, require_finite_data

    throughput = marker.config().with_(hint="THROUGHPUT")
    original = session.compile_marked(marker, "original", base_dir, device, throughput)
    # Evaluation runs at a static batch, as benchmark_app does (see OpenVINOModel.infer_batched for why).
    throughput = throughput.with_(batch=batch_size_for(original, budget.batch_size, "the original"))
    original = session.compile_marked(marker, "original", base_dir, device, throughput)
    optimized = session.compile_marked(marker, "optimized", base_dir, device, throughput)
    mapping = inputs_map or {spec.name: spec.name for spec in original.inputs}
    unknown = sorted(set(mapping) - {s.name for s in original.inputs})
    if unknown:
        raise EdgeQAError(
            f"accuracy_check: inputs= names {', '.join(map(repr, unknown))}, which the model does not have (inputs: {', '.join(s.name for s in original.inputs)})"
        )
    columns = sorted({*mapping.values(), label})
    table, info = data.table(
        data_source, columns, samples=samples, preprocess=preprocess, base_dir=base_dir, split=split
    )
    inputs = {name: table[col] for name, col in mapping.items()}
    refs = table[label]
    require_finite_data(inputs, mapping, label, refs)
    return _Evaluation(device, budget, throughput, original, optimized, mapping, inputs, refs, info)


def _evaluate_both(session: Any, run: _Evaluation, label: str) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The original's outputs (evaluated once per session for these samples and device) and the
    optimized model's, each with its timing; outputs that are not finite are refused."""
    __tracebackhide__ = True
    from ..accuracy import require_finite_outputs

    original, optimized, budget, device = run.original, run.optimized, run.budget, run.device
    key = (
        "accuracy",
        original.info.model_sha256,
        run.info["fingerprint"],
        run.info["rows"],
        device.id,
        original.info.precision,
        tuple(sorted(run.mapping.items())),
        label,
        budget.output,
        budget.batch_size,
    )
    orig_out, orig_timing = session.memo(key, lambda: run.outputs(original, "original"))
    output = budget.output or original.outputs[0].name
    require_finite_outputs(orig_out, output, "original", f"{device.id}, {original.info.precision}")
    opt_out, opt_timing = run.outputs(optimized, "optimized")
    output = budget.output or optimized.outputs[0].name
    require_finite_outputs(opt_out, output, "optimized", f"{device.id}, {optimized.info.precision}", orig_out)
    return (orig_out, orig_timing), (opt_out, opt_timing)


def _score(
    stat: Any, orig_out: Any, opt_out: Any, refs: Any, higher: bool, budget: Any
) -> tuple[float, float, Any, int]:
    """Both models' scores, the bootstrap interval of the drop, and how many resamples it took."""
    from ..accuracy import bootstrap_drop, bootstrap_generic, per_sample
    from ..metrics import ExternalStatistic

    if isinstance(stat, ExternalStatistic):
        p_orig, p_opt = stat.predictions(orig_out), stat.predictions(opt_out)
        v_orig, v_opt = stat.fn(p_orig, refs), stat.fn(p_opt, refs)
        interval = bootstrap_generic(
            stat.fn,
            (p_orig, p_opt),
            refs,
            higher=higher,
            relative=budget.drop == "relative",
            confidence=budget.confidence,
            resamples=budget.resamples,
        )
        return v_orig, v_opt, interval, min(budget.resamples, 300)
    s_orig, s_opt = per_sample(stat, orig_out, refs), per_sample(stat, opt_out, refs)
    v_orig, v_opt = float(stat.value(s_orig.sum(0))), float(stat.value(s_opt.sum(0)))
    interval = bootstrap_drop(
        stat.value,
        s_orig,
        s_opt,
        higher=higher,
        relative=budget.drop == "relative",
        confidence=budget.confidence,
        resamples=budget.resamples,
    )
    return v_orig, v_opt, interval, budget.resamples


def _precision_share(
    session: Any, base_dir: Path, marker: Any, run: _Evaluation, stat: Any, v_orig: float, higher: bool
) -> str | None:
    """How much of the drop the original already shows at the precision the optimized model runs at (the
    device's default, or the marker's ``precision=``), so a loss
    from running at bf16/f16 is not blamed on quantization."""
    from ..accuracy import per_sample, signed_drop

    original = run.original
    default = session.compile(
        marker.original, base_dir, run.device, run.throughput, what="original at the optimized model's precision"
    )
    if default.info.precision == original.info.precision:
        return f"the optimized model runs at the reference precision ({original.info.precision}), so the whole drop comes from the optimization"
    s = per_sample(stat, run.outputs(default, f"original at {default.info.precision}")[0], run.refs)
    v = float(stat.value(s.sum(0)))
    share = float(signed_drop(v_orig, v, higher, run.budget.drop == "relative"))
    return (
        f"the original itself scores {v:.6g} at {default.info.precision} (the precision the optimized model runs at), a drop of "
        f"{share:+.6g} before any optimization"
    )
