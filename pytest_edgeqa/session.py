"""The per-session core the plugin's hooks and fixtures hand off to: devices, models, compile memo."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from . import config as cfg
from .config import Settings
from .devices import Inventory, discover, fallback
from .errors import ConfigError, DeviceUnavailable, FallbackError, ModelError, NotHonoured, RequiredNotHonoured
from .models import ModelStore
from .types import DeviceSpec, Runtime

T = TypeVar("T")

RESULTS = pytest.StashKey[list]()  # an item's result records, put on its report for the controller
LIVE_PARITY = pytest.StashKey[dict]()  # device id -> checks.LiveParity: parity_check's calls in one item
GOLDEN = "edgeqa_golden"  # user_properties key: a golden an item touched

if TYPE_CHECKING:
    from .runtimes import CompiledModel
    from .types import CompileConfig


@dataclass
class EdgeSession:
    settings: Settings
    cache_dir: str | None = None
    store: ModelStore = field(init=False)
    _inventory: Inventory = field(default_factory=Inventory)
    _discovered: set[Runtime] = field(default_factory=set)
    _quantization: dict[str, str | None] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)
    model_cache: Path | None = None  # where optimized models are cached (--edge-cache-dir)
    rebuild_session: str | None = None  # set by --edge-rebuild: this session's id
    _builds: dict[str, dict[str, Any]] = field(default_factory=dict)  # optimized model path -> build info

    def __post_init__(self) -> None:
        self.store = ModelStore(cache_dir=self.cache_dir)

    def inventory(self, *runtimes: Runtime) -> Inventory:
        """What the runtimes report; each runtime is imported and asked once, when first needed."""
        todo = set(runtimes) - self._discovered
        if todo:
            found = discover(todo)
            inv = self._inventory
            self._inventory = Inventory(
                openvino=found.openvino if "openvino" in todo else inv.openvino,
                onnxruntime=found.onnxruntime if "onnxruntime" in todo else inv.onnxruntime,
                problems=inv.problems + found.problems,
            )
            self._discovered |= todo
        return self._inventory

    def unavailable(self, spec: DeviceSpec) -> str | None:
        return self.inventory(spec.runtime).missing(spec)

    def require(self, spec: DeviceSpec) -> None:
        reason = self.unavailable(spec)
        if reason:
            raise DeviceUnavailable(reason)

    def compile(
        self, ref: str | os.PathLike[str], base_dir: Path, device: DeviceSpec, config: CompileConfig, what: str
    ) -> CompiledModel:
        """Load ``ref`` and compile it for ``device`` (memoized); a silent fallback is an error, and so
        is a setting the compiled model reads back different from the one asked (a skip, or a failure
        under --edge-require-devices): nothing runs at a precision or setting nobody asked for."""
        self.require(device)
        if self.settings.require_devices:
            config = config.with_(strict_device=True)
        model = self.store.model(ref, base_dir, what)
        try:
            compiled = self.store.compile(model, device, config)
        except ModelError as exc:
            build = self._builds.get(str(model.path))
            if build is None:
                raise
            raise ModelError(
                f"{exc}\nIt is recipe {build.get('recipe')!r}'s cached build in {model.path.parent}: rebuild it with --edge-rebuild"
            ) from None
        unknown = [n for n in config.empty_outputs if n not in {s.name for s in compiled.outputs}]
        if unknown:
            raise ConfigError(
                f"{what}: empty_outputs names {', '.join(map(repr, unknown))}, which {model.name} does not have "
                f"(outputs: {', '.join(s.name for s in compiled.outputs)})"
            )
        if str(model.path) in self._builds:
            compiled.info.extra["optimization"] = self._builds[str(model.path)]
        problem = fallback(device, compiled.info.execution_devices, self.inventory(device.runtime))
        if problem:
            raise FallbackError(f"{what}: {model.name}: {problem}")
        if compiled.info.not_honoured():
            reason = f"{compiled.info.describe_not_honoured(config.precision == 'reference')}, for {what}"
            if self.settings.require_devices:
                raise RequiredNotHonoured(f"--edge-require-devices: {reason}")
            raise NotHonoured(reason)
        return compiled

    def weight_format(self, model: CompiledModel) -> str | None:
        """'int8', 'int4', 'f16' or None for a compiled model's weights, looked at once per model hash
        (ONNX files with the onnx package, IR with OpenVINO)."""
        sha = model.info.model_sha256
        if sha not in self._quantization:
            from .weights import weight_format

            try:
                self._quantization[sha] = weight_format(model.info.model)
            except (ModelError, RuntimeError):  # the model compiled, so its weights' format never fails a check
                self._quantization[sha] = None
        return self._quantization[sha]

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """Compute once per session (e.g. the original's evaluation, shared by tests and checks)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def compile_marked(
        self,
        marker: Any,
        role: str,
        base_dir: Path,
        device: DeviceSpec,
        config: CompileConfig,
        *,
        reference: bool = True,
    ) -> CompiledModel:
        """The edge_model marker's ``role`` model ("original" or "optimized") for ``device``. The original
        runs at its declared precision unless ``reference=False`` (as shipped, at the device default)."""
        ref = marker.original if role == "original" else marker.optimized
        if role == "original" and reference:
            config = config.with_(precision="reference")
        return self.compile(ref, base_dir, device, config, what=f"edge_model marker {role}={ref!r}")

    def optimized(self, spec: Any, original_ref: Any, base_dir: Path, calibration: Any, metric: Any = None) -> Path:
        """The optimized model a recipe makes from the original: from the cache, or built now."""
        from . import optimize
        from .types import CompileConfig

        original = self.store.model(original_ref, base_dir, "edge_model marker original")
        recipe = spec.recipe
        samples = None
        if recipe.calibration or recipe.validation:
            names = [
                t.name
                for t in self.compile(
                    original_ref,
                    base_dir,
                    self.settings.golden_device,
                    CompileConfig(precision="reference"),
                    what="original",
                ).inputs
            ]
            where = f"recipe {spec.name!r} calibration"
            count = spec.options.get("samples", 300)
            samples = optimize.samples_from(
                calibration, names, samples=count, labels=recipe.validation, base_dir=base_dir, where=where
            )
        cache = self.model_cache or Path(tempfile.gettempdir()) / "pytest-edgeqa-models"
        key = (
            "optimized",
            original.sha256,
            spec.name,
            repr(sorted(spec.options.items())),
            samples.fingerprint if samples else None,
        )

        def build() -> optimize.Built:
            return optimize.build(
                spec, original, cache_dir=cache, samples=samples, metric=metric, rebuild_session=self.rebuild_session
            )

        built = self.memo(key, build)
        if not built.present():  # the cache was cleared (or the entry damaged) during the run: build it again
            built = self._memo[key] = build()
        self._builds[str(built.path)] = built.info
        return built.path


SESSION = pytest.StashKey[EdgeSession]()  # config.stash: this run's EdgeSession, set at configure time
CURRENT = pytest.StashKey[pytest.Item]()  # config.stash: the item running now (session-scoped parity_check reads it)


def start(config: pytest.Config) -> EdgeSession:
    """This run's EdgeSession from the command line and ini files (a bad value is a usage error), with its
    OpenVINO and model caches placed in pytest's cache, or a per-user one without the cache provider."""
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
    return session


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist worker (the controller, or a plain run, owns reports and files)."""
    return hasattr(config, "workerinput")
