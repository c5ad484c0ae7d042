"""The session's settings, resolved once from command line, ini and defaults; the number and path checks
that options, markers and fixture arguments share, errors naming their source."""

from __future__ import annotations

import argparse
import math
import numbers
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .devices import parse_device, parse_devices
from .errors import ConfigError
from .types import DeviceSpec

if TYPE_CHECKING:
    import pytest


DEFAULT_DEVICES = "CPU"

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


def positive_int(text: str) -> int:
    """An option or ini value: a positive integer of at most MAX_ITERATIONS."""
    return int(_parse_number(text, True, MAX_ITERATIONS))


def positive_float(text: str) -> float:
    """An option or ini value: a positive number of seconds of at most MAX_SECONDS."""
    return float(_parse_number(text, False, MAX_SECONDS, "seconds"))


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
    report_html: Path | None = None
    model_cache: Path | None = None
    rebuild: bool = False
    latency_mode: str = "enforce"
    latency_schedule: tuple[
        tuple[str, Any], ...
    ] = ()  # latency_budget.Schedule fields from command line > ini; a marker overrides them


def resolve(config: pytest.Config) -> Settings:
    """Resolve once, at configure time. Raises ``ConfigError`` naming where a bad value came from."""
    devices, source = _devices(config)
    require = _flag(config, "edge_require_devices")
    trust_code = _flag(config, "edge_trust_code")
    golden_device = _golden_device(config)
    mode = config.getoption("edge_latency") or str(config.getini("edge_latency") or "enforce")
    if mode not in ("enforce", "strict", "warn", "off"):
        raise ConfigError(f"ini edge_latency ({config.inipath}): {mode!r}; expected enforce, strict, warn or off")
    here = config.invocation_params.dir
    update_golden = config.getoption("update_golden")
    golden_dir = _golden_dir(config, bool(update_golden))
    return Settings(
        report_json=_path(config, "edge_report", "edge_report", here, file_problem, "report.json"),
        report_md=_path(config, "edge_report_md", "edge_report_md", here, file_problem, "report.md"),
        report_html=_html_path(config, here),
        model_cache=_path(config, "edge_cache_dir", "edge_cache_dir", config.rootpath, folder_problem),
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


def _devices(config: pytest.Config) -> tuple[tuple[DeviceSpec, ...], str]:
    """The devices from --edge-device, else ini edge_devices, else the default; and which of these it was."""
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
    return devices, source


def _flag(config: pytest.Config, name: str) -> bool:
    """A flag given on the command line, else its ini key of the same name."""
    value = config.getoption(name)
    return ini_bool(config, name) if value is None else value


def _golden_device(config: pytest.Config) -> DeviceSpec:
    device: DeviceSpec | None = config.getoption("edge_golden_device")
    if device is not None:
        return device
    try:
        return parse_device(str(config.getini("edge_golden_device") or "CPU"))
    except ConfigError as exc:
        raise ConfigError(f"ini edge_golden_device ({config.inipath}): {exc}") from None


def _golden_dir(config: pytest.Config, update: bool) -> Path:
    golden_text = str(config.getini("edge_golden_dir") or "golden")
    golden_dir = config.rootpath / golden_text
    # Checked where goldens are asked for: a project without goldens may have a file named "golden".
    if golden_text != "golden" or update or config.getoption("golden_prune"):
        problem = folder_problem(golden_dir, config.invocation_params.dir, writable=update)
        if problem:
            raise ConfigError(f"ini edge_golden_dir={golden_text} ({config.inipath or 'default'}): {problem}")
    return golden_dir


def _html_path(config: pytest.Config, here: Path) -> Path | None:
    """--edge-report-html's path, when Plotly.js (which the page inlines) is there to make it."""
    path = _path(config, "edge_report_html", "edge_report_html", here, file_problem, "report.html")
    if path is not None:
        from .htmlreport import HTMLReportError, plotly_bundle

        try:
            plotly_bundle()
        except HTMLReportError as exc:
            raise ConfigError(f"--edge-report-html: {exc}") from None
    return path


def _path(config: pytest.Config, option: str, ini: str, base: Path, check: Any, *args: Any) -> Path | None:
    """The option's path (else the ini key's), resolved against ``base`` and checked by
    ``check(path, here, *args)``, whose complaint becomes a usage error naming the source."""
    text = config.getoption(option) or str(config.getini(ini) or "")
    if not text:
        return None
    path = Path(text) if Path(text).is_absolute() else base / text
    problem = check(path, config.invocation_params.dir, *args)
    if problem:
        given = (
            f"--{option.replace('_', '-')}={text}"
            if config.getoption(option)
            else f"ini {ini}={text} ({config.inipath})"
        )
        raise ConfigError(f"{given}: {problem}")
    return path


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


def short(value: Any, limit: int = 80) -> str:
    """A value's repr, capped: a message never prints a user's value whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schedule(config: pytest.Config) -> tuple[tuple[str, Any], ...]:
    """Latency schedule settings from the command line, else the ini file (defaults live in latency_budget.Schedule)."""
    values: dict[str, Any] = {}
    for key, option, ini, parse in (
        ("iterations", "edge_latency_iterations", "edge_latency_iterations", positive_int),
        ("seconds", "edge_latency_seconds", "edge_latency_seconds", positive_float),
        ("warmup_s", "edge_latency_warmup", "edge_latency_warmup", positive_float),
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
