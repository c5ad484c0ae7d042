"""What a session may run by name: the metrics and preprocess functions the project's Python code registered,
and whether ``--edge-trust-code`` lets markers load metric scripts and import functions by their path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .errors import ConfigError
from .names import NAME_RULE, is_name


@dataclass
class Registry:
    """Metrics and preprocess functions by name, registered by the project's Python code (the
    ``pytest_edgeqa_register`` hook in a conftest.py or a plugin): the only code a suite file may name.

    ``trust_code`` (``--edge-trust-code`` / ini ``edge_trust_code``) lets a marker or fixture argument
    (never a suite) also name a metric that ``evaluate.load`` loads (a metric script, a Hub metric) or a
    preprocess function as ``'package.module:function'``: both run code that no test file shows."""

    trust_code: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    higher_is_better: dict[str, bool | None] = field(default_factory=dict)
    preprocessors: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def add_metric(self, name: str, metric: Any, *, higher_is_better: bool | None = None) -> None:
        """Make ``metric`` available as ``name`` to markers and suites. ``metric``: a callable
        ``fn(predictions, references) -> float``, an ``evaluate`` module (``evaluate.Metric`` instance,
        called through ``compute``), or a ``pytest_edgeqa.metrics.Statistic`` (exact paired bootstrap)."""
        from .metrics import Statistic, builtin

        self._check_name(name, "metric")
        if builtin(name):
            raise ConfigError(
                f"pytest_edgeqa_register: add_metric({name!r}, ...): {name!r} is a built-in metric; give yours another name"
            )
        if not (isinstance(metric, Statistic) or callable(metric) or callable(getattr(metric, "compute", None))):
            raise ConfigError(
                f"pytest_edgeqa_register: add_metric({name!r}, ...): expected a callable fn(predictions, references) "
                f"-> float, an evaluate.Metric or a Statistic, got {type(metric).__name__}"
            )
        if higher_is_better is not None and not isinstance(higher_is_better, bool):
            raise ConfigError(
                f"pytest_edgeqa_register: add_metric({name!r}, ...): higher_is_better={higher_is_better!r}; expected True or False"
            )
        self._check_twice(self.metrics, name, metric, "metric")
        self.metrics[name] = metric
        self.higher_is_better[name] = higher_is_better

    def add_preprocess(self, name: str, fn: Callable[..., Any]) -> None:
        """Make ``fn`` (dict of columns -> dict of columns) available as ``preprocess=name`` to fixtures and suites."""
        self._check_name(name, "preprocess")
        if not callable(fn):
            raise ConfigError(
                f"pytest_edgeqa_register: add_preprocess({name!r}, ...): expected a callable (dict of columns -> "
                f"dict of columns), got {type(fn).__name__}"
            )
        self._check_twice(self.preprocessors, name, fn, "preprocess")
        self.preprocessors[name] = fn

    @staticmethod
    def _check_name(name: Any, kind: str) -> None:
        if not is_name(name):
            raise ConfigError(f"pytest_edgeqa_register: add_{kind}({name!r}, ...): expected {NAME_RULE}")

    @staticmethod
    def _check_twice(table: dict[str, Any], name: str, value: Any, kind: str) -> None:
        old = table.get(name)
        if old is not None and old is not value:
            raise ConfigError(
                f"pytest_edgeqa_register: {kind} {name!r} is registered twice ({_label(old)} and {_label(value)}); "
                "give one of them another name"
            )

    def listed(self, kind: str) -> str:
        names = sorted(self.metrics if kind == "metric" else self.preprocessors)
        return ", ".join(names) if names else "none"


def _label(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    return f"{module}.{name}" if module else str(name)


REGISTRY = pytest.StashKey["Registry | ConfigError"]()


def registry_of(config: pytest.Config) -> Registry:
    """The session's registry, filled by the ``pytest_edgeqa_register`` hooks the first time a test asks
    (every conftest.py is loaded by then). A registration error is raised again wherever it is asked for."""
    __tracebackhide__ = True
    found = config.stash.get(REGISTRY, None)
    if found is None:
        from .session import SESSION

        registry = Registry(trust_code=config.stash[SESSION].settings.trust_code)
        try:
            config.hook.pytest_edgeqa_register(registry=registry)
            found = registry
        except ConfigError as exc:
            found = exc
        config.stash[REGISTRY] = found
    if isinstance(found, ConfigError):
        raise ConfigError(str(found))
    return found


def trusted_code(
    registry: Registry,
    budget: Any,
    preprocess: Any,
    *,
    base_dir: Path,
    metric_where: str = "accuracy marker",
    preprocess_where: str = "accuracy_check",
    declarative: bool = False,
) -> tuple[Any, Callable[..., Any] | None]:
    """The accuracy budget with its metric, and the preprocess function, resolved to code the session
    may run: built in, registered, or the test's own callables; a metric script, a Hub metric or an
    import path only on --edge-trust-code, and never for a suite (``declarative``)."""
    from dataclasses import replace

    from .data import preprocess_fn
    from .metrics import resolve

    metric = resolve(budget.metric, metric_where, registry, declarative=declarative, base_dir=base_dir)
    return replace(budget, metric=metric), preprocess_fn(
        preprocess, preprocess_where, registry, declarative=declarative
    )


__all__ = ["Registry", "registry_of", "trusted_code"]
