"""Reading a suite file: UTF-8 text within MAX_BYTES, parsed as one YAML document within the limits below."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from .fields import SuiteError, cut

# A suite is a few dozen YAML values. Past these limits a file is refused before anything reads it as
# data: a file larger than MAX_BYTES is not read, nesting deeper than MAX_DEPTH is not composed (Python
# would overflow its stack), and aliases may not expand the document past MAX_NODES ("billion laughs").
MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 10_000


def read_text(path: Path) -> str:
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
    return f"{where}: {cut(str(problem or str(exc).split(chr(10), 1)[0]), 200)}"


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


def parse(text: str, path: Path) -> Any:
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
        raise SuiteError(f"{path.name}: is not valid YAML: a value cannot be read ({cut(str(exc))})") from None
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
