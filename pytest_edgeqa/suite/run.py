"""Running a suite item's check on the same engines as the markers: its models (a recipe built), then the
accuracy, latency or parity check with the suite's options, its result stored for the reports; a language
model's kld or generation check takes the model: as written (its flow builds the recipe) and its texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ..markers import COMPILE_OPTIONS, ModelMarker
from ..session import SESSION, EdgeSession
from ..types import DeviceSpec
from .fields import SuiteError
from .llm import GENERATION_OWN, KLD_OWN, LLM_LATENCY_OWN, latency_prompt, prompts, read_text_file, text_file
from .schema import LATENCY_OWN_KEYS, LLM_CHECKS, PARITY_OWN_KEYS, Suite


@dataclass(frozen=True)
class SuiteCheck:
    """One check of a suite on one device, as its pytest item runs it."""

    suite: Suite
    check: str
    device: DeviceSpec
    title: str  # the suite's node id (file::suite): what reports group its checks under
    owner: str  # whom a golden of this check belongs to: the suite and the check, not the device


def run_check(item: pytest.Item, job: SuiteCheck) -> None:
    session = item.config.stash[SESSION]
    if job.check in LLM_CHECKS:
        marker, calibration = _language_model(item, job)
        {"kld": _kld, "generation": _generation, "llm_latency": _llm_latency}[job.check](
            item, job, session, marker, calibration
        )
        return
    marker = model_marker(item, job, session)
    {"accuracy": _accuracy, "latency": _latency, "parity": _parity}[job.check](item, job, session, marker)


def model_marker(item: pytest.Item, job: SuiteCheck, session: EdgeSession) -> ModelMarker:
    """The suite's ``model:`` as an edge_model marker, a recipe replaced by the model it builds (cached)."""
    from .. import optimize

    model = job.suite.model
    options = {k: v for k, v in model.items() if k in COMPILE_OPTIONS}
    marker = ModelMarker(original=model["original"], optimized=model.get("optimized"), options=options)
    if marker.optimized is None or not optimize.is_recipe(marker.optimized):
        return marker
    given_spec = marker.optimized if isinstance(marker.optimized, dict) else {"recipe": marker.optimized}
    spec = optimize.parse_spec({**given_spec, "calibration": "suite"}, "model.optimized")
    calibration = None
    if spec.recipe.calibration or spec.recipe.validation:
        calibration = _calibration(item, job, marker.optimized)
    metric = None
    if spec.recipe.validation:
        from ..metrics import resolve
        from ..registry import registry_of

        metric = resolve(
            job.suite.checks.get("accuracy", {}).get("metric", "accuracy"),
            f"{item.path.name}: checks.accuracy.metric",
            registry_of(item.config),
            declarative=True,
        )
    built = session.optimized(spec, marker.original, item.path.parent, calibration, metric)
    return ModelMarker(original=marker.original, optimized=built, options=options)


def _calibration(item: pytest.Item, job: SuiteCheck, optimized: Any) -> dict[str, Any]:
    """A recipe's calibration data: its own ``calibration:`` keys, the rest from the suite's ``data:``."""
    data = job.suite.data or {}
    given = optimized.get("calibration", {}) if isinstance(optimized, dict) else {}
    calibration = {
        "path": given.get("path", data.get("path")),
        "split": given.get("split", "train"),
        "inputs": given.get("inputs", data.get("inputs")),
        "label": given.get("label", data.get("label", "label")),
        **({"samples": given["samples"]} if "samples" in given else {}),
    }
    if calibration["path"] is None:
        raise SuiteError(f"{item.path.name}: model.optimized.calibration: needs data.path or calibration.path")
    return calibration


def _rows(item: pytest.Item, job: SuiteCheck, count: int) -> Any:
    """The first ``count`` rows of the suite's data."""
    from .. import data as data_mod

    data = job.suite.data or {}
    source = data_mod.load(
        data["path"], split=data.get("split", "test"), base_dir=item.path.parent, where=f"{item.path.name}: data.path"
    )
    return source.select(range(min(count, len(source))))


def _given_sizes(opts: dict[str, Any]) -> dict[str, Any]:
    """The check's shapes:/dims: as the checks take them (a shape as a tuple)."""
    return {
        "shapes": {k: tuple(v) for k, v in (opts.get("shapes") or {}).items()} or None,
        "dims": dict(opts.get("dims") or {}) or None,
    }


def _accuracy(item: pytest.Item, job: SuiteCheck, session: EdgeSession, marker: ModelMarker) -> None:
    from ..accuracy import AccuracyFailed, budget_from_marker
    from ..checks import run_accuracy_check, store_record
    from ..registry import registry_of, trusted_code

    base, data = item.path.parent, job.suite.data or {}
    budget, preprocess = trusted_code(
        registry_of(item.config),
        budget_from_marker((), job.suite.checks[job.check]),
        data.get("preprocess"),
        base_dir=base,
        metric_where=f"{item.path.name}: checks.accuracy.metric",
        preprocess_where=f"{item.path.name}: data.preprocess",
        declarative=True,
    )
    result = run_accuracy_check(
        session=session,
        base_dir=base,
        marker=marker,
        device=job.device,
        budget=budget,
        data_source=data["path"],
        inputs_map=data.get("inputs"),
        label=data.get("label", "label"),
        samples=data.get("samples"),
        preprocess=preprocess,
        split=data.get("split", "test"),
    )
    store_record(item, "accuracy", job.title, job.device.id, result)
    if not result.ok:
        raise AccuracyFailed(result.render())


def _latency(item: pytest.Item, job: SuiteCheck, session: EdgeSession, marker: ModelMarker) -> None:
    from ..checks import conclude_latency, latency_schedule, run_latency_check, store_record
    from ..latency_budget import budget_from_marker

    opts = job.suite.checks[job.check]
    settings = session.settings
    if settings.latency_mode == "off":
        pytest.skip("latency checks are off (--edge-latency=off)")
    budget = budget_from_marker(
        (), {k: v for k, v in opts.items() if k not in LATENCY_OWN_KEYS}, latency_schedule(settings)
    )
    source = _rows(item, job, budget.batch) if opts.get("inputs") == "data" else None  # a batch of the first rows
    result = run_latency_check(
        session=session,
        base_dir=item.path.parent,
        marker=marker,
        device=job.device,
        budget=budget,
        inputs_source=source,
        seed=0,
        columns=(job.suite.data or {}).get("inputs"),
        where=f"{item.path.name}: checks.latency",
        **_given_sizes(opts),
    )
    store_record(item, "latency", job.title, job.device.id, result)
    conclude_latency(settings, result)


def _parity(item: pytest.Item, job: SuiteCheck, session: EdgeSession, marker: ModelMarker) -> None:
    from ..checks import run_golden
    from ..parity_criteria import spec_from_marker

    opts = job.suite.checks[job.check]
    data = job.suite.data or {}
    samples = opts.get("samples", 32)
    source = _rows(item, job, samples) if data.get("path") else None
    spec = spec_from_marker((), {k: v for k, v in opts.items() if k not in PARITY_OWN_KEYS})
    run_golden(
        session=session,
        item=item,
        owner=job.owner,
        base_dir=item.path.parent,
        marker=marker,
        device=job.device,
        spec=spec,
        inputs=source,
        seed=opts.get("seed", 0),
        batch=samples,
        columns=data.get("inputs"),
        where=f"{item.path.name}: checks.parity",
        **_given_sizes(opts),
    )


def _language_model(item: pytest.Item, job: SuiteCheck) -> tuple[ModelMarker, str | None]:
    """The suite's ``model:`` for a language model's check: the recipe as written (the check builds it from
    the original's folder) and its calibration text, read from the .txt file it names."""
    model = job.suite.model
    optimized = model.get("optimized")
    calibration = None
    if isinstance(optimized, dict) and isinstance(optimized.get("calibration"), str):
        key, what = "model.optimized.calibration", "the calibration text of a language model's recipe"
        calibration = read_text_file(text_file(optimized["calibration"], item.path, key, what), item.path, key)
    options = {k: v for k, v in model.items() if k in COMPILE_OPTIONS}
    return ModelMarker(original=model["original"], optimized=optimized, options=options), calibration


def _run_llm(
    item: pytest.Item,
    job: SuiteCheck,
    session: EdgeSession,
    marker: ModelMarker,
    calibration: str | None,
    run: Any,
    parse: Any,
    own: Any,
    **arguments: Any,
) -> Any:
    """A language-model check of the suite through its flow: the budget from the check's keys but its own
    (``own``), parsed by the marker's ``parse``; errors name the file and the check's key."""
    opts = job.suite.checks[job.check]
    return run(
        session=session,
        item=item,
        owner=job.owner,
        base_dir=item.path.parent,
        marker=marker,
        device=job.device,
        budget=parse((), {k: v for k, v in opts.items() if k not in own}),
        calibration=calibration,
        where=f"{item.path.name}: checks.{job.check}",
        **arguments,
    )


def _kld(
    item: pytest.Item, job: SuiteCheck, session: EdgeSession, marker: ModelMarker, calibration: str | None
) -> None:
    from ..checks.kld import DEFAULT_CONTEXT, run_kld_check
    from ..kld_budget import budget_from_marker

    opts = job.suite.checks[job.check]
    key = "checks.kld.text"
    text = read_text_file(text_file(opts["text"], item.path, key, "the text to score"), item.path, key)
    context, windows = opts.get("context", DEFAULT_CONTEXT), opts.get("windows")
    args = (item, job, session, marker, calibration, run_kld_check, budget_from_marker, KLD_OWN)
    _run_llm(*args, text=text, context=context, windows=windows)


def _generation(
    item: pytest.Item, job: SuiteCheck, session: EdgeSession, marker: ModelMarker, calibration: str | None
) -> None:
    from ..checks.generation import run_generation_check
    from ..generation import budget_from_marker

    given = prompts(job.suite.checks[job.check]["prompts"], item.path)
    args = (item, job, session, marker, calibration, run_generation_check, budget_from_marker, GENERATION_OWN)
    _run_llm(*args, prompts=given)


def _llm_latency(
    item: pytest.Item, job: SuiteCheck, session: EdgeSession, marker: ModelMarker, calibration: str | None
) -> None:
    from ..checks import conclude_latency
    from ..checks.llm_latency import run_llm_latency_check
    from ..llm_latency_budget import budget_from_marker

    settings = session.settings
    if settings.latency_mode == "off":
        pytest.skip("latency checks are off (--edge-latency=off)")
    prompt = latency_prompt(job.suite.checks[job.check].get("prompt"), item.path)
    args = (item, job, session, marker, calibration, run_llm_latency_check, budget_from_marker, LLM_LATENCY_OWN)
    conclude_latency(settings, _run_llm(*args, prompt=prompt))
