"""The house stays straight: no import circles inside pytest_edgeqa/ (read from the source with ast, so an
import inside a function counts as much as one at the top), and the layers of ARCHITECTURE.md hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_edgeqa"


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its source (TYPE_CHECKING blocks left out:
    they never run). ``from . import data`` is an edge to ``pkg.data``, not to the package itself."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = {id(n) for node in ast.walk(tree) if _type_checking(node) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join(base + node.module.split(".")) if node.module else ".".join(base)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each as one circle to show."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            group.append(v)
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def circle(group: list[str], graph: dict[str, set[str]]) -> str:
    """One concrete circle through the group's first module: a -> b -> ... -> a."""
    start = group[0]
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & set(group)):
            if nxt == start:
                return " -> ".join([*path, start])
            if nxt not in path:
                paths.append([*path, nxt])
    return " <-> ".join(group)


def graph_of(root: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def test_no_import_circles_in_the_package() -> None:
    graph = graph_of()
    found = [circle(group, graph) for group in cycles(graph)]
    assert not found, "import circles in pytest_edgeqa/:\n" + "\n".join(found)


def test_runtimes_sit_below_devices_and_models() -> None:
    """Runtime adapters see only the leaf data types, errors and files: never devices, models or checks."""
    graph = graph_of()
    allowed = {"pytest_edgeqa.types", "pytest_edgeqa.errors", "pytest_edgeqa.files"}
    for name, deps in graph.items():
        if name.startswith("pytest_edgeqa.runtimes"):
            outside = {d for d in deps if not d.startswith("pytest_edgeqa.runtimes")} - allowed
            assert not outside, f"{name} imports {sorted(outside)}"


def test_only_the_plugin_module_is_imported_by_nobody_in_the_core() -> None:
    """The pytest layer sits on top: no module of the core imports pytest_edgeqa.plugin."""
    graph = graph_of()
    users = sorted(name for name, deps in graph.items() if "pytest_edgeqa.plugin" in deps)
    assert users == [], f"modules that import the plugin layer: {users}"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "from . import b", "b.py": "from .a import x"}, ["pkg.a -> pkg.b -> pkg.a"]),
        ({"a.py": "def f():\n    from .b import y\n", "b.py": "import pkg.a"}, ["pkg.a -> pkg.b -> pkg.a"]),
        ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import y\n", "b.py": "from . import a"}, []),
        ({"a.py": "from . import b", "b.py": "x = 1"}, []),
    ],
    ids=["top-level", "inside-a-function", "type-checking-only", "one-way"],
)
def test_the_circle_finder_finds_circles(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    """The checker itself can fail: a circle hidden in a function is found, a TYPE_CHECKING import is not one."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = graph_of(pkg)
    assert [circle(group, graph) for group in cycles(graph)] == expected


def test_architecture_md_names_only_files_that_exist() -> None:
    """ARCHITECTURE.md stays true: every module file it names is in the package, and every module of the
    package is named there (a new file gets its place on the page)."""
    import re

    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    files = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    named = {n for n in re.findall(r"(?<![\w*<>/])[a-z_][\w/]*\.py", text) if not n.startswith("tests/")}
    named -= {"conftest.py"}  # the user's file, not ours
    missing = sorted(n for n in named if not any(f == n or f.endswith("/" + n) for f in files))
    assert not missing, f"ARCHITECTURE.md names files that do not exist: {missing}"
    unnamed = sorted(f for f in files if not f.endswith("__init__.py") and f not in named and f.rsplit("/", 1)[-1] not in named)
    assert not unnamed, f"modules ARCHITECTURE.md does not place: {unnamed}"


def test_pytester_files_do_not_take_the_names_of_our_test_modules() -> None:
    """A pytester file named like one of tests/*.py (makepyfile(test_inputs=...)) fails a full run with
    'import file mismatch' while passing alone: its name is taken by the module already imported."""
    import re

    tests = Path(__file__).resolve().parent
    ours = {p.stem for p in tests.glob("test_*.py")}
    clashes = []
    for path in sorted(tests.rglob("*.py")):
        for name in re.findall(r"makepyfile\(\s*(test_\w+)\s*=", path.read_text(encoding="utf-8")):
            if name in ours:
                clashes.append(f"{path.name}: makepyfile({name}=...)")
    assert not clashes, f"pytester files named like a module of tests/: {clashes}"
