"""Options, ini keys and marker arguments: parsed and validated in one place, errors naming their source."""

from __future__ import annotations

import argparse
import math
import numbers
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .devices import DeviceSpec, parse_device, parse_devices
from .errors import ConfigError

if TYPE_CHECKING:
    import pytest

    from .runtimes import CompileConfig

DEFAULT_DEVICES = "CPU"

# Marker signatures: registered verbatim so --strict-markers knows them and `pytest --markers` shows them.
MARKERS = {
    "edge_model": (
        "edge_model(original, optimized=None, **options): the models under test. Paths resolve against "
        "the test file's directory. options: hint=LATENCY|THROUGHPUT|CUMULATIVE_THROUGHPUT, "
        "precision=f32|f16|bf16 (optimized side; the original always runs at its declared precision), "
        "threads=N, streams=N, properties={engine-specific key: value}, empty_outputs=(names of outputs that "
        "may legitimately come out empty, such as a detector's boxes)"
    ),
    "accuracy": (
        "accuracy(metric='accuracy', max_drop=None, drop='absolute', higher_is_better=None, min_value=None, "
        "max_value=None, min_improvement=None, preset=None, gate='point', confidence=0.95, resamples=2000, "
        "output=None, batch_size=None): accuracy budget for accuracy_check; presets mlperf-99, mlperf-99.9; "
        "gate='confident' judges the bound of the paired bootstrap interval instead of the point drop"
    ),
    "latency": (
        "latency(p50_ms=None, p90_ms=None, p95_ms=None, p99_ms=None, mean_ms=None, percentiles={p: ms}, "
        "max_ratio=None, min_speedup=None, min_fps=None, batch=1, hint='LATENCY', warmup_iters=10, warmup_s=0.5, "
        "iterations=300, seconds=1.0, block=10, confidence=0.95): latency budgets for latency_check; relative "
        "budgets use the interval of the interleaved ratio optimized/original"
    ),
    "parity": (
        "parity(atol=None, rtol=None, max_mismatch=0.0, max_abs_error=None, mean_abs_error=None, "
        "median_abs_error=None, quantile=0.99, quantile_abs_error=None, cosine=None, snr_db=None, psnr_db=None, "
        "top_k=None, top_k_agreement=1.0, class_axis=-1, nan='match', rel_floor=None, outputs={name: {...}}): "
        "numerical agreement criteria for golden_check; every criterion given must hold; without numbers, "
        "defaults by the model's precision/quantization apply"
    ),
    "edge_device": (
        "edge_device(*devices): the test applies only to these devices (e.g. 'CPU', 'GPU', 'ort:cuda'); "
        "items for other --edge-device values are skipped"
    ),
}


def _device_arg(text: str) -> list[DeviceSpec]:
    try:
        return parse_devices(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _golden_device_arg(text: str) -> DeviceSpec:
    try:
        return parse_device(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# Upper bounds of every number a user gives (command line, ini, marker, fixture argument): a value past
# them is a typo or a unit mix-up (ms for s), never a run anybody waits for or has the memory for.
MAX_SECONDS = 3600.0  # timed or warm-up seconds per model: an hour
MAX_ITERATIONS = 10_000_000
MAX_BATCH = 4096  # a batch a fixture generates or evaluates at once
MAX_RESAMPLES = 100_000  # bootstrap resamples
MAX_THREADS = 1024  # threads or streams


def number(
    value: Any,
    where: str,
    key: str,
    *,
    integer: bool = False,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    why: str = "",
) -> Any:
    """``value`` if it is a finite number (an integer if ``integer``; never a bool) in range, else a
    ``ConfigError``: "<where>: <key>=<value>; expected a positive number of at most 3600 <why>"."""
    kind = numbers.Integral if integer else numbers.Real
    real = isinstance(value, kind) and not isinstance(value, bool)
    finite = real and math.isfinite(value)
    if finite and (low is None or (value > low if low_open else value >= low)) and (high is None or value <= high):
        return int(value) if integer else float(value)
    noun = "integer" if integer else "number"
    if low is not None and ((low == 0 and low_open) or (integer and low == 1 and not low_open)):
        text = f"a positive {noun}"
    elif low is not None:
        text = f"{'an' if integer else 'a'} {noun} {'above' if low_open else 'at least'} {_fmt(low)}"
    else:
        text = f"{'an' if integer else 'a'} {noun}"
    if high is not None:
        text += f"{' and' if low is not None and not text.startswith('a positive') else ' of'} at most {_fmt(high)}"
    if real and not finite:
        text = "a finite " + text.split(" ", 1)[1]
    return _raise(f"{where}: {key}={short(value)}; expected {text}{' ' + why if why else ''}")


def _raise(message: str) -> Any:
    raise ConfigError(message)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _parse_number(text: str, integer: bool, high: float, why: str = "") -> Any:
    """An option or ini value: a positive number (integer) of at most ``high``, else ArgumentTypeError."""
    try:
        value: Any = int(text) if integer else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive {'integer' if integer else 'number'}") from None
    try:
        return number(value, "", "", integer=integer, low=0, low_open=True, high=high, why=why)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not {str(exc).split('expected ', 1)[1]}") from None


def _positive_int(text: str) -> int:
    return int(_parse_number(text, True, MAX_ITERATIONS))


def _positive_float(text: str) -> float:
    return float(_parse_number(text, False, MAX_SECONDS, "seconds"))


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("edgeqa", "pytest-edgeqa: optimized models on edge devices")
    group.addoption(
        "--edge-device",
        action="append",
        dest="edge_device",
        type=_device_arg,
        metavar="[RUNTIME:]DEVICE",
        help=(
            "device(s) to run model tests on; repeatable and comma-separated. OpenVINO: CPU, GPU, GPU.1, "
            "NPU, AUTO, AUTO:GPU,CPU, HETERO:NPU,CPU; ONNX Runtime: ort:cpu, ort:cuda, ort:tensorrt, "
            "ort:openvino, ort:dml, ort:coreml, ort:qnn. Default: ini edge_devices, else CPU."
        ),
    )
    group.addoption(
        "--edge-require-devices",
        action="store_true",
        default=None,
        help="fail (instead of skip) items whose device is missing, and forbid ONNX Runtime's CPU fallback",
    )
    group.addoption(
        "--update-golden",
        nargs="?",
        const="failing",
        default=None,
        choices=("failing", "new", "all"),
        dest="update_golden",
        help="write goldens: bare or =failing: missing and failing ones; =new: only missing ones; =all: every one that runs",
    )
    group.addoption(
        "--golden-force",
        action="store_true",
        default=False,
        help="allow --update-golden when the CI environment variable is set, and recording from a non-reference precision",
    )
    group.addoption(
        "--golden-prune",
        action="store_true",
        default=False,
        help="delete unused goldens at the end of a session that ran to its end (not after -x, an error, --collect-only...)",
    )
    group.addoption(
        "--edge-latency",
        choices=("enforce", "strict", "warn", "off"),
        default=None,
        help="latency budgets: enforce (fail a breach; NOT JUDGED, a skip, when a contended CPU or the interval cannot decide), "
        "strict (fail then too), warn (report a breach, do not fail: for noisy runners), off (skip the checks). Default: ini edge_latency, else enforce",
    )
    group.addoption(
        "--edge-latency-iterations",
        type=_positive_int,
        default=None,
        metavar="N",
        help="minimum timed iterations per model (default 300; raised for p99)",
    )
    group.addoption(
        "--edge-latency-seconds",
        type=_positive_float,
        default=None,
        metavar="S",
        help="minimum timed seconds per model (default 1.0)",
    )
    group.addoption(
        "--edge-latency-warmup",
        type=_positive_float,
        default=None,
        metavar="S",
        help="minimum warm-up seconds (default 0.5, and at least 10 iterations)",
    )
    parser.addini("edge_latency", "default for --edge-latency", default="enforce")
    parser.addini("edge_latency_iterations", "default for --edge-latency-iterations", default="")
    parser.addini("edge_latency_seconds", "default for --edge-latency-seconds", default="")
    parser.addini("edge_latency_warmup", "default for --edge-latency-warmup", default="")
    group.addoption(
        "--edge-cache-dir",
        default=None,
        metavar="DIR",
        help="where optimized models are cached (default: pytest's cache dir, .pytest_cache/d/edgeqa-models; "
        "without the cache provider, $XDG_CACHE_HOME/pytest-edgeqa/models, else ~/.cache/pytest-edgeqa/models)",
    )
    group.addoption(
        "--edge-rebuild",
        action="store_true",
        default=False,
        help="rebuild optimized models once in this run instead of reusing cached ones",
    )
    parser.addini("edge_cache_dir", "default for --edge-cache-dir, relative to the rootdir", default="")
    group.addoption(
        "--edge-report",
        default=None,
        metavar="PATH",
        help="write every check's result as JSON (schema: pytest_edgeqa/report.schema.json)",
    )
    group.addoption(
        "--edge-report-md",
        default=None,
        metavar="PATH",
        help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)",
    )
    parser.addini("edge_report", "default for --edge-report", default="")
    parser.addini("edge_report_md", "default for --edge-report-md", default="")
    parser.addini("edge_golden_dir", "where goldens live, relative to the rootdir", default="golden")
    group.addoption(
        "--edge-golden-device",
        dest="edge_golden_device",
        type=_golden_device_arg,
        default=None,
        metavar="[RUNTIME:]DEVICE",
        help="the device that records goldens, at the model's declared precision. Default: ini edge_golden_device, else CPU",
    )
    parser.addini("edge_golden_device", "default for --edge-golden-device: device that records goldens", default="CPU")
    parser.addini("edge_devices", "default for --edge-device (space or comma separated)", default=DEFAULT_DEVICES)
    parser.addini("edge_require_devices", "default for --edge-require-devices", type="bool", default=False)
    group.addoption(
        "--edge-trust-code",
        action="store_true",
        default=None,
        help="let markers and fixture arguments (never a YAML suite) name code that no test file shows: a metric "
        "that evaluate.load loads (a metric script, a Hugging Face Hub metric) and a preprocess "
        "'package.module:function'. Off by default. Default: ini edge_trust_code",
    )
    parser.addini("edge_trust_code", "default for --edge-trust-code", type="bool", default=False)


@dataclass(frozen=True)
class Settings:
    """The session's resolved settings. Command line beats ini beats default."""

    devices: tuple[DeviceSpec, ...]
    devices_source: str
    require_devices: bool
    golden_dir: Path = Path("golden")
    golden_device: DeviceSpec = DeviceSpec("openvino", "CPU")  # noqa: RUF009  (frozen, so sharing is safe)
    update_golden: str | None = None
    golden_force: bool = False
    golden_prune: bool = False
    ci: bool = False
    trust_code: bool = False  # --edge-trust-code: markers may load metric scripts and import 'module:function'
    report_json: Path | None = None
    report_md: Path | None = None
    model_cache: Path | None = None
    rebuild: bool = False
    latency_mode: str = "enforce"
    latency_schedule: tuple[
        tuple[str, Any], ...
    ] = ()  # latency.Schedule fields from command line > ini; a marker overrides them


def resolve(config: pytest.Config) -> Settings:
    """Resolve once, at configure time. Raises ``ConfigError`` naming where a bad value came from."""
    cli = config.getoption("edge_device")
    if cli:
        devices = tuple(dict.fromkeys(spec for group in cli for spec in group))
        source = "--edge-device"
    else:
        raw = config.getini("edge_devices")
        text = " ".join(raw) if isinstance(raw, list) else str(raw)
        try:
            devices = tuple(parse_devices(text or DEFAULT_DEVICES))
        except ConfigError as exc:
            raise ConfigError(f"ini edge_devices ({config.inipath}): {exc}") from None
        source = "ini edge_devices" if text.strip() != DEFAULT_DEVICES else "default"
    if not devices:
        raise ConfigError(f"{source}: no device given; expected at least one, e.g. CPU")
    require = config.getoption("edge_require_devices")
    if require is None:
        require = ini_bool(config, "edge_require_devices")
    trust_code = config.getoption("edge_trust_code")
    if trust_code is None:
        trust_code = ini_bool(config, "edge_trust_code")
    golden_device = config.getoption("edge_golden_device")
    if golden_device is None:
        try:
            golden_device = parse_device(str(config.getini("edge_golden_device") or "CPU"))
        except ConfigError as exc:
            raise ConfigError(f"ini edge_golden_device ({config.inipath}): {exc}") from None
    mode = config.getoption("edge_latency") or str(config.getini("edge_latency") or "enforce")
    if mode not in ("enforce", "strict", "warn", "off"):
        raise ConfigError(f"ini edge_latency ({config.inipath}): {mode!r}; expected enforce, strict, warn or off")
    here = config.invocation_params.dir

    def _path(option: str, ini: str, base: Path, check: Any, *args: Any) -> Path | None:
        """The option's path (else the ini key's), resolved against ``base`` and checked by
        ``check(path, here, *args)``, whose complaint becomes a usage error naming the source."""
        text = config.getoption(option) or str(config.getini(ini) or "")
        if not text:
            return None
        path = Path(text) if Path(text).is_absolute() else base / text
        problem = check(path, here, *args)
        if problem:
            given = (
                f"--{option.replace('_', '-')}={text}"
                if config.getoption(option)
                else f"ini {ini}={text} ({config.inipath})"
            )
            raise ConfigError(f"{given}: {problem}")
        return path

    update_golden = config.getoption("update_golden")
    golden_text = str(config.getini("edge_golden_dir") or "golden")
    golden_dir = config.rootpath / golden_text
    # Checked where goldens are asked for: a project without goldens may have a file named "golden".
    if golden_text != "golden" or update_golden or config.getoption("golden_prune"):
        golden_problem = folder_problem(golden_dir, here, writable=bool(update_golden))
        if golden_problem:
            raise ConfigError(f"ini edge_golden_dir={golden_text} ({config.inipath or 'default'}): {golden_problem}")

    return Settings(
        report_json=_path("edge_report", "edge_report", here, file_problem, "report.json"),
        report_md=_path("edge_report_md", "edge_report_md", here, file_problem, "report.md"),
        model_cache=_path("edge_cache_dir", "edge_cache_dir", config.rootpath, folder_problem),
        rebuild=bool(config.getoption("edge_rebuild")),
        latency_mode=mode,
        latency_schedule=_schedule(config),
        devices=devices,
        devices_source=source,
        require_devices=require,
        trust_code=trust_code,
        golden_dir=golden_dir,
        golden_device=golden_device,
        update_golden=update_golden,
        golden_force=bool(config.getoption("golden_force")),
        golden_prune=bool(config.getoption("golden_prune")),
        ci=os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"),
    )


def user_cache_dir(name: str) -> Path:
    """A per-user cache folder, for when pytest's cache provider is off (``-p no:cacheprovider``):
    ``$XDG_CACHE_HOME/pytest-edgeqa/<name>``, else ``~/.cache/pytest-edgeqa/<name>`` (never a folder in
    /tmp that every user shares)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "pytest-edgeqa" / name
    try:
        return Path.home() / ".cache" / "pytest-edgeqa" / name
    except (RuntimeError, KeyError):  # no home directory: a folder of this user's own in the temp dir
        return Path(tempfile.gettempdir()) / f"pytest-edgeqa-{getattr(os, 'getuid', lambda: 'user')()}" / name


def ini_bool(config: pytest.Config, key: str) -> bool:
    """A bool ini value; pytest's own complaint about it ("invalid truth value 'maybe'") names no key."""
    import pytest

    try:
        return bool(config.getini(key))
    except (ValueError, pytest.UsageError) as exc:
        raise ConfigError(f"ini {key} ({config.inipath}): {exc}; expected true or false") from None


# ------------------------------------------------------------------------------------------------ paths


def shown(path: Path, here: Path) -> str:
    """``path`` as the user spells it: relative to the invocation directory when under it."""
    return str(path.relative_to(here)) if path.is_relative_to(here) and path != here else str(path)


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (as anything: a folder, a file, a link)."""
    while not os.path.lexists(path) and path.parent != path:
        path = path.parent
    return path


def _cannot_create_in(folder: Path, here: Path) -> str | None:
    """Why no file can be created in the existing folder ``folder``, found by creating (and removing) one:
    permissions alone do not tell (root passes them, and a read-only or virtual file system such as /proc
    refuses anyway)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgeqa-probe-", dir=folder)
    except OSError as exc:
        return f"cannot create a file in {shown(folder, here)} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def _blocked(path: Path, here: Path) -> str | None:
    """Why ``path``'s missing parent folders cannot be created: an ancestor that is not a folder."""
    found = _existing(path)
    if found != path and not found.is_dir():
        return f"{shown(found, here)} is a file, not a directory"
    return None


def file_problem(path: Path, here: Path, example: str = "report") -> str | None:
    """Why a file cannot be written at ``path`` (None: it can), checked without creating it; paths in the
    answer are shown relative to ``here`` where they lie under it."""
    if path.is_dir():
        return f"{shown(path, here)} is a directory; give a file path, e.g. {Path(shown(path, here)) / example}"
    blocked = _blocked(path, here)
    if blocked:
        return f"cannot write a file there: {blocked}"
    problem = _cannot_create_in(_existing(path.parent), here)
    return f"cannot write a file there: {problem}" if problem else None


def folder_problem(path: Path, here: Path, writable: bool = True) -> str | None:
    """Why ``path`` cannot serve as a folder (None: it can): it is a file, an ancestor is, or (``writable``)
    nothing can be created in it or its nearest existing ancestor."""
    if os.path.lexists(path) and not path.is_dir():
        return f"{shown(path, here)} is a file, not a directory"
    blocked = _blocked(path, here)
    if blocked:
        return f"cannot create the directory: {blocked}"
    return _cannot_create_in(_existing(path), here) if writable else None


# ---------------------------------------------------------------------------------------------- markers

COMPILE_OPTIONS = ("hint", "precision", "threads", "streams", "properties", "empty_outputs")


def compile_config(options: Mapping[str, Any], where: str) -> CompileConfig:
    """Validate compile options from a marker or a fixture call; ``where`` names that source."""
    from .runtimes import HINTS, PRECISIONS, CompileConfig

    unknown = sorted(set(options) - set(COMPILE_OPTIONS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown option {', '.join(map(repr, unknown))} (expected: {', '.join(COMPILE_OPTIONS)})"
        )
    hint = str(options.get("hint", "LATENCY")).upper()
    if hint not in HINTS:
        raise ConfigError(f"{where}: hint={options['hint']!r}; expected one of {', '.join(HINTS)}")
    precision = options.get("precision")
    if precision is not None and precision not in PRECISIONS:
        raise ConfigError(f"{where}: precision={precision!r}; expected one of {', '.join(PRECISIONS)}")
    ints: dict[str, int | None] = {}
    for key in ("threads", "streams"):
        value = options.get(key)
        ints[key] = None if value is None else number(value, where, key, integer=True, low=1, high=MAX_THREADS)
    props = options.get("properties") or {}
    if not isinstance(props, Mapping):
        raise ConfigError(f"{where}: properties={props!r}; expected a dict of engine property names to values")
    return CompileConfig(
        hint=hint,
        precision=precision,
        threads=ints["threads"],
        streams=ints["streams"],
        properties=tuple(sorted((str(k), str(v)) for k, v in props.items())),
        empty_outputs=output_names(options.get("empty_outputs"), where, "empty_outputs"),
    )


def output_names(value: Any, where: str, key: str) -> tuple[str, ...]:
    """An option naming outputs: one name or a list/tuple of names (whether the model has them is
    checked once it is compiled)."""
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(
            f"{where}: {key}={short(value)}; expected an output name or a list of output names, "
            f"e.g. {key}=('boxes',)"
        )
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class ModelMarker:
    original: Any
    optimized: Any
    options: Mapping[str, Any]

    def config(self) -> CompileConfig:
        return compile_config(self.options, "edge_model marker")


def parse_model_marker(mark: pytest.Mark) -> ModelMarker:
    args, kwargs = list(mark.args), dict(mark.kwargs)
    names = ("original", "optimized")
    if len(args) > len(names):
        raise ConfigError(
            f"edge_model marker: takes at most 2 positional arguments (original, optimized), got {len(args)}"
        )
    for name, value in zip(names, args, strict=False):
        if name in kwargs:
            raise ConfigError(f"edge_model marker: {name!r} given both positionally and by keyword")
        kwargs[name] = value
    original = kwargs.pop("original", None)
    optimized = kwargs.pop("optimized", None)
    if original is None:
        raise ConfigError("edge_model marker: argument 'original' is required (a model path such as 'models/net.onnx')")
    if not isinstance(original, (str, os.PathLike)) or not os.fspath(original).strip():
        raise ConfigError(
            f"edge_model marker: original={short(original)}; expected a model path such as 'models/net.onnx'"
        )
    if optimized is not None and (
        not isinstance(optimized, (str, os.PathLike, Mapping))
        or (not isinstance(optimized, Mapping) and not os.fspath(optimized).strip())
    ):
        raise ConfigError(
            f"edge_model marker: optimized={short(optimized)}; expected a model path such as 'models/net_int8.xml', "
            "a recipe name such as 'fp16', or {'recipe': name, ...options}"
        )
    marker = ModelMarker(original=original, optimized=optimized, options=kwargs)
    marker.config()  # validate options now, so the error names the marker
    return marker


def short(value: Any, limit: int = 80) -> str:
    """A value's repr, capped: a message never prints a user's value whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_device_marker(mark: pytest.Mark) -> tuple[DeviceSpec, ...]:
    if mark.kwargs:
        raise ConfigError(f"edge_device marker: takes device names only, got keyword {', '.join(mark.kwargs)}")
    if not mark.args:
        raise ConfigError("edge_device marker: give at least one device, e.g. @pytest.mark.edge_device('CPU')")
    specs = []
    for arg in mark.args:
        if not isinstance(arg, str):
            raise ConfigError(f"edge_device marker: {arg!r} is not a device name (expected a string like 'CPU')")
        try:
            specs.extend(parse_devices(arg))
        except ConfigError as exc:
            raise ConfigError(f"edge_device marker: {exc}") from None
    return tuple(specs)


# ----------------------------------------------------------------------------------- fixture arguments


def _names(value: Any, where: str, key: str, what: str) -> None:
    """None or a dict of non-empty strings to non-empty strings."""
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ConfigError(f"{where}: {key}={short(value)}; expected {what}")


def _text(value: Any, where: str, key: str, what: str, optional: bool = False) -> None:
    if (value is None and optional) or (isinstance(value, str) and value.strip()):
        return
    raise ConfigError(f"{where}: {key}={short(value)}; expected {what}")


def golden_arguments(*, name: Any, model: Any, seed: Any, batch: Any, columns: Any) -> None:
    """The keyword arguments of a ``golden_check(...)`` call, checked before any model runs."""
    where = "golden_check"
    _text(name, where, "name", "a non-empty string naming this golden within the test", optional=True)
    if model is not None and not callable(getattr(model, "infer", None)):
        raise ConfigError(
            f"{where}: model={short(model)}; expected a compiled model from the edge_model fixture (or leave it out "
            "for the marker's optimized model)"
        )
    number(seed, where, "seed", integer=True, low=0)
    number(batch, where, "batch", integer=True, low=1, high=MAX_BATCH, why="(the batch of generated inputs)")
    _names(columns, where, "columns", "{model input name: dataset column name}")


def accuracy_arguments(*, inputs: Any, label: Any, samples: Any, split: Any) -> None:
    """The keyword arguments of an ``accuracy_check(...)`` call, checked before any model runs."""
    where = "accuracy_check"
    _names(inputs, where, "inputs", "{model input name: dataset column name}")
    _text(label, where, "label", "the name of the dataset's label column")
    if samples is not None:
        number(
            samples, where, "samples", integer=True, low=1, why="(the number of rows to evaluate; leave it out for all)"
        )
    _text(split, where, "split", "a dataset split name such as 'test'")


def device_allowed(spec: DeviceSpec, allowed: tuple[DeviceSpec, ...]) -> bool:
    """``GPU`` in a marker admits GPU.0 and GPU.1; otherwise ids must match."""
    return any(
        a.id == spec.id or (a.runtime == spec.runtime and "." not in a.name and a.name == spec.family) for a in allowed
    )


def parse_device_arg(text: str, where: str) -> DeviceSpec:
    try:
        return parse_device(text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _schedule(config: pytest.Config) -> tuple[tuple[str, Any], ...]:
    """Latency schedule settings from the command line, else the ini file (defaults live in latency.Schedule)."""
    values: dict[str, Any] = {}
    for key, option, ini, parse in (
        ("iterations", "edge_latency_iterations", "edge_latency_iterations", _positive_int),
        ("seconds", "edge_latency_seconds", "edge_latency_seconds", _positive_float),
        ("warmup_s", "edge_latency_warmup", "edge_latency_warmup", _positive_float),
    ):
        value = config.getoption(option)
        if value is None and str(config.getini(ini) or "").strip():
            try:
                value = parse(str(config.getini(ini)).strip())
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"ini {ini} ({config.inipath}): {exc}") from None
        if value is not None:
            values[key] = value
    return tuple(values.items())
