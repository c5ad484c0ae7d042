"""Declarative suites: ``*.edgeqa.yaml`` files validated against their schema and collected as test items,
one per check and device, run on the same engines as the markers."""

from __future__ import annotations

import difflib
import functools
import re
import reprlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .config import COMPILE_OPTIONS, MAX_BATCH, ModelMarker, compile_config
from .devices import DeviceSpec, parse_devices
from .errors import ConfigError, EdgeQAError, Unsupported

SUFFIX = ".edgeqa.yaml"
CHECKS = ("accuracy", "latency", "parity")
TOP_KEYS = ("name", "model", "data", "devices", "checks")
MODEL_KEYS = ("original", "optimized", *COMPILE_OPTIONS)
DATA_KEYS = ("path", "split", "inputs", "label", "samples", "preprocess")
SIZE_KEYS = ("shapes", "dims")  # generated inputs' sizes, as golden_check's and latency_check's keywords
PARITY_OWN_KEYS = ("samples", "seed", *SIZE_KEYS)
LATENCY_OWN_KEYS = ("inputs", *SIZE_KEYS)
MAX_NAME = 100  # a suite's name is part of node ids and golden file names
# A suite is a few dozen YAML values. Past these limits a file is refused before anything reads it as
# data: a file larger than MAX_BYTES is not read, nesting deeper than MAX_DEPTH is not composed (Python
# would overflow its stack), and aliases may not expand the document past MAX_NODES ("billion laughs").
MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 10_000
SHOWN = 80  # the most characters of a value a message shows


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


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = SHOWN
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 6, 6


def _cut(text: str, limit: int = SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: Any) -> str:
    """A value as a message shows it: its repr, at most SHOWN characters however large the value is."""
    return _cut(_REPR.repr(value))


def _capped(text: str, values: Iterable[Any]) -> str:
    """``text`` (a validator's message) with the whole repr of any long value among ``values`` shortened."""
    for value in values:
        for v in (value, *(value.values() if isinstance(value, dict) else ())):
            full = repr(v)
            if len(full) > SHOWN and full in text:
                text = text.replace(full, _short(v))
    return text


def _expect(cond: bool, path: Path, key: str, expected: str, got: Any) -> None:
    if not cond:
        shown = _short(got) if not isinstance(got, (dict, list)) else _type_name(got)
        raise SuiteError(f"{path.name}: {key}: expected {expected}, got {shown}")


def _positive_int(value: Any, path: Path, key: str) -> None:
    _expect(
        isinstance(value, int) and not isinstance(value, bool) and value > 0, path, key, "a positive integer", value
    )


def _mapping(value: Any, path: Path, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    _expect(isinstance(value, dict), path, key, "a mapping", value)
    odd = [k for k in value if not isinstance(k, str)]
    if odd:
        raise SuiteError(f"{path.name}: {key}: expected names (strings) as keys, got {_short(odd[0])}")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            close = difflib.get_close_matches(unknown[0], allowed, n=1) if len(unknown) == 1 else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SuiteError(
                f"{path.name}: {key}: unknown key {', '.join(map(_short, unknown[:5]))}{more}"
                f" (expected: {', '.join(allowed)}){hint}"
            )
    return dict(value)


def _reword(exc: ConfigError, path: Path, key: str, values: Iterable[Any] = ()) -> SuiteError:
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
    return SuiteError(f"{path.name}: {key}: {_capped(text, values)}")


def _sizes(opts: dict[str, Any], path: Path, key: str) -> None:
    """``shapes:`` (input name -> a list of sizes) and ``dims:`` (dimension symbol -> a size) as written."""

    def size(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    shapes = _mapping(opts.get("shapes", {}), path, f"{key}.shapes", None)
    for name, shape in shapes.items():
        _expect(
            isinstance(shape, list) and all(map(size, shape)),
            path,
            f"{key}.shapes.{name}",
            "a list of positive sizes, e.g. [1, 3, 480, 640]",
            shape,
        )
    dims = _mapping(opts.get("dims", {}), path, f"{key}.dims", None)
    for symbol, n in dims.items():
        _expect(size(n), path, f"{key}.dims.{symbol}", "a positive integer size", n)


def _given_sizes(opts: dict[str, Any]) -> dict[str, Any]:
    """The check's shapes:/dims: as the checks take them (a shape as a tuple)."""
    return {
        "shapes": {k: tuple(v) for k, v in (opts.get("shapes") or {}).items()} or None,
        "dims": dict(opts.get("dims") or {}) or None,
    }


def _code_name(value: Any, path: Path, key: str, kind: str) -> None:
    """A suite is data: it names a metric or preprocess function (built in, or registered by the
    project's Python code); a path, a Hub id or an import path would make it load code, so none is."""
    from .names import NAME_RULE, describe, is_name

    if is_name(value):
        return
    if not isinstance(value, str):
        _expect(False, path, key, f"a {kind} name (string)", value)
    what = describe(value) if value else "empty"
    raise SuiteError(
        f"{path.name}: {key}: {_short(value)} is {what}; a suite names a {kind} ({NAME_RULE}): built in, or "
        "registered by the project's conftest.py or a plugin (pytest_edgeqa_register). A suite never loads a script "
        "or imports code, whatever --edge-trust-code says"
    )


# ------------------------------------------------------------------------------------------ reading


def _read(path: Path) -> str:
    """The file's text: UTF-8, a byte-order mark allowed, at most MAX_BYTES."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SuiteError(f"{path.name}: cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise SuiteError(f"{path.name}: is larger than {MAX_BYTES // (1 << 20)} MiB; a suite is a few lines of YAML")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SuiteError(f"{path.name}: is UTF-16 text; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SuiteError(
            f"{path.name}: is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None


class _TooDeep(Exception):
    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line, self.column = line, column


@functools.cache
def _loader() -> type[Any]:
    import yaml

    class SuiteLoader(yaml.SafeLoader):
        """``yaml.safe_load``'s loader that composes no deeper than MAX_DEPTH and counts aliases."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.depth = 0
            self.aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise _TooDeep(mark.line + 1, mark.column + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return SuiteLoader


def _yaml_error(exc: Any, text: str) -> str:
    """Where a PyYAML error is (line, column) and what it says, without its snippet of the file."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    position = getattr(exc, "position", None)  # a ReaderError: an offset into the text
    if mark is not None:
        where = f" (line {mark.line + 1}, column {mark.column + 1})"
    elif isinstance(position, int):
        where = f" (line {text.count(chr(10), 0, position) + 1}, column {position - text.rfind(chr(10), 0, position)})"
    else:
        where = ""
    problem = getattr(exc, "problem", None)
    if getattr(exc, "context", None) == "expected a single document in the stream":
        problem = "a second document (---); a suite is one YAML document"
    elif problem is None and isinstance(getattr(exc, "character", None), str):
        problem = f"unacceptable character #x{ord(exc.character):04x}: {exc.reason}"
    elif problem is not None and "'\\t'" in problem:
        problem += "; indent with spaces, not tabs"
    return f"{where}: {_cut(str(problem or str(exc).split(chr(10), 1)[0]), 200)}"


def _check_nodes(root: Any, name: str, aliases: int) -> None:
    """Refuse what ``yaml.safe_load`` accepts silently or at any cost: a key given twice in a mapping
    (it keeps the last), aliases that expand the document past MAX_NODES values, an integer too long
    to convert. Each node is visited once; what an alias repeats is counted by its size."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any, where: str) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # an alias to an enclosing node (a recursive value) counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: the keys given beside it override
                    total += size(value, where)
                    continue
                label = key.value if isinstance(key, yaml.ScalarNode) else "?"
                label = label if len(label) <= 40 else label[:37] + "..."
                here = f"{where}.{label}" if where else label
                if isinstance(key, yaml.ScalarNode):
                    line, first = key.start_mark.line + 1, seen.get((key.tag, key.value))
                    if first is not None:
                        lines = f"line {line}" if first == line else f"lines {first} and {line}"
                        raise SuiteError(
                            f"{name}: {here}: given twice ({lines}); YAML would silently keep the last: give it once"
                        )
                    seen[(key.tag, key.value)] = line
                total += size(key, here) + size(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                total += size(item, f"{where}[{i}]")
        elif node.tag == "tag:yaml.org,2002:int" and len(node.value) > 40:
            raise SuiteError(
                f"{name}: {where or '(top level)'}: an integer of {len(node.value)} digits; expected a number"
            )
        if total > MAX_NODES:
            what = "aliases (*) expand it to" if aliases else "it has"
            key = re.sub(r"\[\d+\]", "", where) or "(top level)"
            raise SuiteError(f"{name}: {key}: {what} more than {MAX_NODES} YAML values; a suite needs a few dozen")
        sizes[id(node)] = total
        return total

    size(root, "")


def _parse(text: str, path: Path) -> Any:
    """``yaml.safe_load(text)`` within the limits above."""
    import yaml

    try:
        loader = _loader()(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow, found before parsing
        raise SuiteError(f"{path.name}: is not valid YAML{_yaml_error(exc, text)}") from None
    raw: Any = None
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(node, path.name, loader.aliases)
            raw = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path.name}: is not valid YAML{_yaml_error(exc, text)}") from None
    except (ValueError, OverflowError) as exc:  # a scalar its constructor refuses, such as a date 2024-13-45
        raise SuiteError(f"{path.name}: is not valid YAML: a value cannot be read ({_cut(str(exc))})") from None
    except _TooDeep as exc:
        raise SuiteError(
            f"{path.name}: is nested deeper than {MAX_DEPTH} levels (line {exc.line}, column {exc.column});"
            " a suite needs a few"
        ) from None
    finally:
        loader.dispose()
    if node is None or raw is None:
        comments = any(line.lstrip().startswith("#") for line in text.splitlines())
        raise SuiteError(
            f"{path.name}: is empty{' (only comments)' if comments else ''}; a suite needs name, model and checks"
        )
    return raw


def load(path: Path) -> Suite:
    """Read and validate a suite file. Budgets are checked with the same code as the markers."""
    raw = _parse(_read(path), path)
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
    if len(name) > MAX_NAME:
        raise SuiteError(f"{path.name}: name: expected at most {MAX_NAME} characters, got {len(name)}")
    _expect(name.isprintable(), path, "name", "no control characters (newline, tab)", name)

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
    from . import optimize

    if isinstance(optimized, dict) or optimize.is_recipe(optimized):
        spec = _mapping(
            optimized if isinstance(optimized, dict) else {"recipe": optimized}, path, "model.optimized", None
        )
        if "recipe" not in spec:
            raise SuiteError(f"{path.name}: model.optimized.recipe: missing; expected a recipe name such as nncf-int8")
        _expect(isinstance(spec["recipe"], str), path, "model.optimized.recipe", "a recipe name", spec["recipe"])
        try:
            optimize.parse_spec({**spec, "calibration": spec.get("calibration", {})}, "model.optimized")
        except ConfigError as exc:
            raise SuiteError(f"{path.name}: {_capped(str(exc), spec.values())}") from None
        cal = spec.get("calibration")
        if cal is not None:
            cal = _mapping(cal, path, "model.optimized.calibration", ("split", "samples", "path", "inputs", "label"))
            for key in ("path", "split", "label"):
                value = cal.get(key, "")
                _expect(isinstance(value, str), path, f"model.optimized.calibration.{key}", "a string", value)
            _positive_int(cal.get("samples", 1), path, "model.optimized.calibration.samples")
    try:
        compile_config({k: v for k, v in model.items() if k in COMPILE_OPTIONS}, "model")
    except ConfigError as exc:
        raise SuiteError(f"{path.name}: {_capped(str(exc), model.values())}") from None

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
        if data.get("preprocess") is not None:
            _code_name(data["preprocess"], path, "data.preprocess", "preprocess function")

    devices = None
    if "devices" in top:
        raw_devices = top["devices"]
        if isinstance(raw_devices, str) and len(raw_devices) <= SHOWN:
            raise SuiteError(
                f"{path.name}: devices: expected a non-empty list of device names, got {raw_devices!r};"
                f" write devices: [{raw_devices}]"
            )
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
            raise SuiteError(f"{path.name}: devices: {_capped(str(exc), raw_devices)}") from None

    checks = _mapping(top["checks"], path, "checks", CHECKS)
    _expect(bool(checks), path, "checks", f"at least one of {', '.join(CHECKS)}", checks)
    validated: dict[str, dict[str, Any]] = {}
    for check, options in checks.items():
        opts = _mapping(options if options is not None else {}, path, f"checks.{check}", None)
        try:
            if check == "accuracy":
                from .accuracy import budget_from_marker

                _code_name(opts.get("metric", "accuracy"), path, "checks.accuracy.metric", "metric")
                budget_from_marker((), opts)
            elif check == "latency":
                from .latency import Schedule
                from .latency import budget_from_marker as latency_budget

                latency_budget((), {k: v for k, v in opts.items() if k not in LATENCY_OWN_KEYS}, Schedule())
                _sizes(opts, path, "checks.latency")
                inputs = opts.get("inputs", "generated")
                _expect(inputs in ("data", "generated"), path, "checks.latency.inputs", "data or generated", inputs)
                if inputs == "data" and not (data or {}).get("path"):
                    raise SuiteError(
                        f"{path.name}: checks.latency.inputs: data, but the suite has no data.path to take rows from"
                    )
            else:
                from .parity_criteria import spec_from_marker

                spec_from_marker((), {k: v for k, v in opts.items() if k not in PARITY_OWN_KEYS})
                _sizes(opts, path, "checks.parity")
                n = opts.get("samples", 32)
                _positive_int(n, path, "checks.parity.samples")
                _expect(n <= MAX_BATCH, path, "checks.parity.samples", f"at most {MAX_BATCH} (the batch compared)", n)
                seed = opts.get("seed", 0)
                _expect(
                    isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0,
                    path,
                    "checks.parity.seed",
                    "an integer of at least 0",
                    seed,
                )
        except ConfigError as exc:
            raise _reword(exc, path, f"checks.{check}", opts.values()) from None
        if check in ("accuracy",) and data is None:
            raise SuiteError(
                f"{path.name}: data: missing; the accuracy check needs data: {{path, split, inputs, label}}"
            )
        if check == "accuracy" and optimized is None:
            raise SuiteError(
                f"{path.name}: model.optimized: missing; the {check} check compares the optimized model with the original"
            )
        relative = [k for k in ("max_ratio", "min_speedup") if check == "latency" and opts.get(k) is not None]
        if relative and optimized is None:
            raise SuiteError(
                f"{path.name}: model.optimized: missing; the latency check's {relative[0]} compares the optimized"
                " model with the original"
            )
        validated[check] = opts
    return Suite(path=path, name=name, model=model, data=data, devices=devices, checks=validated)


# ---------------------------------------------------------------------------------------------- pytest


NAMES = pytest.StashKey[dict[str, Path]]()  # suite name -> the file that has it, in this session


def _shown(path: Path, config: pytest.Config) -> str:
    """``path`` relative to the rootdir where it lies inside it."""
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


class SuiteFile(pytest.File):
    """A ``*.edgeqa.yaml`` file. A malformed one yields a single item that errors with the schema
    message, so the problem is reported for that file alone and the rest of the session runs."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        try:
            suite = load(self.path)
            other = self.config.stash.setdefault(NAMES, {}).setdefault(suite.name, self.path)
            if other != self.path:
                raise SuiteError(
                    f"{self.path.name}: name: {suite.name!r} is already the name of the suite in {_shown(other, self.config)};"
                    " give each suite its own name"
                )
        except SuiteError as exc:
            error = str(exc)
        except Exception as exc:  # a bad file must fail alone, whatever it does to the validation
            error = f"{self.path.name}: cannot be read as a suite: {type(exc).__name__}: {_cut(str(exc), 200)}"
        else:
            yield SuiteNode.from_parent(self, name=suite.name, suite=suite)
            return
        yield SuiteSchemaItem.from_parent(self, name="schema", error=_cut(error, 2000))


class SuiteNode(pytest.Collector):
    def __init__(self, *, suite: Suite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite

    def collect(self) -> Iterator[pytest.Item]:
        from .session import SESSION

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
        from .plugin import _gate
        from .session import SESSION

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
        given_spec = marker.optimized if isinstance(marker.optimized, dict) else {"recipe": marker.optimized}
        spec = optimize.parse_spec({**given_spec, "calibration": "suite"}, "model.optimized")
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
            from .registry import registry_of

            metric = resolve(
                self.suite.checks.get("accuracy", {}).get("metric", "accuracy"),
                f"{self.path.name}: checks.accuracy.metric",
                registry_of(self.config),
                declarative=True,
            )
        built = session.optimized(spec, marker.original, self.path.parent, calibration, metric)
        return ModelMarker(original=marker.original, optimized=built, options=options)

    def runtest(self) -> None:
        try:
            self._run()
        except Unsupported as exc:
            pytest.skip(str(exc))

    def _run(self) -> None:
        from .session import SESSION

        session = self.config.stash[SESSION]
        marker = self._marker(session)
        base = self.path.parent
        opts = self.suite.checks[self.check]
        data = self.suite.data or {}
        from .checks import store_record

        if self.check == "accuracy":
            from .accuracy import AccuracyFailed, budget_from_marker
            from .checks import run_accuracy_check
            from .registry import registry_of, trusted_code

            budget, preprocess = trusted_code(
                registry_of(self.config),
                budget_from_marker((), opts),
                data.get("preprocess"),
                base_dir=base,
                metric_where=f"{self.path.name}: checks.accuracy.metric",
                preprocess_where=f"{self.path.name}: data.preprocess",
                declarative=True,
            )
            result = run_accuracy_check(
                session=session,
                base_dir=base,
                marker=marker,
                device=self.device,
                budget=budget,
                data_source=data["path"],
                inputs_map=data.get("inputs"),
                label=data.get("label", "label"),
                samples=data.get("samples"),
                preprocess=preprocess,
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
            budget = latency_budget(
                (), {k: v for k, v in opts.items() if k not in LATENCY_OWN_KEYS}, latency_schedule(settings)
            )
            source = None
            if opts.get("inputs") == "data":  # the suite's first rows, a batch of them
                from . import data as data_mod

                source = data_mod.load(
                    data["path"], split=data.get("split", "test"), base_dir=base, where=f"{self.path.name}: data.path"
                )
                source = source.select(range(min(budget.batch, len(source))))
            result = run_latency_check(
                session=session,
                base_dir=base,
                marker=marker,
                device=self.device,
                budget=budget,
                inputs_source=source,
                seed=0,
                columns=data.get("inputs"),
                where=f"{self.path.name}: checks.latency",
                **_given_sizes(opts),
            )
            store_record(self, "latency", self.title, self.device.id, result)
            conclude_latency(settings, result)
        else:
            from . import data as data_mod
            from .checks import run_golden
            from .parity_criteria import spec_from_marker

            samples = opts.get("samples", 32)
            source = None
            if data.get("path"):
                source = data_mod.load(
                    data["path"], split=data.get("split", "test"), base_dir=base, where=f"{self.path.name}: data.path"
                )
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
                where=f"{self.path.name}: checks.parity",
                **_given_sizes(opts),
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
