"""Malformed and hostile ``*.edgeqa.yaml`` suites: each fails alone, as one item that errors at setup
with the file, the key path, what was expected and what was found, while a plain test beside it passes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bad_inputs import MODELS, Case

PLAIN = {"test_plain.py": "def test_plain():\n    pass\n"}
SCHEMA_ERROR = "ERROR at setup of s.edgeqa.yaml: invalid suite"
HEAD = "name: s\nmodel: {original: m.onnx, optimized: o.xml}\ndata: {path: d}\n"
RUNNABLE = "name: s\nmodel: {original: models/diabetes_mlp.onnx}\n"  # runs if nothing refuses it
ELSEWHERE = "devices: [GPU]\n"


def elsewhere(name: str, model: str = "m.onnx") -> str:
    """A valid suite for another device: its item skips with --edge-device=CPU, without reading a model."""
    return f"name: {name}\nmodel: {{original: {model}}}\n{ELSEWHERE}checks: {{latency: {{p90_ms: 5}}}}\n"


NINE = ",".join(["*x"] * 9)


def bad(
    what: str,
    text: str | bytes,
    *message: str,
    note: str = "",
    files: Mapping[str, str | bytes] | None = None,
    absent: tuple[str, ...] = (),
    subprocess: bool = False,
    timeout: float = 120.0,
) -> Case:
    """``s.edgeqa.yaml`` holding ``text`` fails alone with ``message``; the plain test beside it passes."""
    return Case(
        id=f"suites-{what}",
        files={**(files or {}), "s.edgeqa.yaml": text, **PLAIN},
        args=("--edge-device=CPU",),
        expect=(SCHEMA_ERROR, *message),
        outcomes={"passed": 1, "errors": 1},
        exit_code=1,
        absent=absent,
        subprocess=subprocess,
        timeout=timeout,
        note=note,
    )


def _laughs(levels: int = 9) -> str:
    """The 'billion laughs': nine lists of nine aliases of the list before, 10**9 values under one key."""
    lists = ["&a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"[: levels - 1], strict=False):
        lists.append(f"&{cur} [{NINE.replace('x', prev)}]")
    return HEAD + f"checks:\n  accuracy:\n    max_drop: [{', '.join(lists)}]\n"


def _huge_file(root: Path) -> None:
    (root / "s.edgeqa.yaml").write_text(elsewhere("big") + "# padding\n" * 220_000)


CASES: list[Case] = [
    # --- the file itself: encoding, size, emptiness
    bad(
        "not-utf8",
        b"name: caf\xe9\nmodel: {original: m.onnx}\nchecks: {latency: {p90_ms: 5}}\n",
        "s.edgeqa.yaml: is not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8",
        note="UnicodeDecodeError: a collection error, no other test ran",
    ),
    bad(
        "utf16",
        (HEAD + "checks: {accuracy: {max_drop: 0.01}}\n").encode("utf-16"),
        "s.edgeqa.yaml: is UTF-16 text; save it as UTF-8",
        note="UnicodeDecodeError: a collection error, no other test ran",
    ),
    Case(
        id="suites-utf8-bom-accepted",
        files={"s.edgeqa.yaml": "\ufeff" + elsewhere("bom"), **PLAIN},
        args=("--edge-device=CPU", "-rs"),
        expect=("CPU: suite 'bom' lists devices GPU",),
        outcomes={"passed": 1, "skipped": 1},
        note="a byte-order mark (Windows editors write one) is read as UTF-8",
    ),
    bad("empty", "", "s.edgeqa.yaml: is empty; a suite needs name, model and checks", note="'(top level): got None'"),
    bad(
        "only-comments",
        "# TODO: write the suite\n",
        "s.edgeqa.yaml: is empty (only comments); a suite needs name, model and checks",
        note="'(top level): got None'",
    ),
    bad("top-level-scalar", "hello\n", "s.edgeqa.yaml: (top level): expected a mapping, got 'hello'"),
    Case(
        id="suites-huge-file",
        files=PLAIN,
        setup=_huge_file,
        args=("--edge-device=CPU",),
        expect=(SCHEMA_ERROR, "s.edgeqa.yaml: is larger than 1 MiB; a suite is a few lines of YAML"),
        outcomes={"passed": 1, "errors": 1},
        note="read whole and parsed, however large",
    ),
    # --- YAML syntax
    bad(
        "tab-indent",
        "name: s\nmodel:\n\toriginal: m.onnx\nchecks: {latency: {p90_ms: 5}}\n",
        "s.edgeqa.yaml: is not valid YAML (line 3, column 1): found character '\\t' that cannot start any token;"
        " indent with spaces, not tabs",
    ),
    bad(
        "two-documents",
        HEAD + "checks: {accuracy: {max_drop: 0.01}}\n---\nname: other\n",
        "s.edgeqa.yaml: is not valid YAML (line 5, column 1): a second document (---); a suite is one YAML document",
        note="'but found another document'",
    ),
    bad(
        "nul-byte",
        "name: a\x00b\nmodel: {original: m.onnx}\nchecks: {latency: {p90_ms: 5}}\n",
        "s.edgeqa.yaml: is not valid YAML (line 1, column 8): unacceptable character #x0000:"
        " special characters are not allowed",
        note="the message said 'in \"<unicode string>\", position 7'",
    ),
    bad(
        "impossible-date",
        "name: 2024-13-45\nmodel: {original: m.onnx}\nchecks: {latency: {p90_ms: 5}}\n",
        "s.edgeqa.yaml: is not valid YAML: a value cannot be read (month must be in 1..12)",
        note="ValueError from YAML's date constructor: a collection error",
    ),
    bad(
        "python-tag",
        "name: !!python/object/apply:os.system ['echo pwned']\nmodel: {original: m.onnx}\n",
        "s.edgeqa.yaml: is not valid YAML (line 1, column 7): could not determine a constructor for the tag"
        " 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    # --- hostile structure: depth, aliases, sizes
    bad(
        "nested-20000-flow",
        "[" * 20_000 + "]" * 20_000 + "\n",
        "s.edgeqa.yaml: is nested deeper than 32 levels (line 1, column 33); a suite needs a few",
        note="RecursionError: a collection error, no other test ran",
        subprocess=True,
        timeout=60,
    ),
    bad(
        "nested-20000-block",
        "- " * 20_000 + "x\n",
        "s.edgeqa.yaml: is nested deeper than 32 levels (line 1, column 65); a suite needs a few",
        note="RecursionError: a collection error, no other test ran",
        subprocess=True,
        timeout=60,
    ),
    bad(
        "billion-laughs",
        _laughs(),
        "s.edgeqa.yaml: checks.accuracy.max_drop: aliases (*) expand it to more than 10000 YAML values;"
        " a suite needs a few dozen",
        note="a 351 MB message and 1 GB of memory",
        subprocess=True,
        timeout=60,
    ),
    bad(
        "huge-integer",
        HEAD + "checks: {accuracy: {max_drop: " + "9" * 5000 + "}}\n",
        "s.edgeqa.yaml: checks.accuracy.max_drop: an integer of 5000 digits; expected a number",
        note="ValueError (int max str digits): a collection error",
    ),
    bad(
        "long-value-capped",
        HEAD + "checks: {accuracy: {max_drop: '" + "x" * 100_000 + "'}}\n",
        "s.edgeqa.yaml: checks.accuracy: max_drop='xxxxxxxxxx",
        "...; expected a number",
        absent=("x" * 100,),
        note="the value printed whole",
    ),
    # --- keys
    bad(
        "duplicate-key",
        HEAD + "checks:\n  accuracy:\n    max_drop: 0.01\n    max_drop: 0.05\n",
        "s.edgeqa.yaml: checks.accuracy.max_drop: given twice (lines 6 and 7); YAML would silently keep the last:"
        " give it once",
        note="accepted: max_drop 0.05 silently",
    ),
    bad(
        "duplicate-top-level-key",
        HEAD + "checks:\n  accuracy: {max_drop: 0.01}\ndevices: [CPU]\nchecks:\n  latency: {p90_ms: 5}\n",
        "s.edgeqa.yaml: checks: given twice (lines 4 and 7); YAML would silently keep the last: give it once",
        note="accepted: the accuracy check silently dropped",
    ),
    bad(
        "non-string-keys",
        HEAD + "checks: {accuracy: {max_drop: 0.1, 1: 2, foo: 3}}\n",
        "s.edgeqa.yaml: checks.accuracy: expected names (strings) as keys, got 1",
        note="TypeError sorting the keys: a collection error",
    ),
    bad(
        "check-name-typo",
        HEAD + "checks: {acuracy: {max_drop: 0.01}}\n",
        "s.edgeqa.yaml: checks: unknown key 'acuracy' (expected: accuracy, latency, parity, kld, generation",
        "); did you mean 'accuracy'?",
    ),
    # --- values
    bad(
        "devices-string",
        HEAD + "devices: CPU\nchecks: {accuracy: {max_drop: 0.01}}\n",
        "s.edgeqa.yaml: devices: expected a non-empty list of device names, got 'CPU'; write devices: [CPU]",
    ),
    bad(
        "name-too-long",
        elsewhere("n" * 300),
        "s.edgeqa.yaml: name: expected at most 100 characters, got 300",
        note="accepted: node ids and golden file names of 300+ characters",
    ),
    bad(
        "name-control-character",
        elsewhere('"a\\tb"'),
        "s.edgeqa.yaml: name: expected no control characters (newline, tab), got 'a\\tb'",
        note="accepted: a tab in the node id",
    ),
    bad(
        "recipe-not-a-name",
        "name: s\nmodel: {original: m.onnx, optimized: {recipe: [nncf-int8]}}\nchecks: {latency: {p90_ms: 5}}\n",
        "s.edgeqa.yaml: model.optimized.recipe: expected a recipe name, got a list",
        note="TypeError (unhashable list): a collection error",
    ),
    bad(
        "seconds-inf",
        RUNNABLE + "checks: {latency: {p90_ms: 5, seconds: .inf}}\n",
        "s.edgeqa.yaml: checks.latency: seconds=inf; expected a finite positive number of at most 3600 seconds",
        note="accepted: the latency check never ended",
        files={"models": MODELS},
        subprocess=True,
        timeout=60,
    ),
    bad(
        "latency-ratio-without-optimized",
        "name: s\nmodel: {original: m.onnx}\nchecks: {latency: {max_ratio: 1.5}}\n",
        "s.edgeqa.yaml: model.optimized: missing; the latency check's max_ratio compares the optimized model with"
        " the original",
        note="refused only at run time, as 'the edge_model marker has none'",
    ),
    bad(
        "max-drop-nan",
        HEAD + "checks: {accuracy: {max_drop: .nan}}\n",
        "s.edgeqa.yaml: checks.accuracy: max_drop=nan; expected a finite number",
    ),
    bad(
        "parity-samples-huge",
        RUNNABLE + "checks: {parity: {samples: 9999999999}}\n",
        "s.edgeqa.yaml: checks.parity.samples: expected at most 4096 (the batch compared), got 9999999999",
        note="MemoryError generating 10**10 inputs",
        files={"models": MODELS},
        subprocess=True,
        timeout=60,
    ),
    bad(
        "parity-seed-string",
        RUNNABLE + "checks: {parity: {samples: 4, seed: x}}\n",
        "s.edgeqa.yaml: checks.parity.seed: expected an integer of at least 0, got 'x'",
        note="accepted, then an error from numpy at run time",
        files={"models": MODELS},
    ),
    # --- among other suites
    Case(
        id="suites-name-collision",
        files={
            "a.edgeqa.yaml": elsewhere("same"),
            "b.edgeqa.yaml": elsewhere("same", model="n.onnx"),
            **PLAIN,
        },
        args=("--edge-device=CPU",),
        expect=(
            "ERROR at setup of b.edgeqa.yaml: invalid suite",
            "b.edgeqa.yaml: name: 'same' is already the name of the suite in a.edgeqa.yaml; give each suite its own name",
        ),
        outcomes={"passed": 1, "skipped": 1, "errors": 1},
        note="accepted: two suites reported under one name",
    ),
    Case(
        id="suites-model-outside-its-directory",
        files={
            "models": MODELS,
            "suites/s.edgeqa.yaml": "name: outside\nmodel: {original: ../models/diabetes_mlp.onnx}\n"
            "checks: {latency: {p90_ms: 10000, seconds: 0.2, warmup_s: 0.05}}\n",
            **PLAIN,
        },
        args=("--edge-device=CPU", "-v"),
        expect=("suites/s.edgeqa.yaml::outside::latency[CPU] PASSED",),
        outcomes={"passed": 2},
        note="allowed: a suite reads a model anywhere (a model is data); relative paths start at the suite's directory",
    ),
]
