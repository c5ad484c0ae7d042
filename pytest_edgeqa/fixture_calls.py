"""What the fixtures hand to a test: edge_model's factory and the check callables (golden, parity,
accuracy, latency). Each checks its arguments and markers, runs its check on the core's engines, records
the result, and turns our errors into one-paragraph pytest outcomes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from . import config as cfg
from . import markers
from .errors import ConfigError
from .gating import device_of, gate
from .marked_models import EDGE_MODEL_EXAMPLE, check_markers, model_marker
from .outcomes import as_outcome
from .owners import owner_of
from .records import record
from .session import CURRENT, SESSION, is_worker
from .types import DeviceSpec

if TYPE_CHECKING:
    from .runtimes import CompiledModel


def model_factory(request: pytest.FixtureRequest, item_device: DeviceSpec) -> Callable[..., CompiledModel]:
    """edge_model's factory: a model path (and device, options) -> the model compiled, the device gated."""
    session = request.config.stash[SESSION]
    base_dir = request.path.parent

    def load(
        model: str | os.PathLike[str], device: str | None = None, *, reference: bool = False, **options: Any
    ) -> CompiledModel:
        __tracebackhide__ = True
        with as_outcome():
            if not isinstance(model, (str, os.PathLike)) or not os.fspath(model).strip():
                raise ConfigError(
                    f"edge_model() fixture: model={cfg.short(model)}; expected a model path such as 'models/net.onnx'"
                )
            if device is not None and not isinstance(device, (str, DeviceSpec)):
                raise ConfigError(
                    f"edge_model() fixture: device={cfg.short(device)}; expected a device string such as 'CPU' or 'ort:cpu'"
                )
            if not isinstance(reference, bool):
                raise ConfigError(f"edge_model() fixture: reference={cfg.short(reference)}; expected True or False")
            if device is None or isinstance(device, DeviceSpec):
                spec = item_device if device is None else device
            else:
                spec = markers.parse_device_arg(device, "edge_model(device=...)")
            gate(session, spec)
            config = markers.compile_config(options, "edge_model() fixture")
            if reference:
                config = config.with_(precision="reference")
            return session.compile(model, base_dir, spec, config, what=f"edge_model({os.fspath(model)!r})")
        raise AssertionError("unreachable")  # as_outcome re-raises as a pytest outcome

    return load


def golden_check(request: pytest.FixtureRequest, device: DeviceSpec) -> Callable[..., Any]:
    """golden_check: the optimized model against the golden recorded from the original, and against the original live."""
    session = request.config.stash[SESSION]
    node = request.node

    def check(
        inputs: Any = None,
        *,
        name: str | None = None,
        model: CompiledModel | None = None,
        seed: int = 0,
        batch: int = 4,
        columns: dict[str, str] | None = None,
        shapes: dict[str, Any] | None = None,
        dims: dict[str, int] | None = None,
    ) -> Any:
        __tracebackhide__ = True
        from .checks import run_golden
        from .parity_criteria import spec_from_marker

        with as_outcome():
            markers.golden_arguments(name=name, model=model, seed=seed, batch=batch, columns=columns)
            mark = node.get_closest_marker("parity")
            spec = spec_from_marker(mark.args, mark.kwargs) if mark is not None else spec_from_marker((), {})
            models = node.get_closest_marker("edge_model")
            if models is None:
                raise ConfigError(
                    f"golden_check needs an edge_model marker on the test, its class or module, e.g. {EDGE_MODEL_EXAMPLE}"
                )
            marker = model_marker(request, models)
            return run_golden(
                session=session,
                item=node,
                owner=owner_of(node),
                base_dir=request.path.parent,
                marker=marker,
                device=device,
                spec=spec,
                inputs=inputs,
                name=name,
                model=model,
                seed=seed,
                batch=batch,
                columns=columns,
                shapes=shapes,
                dims=dims,
            )
        raise AssertionError("unreachable")

    return check


def accuracy_check(request: pytest.FixtureRequest, device: DeviceSpec) -> Callable[..., Any]:
    """accuracy_check: original and optimized evaluated on data, the accuracy marker's budget asserted."""
    session = request.config.stash[SESSION]

    def check(
        data: Any,
        *,
        inputs: dict[str, str] | None = None,
        label: str = "label",
        samples: int | None = None,
        preprocess: Any = None,
        split: str = "test",
    ) -> Any:
        __tracebackhide__ = True
        from .accuracy import AccuracyFailed, budget_from_marker
        from .checks import run_accuracy_check
        from .registry import registry_of, trusted_code

        with as_outcome():
            markers.accuracy_arguments(inputs=inputs, label=label, samples=samples, split=split)
            budget, models = check_markers(
                request,
                "accuracy_check",
                "an accuracy",
                "accuracy(metric='accuracy', max_drop=0.01)",
                lambda mark: budget_from_marker(mark.args, mark.kwargs),
            )
            budget, preprocess = trusted_code(
                registry_of(request.config), budget, preprocess, base_dir=request.path.parent
            )
            result = run_accuracy_check(
                session=session,
                base_dir=request.path.parent,
                marker=models,
                device=device,
                budget=budget,
                data_source=data,
                inputs_map=inputs,
                label=label,
                samples=samples,
                preprocess=preprocess,
                split=split,
            )
            record(request, "accuracy", result)
            if not result.ok:
                raise AccuracyFailed(result.render())
            return result
        raise AssertionError("unreachable")

    return check


def latency_check(request: pytest.FixtureRequest, device: DeviceSpec) -> Callable[..., Any]:
    """latency_check: the marker's models timed, the latency marker's budgets asserted (or not judged)."""
    session = request.config.stash[SESSION]
    settings = session.settings

    def check(
        inputs: Any = None, *, seed: int = 0, shapes: dict[str, Any] | None = None, dims: dict[str, int] | None = None
    ) -> Any:
        __tracebackhide__ = True
        import warnings

        from .checks import conclude_latency, latency_schedule, run_latency_check
        from .latency import LatencyWarning
        from .latency_budget import budget_from_marker

        if settings.latency_mode == "off":
            pytest.skip("latency checks are off (--edge-latency=off)")
        if is_worker(request.config):
            warnings.warn(
                LatencyWarning(
                    f"latency measured under pytest-xdist ({getattr(request.config, 'workerinput', {}).get('workerid')}): other workers share "
                    f"the CPU, so timings are noisy; --edge-latency={settings.latency_mode} decides what a failure does"
                ),
                stacklevel=2,
            )
        with as_outcome():
            cfg.number(seed, "latency_check", "seed", integer=True, low=0)
            budget, models = check_markers(
                request,
                "latency_check",
                "a latency",
                "latency(p90_ms=1.0)",
                lambda mark: budget_from_marker(mark.args, mark.kwargs, latency_schedule(settings)),
            )
            result = run_latency_check(
                session=session,
                base_dir=request.path.parent,
                marker=models,
                device=device,
                budget=budget,
                inputs_source=inputs,
                seed=seed,
                shapes=shapes,
                dims=dims,
            )
            record(request, "latency", result)
            conclude_latency(settings, result)
            return result
        raise AssertionError("unreachable")

    return check


def parity_check(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """parity_check: the optimized model against the original, live on the running item's device."""
    session = pytestconfig.stash[SESSION]

    def check(
        inputs: Any = None,
        *,
        seed: int = 0,
        batch: int = 4,
        shapes: dict[str, Any] | None = None,
        dims: dict[str, int] | None = None,
    ) -> Any:
        __tracebackhide__ = True
        from .checks import run_parity

        item = pytestconfig.stash[CURRENT]
        request = item._request  # type: ignore[attr-defined]  # the running item's own fixture request
        mark = item.get_closest_marker("edge_model")
        if mark is None:
            raise ConfigError("parity_check needs an edge_model marker with original= and optimized=")
        parity = item.get_closest_marker("parity")
        with as_outcome():  # configuration problems skip or fail the test; ParityMismatch is shrunk
            cfg.number(seed, "parity_check", "seed", integer=True, low=0)
            return run_parity(
                session=session,
                marker=model_marker(request, mark),
                base_dir=item.path.parent,
                device=device_of(request, request.getfixturevalue("edge_device")),
                parity_args=(parity.args, parity.kwargs) if parity is not None else ((), {}),
                inputs=inputs,
                item=item,
                generate={"seed": seed, "batch": batch, "shapes": shapes, "dims": dims},
            )
        raise AssertionError("unreachable")

    return check


def _llm_markers(
    request: pytest.FixtureRequest, check: str, marker: str, example: str, parse: Callable[..., Any]
) -> tuple[Any, Any, Any]:
    """The check's own marker parsed, the edge_model marker (recipes not built: a language model's recipe
    is built by the check, from the original's folder) and the recipe's calibration text, if any."""
    node = request.node
    mark = node.get_closest_marker(marker)
    if mark is None:
        raise ConfigError(f"{check} needs a {marker} marker, e.g. @pytest.mark.{example}")
    budget = parse(mark.args, mark.kwargs)
    models = node.get_closest_marker("edge_model")
    if models is None:
        raise ConfigError(
            f"{check} needs an edge_model marker on the test, its class or module, e.g. "
            "pytest.mark.edge_model(original='models/smollm2.gguf', optimized='nncf-weights-int8')"
        )
    parsed = markers.parse_model_marker(models)
    parsed.config()  # hint, precision, properties ... checked as for any model
    text = None
    if isinstance(parsed.optimized, dict) and parsed.optimized.get("calibration") is not None:
        from .llm_session import calibration_text

        text = calibration_text(request, parsed.optimized["calibration"], request.path.parent, "edge_model marker")
    return budget, parsed, text


def run_llm_check(
    request: pytest.FixtureRequest,
    device: DeviceSpec,
    check: str,
    marker: str,
    example: str,
    parse: Callable[..., Any],
    run: Callable[..., Any],
    **arguments: Any,
) -> Any:
    """A language-model check's call: its markers read (the budget by ``parse``), then ``run`` (a flow of
    checks/) with the session, the item and the call's ``arguments``; our errors as pytest outcomes."""
    __tracebackhide__ = True
    with as_outcome():
        budget, models, calibration = _llm_markers(request, check, marker, example, parse)
        return run(
            session=request.config.stash[SESSION],
            item=request.node,
            owner=owner_of(request.node),
            base_dir=request.path.parent,
            marker=models,
            device=device,
            budget=budget,
            calibration=calibration,
            **arguments,
        )
    raise AssertionError("unreachable")


def kld_check(request: pytest.FixtureRequest, device: DeviceSpec) -> Callable[..., Any]:
    """kld_check: the optimized language model's KL divergence from the original's golden distribution."""

    def check(text: str, *, context: int = 256, windows: int | None = None, name: str | None = None) -> Any:
        __tracebackhide__ = True
        from .checks.kld import run_kld_check
        from .kld_budget import budget_from_marker

        return run_llm_check(
            request, device, "kld_check", "kld", "kld(mean=0.02)", budget_from_marker, run_kld_check,
            text=text, context=context, windows=windows, name=name,
        )  # fmt: skip

    return check


def generation_check(request: pytest.FixtureRequest, device: DeviceSpec) -> Callable[..., Any]:
    """generation_check: greedy generations of the original and the optimized language model compared."""

    def check(prompts: Any) -> Any:
        __tracebackhide__ = True
        from .checks.generation import run_generation_check
        from .generation import budget_from_marker

        return run_llm_check(
            request, device, "generation_check", "generation", "generation(min_exact=0.8)", budget_from_marker,
            run_generation_check, prompts=prompts,
        )  # fmt: skip

    return check


def llm_latency_check(request: pytest.FixtureRequest, device: DeviceSpec) -> Callable[..., Any]:
    """llm_latency_check: a language model's speed, memory and size against the llm_latency marker's budgets."""
    session = request.config.stash[SESSION]
    settings = session.settings

    def check(prompt: str | None = None) -> Any:
        __tracebackhide__ = True
        from .checks import conclude_latency
        from .checks.llm_latency import run_llm_latency_check
        from .llm_latency_budget import EXAMPLE, budget_from_marker

        if settings.latency_mode == "off":
            pytest.skip("latency checks are off (--edge-latency=off)")
        result = run_llm_check(
            request, device, "llm_latency_check", "llm_latency", EXAMPLE, budget_from_marker, run_llm_latency_check,
            prompt=prompt,
        )  # fmt: skip
        with as_outcome():
            conclude_latency(settings, result)
        return result

    return check
