"""Declarative suites: ``*.edgeqa.yaml`` files validated against their schema and collected as test items,
one per check and device, run on the same engines as the markers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .config import COMPILE_OPTIONS, ModelMarker, compile_config
from .devices import DeviceSpec, parse_devices
from .errors import ConfigError, EdgeQAError, Unsupported

SUFFIX = ".edgeqa.yaml"
CHECKS = ("accuracy", "latency", "parity")
TOP_KEYS = ("name", "model", "data", "devices", "checks")
MODEL_KEYS = ("original", "optimized", *COMPILE_OPTIONS)
DATA_KEYS = ("path", "split", "inputs", "label", "samples", "preprocess")
PARITY_OWN_KEYS = ("samples", "seed")


class SuiteError(EdgeQAError):
    """A malformed suite: names the file, the key path and what was expected."""


@dataclass
class Suite:
    path: Path
    name: str
    model: dict[str, Any]
    data: dict[str, Any] | None
    devices: tuple[DeviceSpec, ...] | None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def _type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


def _expect(cond: bool, path: Path, key: str, expected: str, got: Any) -> None:
    if not cond:
        shown = f"{got!r}" if not isinstance(got, (dict, list)) else _type_name(got)
        raise SuiteError(f"{path.name}: {key}: expected {expected}, got {shown}")


def _mapping(value: Any, path: Path, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    _expect(isinstance(value, dict), path, key, "a mapping", value)
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise SuiteError(
                f"{path.name}: {key}: unknown key {', '.join(map(repr, unknown))} (expected: {', '.join(allowed)})"
            )
    return dict(value)


def _reword(exc: ConfigError, path: Path, key: str) -> SuiteError:
    """A marker-style message ("accuracy marker: max_drop=-1; ...") as a suite message with its key path."""
    text = str(exc)
    for prefix in (
        "accuracy marker: ",
        "latency marker: ",
        "parity marker: ",
        "edge_model marker: ",
        "parity marker outputs",
    ):
        if text.startswith(prefix):
            text = text[len(prefix) :] if not prefix.endswith("outputs") else "outputs" + text[len(prefix) :]
    return SuiteError(f"{path.name}: {key}: {text}")


def load(path: Path) -> Suite:
    """Read and validate a suite file. Budgets are checked with the same code as the markers."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise SuiteError(f"{path.name}: is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    top = _mapping(raw, path, "(top level)", TOP_KEYS)
    for key in ("name", "model", "checks"):
        if key not in top:
            raise SuiteError(f"{path.name}: {key}: missing; a suite needs name, model and checks")
    name = top["name"]
    _expect(
        isinstance(name, str) and name.strip() != "" and not any(c in name for c in "[]:/"),
        path,
        "name",
        "a non-empty string without [ ] : /",
        name,
    )

    model = _mapping(top["model"], path, "model", MODEL_KEYS)
    if "original" not in model:
        raise SuiteError(f"{path.name}: model.original: missing; expected the path of the original model")
    _expect(
        isinstance(model["original"], str) and model["original"] != "",
        path,
        "model.original",
        "a model path (string)",
        model["original"],
    )
    optimized = model.get("optimized")
    _expect(
        optimized is None or isinstance(optimized, (str, dict)),
        path,
        "model.optimized",
        "a model path, a recipe name or {recipe: ..., options}",
        optimized,
    )
    if isinstance(optimized, dict):
        from . import optimize

        try:
            optimize.parse_spec({**optimized, "calibration": optimized.get("calibration", {})}, "model.optimized")
        except ConfigError as exc:
            raise SuiteError(f"{path.name}: {exc}") from None
        cal = optimized.get("calibration")
        if cal is not None:
            _mapping(cal, path, "model.optimized.calibration", ("split", "samples", "path", "inputs", "label"))
    try:
        compile_config({k: v for k, v in model.items() if k in COMPILE_OPTIONS}, "model")
    except ConfigError as exc:
        raise SuiteError(f"{path.name}: {exc}") from None

    data = None
    if "data" in top:
        data = _mapping(top["data"], path, "data", DATA_KEYS)
        _expect(
            isinstance(data.get("path"), str), path, "data.path", "a dataset path or hub id (string)", data.get("path")
        )
        _expect(
            isinstance(data.get("split", "test"), str), path, "data.split", "a split name (string)", data.get("split")
        )
        inputs = data.get("inputs")
        _expect(
            inputs is None or (isinstance(inputs, dict) and all(isinstance(v, str) for v in inputs.values())),
            path,
            "data.inputs",
            "a mapping of model input to column name",
            inputs,
        )
        _expect(
            isinstance(data.get("label", "label"), str), path, "data.label", "a column name (string)", data.get("label")
        )
        samples = data.get("samples")
        _expect(
            samples is None or (isinstance(samples, int) and not isinstance(samples, bool) and samples > 0),
            path,
            "data.samples",
            "a positive integer",
            samples,
        )
        _expect(
            data.get("preprocess") is None or (isinstance(data["preprocess"], str) and ":" in data["preprocess"]),
            path,
            "data.preprocess",
            "an import path 'package.module:function'",
            data.get("preprocess"),
        )

    devices = None
    if "devices" in top:
        raw_devices = top["devices"]
        _expect(
            isinstance(raw_devices, list) and bool(raw_devices) and all(isinstance(d, str) for d in raw_devices),
            path,
            "devices",
            "a non-empty list of device names",
            raw_devices,
        )
        try:
            devices = tuple(d for text in raw_devices for d in parse_devices(text))
        except ConfigError as exc:
            raise SuiteError(f"{path.name}: devices: {exc}") from None

    checks = _mapping(top["checks"], path, "checks", CHECKS)
    _expect(bool(checks), path, "checks", f"at least one of {', '.join(CHECKS)}", checks)
    validated: dict[str, dict[str, Any]] = {}
    for check, options in checks.items():
        opts = _mapping(options if options is not None else {}, path, f"checks.{check}", None)
        try:
            if check == "accuracy":
                from .accuracy import budget_from_marker

                budget_from_marker((), opts)
            elif check == "latency":
                from .latency import Schedule
                from .latency import budget_from_marker as latency_budget

                latency_budget((), opts, Schedule())
            else:
                from .parity import spec_from_marker

                spec_from_marker((), {k: v for k, v in opts.items() if k not in PARITY_OWN_KEYS})
                n = opts.get("samples", 32)
                _expect(
                    isinstance(n, int) and not isinstance(n, bool) and n > 0,
                    path,
                    "checks.parity.samples",
                    "a positive integer",
                    n,
                )
        except ConfigError as exc:
            raise _reword(exc, path, f"checks.{check}") from None
        if check in ("accuracy",) and data is None:
            raise SuiteError(
                f"{path.name}: data: missing; the accuracy check needs data: {{path, split, inputs, label}}"
            )
        if check == "accuracy" and optimized is None:
            raise SuiteError(
                f"{path.name}: model.optimized: missing; the {check} check compares the optimized model with the original"
            )
        validated[check] = opts
    return Suite(path=path, name=name, model=model, data=data, devices=devices, checks=validated)


# ---------------------------------------------------------------------------------------------- pytest


class SuiteFile(pytest.File):
    """A ``*.edgeqa.yaml`` file. A malformed one yields a single item that errors with the schema
    message, so the problem is reported for that file alone and the rest of the session runs."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        try:
            suite = load(self.path)
        except SuiteError as exc:
            yield SuiteSchemaItem.from_parent(self, name="schema", error=str(exc))
            return
        yield SuiteNode.from_parent(self, name=suite.name, suite=suite)


class SuiteNode(pytest.Collector):
    def __init__(self, *, suite: Suite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite

    def collect(self) -> Iterator[pytest.Item]:
        from .plugin import SESSION

        devices = self.config.stash[SESSION].settings.devices
        for check in self.suite.checks:
            for device in devices:
                yield SuiteItem.from_parent(self, name=f"{check}[{device.id}]", check=check, device=device)


class SuiteSchemaItem(pytest.Item):
    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        pytest.fail(self.error, pytrace=False)

    def runtest(self) -> None:  # never reached: setup raises
        raise SuiteError(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}: invalid suite"


class SuiteItem(pytest.Item):
    """One check of a suite on one device."""

    def __init__(self, *, check: str, device: DeviceSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.device = device
        self.suite: Suite = self.parent.suite  # type: ignore[union-attr]

    @property
    def title(self) -> str:
        """The suite's node id (file::suite): what reports group its checks under."""
        return self.nodeid.rsplit("::", 1)[0]

    @property
    def owner(self) -> str:
        """Whom a golden of this check belongs to: the suite and the check, not the device."""
        return f"{self.title}::{self.check}"

    def setup(self) -> None:
        from .config import device_allowed
        from .plugin import SESSION, _gate

        session = self.config.stash[SESSION]
        if self.suite.devices is not None and not device_allowed(self.device, self.suite.devices):
            pytest.skip(
                f"{self.device.id}: suite {self.suite.name!r} lists devices {', '.join(d.id for d in self.suite.devices)}"
            )
        _gate(session, self.device)  # the same availability rule as the edge_device fixture

    def _marker(self, session: Any) -> ModelMarker:
        from . import optimize

        model = self.suite.model
        options = {k: v for k, v in model.items() if k in COMPILE_OPTIONS}
        marker = ModelMarker(original=model["original"], optimized=model.get("optimized"), options=options)
        if marker.optimized is None or not optimize.is_recipe(marker.optimized):
            return marker
        spec = optimize.parse_spec(
            {**marker.optimized, "calibration": "suite"} if isinstance(marker.optimized, dict) else marker.optimized,
            "model.optimized",
        )
        calibration = None
        if spec.recipe.calibration or spec.recipe.validation:
            data = self.suite.data or {}
            given = marker.optimized.get("calibration", {}) if isinstance(marker.optimized, dict) else {}
            calibration = {
                "path": given.get("path", data.get("path")),
                "split": given.get("split", "train"),
                "inputs": given.get("inputs", data.get("inputs")),
                "label": given.get("label", data.get("label", "label")),
                **({"samples": given["samples"]} if "samples" in given else {}),
            }
            if calibration["path"] is None:
                raise SuiteError(f"{self.path.name}: model.optimized.calibration: needs data.path or calibration.path")
        metric = None
        if spec.recipe.validation:
            from .metrics import resolve

            metric = resolve(self.suite.checks.get("accuracy", {}).get("metric", "accuracy"), "checks.accuracy")
        built = session.optimized(spec, marker.original, self.path.parent, calibration, metric)
        return ModelMarker(original=marker.original, optimized=built, options=options)

    def runtest(self) -> None:
        try:
            self._run()
        except Unsupported as exc:
            pytest.skip(str(exc))

    def _run(self) -> None:
        from .plugin import SESSION

        session = self.config.stash[SESSION]
        marker = self._marker(session)
        base = self.path.parent
        opts = self.suite.checks[self.check]
        data = self.suite.data or {}
        from .checks import store_record

        if self.check == "accuracy":
            from .accuracy import AccuracyFailed, budget_from_marker
            from .checks import run_accuracy_check

            result = run_accuracy_check(
                session=session,
                base_dir=base,
                marker=marker,
                device=self.device,
                budget=budget_from_marker((), opts),
                data_source=data["path"],
                inputs_map=data.get("inputs"),
                label=data.get("label", "label"),
                samples=data.get("samples"),
                preprocess=data.get("preprocess"),
                split=data.get("split", "test"),
            )
            store_record(self, "accuracy", self.title, self.device.id, result)
            if not result.ok:
                raise AccuracyFailed(result.render())
        elif self.check == "latency":
            from .checks import conclude_latency, latency_schedule, run_latency_check
            from .latency import budget_from_marker as latency_budget

            settings = session.settings
            if settings.latency_mode == "off":
                pytest.skip("latency checks are off (--edge-latency=off)")
            budget = latency_budget((), opts, latency_schedule(settings))
            result = run_latency_check(
                session=session,
                base_dir=base,
                marker=marker,
                device=self.device,
                budget=budget,
                inputs_source=None,
                seed=0,
            )
            store_record(self, "latency", self.title, self.device.id, result)
            conclude_latency(settings, result)
        else:
            from . import data as data_mod
            from .checks import run_golden
            from .parity import spec_from_marker

            samples = opts.get("samples", 32)
            source = None
            if data.get("path"):
                source = data_mod.load(data["path"], split=data.get("split", "test"), base_dir=base)
                source = source.select(range(min(samples, len(source))))
            spec = spec_from_marker((), {k: v for k, v in opts.items() if k not in PARITY_OWN_KEYS})
            run_golden(
                session=session,
                item=self,
                owner=self.owner,
                base_dir=base,
                marker=marker,
                device=self.device,
                spec=spec,
                inputs=source,
                seed=opts.get("seed", 0),
                batch=samples,
                columns=data.get("inputs"),
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, EdgeQAError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.check}[{self.device.id}]"


def collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if file_path.name.endswith(SUFFIX):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


__all__ = ["SUFFIX", "Suite", "SuiteError", "collect_file", "load"]
