"""pytest hooks and fixtures only: each a few lines handing off to the core. Imports no ML framework."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from . import config as cfg
from .devices import parse_device
from .types import DeviceSpec
from .errors import ConfigError, EdgeQAError, Unsupported
from .session import GOLDEN, RESULTS, SESSION, EdgeSession
from .usage import Usage

if TYPE_CHECKING:
    from .runtimes import CompiledModel

USAGE = pytest.StashKey[Usage]()  # every process: what it collected; the controller merges the rest


def pytest_addoption(parser: pytest.Parser) -> None:
    cfg.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(trylast=True)  # after the cache provider has set config.cache
def pytest_configure(config: pytest.Config) -> None:
    for _name, signature in cfg.MARKERS.items():
        config.addinivalue_line("markers", signature)
    try:
        settings = cfg.resolve(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    cache = getattr(config, "cache", None)
    # Without the cache provider (-p no:cacheprovider): a per-user cache, not a folder /tmp shares.
    openvino_cache = cache.mkdir("edgeqa-openvino") if cache is not None else cfg.user_cache_dir("openvino")
    if cache is None:
        try:
            openvino_cache.mkdir(parents=True, exist_ok=True)
        except OSError:
            openvino_cache = None  # compiling without a cache is slower, never wrong
    session = EdgeSession(settings=settings, cache_dir=str(openvino_cache) if openvino_cache else None)
    session.model_cache = settings.model_cache or (
        cache.mkdir("edgeqa-models") if cache is not None else cfg.user_cache_dir("models")
    )
    if settings.rebuild:
        # One id for the whole run (xdist workers share the controller's testrunuid): rebuilt once per run.
        session.rebuild_session = getattr(config, "workerinput", {}).get("testrunuid") or uuid.uuid4().hex
    config.stash[SESSION] = session
    config.stash[USAGE] = Usage(devices={d.id for d in settings.devices})
    config.pluginmanager.register(GoldenCollection(config), "edgeqa-golden-collection")
    if not hasattr(config, "workerinput"):  # the controller (or a plain run) owns the bookkeeping and files
        config.pluginmanager.register(GoldenUsage(config), "edgeqa-golden-usage")
        config.pluginmanager.register(EdgeReport(config), "edgeqa-report")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .suite import collect_file

    return collect_file(file_path, parent)


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[SESSION].settings
    required = ", required" if s.require_devices else ""
    trust = "; trusts code named by markers (--edge-trust-code)" if s.trust_code else ""
    return f"edgeqa: devices {', '.join(d.id for d in s.devices)} (from {s.devices_source}{required}){trust}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "parity_check" in metafunc.fixturenames and "edge_device" not in metafunc.fixturenames:
        # parity_check is session-scoped (so @given tests may use it); the item still gets a device,
        # through the fixture closure rather than the signature, which Hypothesis's health check reads.
        metafunc.fixturenames.append("edge_device")
    if "edge_device" not in metafunc.fixturenames:
        return
    if any(
        "edge_device" in str(m.args[0] if m.args else m.kwargs.get("argnames", ""))
        for m in metafunc.definition.iter_markers("parametrize")
    ):
        return  # the user parametrized it by hand
    devices = metafunc.config.stash[SESSION].settings.devices
    metafunc.parametrize("edge_device", devices, ids=[d.id for d in devices], indirect=True)


class _as_outcome:
    """Our errors become a one-paragraph failure (or a skip), never a traceback into the plugin.

    A class, not @contextmanager: its __exit__ frame can be hidden, so pytest reports the user's line
    as the location, and `from None` drops the 'during handling of the above exception' chain."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> Literal[False]:
        __tracebackhide__ = True
        if isinstance(exc, Unsupported):
            raise pytest.skip.Exception(str(exc)) from None
        if isinstance(exc, EdgeQAError):
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
        return False


def _gate(session: EdgeSession, spec: DeviceSpec) -> None:
    __tracebackhide__ = True
    reason = session.unavailable(spec)
    if reason is None:
        return
    if session.settings.require_devices:
        pytest.fail(f"--edge-require-devices: {reason}", pytrace=False)
    pytest.skip(reason)


def _checked_device(request: pytest.FixtureRequest, value: object) -> DeviceSpec:
    """The item's device from its parametrization value: a ``DeviceSpec`` (from --edge-device) or a string
    a user parametrized ``edge_device`` with by hand (parsed like --edge-device); then the edge_device
    marker and the device's availability decide whether the item runs."""
    __tracebackhide__ = True
    session = request.config.stash[SESSION]
    if isinstance(value, str):
        with _as_outcome():
            spec = cfg.parse_device_arg(value, f"parametrize('edge_device') value {value!r}")
    elif isinstance(value, DeviceSpec):
        spec = value
    else:
        pytest.fail(
            f"parametrize('edge_device') value {cfg.short(value)}: not a device; expected a device string such "
            "as 'CPU', 'GPU.1' or 'ort:cpu' (or leave edge_device to --edge-device)",
            pytrace=False,
        )
    mark = request.node.get_closest_marker("edge_device")
    if mark is not None:
        with _as_outcome():
            allowed = cfg.parse_device_marker(mark)
        if not cfg.device_allowed(spec, allowed):
            pytest.skip(f"{spec.id}: this test is marked edge_device({', '.join(a.id for a in allowed)})")
    _gate(session, spec)
    return spec


def _spec(request: pytest.FixtureRequest, value: object) -> DeviceSpec:
    """What a fixture got as ``edge_device``: checked already when the edge_device fixture made it; a raw
    parametrize value (``parametrize('edge_device', ['NPU'])`` without indirect) is checked here."""
    __tracebackhide__ = True
    return value if isinstance(value, DeviceSpec) else _checked_device(request, value)


def _id_of(device: object) -> str:
    """A device's id: a DeviceSpec's, or that of a string a user parametrized edge_device with."""
    if isinstance(device, str):
        try:
            return parse_device(device).id
        except ConfigError:
            return device
    return str(getattr(device, "id", device))


@pytest.fixture
def edge_device(request: pytest.FixtureRequest) -> DeviceSpec:
    """The device of this item's parametrization (one item per ``--edge-device``)."""
    __tracebackhide__ = True
    return _checked_device(request, getattr(request, "param", request.config.stash[SESSION].settings.devices[0]))


@pytest.fixture
def edge_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., CompiledModel]:
    """Factory: ``edge_model(path, device=None, reference=False, **options)`` -> a compiled model.

    ``device`` defaults to this item's device; ``reference=True`` pins the model's declared precision."""
    session = request.config.stash[SESSION]
    base_dir = request.path.parent
    item_device = _spec(request, edge_device)

    def load(
        model: str | os.PathLike[str], device: str | None = None, *, reference: bool = False, **options: Any
    ) -> CompiledModel:
        __tracebackhide__ = True
        with _as_outcome():
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
                spec = cfg.parse_device_arg(device, "edge_model(device=...)")
            _gate(session, spec)
            config = cfg.compile_config(options, "edge_model() fixture")
            if reference:
                config = config.with_(precision="reference")
            return session.compile(model, base_dir, spec, config, what=f"edge_model({os.fspath(model)!r})")
        raise AssertionError("unreachable")  # _as_outcome re-raises as a pytest outcome

    return load


def _models(request: pytest.FixtureRequest, mark: pytest.Mark) -> cfg.ModelMarker:
    """The edge_model marker, with an ``optimized`` recipe replaced by the model it builds (cached).
    ``calibration`` may name a fixture; its value is the calibration data."""
    __tracebackhide__ = True
    from dataclasses import replace

    marker = cfg.parse_model_marker(mark)
    if marker.optimized is None:
        return marker
    from . import optimize

    if not optimize.is_recipe(marker.optimized):
        return marker
    spec = optimize.parse_spec(marker.optimized, "edge_model marker")
    calibration = spec.calibration
    if isinstance(calibration, str) and calibration.isidentifier():
        try:
            calibration = request.getfixturevalue(calibration)
        except pytest.FixtureLookupError:
            pass  # not a fixture: a dataset path
    metric = None
    if spec.recipe.validation:
        from .accuracy import budget_from_marker
        from .metrics import resolve
        from .registry import registry_of

        acc = request.node.get_closest_marker("accuracy")
        budget = budget_from_marker(acc.args, acc.kwargs) if acc is not None else None
        metric = resolve(
            budget.metric if budget else "accuracy",
            "recipe nncf-int8-accuracy",
            registry_of(request.config),
            base_dir=request.path.parent,
        )
        given = marker.optimized if isinstance(marker.optimized, dict) else {}
        if budget is not None and budget.max_drop is not None and "max_drop" not in given:
            spec = replace(spec, options={**spec.options, "max_drop": budget.max_drop, "drop": budget.drop})
    path = request.config.stash[SESSION].optimized(spec, marker.original, request.path.parent, calibration, metric)
    return replace(marker, optimized=path)


def _marked_model(request: pytest.FixtureRequest, device: DeviceSpec, role: str) -> CompiledModel:
    __tracebackhide__ = True
    mark = request.node.get_closest_marker("edge_model")
    if mark is None:
        pytest.fail(
            f"{role}_model needs an edge_model marker on the test, its class or module, e.g. "
            "pytestmark = pytest.mark.edge_model(original='models/net.onnx', optimized='models/net_int8.xml')",
            pytrace=False,
        )
    session = request.config.stash[SESSION]
    with _as_outcome():
        marker = _models(request, mark)
        if role == "optimized" and marker.optimized is None:
            raise ConfigError("edge_model marker: argument 'optimized' is not given, so there is no optimized_model")
        return session.compile_marked(marker, role, request.path.parent, device, marker.config())
    raise AssertionError("unreachable")


@pytest.fixture
def original_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> CompiledModel:
    """The marker's ``original`` model on this item's device, at its declared (reference) precision."""
    return _marked_model(request, _spec(request, edge_device), "original")


@pytest.fixture
def optimized_model(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> CompiledModel:
    """The marker's ``optimized`` model on this item's device, at the device's default precision."""
    return _marked_model(request, _spec(request, edge_device), "optimized")


# ------------------------------------------------------------------------------------------------ goldens

OWNER = "edgeqa_owner"
DEVICE = "edgeqa_device"  # user_properties key: the device of an item that may use goldens
USAGE_WIRE = "edgeqa_golden_usage"  # config.workeroutput key: a worker's Usage.to_wire()


def _device_id(item: pytest.Item) -> str:
    from .suite import SuiteItem

    if isinstance(item, SuiteItem):
        return item.device.id
    callspec = getattr(item, "callspec", None)
    device = callspec.params.get("edge_device") if callspec is not None else None
    return "" if device is None else _id_of(device)


def _owner(item: pytest.Item) -> str:
    """The test a golden belongs to: node id without the device part of its parametrization."""
    from .suite import SuiteItem

    if isinstance(item, SuiteItem):
        return _rooted(item, item.owner)
    base, _, params = item.nodeid.partition("[")
    callspec = getattr(item, "callspec", None)
    raw = callspec.params.get("edge_device") if callspec is not None else None
    dev = raw if isinstance(raw, str) else _device_id(item)  # a hand-parametrized string is its own id
    params = params[:-1] if params.endswith("]") else params
    if dev:
        if params == dev:
            params = ""
        elif params.startswith(dev + "-"):
            params = params[len(dev) + 1 :]
        elif params.endswith("-" + dev):
            params = params[: -len(dev) - 1]
        else:
            params = params.replace("-" + dev + "-", "-", 1)
    return _rooted(item, f"{base}[{params}]" if params else base)


def _rooted(item: pytest.Item, owner: str) -> str:
    """``owner`` with its file named from the rootdir. pytest names a file outside the rootdir by its path
    below the argument that collected it, or by nothing when the argument was the file itself, so two
    such files could share goldens; it is named by its path from the rootdir instead ('../x/test_a.py'),
    which golden_rel keeps inside the golden dir."""
    path, rootpath = getattr(item, "path", None), item.config.rootpath
    if path is None or Path(path).is_relative_to(rootpath):
        return owner
    try:
        module = Path(os.path.relpath(path, rootpath)).as_posix()
    except ValueError:  # another drive (Windows)
        module = Path(path).as_posix()
    return f"{module}::{owner.partition('::')[2]}"


CURRENT = pytest.StashKey[pytest.Item]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[CURRENT] = item
    from .suite import SuiteItem

    if "golden_check" in getattr(item, "fixturenames", ()) or (isinstance(item, SuiteItem) and item.check == "parity"):
        item.user_properties += [(OWNER, _owner(item)), (DEVICE, _device_id(item))]


class GoldenCollection:
    """Every process: which tests exist (collected before any deselection), which were selected, and what
    kept the collection from being whole. A worker hands it to the controller in config.workeroutput."""

    def __init__(self, config: pytest.Config) -> None:
        self.usage = config.stash[USAGE]

    @pytest.hookimpl(tryfirst=True)  # before -k, -m, --deselect and the like drop items: a deselected test exists
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from .suite import SuiteSchemaItem

        self.usage.collected = True
        for item in items:
            if isinstance(item, SuiteSchemaItem):
                self.usage.problems.append(f"invalid suite {item.nodeid.split('::', 1)[0]}")
            else:
                self.usage.add_item(item.nodeid, _owner(item))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.usage.selected.update(item.nodeid for item in session.items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # On the controller too: pytest-xdist replays the workers' failed collections there.
        problem = f"a collection error in {report.nodeid or 'the session'}"
        if report.failed and problem not in self.usage.problems:
            self.usage.problems.append(problem)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        if _is_worker(config):  # merged on the controller in GoldenUsage.pytest_testnodedown
            config.workeroutput[USAGE_WIRE] = self.usage.to_wire()  # type: ignore[attr-defined]


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# What makes a session run no tests at all: nothing it did can say a golden is unused.
_NO_TESTS = (
    ("collectonly", "--collect-only"),
    ("showfixtures", "--fixtures"),
    ("show_fixtures_per_test", "--fixtures-per-test"),
    ("markers", "--markers"),
    ("setuponly", "--setup-only"),
    ("setupplan", "--setup-plan"),
)


class GoldenUsage:
    """Controller-side bookkeeping of golden use, fed by test reports (so it works under pytest-xdist,
    where the reports carry each item's user_properties to the controller) and by the collection of
    this process or, under pytest-xdist, of the workers."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.unused: list[Path] = []
        self.pruned = False
        self.undecided: str | None = None

    @property
    def usage(self) -> Usage:
        return self.config.stash[USAGE]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        usage = self.usage
        if report.when == "teardown":
            usage.finished.add(report.nodeid)
        props = [(str(k), str(v)) for k, v in report.user_properties]
        owner = next((v for k, v in props if k == OWNER), None)
        if owner is None:
            return
        usage.touched.update(v for k, v in props if k == GOLDEN)
        if report.when == "call" and report.passed:
            usage.passed.add((owner, next((v for k, v in props if k == DEVICE), "")))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist: a worker finished (or died); merge what it collected."""
        self.usage.merge(getattr(node, "workeroutput", {}).get(USAGE_WIRE, {}))
        if error:
            self.usage.problems.append(f"pytest-xdist worker {node.gateway.id} crashed ({error})")

    def _why_undecided(self, session: pytest.Session, exitstatus: int) -> str | None:
        """Why this session cannot tell which goldens are unused; None when it ran to its end."""
        for dest, flag in _NO_TESTS:
            if self.config.getoption(dest, False):
                return f"{flag} ran no tests"
        if self.usage.problems:
            return self.usage.undecided()
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "the session was interrupted"
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
            return f"the session ended with exit status {int(exitstatus)}"
        stopped = session.shouldfail or session.shouldstop
        if stopped:
            return f"the session stopped early ({stopped})" if isinstance(stopped, str) else "the session stopped early"
        return self.usage.undecided()

    def _module_gone(self) -> Any:
        """Decides whether a test module that was not collected is gone: it no longer exists and lies under
        this run's paths. None where the run cannot tell (--lf skips files, node ids select single tests)."""
        config = self.config
        if config.getoption("lf", False) or any("::" in arg for arg in config.args):
            return None
        rootpath, here = config.rootpath, config.invocation_params.dir
        scope = [(here / a.split("::")[0]).resolve() for a in config.args]

        def gone(module: str) -> bool:
            path = (rootpath / module).resolve()
            return not path.exists() and any(path == s or s in path.parents for s in scope)

        return gone

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        settings = self.config.stash[SESSION].settings
        if not settings.golden_dir.is_dir():
            return
        self.undecided = self._why_undecided(session, exitstatus)
        if self.undecided is not None:
            return
        from .golden import remove, unused

        self.unused = unused(settings.golden_dir, self.usage, self._module_gone())
        if settings.golden_prune and self.unused:
            for path in self.unused:
                remove(path)
            self.pruned = True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.undecided is not None and self.config.stash[SESSION].settings.golden_prune:
            terminalreporter.write_line(
                f"edgeqa: --golden-prune skipped: {self.undecided}; goldens are judged unused only from a session that ran to its end"
            )
        if not self.unused:
            return
        rootpath = self.config.rootpath
        verb = "removed" if self.pruned else "unused"
        terminalreporter.section(f"edgeqa: {len(self.unused)} {verb} golden(s)")
        for path in self.unused:
            terminalreporter.write_line(f"  {path.relative_to(rootpath) if path.is_relative_to(rootpath) else path}")
        if not self.pruned:
            terminalreporter.write_line("no selected test used these goldens; delete them with --golden-prune")


@pytest.fixture
def golden_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``golden_check(inputs=None, *, name=None, model=None, seed=0, batch=4, columns=None, shapes=None,
    dims=None)``: compare the optimized model (or ``model``) with the golden recorded from the original at
    reference precision, and with the original run live on this device, under the ``parity`` marker's
    criteria. Generated inputs take ``shapes`` (input -> whole shape) and ``dims`` (symbol -> size)."""
    session = request.config.stash[SESSION]
    node = request.node
    device = _spec(request, edge_device)

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

        with _as_outcome():
            cfg.golden_arguments(name=name, model=model, seed=seed, batch=batch, columns=columns)
            mark = node.get_closest_marker("parity")
            spec = spec_from_marker(mark.args, mark.kwargs) if mark is not None else spec_from_marker((), {})
            models = node.get_closest_marker("edge_model")
            if models is None:
                raise ConfigError(
                    f"golden_check needs an edge_model marker on the test, its class or module, e.g. {_EDGE_MODEL_EXAMPLE}"
                )
            marker = _models(request, models)
            return run_golden(
                session=session,
                item=node,
                owner=_owner(node),
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


_EDGE_MODEL_EXAMPLE = "pytest.mark.edge_model(original='models/net.onnx', optimized='models/net_int8.xml')"


def _check_markers(
    request: pytest.FixtureRequest, check: str, marker: str, example: str, parse: Callable[[pytest.Mark], Any]
) -> tuple[Any, cfg.ModelMarker]:
    """The check's own marker parsed by ``parse`` (first: a bad budget is refused before any model is
    built or run) and the edge_model marker (recipes built), or an error that shows how to add them."""
    node = request.node
    name = marker.split()[-1]
    mark = node.get_closest_marker(name)
    if mark is None:
        raise ConfigError(f"{check} needs {marker} marker, e.g. @pytest.mark.{example}")
    parsed = parse(mark)
    models = node.get_closest_marker("edge_model")
    if models is None:
        raise ConfigError(
            f"{check} needs an edge_model marker on the test, its class or module, e.g. {_EDGE_MODEL_EXAMPLE}"
        )
    return parsed, _models(request, models)


@pytest.fixture
def accuracy_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``accuracy_check(data, *, inputs=None, label="label", samples=None, preprocess=None, split="test")``:
    evaluate original and optimized on ``data`` and assert the ``accuracy`` marker's budget."""
    session = request.config.stash[SESSION]
    device = _spec(request, edge_device)

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

        with _as_outcome():
            cfg.accuracy_arguments(inputs=inputs, label=label, samples=samples, split=split)
            budget, models = _check_markers(
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
            _record(request, "accuracy", result)
            if not result.ok:
                raise AccuracyFailed(result.render())
            return result
        raise AssertionError("unreachable")

    return check


@pytest.fixture
def latency_check(request: pytest.FixtureRequest, edge_device: DeviceSpec) -> Callable[..., Any]:
    """``latency_check(inputs=None, *, seed=0, shapes=None, dims=None)``: time the marker's models and assert
    the ``latency`` marker's budgets (generated inputs sized by ``shapes`` and ``dims`` as for golden_check). A budget the evidence cannot decide (a contended CPU, an interval across the budget)
    skips the test as NOT JUDGED (=strict fails it); under --edge-latency=warn a failure is a warning;
    =off skips the check. The result's ``status`` is set before it is recorded."""
    session = request.config.stash[SESSION]
    settings = session.settings
    device = _spec(request, edge_device)

    def check(
        inputs: Any = None, *, seed: int = 0, shapes: dict[str, Any] | None = None, dims: dict[str, int] | None = None
    ) -> Any:
        __tracebackhide__ = True
        import warnings

        from .checks import conclude_latency, latency_schedule, run_latency_check
        from .latency import LatencyWarning, budget_from_marker

        if settings.latency_mode == "off":
            pytest.skip("latency checks are off (--edge-latency=off)")
        if _is_worker(request.config):
            warnings.warn(
                LatencyWarning(
                    f"latency measured under pytest-xdist ({getattr(request.config, 'workerinput', {}).get('workerid')}): other workers share "
                    f"the CPU, so timings are noisy; --edge-latency={settings.latency_mode} decides what a failure does"
                ),
                stacklevel=2,
            )
        with _as_outcome():
            cfg.number(seed, "latency_check", "seed", integer=True, low=0)
            budget, models = _check_markers(
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
            _record(request, "latency", result)
            conclude_latency(settings, result)
            return result
        raise AssertionError("unreachable")

    return check


# ------------------------------------------------------------------------------------------ reporting


def _record(request: pytest.FixtureRequest, check: str, result: Any) -> None:
    from .checks import store_record

    store_record(request.node, check, _owner(request.node), _id_of(request.getfixturevalue("edge_device")), result)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    if call.when == "call" and "parity_check" in getattr(item, "fixturenames", ()):
        from .checks import store_live_parity

        store_live_parity(item, _owner(item))  # before the report is made: it copies user_properties
    report = yield
    from .suite import SuiteItem

    if isinstance(item, SuiteItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), 1, report.longrepr[2])  # point at the suite file, not our code
    if call.when == "call" and item.stash.get(RESULTS, None):
        # A plain attribute of the report: pytest-xdist serializes it to the controller.
        report.edgeqa_results = [{**r, "nodeid": item.nodeid} for r in item.stash[RESULTS]]
    elif (report.skipped or (report.failed and call.when != "teardown")) and not item.stash.get(RESULTS, None):
        # A check that did not get to record a result still ends in one status: skip (with the reason,
        # so a device matrix shows where a check did not run and why) or fail (it errored before judging).
        report.edgeqa_results = _unjudged_records(item, report)
    return report


def _unjudged_records(item: pytest.Item, report: pytest.TestReport) -> list[dict[str, Any]]:
    from .suite import SuiteItem

    if report.skipped:
        status = "skip"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
    else:
        status = "fail"
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else report.longreprtext
        reason = next((ln.strip() for ln in text.splitlines() if ln.strip()), "failed").removeprefix("Failed: ")[:300]
    if isinstance(item, SuiteItem):
        name, device = item.title, item.device.id
    else:
        spec = getattr(getattr(item, "callspec", None), "params", {}).get("edge_device")
        name, device = _owner(item), _id_of(spec) if spec is not None else "-"
    checks = _checks_of(item)
    item.user_properties.extend((f"edgeqa.{check}.status", status) for check in checks)  # for --junitxml
    return [
        {
            "check": check,
            "name": name,
            "device": device,
            "status": status,
            "ok": False,
            "figures": {},
            "detail": {"reason": reason},
            "nodeid": item.nodeid,
        }
        for check in checks
    ]


def _checks_of(item: pytest.Item) -> list[str]:
    """The checks an item runs: a suite item's one, or those a test's fixtures ask for."""
    from .suite import SuiteItem

    if isinstance(item, SuiteItem):
        return [item.check]
    names = getattr(item, "fixturenames", ())
    return [
        c
        for c, fixtures in (
            ("accuracy", ("accuracy_check",)),
            ("latency", ("latency_check",)),
            ("parity", ("golden_check", "parity_check")),
        )
        if any(f in names for f in fixtures)
    ]


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


class EdgeReport:
    """Controller-side: gathers result records from reports, prints the summary, writes the files."""

    def __init__(self, config: pytest.Config) -> None:
        import time

        self.config = config
        self.records: list[dict[str, Any]] = []
        self.started = time.time()
        self.written: list[str] = []
        self.failed: list[str] = []  # report files that could not be written

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for rec in getattr(report, "edgeqa_results", None) or []:
            self.records.append({**rec, "outcome": report.outcome})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from . import report

        settings = self.config.stash[SESSION].settings
        # A report is written whenever one is asked for, empty or not: a matrix job whose device was
        # missing still hands its (skipped) results to the merge.
        if not (settings.report_json or settings.report_md or (os.environ.get("GITHUB_STEP_SUMMARY") and self.records)):
            return
        import json

        data = report.build(self.records, report.environment(d.id for d in settings.devices), self.started)
        text = report.markdown(data)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        for path, what, done, write in (
            (
                settings.report_json,
                "JSON report",
                f"JSON report written to {settings.report_json}",
                lambda p: report.write_atomic(p, json.dumps(data, indent=2) + "\n"),
            ),
            (
                settings.report_md,
                "Markdown summary",
                f"Markdown summary written to {settings.report_md}",
                lambda p: report.write_atomic(p, text),
            ),
            (
                Path(summary) if summary else None,
                "summary to $GITHUB_STEP_SUMMARY",
                f"summary appended to $GITHUB_STEP_SUMMARY ({summary})",
                lambda p: _append(p, text),
            ),
        ):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                # Checked at configure time; what changed since (a file where a folder was, a full disk)
                # is one line, the rest of the summary still printed, and a session that did not do
                # everything asked ends non-zero.
                here = self.config.invocation_params.dir
                why = cfg.file_problem(path, here) or f"{exc.strerror or exc}"
                self.failed.append(f"edgeqa: could not write the {what} ({cfg.shown(path, here)}): {why}")
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
            else:
                self.written.append(f"edgeqa: {done}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .report import terminal_lines

        if self.records:
            terminalreporter.section("edgeqa results")
            for line in terminal_lines(self.records, 100):
                terminalreporter.write_line(line)
        for line in self.written:
            terminalreporter.write_line(line)
        for line in self.failed:
            terminalreporter.write_line(line, red=True, bold=True)


@pytest.fixture(scope="session")
def parity_check(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """``parity_check(inputs=None, *, seed=0, batch=4, shapes=None, dims=None)``: the optimized model
    against the original, run live on this item's device, under the ``parity`` marker's criteria
    (defaults by the model's kind); without ``inputs``, generated ones sized as for golden_check. Session-scoped and
    stateless, so it works inside ``@given`` tests without tripping Hypothesis's function-scoped-fixture
    health check; a mismatch raises ``ParityMismatch`` (an AssertionError), which Hypothesis shrinks."""
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
        with _as_outcome():  # configuration problems skip or fail the test; ParityMismatch is shrunk
            cfg.number(seed, "parity_check", "seed", integer=True, low=0)
            return run_parity(
                session=session,
                marker=_models(request, mark),
                base_dir=item.path.parent,
                device=_spec(request, request.getfixturevalue("edge_device")),
                parity_args=(parity.args, parity.kwargs) if parity is not None else ((), {}),
                inputs=inputs,
                item=item,
                generate={"seed": seed, "batch": batch, "shapes": shapes, "dims": dims},
            )
        raise AssertionError("unreachable")

    return check
