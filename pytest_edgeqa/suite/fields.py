"""One suite value checked at a time, and how a value is shown in a message (at most SHOWN characters)."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EdgeQAError

SHOWN = 80  # the most characters of a value a message shows


class SuiteError(EdgeQAError):
    """A malformed suite: names the file, the key path and what was expected."""


def type_name(value: Any) -> str:
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


def cut(text: str, limit: int = SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: Any) -> str:
    """A value as a message shows it: its repr, at most SHOWN characters however large the value is."""
    return cut(_REPR.repr(value))


def capped(text: str, values: Iterable[Any]) -> str:
    """``text`` (a validator's message) with the whole repr of any long value among ``values`` shortened."""
    for value in values:
        for v in (value, *(value.values() if isinstance(value, dict) else ())):
            full = repr(v)
            if len(full) > SHOWN and full in text:
                text = text.replace(full, short(v))
    return text


def expect(cond: bool, path: Path, key: str, expected: str, got: Any) -> None:
    if not cond:
        shown = short(got) if not isinstance(got, (dict, list)) else type_name(got)
        raise SuiteError(f"{path.name}: {key}: expected {expected}, got {shown}")


def positive_int(value: Any, path: Path, key: str) -> None:
    expect(isinstance(value, int) and not isinstance(value, bool) and value > 0, path, key, "a positive integer", value)


def mapping(value: Any, path: Path, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    expect(isinstance(value, dict), path, key, "a mapping", value)
    odd = [k for k in value if not isinstance(k, str)]
    if odd:
        raise SuiteError(f"{path.name}: {key}: expected names (strings) as keys, got {short(odd[0])}")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            close = difflib.get_close_matches(unknown[0], allowed, n=1) if len(unknown) == 1 else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SuiteError(
                f"{path.name}: {key}: unknown key {', '.join(map(short, unknown[:5]))}{more}"
                f" (expected: {', '.join(allowed)}){hint}"
            )
    return dict(value)


def reword(exc: ConfigError, path: Path, key: str, values: Iterable[Any] = ()) -> SuiteError:
    """A marker-style message ("accuracy marker: max_drop=-1; ...") as a suite message with its key path."""
    text = str(exc)
    for prefix in (
        "accuracy marker: ",
        "latency marker: ",
        "parity marker: ",
        "kld marker: ",
        "generation marker: ",
        "llm_latency marker: ",
        "edge_model marker: ",
        "parity marker outputs",
    ):
        if text.startswith(prefix):
            text = text[len(prefix) :] if not prefix.endswith("outputs") else "outputs" + text[len(prefix) :]
    return SuiteError(f"{path.name}: {key}: {capped(text, values)}")


def sizes(opts: dict[str, Any], path: Path, key: str) -> None:
    """``shapes:`` (input name -> a list of sizes) and ``dims:`` (dimension symbol -> a size) as written."""

    def size(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    shapes = mapping(opts.get("shapes", {}), path, f"{key}.shapes", None)
    for name, shape in shapes.items():
        expect(
            isinstance(shape, list) and all(map(size, shape)),
            path,
            f"{key}.shapes.{name}",
            "a list of positive sizes, e.g. [1, 3, 480, 640]",
            shape,
        )
    dims = mapping(opts.get("dims", {}), path, f"{key}.dims", None)
    for symbol, n in dims.items():
        expect(size(n), path, f"{key}.dims.{symbol}", "a positive integer size", n)


def code_name(value: Any, path: Path, key: str, kind: str) -> None:
    """A suite is data: it names a metric or preprocess function (built in, or registered by the
    project's Python code); a path, a Hub id or an import path would make it load code, so none is."""
    from ..names import NAME_RULE, describe, is_name

    if is_name(value):
        return
    if not isinstance(value, str):
        expect(False, path, key, f"a {kind} name (string)", value)
    what = describe(value) if value else "empty"
    raise SuiteError(
        f"{path.name}: {key}: {short(value)} is {what}; a suite names a {kind} ({NAME_RULE}): built in, or "
        "registered by the project's conftest.py or a plugin (pytest_edgeqa_register). A suite never loads a script "
        "or imports code, whatever --edge-trust-code says"
    )
