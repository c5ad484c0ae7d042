"""Accuracy: evaluation through the throughput path, per-sample statistics, paired bootstrap, the gate."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import MAX_BATCH, MAX_RESAMPLES, number, short
from .errors import ConfigError, EdgeQAError

if TYPE_CHECKING:
    from .metrics import Statistic
    from .runtimes import CompiledModel

PRESETS = {"mlperf-99": 0.01, "mlperf-99.9": 0.001}  # relative drop allowed, MLPerf's "99% of FP32"
GATES = ("point", "confident")
MARKER_KEYS = (
    "metric",
    "max_drop",
    "drop",
    "higher_is_better",
    "min_value",
    "max_value",
    "min_improvement",
    "preset",
    "gate",
    "confidence",
    "resamples",
    "output",
    "batch_size",
)


class AccuracyFailed(EdgeQAError):
    """The optimized model is outside its accuracy budget: the message is the full report."""


class NonFinite(EdgeQAError):
    """NaN or Inf where an evaluation needs numbers: in the data, or in what a model gave."""


@dataclass(frozen=True)
class Budget:
    metric: Any = "accuracy"
    max_drop: float | None = None
    drop: str = "absolute"
    higher_is_better: bool | None = None
    min_value: float | None = None
    max_value: float | None = None
    min_improvement: float | None = None
    preset: str | None = None
    gate: str = "point"
    confidence: float = 0.95
    resamples: int = 2000
    output: str | None = None
    batch_size: int | None = None


def budget_from_marker(args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str = "accuracy marker") -> Budget:
    """Validate the marker's arguments (``where`` names their source in errors): types, finite numbers in
    range, and budgets that can hold together, so a contradiction is refused before any model runs."""
    options = dict(kwargs)
    if len(args) > 2:
        raise ConfigError(f"{where}: takes at most 2 positional arguments (metric, max_drop), got {len(args)}")
    for key, value in zip(("metric", "max_drop"), args, strict=False):
        if key in options:
            raise ConfigError(f"{where}: {key!r} given both positionally and by keyword")
        options[key] = value
    unknown = sorted(set(options) - set(MARKER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(MARKER_KEYS)})"
        )
    metric = options.get("metric", "accuracy")
    named = isinstance(metric, str) and bool(metric.strip())
    if not (named or (callable(metric) and not isinstance(metric, str)) or hasattr(metric, "stats")):
        raise ConfigError(
            f"{where}: metric={short(metric)}; expected a metric name such as 'accuracy', or a callable "
            "fn(predictions, references) -> float"
        )
    preset = options.get("preset")
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ConfigError(f"{where}: preset={short(preset)}; expected one of {', '.join(PRESETS)}")
        if "max_drop" in options or "drop" in options:
            raise ConfigError(f"{where}: preset={preset!r} sets max_drop and drop; give one or the other")
        options.update(max_drop=PRESETS[preset], drop="relative")
    for key in ("min_value", "max_value"):
        if options.get(key) is not None:
            options[key] = number(options[key], where, key)
    for key in ("max_drop", "min_improvement"):
        if options.get(key) is not None:
            options[key] = number(options[key], where, key, low=0, why="(a drop is measured as a positive loss)")
    drop = options.get("drop", "absolute")
    if not isinstance(drop, str) or drop not in ("absolute", "relative"):
        raise ConfigError(f"{where}: drop={short(drop)}; expected 'absolute' or 'relative'")
    gate = options.get("gate", "point")
    if not isinstance(gate, str) or gate not in GATES:
        raise ConfigError(f"{where}: gate={short(gate)}; expected 'point' or 'confident'")
    conf = options.get("confidence", 0.95)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise ConfigError(f"{where}: confidence={short(conf)}; expected a number in [0.5, 1)")
    for key, lo, hi in (("resamples", 100, MAX_RESAMPLES), ("batch_size", 1, MAX_BATCH)):
        if options.get(key) is not None:
            options[key] = number(options[key], where, key, integer=True, low=lo, high=hi)
    hib = options.get("higher_is_better")
    if hib is not None and not isinstance(hib, bool):
        raise ConfigError(f"{where}: higher_is_better={short(hib)}; expected True or False")
    output = options.get("output")
    if output is not None and (not isinstance(output, str) or not output):
        raise ConfigError(f"{where}: output={short(output)}; expected the name of one of the model's outputs")
    if all(options.get(k) is None for k in ("max_drop", "min_value", "max_value", "min_improvement")):
        raise ConfigError(f"{where}: no budget: give max_drop, min_value, max_value, min_improvement or a preset")
    _contradictions(options, where)
    return Budget(**options)


def _contradictions(options: Mapping[str, Any], where: str) -> None:
    """Budgets that no result can meet, and settings that nothing given uses."""
    lo, hi = options.get("min_value"), options.get("max_value")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"{where}: min_value={lo:g} is above max_value={hi:g}; no optimized value can meet both")
    metric = options.get("metric", "accuracy")
    low, high = _range_of(metric) if isinstance(metric, str) else (None, None)
    if high is not None and lo is not None and lo > high:
        raise ConfigError(
            f"{where}: min_value={lo:g} is above the most {metric} can be ({high:g}); no value can meet it"
        )
    if low is not None and hi is not None and hi < low:
        raise ConfigError(
            f"{where}: max_value={hi:g} is below the least {metric} can be ({low:g}); no value can meet it"
        )
    hib = options.get("higher_is_better")
    if hib is not None and low is not None and hib != (metric not in _LOWER):  # low: a built-in metric
        raise ConfigError(
            f"{where}: higher_is_better={hib} contradicts {metric}, which is {'lower' if metric in _LOWER else 'higher'}"
            "-is-better; higher_is_better= is for metrics whose direction is not known"
        )
    drop_based = [k for k in ("max_drop", "min_improvement") if options.get(k) is not None]
    if not drop_based:
        for key, default in (("drop", "absolute"), ("gate", "point")):
            if options.get(key, default) != default:
                raise ConfigError(
                    f"{where}: {key}={options[key]!r} applies to max_drop or min_improvement, and neither is "
                    "given (min_value and max_value bound the optimized value itself)"
                )


_FRACTIONS = {"accuracy", "precision", "recall", "f1", "precision_micro", "recall_micro", "f1_micro"}
_LOWER = {"mse", "mae", "perplexity"}


def _range_of(metric: str) -> tuple[float | None, float | None]:
    """The values a built-in metric can take (None: unbounded, or not a built-in)."""
    if metric in _FRACTIONS or (metric.startswith("top_") and metric.endswith("_accuracy") and metric[4:-9].isdigit()):
        return 0.0, 1.0
    return {"mse": (0.0, None), "mae": (0.0, None), "perplexity": (1.0, None)}.get(metric, (None, None))


# ------------------------------------------------------------------------------------------ evaluation


class Progress:
    """A line on stderr for evaluations that take a while (live with -s; silent for short ones)."""

    def __init__(self, label: str, every_s: float = 2.0) -> None:
        self.label, self.every_s = label, every_s
        self.start = self.last = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every_s or (done == total and now - self.start >= self.every_s):
            self.last = now
            rate = done / max(now - self.start, 1e-9)
            print(f"\redgeqa: {self.label}: {done}/{total} batches ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)


def batch_size_for(model: CompiledModel, asked: int | None, label: str) -> int | None:
    """The static batch to compile ``model`` with for evaluation: ``asked`` (default 64) when its batch
    dimension is dynamic; None when it is static (it then runs as it is)."""
    dynamic = bool(model.inputs) and all(s.shape and isinstance(s.shape[0], str) for s in model.inputs)
    if not dynamic:
        if asked not in (None, 1) and model.inputs and model.inputs[0].shape[:1] != (asked,):
            raise ConfigError(
                f"accuracy: batch_size={asked} but {label}'s batch dimension is static ({model.inputs[0].shape[0]}); leave batch_size unset"
            )
        return None
    return asked or 64


def outputs_of(
    model: CompiledModel, inputs: Mapping[str, np.ndarray], batch_size: int | None, output: str | None, label: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """Run every sample through ``model`` and return the chosen output and the timing."""
    if output is not None and output not in {s.name for s in model.outputs}:
        raise ConfigError(
            f"accuracy: output={output!r} is not an output of {label} (outputs: {', '.join(s.name for s in model.outputs)})"
        )
    first = model.inputs[0].shape[0] if model.inputs and model.inputs[0].shape else 1
    size = first if isinstance(first, int) else (batch_size or 64)
    from .runtimes import batch_of

    n = batch_of(inputs)  # a 0-d input (a scalar sample rate) goes whole with every batch: not a sample count
    prepared = model.prepare(dict(inputs), any_batch=True)
    start = time.perf_counter()
    results = model.infer_batched(prepared, size, Progress(label))
    seconds = time.perf_counter() - start
    timing = {"samples": n, "batch_size": size, "seconds": seconds, "samples_per_s": n / seconds if seconds else None}
    return results[output or model.outputs[0].name], timing


def non_finite(array: Any, whole_rows: bool = False) -> tuple[np.ndarray, str] | None:
    """The rows (first axis) of a float array that hold NaN or Inf (with ``whole_rows``: that hold
    nothing else), and which of those they hold ("NaN", "NaN and +Inf", ...); None when there are none
    or the array is not floating point."""
    arr = np.asarray(array)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    finite = np.isfinite(arr)
    if finite.all():
        return None
    if arr.ndim:
        per_row = finite.reshape(len(arr), -1)
        rows = np.flatnonzero(~per_row.any(axis=1) if whole_rows else ~per_row.all(axis=1))
        if not len(rows):
            return None
    else:
        rows = np.array([0])
    bad = arr[rows]
    kinds = [
        k
        for k, found in (("NaN", np.isnan(bad)), ("+Inf", np.isposinf(bad)), ("-Inf", np.isneginf(bad)))
        if found.any()
    ]
    return rows, " and ".join(kinds)


def rows_text(rows: np.ndarray, total: int, first: int = 5) -> str:
    """'3 of 450 rows (rows 4, 17, 52)': the count, and the first few row indices."""
    shown = ", ".join(str(int(r)) for r in rows[:first]) + (", ..." if len(rows) > first else "")
    return f"{len(rows)} of {total} row{'s' if total != 1 else ''} (row{'s' if len(rows) != 1 else ''} {shown})"


def require_finite_data(inputs: Mapping[str, np.ndarray], mapping: Mapping[str, str], label: str, refs: Any) -> None:
    """Refuse data a metric cannot judge with: rows of a model input with no finite value at all, or
    NaN/Inf in the labels. (Left alone, an engine may turn NaN into numbers: all-NaN images once scored
    "accuracy 0.10 -> 0.10".) A NaN among numbers stays: tabular models may read it as "missing"; what
    the models make of it is judged by their outputs."""
    __tracebackhide__ = True
    for name, values in inputs.items():
        found = non_finite(values, whole_rows=True)
        if found is not None:
            column = mapping.get(name, name)
            where = f"input {name!r}" + (f" (column {column!r})" if column != name else "")
            raise NonFinite(
                f"accuracy_check: {where} holds only {found[1]} in {rows_text(found[0], len(values))}: a "
                f"model cannot be judged on rows without numbers; drop or clean them first (e.g. preprocess=)"
            )
    found = non_finite(refs)
    if found is not None:
        raise NonFinite(
            f"accuracy_check: label column {label!r} holds {found[1]} in {rows_text(found[0], len(refs))}: "
            f"those rows cannot be scored; drop or clean them first (e.g. preprocess=)"
        )


def require_finite_outputs(outputs: np.ndarray, output: str, role: str, where: str, other: Any = None) -> None:
    """Refuse model outputs with NaN/Inf: a metric cannot score them (and the bootstrap would have none
    left). ``other``: the other model's outputs, to say whether it gives numbers on the same rows."""
    __tracebackhide__ = True
    found = non_finite(outputs)
    if found is None:
        return
    rows, kinds = found
    text = (
        f"accuracy_check: the {role} model ({where}) gave {kinds} in output {output!r} for "
        f"{rows_text(rows, len(outputs))}: a metric cannot score those rows"
    )
    if other is not None:
        other_bad = non_finite(np.asarray(other)[rows])
        if other_bad is None:
            text += "; the original gives finite values for them, so the optimized model breaks there"
    raise NonFinite(text)


def per_sample(stat: Statistic, outputs: np.ndarray, references: np.ndarray) -> np.ndarray:
    preds = stat.predictions(outputs)
    stat.check(preds, references)
    return stat.stats(preds, references)


# --------------------------------------------------------------------------------------- statistics


def signed_drop(original: Any, optimized: Any, higher: bool, relative: bool) -> Any:
    """How much worse ``optimized`` is (positive = worse, whatever the metric's direction); as a
    fraction of ``original`` when ``relative``. Works on scalars and on arrays of resamples."""
    drop = np.subtract(original, optimized) if higher else np.subtract(optimized, original)
    if relative:
        with np.errstate(divide="ignore", invalid="ignore"):
            drop = np.divide(drop, np.abs(original))
    return drop


def _interval(drops: np.ndarray, confidence: float) -> tuple[float, float]:
    d = drops[np.isfinite(drops)]
    alpha = (1 - confidence) / 2
    return float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha))


def bootstrap_drop(
    value: Callable[[np.ndarray], np.ndarray],
    s_orig: np.ndarray,
    s_opt: np.ndarray,
    *,
    higher: bool,
    relative: bool,
    confidence: float,
    resamples: int,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired percentile bootstrap of the drop: both models are scored on the same resampled samples,
    so sample difficulty cancels. Vectorized: a resample is a count vector W, its metric value(W @ S)."""
    n = len(s_orig)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 4_000_000 // max(n, 1)))
    drops = []
    for start in range(0, resamples, chunk):
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(chunk, resamples - start)).astype(np.float64)
        drops.append(signed_drop(value(w @ s_orig), value(w @ s_opt), higher, relative))
    return _interval(np.concatenate(drops), confidence)


def bootstrap_generic(
    fn: Callable[[np.ndarray, np.ndarray], float],
    preds: tuple[np.ndarray, np.ndarray],
    refs: np.ndarray,
    *,
    higher: bool,
    relative: bool,
    confidence: float,
    resamples: int,
    seed: int = 0,
) -> tuple[float, float]:
    """The same paired bootstrap for a metric we can only call (evaluate.load results, callables)."""
    rng = np.random.default_rng(seed)
    n = len(refs)
    drops = []
    for _ in range(min(resamples, 300)):
        idx = rng.integers(0, n, n)
        a, b = fn(preds[0][idx], refs[idx]), fn(preds[1][idx], refs[idx])
        drops.append(float(signed_drop(a, b, higher, relative)))
    return _interval(np.asarray(drops), confidence)


# ---------------------------------------------------------------------------------------------- result


@dataclass
class Side:
    value: float
    device: str
    precision: str
    samples_per_s: float | None = None
    run: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccuracyResult:
    metric: str
    higher_is_better: bool
    samples: int
    dataset: dict[str, Any]
    original: Side
    optimized: Side
    drop: float
    drop_kind: str
    interval: tuple[float, float]
    confidence: float
    resamples: int
    gate: str
    budget: dict[str, Any]
    ok: bool = True
    failed: list[str] = field(default_factory=list)
    precision_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def render(self) -> str:
        direction = "higher is better" if self.higher_is_better else "lower is better"
        pct = round(self.confidence * 100)
        kind = "relative" if self.drop_kind == "relative" else "absolute"
        lines = [
            f"accuracy {'ok' if self.ok else 'FAILED'}: {self.metric} ({direction}) on {self.samples} samples [gate: {self.gate}]",
            f"  original  {self.original.value:.6g}  ({self.original.device}, {self.original.precision})",
            f"  optimized {self.optimized.value:.6g}  ({self.optimized.device}, {self.optimized.precision})",
            f"  drop {self.drop:+.6g} {kind}, {pct}% CI [{self.interval[0]:+.6g}, {self.interval[1]:+.6g}] (paired bootstrap, {self.resamples} resamples)",
        ]
        lines += [f"  failed: {f}" for f in self.failed]
        if self.precision_note:
            lines.append(f"  {self.precision_note}")
        ds = self.dataset
        subset = f", first {ds['subset']} rows asked for" if ds.get("subset") else ""
        lines.append(f"  data: {ds.get('rows')} rows, fingerprint {ds.get('fingerprint')}{subset}")
        return "\n".join(lines)


def judge(
    budget: Budget, higher: bool, original: float, optimized: float, interval: tuple[float, float], drop: float
) -> list[str]:
    """Each budget that does not hold, in words. ``confident`` judges with the interval's worse end."""
    failed = []
    judged = interval[1] if budget.gate == "confident" else drop
    how = f"the {round(budget.confidence * 100)}% upper bound of the drop" if budget.gate == "confident" else "the drop"
    if budget.max_drop is not None and judged > budget.max_drop:
        failed.append(f"max_drop={budget.max_drop:g} ({budget.drop}): {how} is {judged:+.6g}")
    if budget.min_improvement is not None and judged > -budget.min_improvement:
        failed.append(
            f"min_improvement={budget.min_improvement:g}: {how} is {judged:+.6g}, an improvement of {-judged:+.6g}"
        )
    if budget.min_value is not None and optimized < budget.min_value:
        failed.append(f"min_value={budget.min_value:g}: optimized is {optimized:.6g}")
    if budget.max_value is not None and optimized > budget.max_value:
        failed.append(f"max_value={budget.max_value:g}: optimized is {optimized:.6g}")
    return failed
