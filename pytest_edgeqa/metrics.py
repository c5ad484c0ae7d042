"""Metrics: shipped ``evaluate.Metric`` subclasses (offline), registered ones, callables; evaluate.load on trust.

Every shipped metric is defined by per-sample sufficient statistics ``S`` (n x k) and a function of
their sums, so the metric on any reweighting of the samples is ``value(W @ S)``: that makes the paired
bootstrap one matrix product instead of thousands of metric calls.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import datasets
import evaluate
import numpy as np

from .errors import ConfigError


class RegisteredMetrics(Protocol):
    """What resolve asks of the session's registry (registry.Registry): the metrics registered, which way
    each is better, and whether a metric script may be loaded by name."""

    metrics: dict[str, Any]
    higher_is_better: dict[str, bool | None]
    trust_code: bool

    def listed(self, kind: str) -> str: ...


class Statistic:
    """The core of a shipped metric: how outputs become predictions, per-sample stats, and the value."""

    name = ""
    higher_is_better = True

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return outputs

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value(self, sums: np.ndarray) -> np.ndarray:
        """Metric value(s) from column sums of ``stats``; vectorized over leading axes."""
        raise NotImplementedError

    def check(self, predictions: np.ndarray, references: np.ndarray) -> None:
        if len(predictions) != len(references):
            raise ConfigError(f"metric {self.name}: {len(predictions)} predictions but {len(references)} labels")


def _kind(values: np.ndarray) -> str:
    """'strings (first: 'cat')', 'float64': what an array holds, for messages."""
    named = {"U": "strings", "S": "bytes", "O": "objects", "M": "dates", "m": "durations"}.get(values.dtype.kind)
    if named is None:
        return values.dtype.name
    first = values.reshape(-1)[:1].tolist()
    return f"{named} (first: {str(first[0])[:40]!r})" if first else named


def _labels(references: np.ndarray, name: str) -> np.ndarray:
    refs = np.asarray(references)
    if refs.ndim != 1 or refs.dtype.kind not in "iub":
        raise ConfigError(f"metric {name}: labels must be one class id per sample, got {_kind(refs)} {refs.shape}")
    return refs.astype(np.int64)


class _Classification(Statistic):
    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        out = np.asarray(outputs)
        if out.ndim == 1 and out.dtype.kind in "iu":
            return out.astype(np.int64)  # already class ids
        if out.ndim != 2:
            raise ConfigError(f"metric {self.name}: expects logits of shape (samples, classes), got {out.shape}")
        return out.argmax(axis=1)

    def check(self, predictions: np.ndarray, references: np.ndarray) -> None:
        super().check(predictions, references)
        _labels(references, self.name)


class AccuracyStat(_Classification):
    name = "accuracy"

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        return np.stack([predictions == references, np.ones(len(references))], axis=1).astype(np.float64)

    def value(self, sums: np.ndarray) -> np.ndarray:
        return sums[..., 0] / sums[..., 1]


class TopKAccuracyStat(Statistic):
    name = "top_k_accuracy"

    def __init__(self, k: int = 5) -> None:
        self.k = k
        self.name = f"top_{k}_accuracy"

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        out = np.asarray(outputs)
        if out.ndim != 2 or out.shape[1] < self.k:
            raise ConfigError(
                f"metric {self.name}: expects logits of shape (samples, classes >= {self.k}), got {out.shape}"
            )
        return np.argsort(-out, axis=1, kind="stable")[:, : self.k]

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        hit = (predictions == _labels(references, self.name)[:, None]).any(axis=1)
        return np.stack([hit, np.ones(len(references))], axis=1).astype(np.float64)

    def value(self, sums: np.ndarray) -> np.ndarray:
        return sums[..., 0] / sums[..., 1]


class PRFStat(_Classification):
    """Precision, recall or F1, macro (mean over classes present) or micro (pooled counts)."""

    def __init__(self, which: str, average: str = "macro", classes: int | None = None) -> None:
        self.which, self.average, self.classes = which, average, classes
        self.name = f"{which}_{average}" if average != "macro" else which

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        refs = _labels(references, self.name)
        n_cls = self.classes or int(max(predictions.max(initial=0), refs.max(initial=0)) + 1)
        cls = np.arange(n_cls)
        p, r = predictions[:, None] == cls, refs[:, None] == cls
        # Per sample and class: true positive, false positive, false negative.
        return np.concatenate([p & r, p & ~r, ~p & r], axis=1).astype(np.float64)

    def value(self, sums: np.ndarray) -> np.ndarray:
        tp, fp, fn = np.split(sums, 3, axis=-1)
        if self.average == "micro":
            tp, fp, fn = tp.sum(-1), fp.sum(-1), fn.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        score = {"precision": precision, "recall": recall, "f1": f1}[self.which]
        if self.average == "micro":
            return score
        present = (tp + fn) > 0  # classes with support, as scikit-learn's labels=None does
        return (score * present).sum(-1) / np.maximum(present.sum(-1), 1)


class _Regression(Statistic):
    higher_is_better = False

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        out = np.asarray(outputs, dtype=np.float64)
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    def check(self, predictions: np.ndarray, references: np.ndarray) -> None:
        super().check(predictions, references)
        refs = np.asarray(references)
        if refs.dtype.kind not in "iufb":
            raise ConfigError(f"metric {self.name}: labels must be numbers, got {_kind(refs)}")
        if np.shape(predictions) != np.shape(references):
            raise ConfigError(
                f"metric {self.name}: predictions of shape {np.shape(predictions)} do not match labels of shape {np.shape(references)}"
            )

    def value(self, sums: np.ndarray) -> np.ndarray:
        return sums[..., 0] / sums[..., 1]


class MSEStat(_Regression):
    name = "mse"

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        err = (predictions - np.asarray(references, np.float64)).reshape(len(references), -1)
        return np.stack([(err**2).mean(axis=1), np.ones(len(references))], axis=1)


class MAEStat(_Regression):
    name = "mae"

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        err = (predictions - np.asarray(references, np.float64)).reshape(len(references), -1)
        return np.stack([np.abs(err).mean(axis=1), np.ones(len(references))], axis=1)


class PerplexityStat(Statistic):
    """exp(mean next-token negative log-likelihood) from logits (samples, positions, vocab) and token ids
    (samples, positions); labels < 0 are ignored (padding)."""

    name = "perplexity"
    higher_is_better = False

    def check(self, predictions: np.ndarray, references: np.ndarray) -> None:
        super().check(predictions, references)
        if predictions.ndim != 3 or references.shape != predictions.shape[:2]:
            raise ConfigError(
                f"metric perplexity: expects logits (samples, positions, vocab) and token ids (samples, positions), "
                f"got {predictions.shape} and {references.shape}"
            )

    def stats(self, predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
        logits = predictions[:, :-1].astype(np.float64)
        target = np.asarray(references)[:, 1:].astype(np.int64)
        peak = logits.max(axis=-1, keepdims=True)
        logz = np.log(np.exp(logits - peak).sum(axis=-1)) + peak[..., 0]
        valid = target >= 0
        picked = np.take_along_axis(logits, np.where(valid, target, 0)[..., None], axis=-1)[..., 0]
        nll = np.where(valid, logz - picked, 0.0)
        return np.stack([nll.sum(axis=1), valid.sum(axis=1)], axis=1)

    def value(self, sums: np.ndarray) -> np.ndarray:
        return np.exp(sums[..., 0] / sums[..., 1])


# ---------------------------------------------------------------------------- evaluate.Metric classes


class _ShippedMetric(evaluate.Metric):
    """An ``evaluate.Metric`` that needs no hub: ``compute(predictions=outputs, references=labels)``."""

    statistic: Statistic

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=f"{self.statistic.name}, shipped with pytest-edgeqa (works offline)",
            citation="",
            inputs_description="predictions: raw model outputs; references: labels",
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
        )

    def compute(self, *, predictions: Any = None, references: Any = None, **kwargs: Any) -> dict[str, float]:
        """The metric of raw model outputs (``predictions``) against labels (``references``)."""
        # Multi-dimensional outputs (logits) do not fit evaluate's per-row features; the statistics
        # are exact and in memory, so they are computed directly.
        preds = self.statistic.predictions(np.asarray(predictions))
        refs = np.asarray(references)
        self.statistic.check(preds, refs)
        sums = self.statistic.stats(preds, refs).sum(axis=0)
        return {self.statistic.name: float(self.statistic.value(sums))}

    def _compute(self, predictions: Any = None, references: Any = None) -> dict[str, float]:
        return self.compute(predictions=predictions, references=references)


def _shipped(cls_name: str, make: Callable[[], Statistic]) -> type[_ShippedMetric]:
    def __init__(self: _ShippedMetric, *args: Any, **kwargs: Any) -> None:
        self.statistic = make()
        evaluate.Metric.__init__(self, *args, **kwargs)

    return type(cls_name, (_ShippedMetric,), {"__init__": __init__, "__module__": __name__})


Accuracy = _shipped("Accuracy", AccuracyStat)
TopKAccuracy = _shipped("TopKAccuracy", TopKAccuracyStat)
Precision = _shipped("Precision", lambda: PRFStat("precision"))
Recall = _shipped("Recall", lambda: PRFStat("recall"))
F1 = _shipped("F1", lambda: PRFStat("f1"))
F1Micro = _shipped("F1Micro", lambda: PRFStat("f1", "micro"))
MSE = _shipped("MSE", MSEStat)
MAE = _shipped("MAE", MAEStat)
Perplexity = _shipped("Perplexity", PerplexityStat)

SHIPPED: dict[str, Callable[[], Statistic]] = {
    "accuracy": AccuracyStat,
    "top_5_accuracy": lambda: TopKAccuracyStat(5),
    "top_3_accuracy": lambda: TopKAccuracyStat(3),
    "precision": lambda: PRFStat("precision"),
    "recall": lambda: PRFStat("recall"),
    "f1": lambda: PRFStat("f1"),
    "precision_micro": lambda: PRFStat("precision", "micro"),
    "recall_micro": lambda: PRFStat("recall", "micro"),
    "f1_micro": lambda: PRFStat("f1", "micro"),
    "mse": MSEStat,
    "mae": MAEStat,
    "perplexity": PerplexityStat,
}
LOWER_IS_BETTER = {"mse", "mae", "perplexity", "rmse", "wer", "cer", "loss"}


@dataclass
class ExternalStatistic(Statistic):
    """A metric we can only call: ``evaluate.load`` results and plain callables. The bootstrap
    recomputes it on resampled indices (slower, so with fewer resamples)."""

    fn: Callable[[np.ndarray, np.ndarray], float]
    label: str
    lower: bool = False

    def __post_init__(self) -> None:
        self.name = self.label
        self.higher_is_better = not self.lower

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        out = np.asarray(outputs)
        return (
            out.argmax(axis=1)
            if out.ndim == 2 and out.shape[1] > 1
            else out.reshape(len(out), -1)[:, 0]
            if out.ndim == 2
            else out
        )


def builtin(name: str) -> bool:
    """Whether ``name`` is a metric shipped here (``accuracy``, ``top_K_accuracy``, ...)."""
    return name in SHIPPED or (name.startswith("top_") and name.endswith("_accuracy") and name[4:-9].isdigit())


def _external(metric: Any, name: str, higher_is_better: bool | None = None) -> Statistic:
    """A metric object we can only call: a Statistic as it is, an ``evaluate`` module through
    ``compute``, or a callable ``fn(predictions, references) -> float``."""
    if isinstance(metric, Statistic):
        return metric
    if isinstance(metric, _ShippedMetric):
        return metric.statistic
    lower = name.split("/")[-1] in LOWER_IS_BETTER if higher_is_better is None else not higher_is_better
    if callable(getattr(metric, "compute", None)) and not isinstance(metric, type):

        def call(p: np.ndarray, r: np.ndarray) -> float:
            result = metric.compute(predictions=p.tolist(), references=r.tolist())
            return float(next(iter(result.values())) if isinstance(result, dict) else result)

        return ExternalStatistic(call, name, lower=lower)
    return ExternalStatistic(lambda p, r: float(metric(p, r)), name, lower=lower)


def resolve(
    metric: Any,
    where: str,
    registry: RegisteredMetrics | None = None,
    *,
    declarative: bool = False,
    base_dir: Path | None = None,
) -> Statistic:
    """The metric a marker, a fixture or a suite names: a Statistic or a callable as it is (the
    user's own code), a built-in name, a name in ``registry``. Anything else would be loaded by
    ``evaluate.load``, which runs a metric script (local or from the Hub): only where the registry
    trusts code (``--edge-trust-code``) and never for a suite (``declarative``)."""
    if isinstance(metric, Statistic):
        return metric
    if (callable(metric) or callable(getattr(metric, "compute", None))) and not isinstance(metric, (str, type)):
        return _external(metric, getattr(metric, "__name__", None) or type(metric).__name__)
    if not isinstance(metric, str) or not metric:
        raise ConfigError(
            f"{where}: metric={metric!r}; expected a metric name, a callable fn(predictions, references) -> float "
            "or an evaluate.Metric"
        )
    if metric in SHIPPED:
        return SHIPPED[metric]()
    if builtin(metric):
        return TopKAccuracyStat(int(metric[4:-9]))
    if registry is not None and metric in registry.metrics:
        return _external(registry.metrics[metric], metric, registry.higher_is_better.get(metric))
    known = f"built in: {', '.join(SHIPPED)}, top_K_accuracy; registered: {registry.listed('metric') if registry else 'none'}"
    close = difflib.get_close_matches(metric, [*SHIPPED, *(registry.metrics if registry else ())], n=1)
    if close:
        known += f"; did you mean {close[0]!r}?"
    if declarative:
        raise ConfigError(
            f"{where}: {metric!r} is neither a built-in nor a registered metric ({known}). A suite names metrics "
            "only: it never loads a metric script or a Hub metric, whatever --edge-trust-code says; "
            f"register yours from conftest.py: def pytest_edgeqa_register(registry): registry.add_metric({metric!r}, fn)"
        )
    if registry is None or not registry.trust_code:
        from .names import describe, is_name

        what = "a name" if is_name(metric) else describe(metric)
        raise ConfigError(
            f"{where}: metric={metric!r} is neither a built-in nor a registered metric ({known}). As {what}, "
            "it would be loaded with evaluate.load, which runs a metric script (a local .py file or one downloaded "
            "from the Hugging Face Hub): pass --edge-trust-code (ini edge_trust_code = true) to allow that, register "
            "the metric from conftest.py (pytest_edgeqa_register), or pass a callable"
        )
    return _loaded(metric, where, base_dir)


def _loaded(metric: str, where: str, base_dir: Path | None) -> Statistic:
    """``evaluate.load`` of a metric script (relative to ``base_dir``, the test file's directory) or a
    Hub id: reached only under --edge-trust-code."""
    local = Path(metric).expanduser()
    if base_dir is not None and not local.is_absolute():
        local = base_dir / local
    if local.exists():
        path = str(local)
    elif metric.endswith(".py"):
        raise ConfigError(
            f"{where}: metric={metric!r}: metric script not found: {metric} (relative to {base_dir or Path.cwd()})"
        )
    else:
        path = metric  # a Hub id
    try:
        loaded = evaluate.load(path)
    except Exception as exc:  # evaluate raises FileNotFoundError, ConnectionError, ValueError, the script's own...
        first = (str(exc).splitlines() or [""])[0][:200]
        raise ConfigError(
            f"{where}: unknown metric {metric!r}: not built in ({', '.join(SHIPPED)}) and evaluate.load could not "
            f"load it ({type(exc).__name__}: {first})"
        ) from None
    return _external(loaded, metric)
